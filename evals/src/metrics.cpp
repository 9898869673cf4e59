#include "hil/evals/metrics.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "hil/evals/model_interface.h"
#include "metric_compute.h"

namespace hil::evals {

const std::vector<MetricDef>& system_metrics() {
  using suite::HIGHER_IS_BETTER;
  using suite::LOWER_IS_BETTER;
  static const std::vector<MetricDef> k = [] {
    std::vector<MetricDef> v{
        {"host_latency_p50_ms", "ms", LOWER_IS_BETTER, "median host time per frame"},
        {"host_latency_p99_ms", "ms", LOWER_IS_BETTER, "99th percentile host time per frame"},
        {"host_latency_max_ms", "ms", LOWER_IS_BETTER, "worst host time per frame"},
        {"device_latency_p50_ms", "ms", LOWER_IS_BETTER,
         "median device time per frame (emulated: deterministic; or measured on the board)"},
        {"device_latency_p99_ms", "ms", LOWER_IS_BETTER,
         "99th percentile device time per frame (emulated or measured)"},
        {"device_latency_max_ms", "ms", LOWER_IS_BETTER,
         "worst device time per frame (emulated or measured)"},
        {"deadline_misses", "frames", LOWER_IS_BETTER,
         "frames whose device time exceeded the frame period"},
        {"command_gaps", "frames", LOWER_IS_BETTER,
         "frames without a control command (networks with a control head only)"},
        {"output_gaps", "frames", LOWER_IS_BETTER,
         "frames without any output (the engines failed to produce one in time)"},
        {"frames", "frames", HIGHER_IS_BETTER, "frames played"},
        {"failovers", "events", LOWER_IS_BETTER, "engine failovers"},
        {"failover_detection_ms", "ms", LOWER_IS_BETTER,
         "worst time from a fault to its detection, from the board's supervision"},
        {"failover_switchover_ms", "ms", LOWER_IS_BETTER,
         "worst time from detection to the survivor's command (standby warm-up included)"},
        {"ftti_misses", "events", LOWER_IS_BETTER,
         "failovers whose detection plus switchover exceeded the FTTI, or that never recovered"},
        {"redundant_mismatches", "frames", LOWER_IS_BETTER,
         "redundant-mode frames where the engines disagreed"},
    };
    for (auto& d : v) {
      if (d.name.rfind("host_", 0) == 0) d.series = "host_ms";
      if (d.name.rfind("device_", 0) == 0 || d.name == "deadline_misses") d.series = "device_ms";
      if (d.name == "command_gaps") d.needs_control = true;
      d.device_timed = d.series == "device_ms" || d.name == "command_gaps" ||
                       d.name == "output_gaps" || d.name.rfind("failover_", 0) == 0;
    }
    return v;
  }();
  return k;
}

bool is_system_metric(const std::string& name) {
  return find_metric(system_metrics(), name) != nullptr;
}

std::vector<MetricDef> suite_metrics(const suite::Suite& suite) {
  std::vector<MetricDef> out = system_metrics();
  for (const auto& m : suite.metrics()) {
    for (auto& d : metric_defs(m)) out.push_back(std::move(d));
  }
  return out;
}

const MetricDef* find_metric(const std::vector<MetricDef>& defs, const std::string& name) {
  for (const auto& m : defs) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

EvalScorer::EvalScorer(std::vector<suite::MetricSpec> metrics, model::ModelInterface iface)
    : metrics_(std::move(metrics)),
      iface_(std::move(iface)),
      counts_command_gaps_(has_control_head(iface_)) {}

void EvalScorer::add_failover(double detection_ms, double switchover_ms, bool within_ftti) {
  failovers_.push_back({detection_ms, switchover_ms, within_ftti});
}

void EvalScorer::add_frame(const clip::Frame& truth, const FrameRecord& record) {
  records_.push_back(record);
  clip::Frame t;
  t.set_index(truth.index());
  t.set_timestamp(truth.timestamp());
  *t.mutable_labels() = truth.labels();
  *t.mutable_control() = truth.control();
  *t.mutable_odometry() = truth.odometry();
  truth_.push_back(std::move(t));
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  // Nearest-rank: the smallest value with at least p of the values at or below it.
  auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

std::map<std::string, double> EvalScorer::summary() const {
  std::map<std::string, double> m;
  uint32_t command_gaps = 0, output_gaps = 0, misses = 0, mismatches = 0;
  std::vector<double> host, device;
  for (const auto& r : records_) {
    host.push_back(r.host_ms);
    device.push_back(r.device_ms);
    misses += r.deadline_missed ? 1 : 0;
    command_gaps += r.has_command ? 0 : 1;
    output_gaps += r.outputs.has_outputs() ? 0 : 1;
    mismatches += r.mismatch ? 1 : 0;
  }
  m["host_latency_p50_ms"] = percentile(host, 0.5);
  m["host_latency_p99_ms"] = percentile(host, 0.99);
  m["host_latency_max_ms"] = host.empty() ? 0 : *std::max_element(host.begin(), host.end());
  m["device_latency_p50_ms"] = percentile(device, 0.5);
  m["device_latency_p99_ms"] = percentile(device, 0.99);
  m["device_latency_max_ms"] = device.empty() ? 0 : *std::max_element(device.begin(), device.end());
  m["deadline_misses"] = misses;
  // A network without a control head commands nothing: no gaps to count.
  if (counts_command_gaps_) m["command_gaps"] = command_gaps;
  m["output_gaps"] = output_gaps;
  m["frames"] = static_cast<double>(records_.size());
  double detect = 0, switchover = 0;
  uint32_t ftti_misses = 0;
  for (const auto& f : failovers_) {
    detect = std::max(detect, f.detection_ms);
    switchover = std::max(switchover, f.switchover_ms);
    ftti_misses += f.within_ftti ? 0 : 1;
  }
  m["failovers"] = static_cast<double>(failovers_.size());
  m["ftti_misses"] = ftti_misses;
  m["failover_detection_ms"] = detect;
  m["failover_switchover_ms"] = switchover;
  m["redundant_mismatches"] = mismatches;
  for (const auto& spec : metrics_) {
    if (spec.has_plugin()) continue;
    const auto* head = find_head(iface_, metric_head(spec));
    if (!head) continue;  // refused at submission; a board given one anyway reports nothing for it
    for (auto& [name, value] : compute_metric(spec, *head, truth_, records_).values)
      m[name] = value;
  }
  return m;
}

std::vector<Series> EvalScorer::series() const {
  std::vector<Series> out;
  // Outputs of scalar heads, and the truth each regression metric compares them with.
  for (const auto& b : iface_.outputs()) {
    const auto names = head_field_names(b);
    for (size_t k = 0; k < names.size(); ++k) {
      if (names[k].empty()) continue;
      Series s{fmt::format("out.{}.{}", b.head(), names[k]), {}};
      for (const auto& r : records_) {
        const auto* h = r.outputs.has_outputs() ? head_output(r.outputs, b.head()) : nullptr;
        s.values.push_back(h ? head_field_value(*h, b, static_cast<int>(k)) : NAN);
      }
      out.push_back(std::move(s));
    }
  }
  std::set<std::string> truths;
  for (const auto& spec : metrics_) {
    if (!spec.has_regression()) continue;
    const auto& r = spec.regression();
    const std::string name = fmt::format("truth.{}.{}", r.head(), r.field());
    if (!truths.insert(name).second) continue;
    Series s{name, {}};
    for (const auto& f : truth_) s.values.push_back(static_cast<float>(truth_value(f, r.truth())));
    out.push_back(std::move(s));
  }
  for (const auto& spec : metrics_) {
    if (spec.has_plugin()) continue;
    const auto* head = find_head(iface_, metric_head(spec));
    if (!head) continue;
    out.push_back(
        {"frame." + spec.name(), compute_metric(spec, *head, truth_, records_).per_frame});
  }
  Series host{"host_ms", {}}, device{"device_ms", {}}, cmd{"commander", {}};
  for (const auto& r : records_) {
    host.values.push_back(static_cast<float>(r.host_ms));
    device.values.push_back(static_cast<float>(r.device_ms));
    cmd.values.push_back(r.outputs.has_outputs() ? static_cast<float>(r.commander) : -1.0f);
  }
  for (auto* s : {&host, &device, &cmd}) out.push_back(std::move(*s));
  return out;
}

outputs::EvalOutputs EvalScorer::outputs() const {
  outputs::EvalOutputs out;
  for (size_t i = 0; i < records_.size(); ++i) {
    auto* f = out.add_frames();
    *f = records_[i].outputs;
    f->set_frame(static_cast<uint32_t>(i));
  }
  return out;
}

std::string encode_outputs(const outputs::EvalOutputs& outputs) {
  std::string raw;
  outputs.SerializeToString(&raw);
  uLongf bound = compressBound(static_cast<uLong>(raw.size()));
  std::string z(sizeof(uint32_t) + bound, '\0');
  // The raw size first (u32 little-endian), so that decoding allocates once.
  const auto size = static_cast<uint32_t>(raw.size());
  for (size_t b = 0; b < sizeof size; ++b) z[b] = static_cast<char>((size >> (8 * b)) & 0xff);
  compress2(reinterpret_cast<Bytef*>(z.data() + sizeof size), &bound,
            reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()), 6);
  z.resize(sizeof size + bound);
  return z;
}

outputs::EvalOutputs decode_outputs(const std::string& blob, const std::string& codec) {
  if (codec != kOutputsCodec)
    throw std::runtime_error(fmt::format("unknown outputs codec '{}'", codec));
  uint32_t size = 0;
  if (blob.size() < sizeof size) throw std::runtime_error("outputs blob is truncated");
  for (size_t b = sizeof size; b-- > 0;) size = (size << 8) | static_cast<unsigned char>(blob[b]);
  if (size > (256u << 20))
    throw std::runtime_error(fmt::format("outputs blob claims {} bytes", size));
  std::string raw(size, '\0');
  uLongf len = size;
  if (uncompress(reinterpret_cast<Bytef*>(raw.data()), &len,
                 reinterpret_cast<const Bytef*>(blob.data() + sizeof size),
                 static_cast<uLong>(blob.size() - sizeof size)) != Z_OK ||
      len != size) {
    throw std::runtime_error("outputs blob does not decompress");
  }
  outputs::EvalOutputs out;
  if (!out.ParseFromString(raw))
    throw std::runtime_error("outputs blob does not parse as EvalOutputs");
  return out;
}

std::string encode_series(const std::vector<float>& values) {
  const size_t n = values.size();
  std::string raw(n * 4, '\0');
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &values[i], 4);
    for (size_t b = 0; b < 4; ++b) raw[b * n + i] = static_cast<char>((bits >> (8 * b)) & 0xff);
  }
  uLongf bound = compressBound(static_cast<uLong>(raw.size()));
  std::string z(bound, '\0');
  compress2(reinterpret_cast<Bytef*>(z.data()), &bound, reinterpret_cast<const Bytef*>(raw.data()),
            static_cast<uLong>(raw.size()), 6);
  z.resize(bound);
  return z;
}

std::vector<float> decode_series(const std::string& blob, uint32_t frames,
                                 const std::string& codec) {
  const bool shuffled = codec == "zlib-shuffle-f32le";
  if (!shuffled && codec != "zlib-f32le")
    throw std::runtime_error(fmt::format("unknown series codec '{}'", codec));
  const size_t n = frames;
  std::string raw(n * 4, '\0');
  uLongf len = static_cast<uLongf>(raw.size());
  if (uncompress(reinterpret_cast<Bytef*>(raw.data()), &len,
                 reinterpret_cast<const Bytef*>(blob.data()),
                 static_cast<uLong>(blob.size())) != Z_OK ||
      len != raw.size()) {
    throw std::runtime_error(
        fmt::format("series blob does not decode to {} float32 values ({})", frames, codec));
  }
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits = 0;
    for (size_t b = 4; b-- > 0;) {
      char byte = shuffled ? raw[b * n + i] : raw[i * 4 + b];
      bits = (bits << 8) | static_cast<unsigned char>(byte);
    }
    std::memcpy(&out[i], &bits, 4);
  }
  return out;
}

}  // namespace hil::evals
