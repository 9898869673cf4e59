#include "hil/evals/plugin_metrics.h"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include <fmt/format.h>

#include "hil/evals/model_interface.h"
#include "metric_compute.h"

namespace hil::evals {

namespace {

std::string find_library(const std::string& library) {
  if (library.find('/') != std::string::npos) return library;
  const char* env = std::getenv("HIL_METRIC_PLUGINS");
  std::string dirs = env ? env : "";
  std::vector<std::string> tried;
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string dir = dirs.substr(start, end - start);
    start = end + 1;
    if (dir.empty()) continue;
    for (const auto& name : {library, "lib" + library + ".so", library + ".so"}) {
      const auto path = std::filesystem::path(dir) / name;
      std::error_code ec;
      if (std::filesystem::is_regular_file(path, ec)) return path.string();
      tried.push_back(path.string());
    }
  }
  throw PluginError(fmt::format(
      "metric plugin '{}' not found: give a path, or a name in the folders of "
      "HIL_METRIC_PLUGINS ({})",
      library,
      tried.empty() ? std::string("unset") : fmt::format("tried {}", fmt::join(tried, ", "))));
}

// The flat C view of one frame; owns the strings and arrays the pointers
// in `frame` refer to.
struct FrameView {
  std::vector<std::string> names;
  std::vector<hil_value> truth, outputs;
  std::vector<hil_object> truth_objects, detections;
  hil_metric_frame frame{};
};

void set_cuboid(hil_object& out, const clip::Cuboid& c) {
  out.has_cuboid = 1;
  out.x = static_cast<float>(c.x()), out.y = static_cast<float>(c.y()),
  out.z = static_cast<float>(c.z());
  out.length = static_cast<float>(c.length()), out.width = static_cast<float>(c.width());
  out.height = static_cast<float>(c.height()), out.yaw = static_cast<float>(c.yaw());
}

hil_object object_of(const clip::Object& o, const clip::Box2D* box) {
  hil_object out{};
  out.head = "";
  out.cls = o.cls();
  out.score = 1;
  if (box) {
    out.has_box = 1;
    out.camera = box->camera().c_str();
    out.x0 = static_cast<float>(box->x0()), out.y0 = static_cast<float>(box->y0());
    out.x1 = static_cast<float>(box->x1()), out.y1 = static_cast<float>(box->y1());
  } else {
    out.camera = "";
  }
  if (o.has_cuboid()) set_cuboid(out, o.cuboid());
  return out;
}

void build_view(FrameView& v, const clip::Frame& truth, const outputs::FrameOutputs* out,
                const model::ModelInterface& iface, uint32_t index) {
  // Names first: the vectors of names must not move once pointers are taken.
  static const char* kTruth[] = {"control.steering", "control.acceleration", "ego.lane_offset",
                                 "ego.lane_heading", "ego.lead_distance",    "ego.curvature",
                                 "odometry.speed",   "odometry.yaw_rate"};
  v.names.clear();
  std::vector<double> truth_values, output_values;
  for (const char* t : kTruth) {
    v.names.push_back(t);
    truth_values.push_back(truth_value(truth, t));
  }
  v.names.push_back("ego.lead_present");
  truth_values.push_back(truth.labels().ego().lead_present() ? 1 : 0);
  const size_t truth_count = v.names.size();
  if (out && out->has_outputs()) {
    for (const auto& b : iface.outputs()) {
      const auto* h = head_output(*out, b.head());
      if (!h) continue;
      const auto fields = head_field_names(b);
      for (size_t k = 0; k < fields.size(); ++k) {
        if (fields[k].empty()) continue;
        v.names.push_back(b.head() + "." + fields[k]);
        output_values.push_back(head_field_value(*h, b, static_cast<int>(k)));
      }
      if (b.has_lead()) {
        v.names.push_back(b.head() + ".present");
        output_values.push_back(h->lead_present() ? 1 : 0);
      }
    }
  }
  v.truth.clear();
  v.outputs.clear();
  for (size_t i = 0; i < truth_count; ++i) v.truth.push_back({v.names[i].c_str(), truth_values[i]});
  for (size_t i = truth_count; i < v.names.size(); ++i) {
    v.outputs.push_back({v.names[i].c_str(), output_values[i - truth_count]});
  }
  v.truth_objects.clear();
  for (const auto& o : truth.labels().objects()) {
    if (o.boxes_size() == 0) v.truth_objects.push_back(object_of(o, nullptr));
    for (const auto& b : o.boxes()) v.truth_objects.push_back(object_of(o, &b));
  }
  v.detections.clear();
  if (out && out->has_outputs()) {
    for (const auto& h : out->heads()) {
      for (const auto& d : h.objects()) {
        hil_object o{};
        o.head = h.head().c_str();
        o.cls = d.cls();
        o.score = d.score();
        o.camera = d.camera().c_str();
        if (!d.camera().empty()) {
          o.has_box = 1;
          o.x0 = d.x0(), o.y0 = d.y0(), o.x1 = d.x1(), o.y1 = d.y1();
        }
        if (d.has_cuboid()) set_cuboid(o, d.cuboid());
        v.detections.push_back(o);
      }
    }
  }
  v.frame = {};
  v.frame.index = index;
  v.frame.timestamp = truth.timestamp();
  v.frame.has_outputs = out && out->has_outputs() ? 1 : 0;
  v.frame.truth = v.truth.data();
  v.frame.truth_count = v.truth.size();
  v.frame.outputs = v.outputs.data();
  v.frame.output_count = v.outputs.size();
  v.frame.truth_objects = v.truth_objects.data();
  v.frame.truth_object_count = v.truth_objects.size();
  v.frame.detections = v.detections.data();
  v.frame.detection_count = v.detections.size();
}

}  // namespace

std::shared_ptr<const MetricPlugin> MetricPlugin::load(const std::string& library) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const MetricPlugin>> loaded;
  std::lock_guard lock(mu);
  if (auto it = loaded.find(library); it != loaded.end()) return it->second;
  const std::string path = find_library(library);
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw PluginError(fmt::format("metric plugin {}: cannot load: {}", path, dlerror()));
  using Entry = const hil_metric_plugin* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(handle, "hil_metric_plugin_v1"));
  if (!entry) {
    dlclose(handle);
    throw PluginError(fmt::format(
        "metric plugin {}: no symbol hil_metric_plugin_v1 (see metric_plugin.h)", path));
  }
  const hil_metric_plugin* abi = entry();
  if (!abi || abi->abi_version != HIL_METRIC_PLUGIN_ABI) {
    dlclose(handle);
    throw PluginError(fmt::format("metric plugin {}: ABI version {}, this hil speaks {}", path,
                                  abi ? abi->abi_version : 0u, HIL_METRIC_PLUGIN_ABI));
  }
  if (!abi->begin || !abi->add_frame || !abi->finish || !abi->end) {
    dlclose(handle);
    throw PluginError(fmt::format("metric plugin {}: a function pointer is missing", path));
  }
  auto plugin = std::make_shared<const MetricPlugin>(path, handle, abi);
  loaded[library] = plugin;
  return plugin;  // kept loaded for the process's life: its code may be in use anywhere
}

void MetricPlugin::check(const suite::MetricSpec& spec) const {
  const auto& p = spec.plugin();
  const auto declared = p.direction() == suite::HIGHER_IS_BETTER;
  if (p.direction() != suite::DIRECTION_UNKNOWN && declared != (abi_->higher_is_better != 0)) {
    throw PluginError(fmt::format("metric '{}': the suite says {} is better, plugin {} says {}",
                                  spec.name(), declared ? "higher" : "lower", path_,
                                  abi_->higher_is_better ? "higher" : "lower"));
  }
  const std::string unit = abi_->unit ? abi_->unit : "";
  if (!p.unit().empty() && p.unit() != unit) {
    throw PluginError(fmt::format("metric '{}': the suite gives unit '{}', plugin {} '{}'",
                                  spec.name(), p.unit(), path_, unit));
  }
  const char* error = nullptr;
  void* state = abi_->begin(p.params().c_str(), &error);
  if (!state) {
    throw PluginError(fmt::format("metric '{}': plugin {} refuses params '{}': {}", spec.name(),
                                  path_, p.params(), error ? error : "no reason given"));
  }
  abi_->end(state);
}

std::optional<double> MetricPlugin::score(const std::string& params,
                                          const std::vector<clip::Frame>& truth,
                                          const outputs::EvalOutputs& outputs,
                                          const model::ModelInterface& iface) const {
  const char* error = nullptr;
  void* state = abi_->begin(params.c_str(), &error);
  if (!state) {
    throw PluginError(fmt::format("metric plugin {}: params '{}' refused: {}", path_, params,
                                  error ? error : "no reason given"));
  }
  struct End {
    const hil_metric_plugin* abi;
    void* state;
    ~End() { abi->end(state); }
  } end{abi_, state};
  FrameView view;
  for (size_t i = 0; i < truth.size(); ++i) {
    const outputs::FrameOutputs* out = i < static_cast<size_t>(outputs.frames_size())
                                           ? &outputs.frames(static_cast<int>(i))
                                           : nullptr;
    build_view(view, truth[i], out, iface, static_cast<uint32_t>(i));
    abi_->add_frame(state, &view.frame);
  }
  double value = 0;
  int defined = 1;
  error = nullptr;
  if (!abi_->finish(state, &value, &defined, &error)) {
    throw PluginError(
        fmt::format("metric plugin {}: {}", path_, error ? error : "failed without a reason"));
  }
  if (!defined) return std::nullopt;
  if (!std::isfinite(value))
    throw PluginError(fmt::format("metric plugin {}: returned {}", path_, value));
  return value;
}

bool has_plugin_metrics(const suite::Suite& suite) {
  return std::any_of(suite.metrics().begin(), suite.metrics().end(),
                     [](const suite::MetricSpec& m) { return m.has_plugin(); });
}

std::map<std::string, double> score_plugin_metrics(const suite::Suite& suite,
                                                   const std::vector<clip::Frame>& truth,
                                                   const outputs::EvalOutputs& outputs,
                                                   const model::ModelInterface& iface) {
  std::map<std::string, double> out;
  for (const auto& m : suite.metrics()) {
    if (!m.has_plugin()) continue;
    try {
      auto plugin = MetricPlugin::load(m.plugin().library());
      plugin->check(m);
      if (auto v = plugin->score(m.plugin().params(), truth, outputs, iface)) out[m.name()] = *v;
    } catch (const PluginError& e) {
      throw PluginError(fmt::format("metric '{}': {}", m.name(), e.what()));
    }
  }
  return out;
}

}  // namespace hil::evals
