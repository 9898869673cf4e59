#include "hil/dual_engine/backend.h"

namespace hil::dual_engine {

const char* engine_status_name(EngineStatus status) {
  switch (status) {
    case EngineStatus::kOk: return "ok";
    case EngineStatus::kCrashed: return "crash";
    case EngineStatus::kHung: return "hang";
    case EngineStatus::kSramError: return "ecc";
  }
  return "unknown";
}

namespace {

class EmulatedProgram : public EngineProgram {
 public:
  explicit EmulatedProgram(const PartitionPlan& plan) : executor_(plan), device_us_(plan.device_us) {}
  EngineRun run(const TensorMap& inputs) override { return {EngineStatus::kOk, executor_.run(inputs), device_us_}; }
  double expected_device_us() const override { return device_us_; }

 private:
  PartitionExecutor executor_;
  double device_us_;
};

class EmulatedBackend : public EngineBackend {
 public:
  std::string name() const override { return "emulated (OpenCV DNN + cost model)"; }
  bool measures_time() const override { return false; }
  std::unique_ptr<EngineProgram> load(const PartitionPlan& plan, int /*engine*/) override {
    return std::make_unique<EmulatedProgram>(plan);
  }
};

}  // namespace

std::unique_ptr<EngineBackend> make_emulated_backend() { return std::make_unique<EmulatedBackend>(); }

}  // namespace hil::dual_engine
