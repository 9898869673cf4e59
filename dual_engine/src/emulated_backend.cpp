// The backends that run plans with OpenCV DNN on the host CPU: emulated
// (device time from the cost model) and host-measured (device time from a
// steady clock around each run). Plugins are in plugin_backend.cpp.
#include <chrono>

#include "hil/dual_engine/backend.h"

namespace hil::dual_engine {

const char* engine_status_name(EngineStatus status) {
  switch (status) {
    case EngineStatus::kOk:
      return "ok";
    case EngineStatus::kCrashed:
      return "crash";
    case EngineStatus::kHung:
      return "hang";
    case EngineStatus::kSramError:
      return "ecc";
  }
  return "unknown";
}

namespace {

enum class DeviceClock {
  kCostModel,  // the plan's cost-model figure: the same on every run and machine
  kMeasured,   // a steady clock around the run, on the engine thread that ran it
};

class OpenCvProgram : public EngineProgram {
 public:
  OpenCvProgram(const PartitionPlan& plan, DeviceClock clock)
      : executor_(plan), expected_us_(plan.device_us), clock_(clock) {}
  EngineRun run(const TensorMap& inputs) override {
    if (clock_ == DeviceClock::kCostModel)
      return {EngineStatus::kOk, executor_.run(inputs), expected_us_};
    const auto start = std::chrono::steady_clock::now();
    TensorMap outputs = executor_.run(inputs);
    const double device_us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    return {EngineStatus::kOk, std::move(outputs), device_us};
  }
  double expected_device_us() const override { return expected_us_; }

 private:
  PartitionExecutor executor_;
  double expected_us_;
  DeviceClock clock_;
};

class OpenCvBackend : public EngineBackend {
 public:
  explicit OpenCvBackend(DeviceClock clock) : clock_(clock) {}
  std::string name() const override {
    return clock_ == DeviceClock::kCostModel ? "emulated (OpenCV DNN + cost model)"
                                             : "host (OpenCV DNN, measured)";
  }
  bool measures_time() const override { return clock_ == DeviceClock::kMeasured; }
  std::unique_ptr<EngineProgram> load(const PartitionPlan& plan, int /*engine*/) override {
    return std::make_unique<OpenCvProgram>(plan, clock_);
  }

 private:
  DeviceClock clock_;
};

}  // namespace

std::unique_ptr<EngineBackend> make_emulated_backend() {
  return std::make_unique<OpenCvBackend>(DeviceClock::kCostModel);
}

std::unique_ptr<EngineBackend> make_host_backend() {
  return std::make_unique<OpenCvBackend>(DeviceClock::kMeasured);
}

std::unique_ptr<EngineBackend> make_board_backend(const board::BoardType& board) {
  switch (board.backend()) {
    case board::BoardType::HOST_MEASURED:
      return make_host_backend();
    default:
      return make_emulated_backend();
  }
}

}  // namespace hil::dual_engine
