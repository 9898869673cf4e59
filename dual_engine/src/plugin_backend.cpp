// EngineBackend over a backend plugin (backend_plugin.h): the library is
// checked once where it enters (file, entry symbol, ABI version, every
// function present), then trusted; what each run hands back is checked
// against the plan, since a wrong tensor would otherwise be scored.
#include <dlfcn.h>

#include <cstring>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "hil/dual_engine/backend.h"
#include "hil/dual_engine/backend_plugin.h"
#include "hil/evals/log.h"

namespace hil::dual_engine {
namespace {

constexpr size_t kErrorBytes = 1024;

struct PluginLibrary {
  std::string path;
  const hil_backend_plugin* abi = nullptr;
};

// Loads a plugin library once per path; it stays loaded for the process's
// life (its code may be running on any engine thread).
const PluginLibrary& load_library(const std::filesystem::path& library) {
  static std::mutex mu;
  static std::map<std::string, PluginLibrary> loaded;
  std::lock_guard lock(mu);
  const std::string path = library.string();
  if (auto it = loaded.find(path); it != loaded.end()) return it->second;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(library, ec)) {
    throw BackendError(fmt::format("backend plugin {}: no such file", path));
  }
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    throw BackendError(fmt::format("backend plugin {}: cannot load: {}", path, dlerror()));
  auto fail = [&](const std::string& why) {
    dlclose(handle);
    throw BackendError(fmt::format("backend plugin {}: {}", path, why));
  };
  using Entry = const hil_backend_plugin* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(handle, "hil_backend_plugin_v1"));
  if (!entry) fail("no symbol hil_backend_plugin_v1: not a backend plugin (see backend_plugin.h)");
  const hil_backend_plugin* abi = entry();
  if (!abi) fail("hil_backend_plugin_v1() returned NULL");
  if (abi->abi_version != HIL_BACKEND_PLUGIN_ABI) {
    fail(fmt::format(
        "ABI version {}, this hil speaks {}: rebuild it against this hil's backend_plugin.h",
        abi->abi_version, HIL_BACKEND_PLUGIN_ABI));
  }
  const std::pair<const char*, bool> functions[] = {
      {"open", abi->open != nullptr}, {"close", abi->close != nullptr},
      {"load", abi->load != nullptr}, {"unload", abi->unload != nullptr},
      {"run", abi->run != nullptr},   {"release", abi->release != nullptr}};
  for (const auto& [name, present] : functions) {
    if (!present) fail(fmt::format("function '{}' is missing (NULL)", name));
  }
  return loaded.emplace(path, PluginLibrary{path, abi}).first->second;
}

// One opened backend. Shared by the backend object and its programs, so that
// the plugin's backend is closed only after its last program is unloaded.
struct Session {
  const PluginLibrary* library = nullptr;
  void* backend = nullptr;
  std::string name;
  std::mutex mu;  // open/close/load/unload never overlap (the ABI's promise)
  ~Session() {
    std::lock_guard lock(mu);
    library->abi->close(backend);
  }
};

std::string error_text(const char* buffer) {
  std::string text(buffer, strnlen(buffer, kErrorBytes));
  return text.empty() ? "no reason given" : text;
}

uint64_t element_count(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (auto d : shape) n *= static_cast<uint64_t>(std::max<int64_t>(d, 1));
  return n;
}

class PluginProgram : public EngineProgram {
 public:
  PluginProgram(std::shared_ptr<Session> session, void* program, const PartitionPlan& plan,
                int engine)
      : session_(std::move(session)),
        program_(program),
        role_(plan.role),
        engine_(engine),
        inputs_(plan.inputs),
        outputs_(plan.outputs),
        expected_us_(plan.device_us) {}
  ~PluginProgram() override {
    std::lock_guard lock(session_->mu);
    session_->library->abi->unload(program_);
  }

  EngineRun run(const TensorMap& inputs) override {
    std::vector<hil_backend_tensor> in;
    in.reserve(inputs_.size());
    for (const auto& info : inputs_) {
      auto it = inputs.find(info.name);
      if (it == inputs.end()) throw ModelError(fmt::format("missing input '{}'", info.name));
      const Tensor& t = it->second;
      in.push_back(
          {info.name.c_str(), t.shape.data(), t.shape.size(), t.data.data(), t.data.size()});
    }
    const auto* abi = session_->library->abi;
    hil_backend_run out{};
    char error[kErrorBytes] = "";
    const hil_backend_status status =
        abi->run(program_, in.data(), in.size(), &out, error, sizeof error);
    struct Release {
      const hil_backend_plugin* abi;
      void* program;
      hil_backend_run* run;
      ~Release() { abi->release(program, run); }
    } release{abi, program_, &out};
    EngineRun result;
    result.device_us = out.device_us;
    switch (status) {
      case HIL_BACKEND_OK:
        if (auto why = copy_outputs(out, result.outputs); !why.empty()) return crashed(why);
        return result;
      case HIL_BACKEND_SRAM_ERROR:
        // The runtime poisons a faulty frame's outputs: give it every one to poison.
        warn(fmt::format("SRAM error: {}", error_text(error)));
        for (const auto& o : outputs_) {
          result.outputs[o.name] = {o.shape, std::vector<float>(element_count(o.shape), 0.0f)};
        }
        result.status = EngineStatus::kSramError;
        return result;
      case HIL_BACKEND_HUNG:
        warn(fmt::format("hung: {}", error_text(error)));
        result.status = EngineStatus::kHung;
        return result;
      case HIL_BACKEND_CRASHED:
        return crashed(error_text(error));
    }
    return crashed(
        fmt::format("unknown status {} ({})", static_cast<int>(status), error_text(error)));
  }

  double expected_device_us() const override { return expected_us_; }

 private:
  // Copies every plan output from what the plugin returned; returns why not.
  std::string copy_outputs(const hil_backend_run& out, TensorMap& outputs) const {
    for (const auto& o : outputs_) {
      const hil_backend_tensor* found = nullptr;
      for (size_t i = 0; i < out.output_count; ++i) {
        if (out.outputs[i].name && o.name == out.outputs[i].name) found = &out.outputs[i];
      }
      if (!found || (found->count > 0 && !found->data))
        return fmt::format("no output '{}'", o.name);
      // The plan's shape when the values fit it (plugins may flatten or drop
      // batch dimensions), else the plugin's own.
      std::vector<int64_t> shape = o.shape;
      if (element_count(shape) != found->count) {
        shape.assign(found->shape, found->shape + (found->shape ? found->rank : 0));
        if (element_count(shape) != found->count) {
          return fmt::format("output '{}': {} values fit neither the plan's shape nor its own",
                             o.name, found->count);
        }
      }
      outputs[o.name] = {std::move(shape),
                         std::vector<float>(found->data, found->data + found->count)};
    }
    return "";
  }
  EngineRun crashed(const std::string& why) const {
    warn(fmt::format("crashed: {}", why));
    EngineRun r;
    r.status = EngineStatus::kCrashed;
    return r;
  }
  void warn(const std::string& what) const {
    log::warn("backend", "backend={} engine={} plan={} {}", session_->name, engine_, role_, what);
  }

  std::shared_ptr<Session> session_;
  void* program_;
  std::string role_;
  int engine_;
  std::vector<TensorInfo> inputs_, outputs_;
  double expected_us_;
};

class PluginBackend : public EngineBackend {
 public:
  explicit PluginBackend(std::shared_ptr<Session> session) : session_(std::move(session)) {}
  std::string name() const override { return session_->name; }
  bool measures_time() const override { return session_->library->abi->measures_time != 0; }

  std::unique_ptr<EngineProgram> load(const PartitionPlan& plan, int engine) override {
    auto infos = [](const std::vector<TensorInfo>& tensors) {
      std::vector<hil_backend_tensor_info> out;
      for (const auto& t : tensors) out.push_back({t.name.c_str(), t.shape.data(), t.shape.size()});
      return out;
    };
    const auto inputs = infos(plan.inputs), outputs = infos(plan.outputs);
    const hil_backend_plan p{plan.onnx.data(), plan.onnx.size(),  inputs.data(),
                             inputs.size(),    outputs.data(),    outputs.size(),
                             engine,           plan.role.c_str(), plan.device_us};
    char error[kErrorBytes] = "";
    void* program = nullptr;
    {
      std::lock_guard lock(session_->mu);
      program = session_->library->abi->load(session_->backend, &p, error, sizeof error);
    }
    if (!program) {
      throw ModelError(fmt::format("backend {} ({}): engine {} refuses the {} plan: {}",
                                   session_->name, session_->library->path, engine, plan.role,
                                   error_text(error)));
    }
    return std::make_unique<PluginProgram>(session_, program, plan, engine);
  }

 private:
  std::shared_ptr<Session> session_;
};

}  // namespace

std::unique_ptr<EngineBackend> make_plugin_backend(const std::filesystem::path& library,
                                                   const std::string& options) {
  const PluginLibrary& lib = load_library(library);
  char error[kErrorBytes] = "";
  void* backend = lib.abi->open(options.c_str(), error, sizeof error);
  if (!backend) {
    throw BackendError(fmt::format("backend plugin {}: cannot open with options '{}': {}", lib.path,
                                   options, error_text(error)));
  }
  auto session = std::make_shared<Session>();
  session->library = &lib;
  session->backend = backend;
  session->name = lib.abi->name && *lib.abi->name ? lib.abi->name : lib.path;
  return std::make_unique<PluginBackend>(std::move(session));
}

}  // namespace hil::dual_engine
