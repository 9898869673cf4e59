#include "hil/dual_engine/backend.h"

namespace hil::dual_engine {
namespace {

class EmulatedProgram : public EngineProgram {
 public:
  explicit EmulatedProgram(const PartitionPlan& plan) : executor_(plan), device_us_(plan.device_us) {}
  TensorMap run(const TensorMap& inputs) override { return executor_.run(inputs); }
  double device_us() const override { return device_us_; }

 private:
  PartitionExecutor executor_;
  double device_us_;
};

class EmulatedBackend : public EngineBackend {
 public:
  std::string name() const override { return "emulated (OpenCV DNN + cost model)"; }
  std::unique_ptr<EngineProgram> load(const PartitionPlan& plan, int /*engine*/) override {
    return std::make_unique<EmulatedProgram>(plan);
  }
};

}  // namespace

std::unique_ptr<EngineBackend> make_emulated_backend() { return std::make_unique<EmulatedBackend>(); }

}  // namespace hil::dual_engine
