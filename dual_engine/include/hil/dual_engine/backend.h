// The engine behind a board, as the dual-engine runtime sees it. Emulated
// boards implement it with OpenCV DNN and the cost model; a real board
// implements it with its vendor's SDK (docs/backends.md).
#pragma once

#include <memory>
#include <string>

#include "hil/dual_engine/compiler.h"
#include "hil/dual_engine/executor.h"

namespace hil::dual_engine {

// One compiled plan loaded onto one engine.
class EngineProgram {
 public:
  virtual ~EngineProgram() = default;
  // Runs the plan on its engine. Throws on an engine fault (the runtime's
  // watchdog treats an exception like a crash of that engine).
  virtual TensorMap run(const TensorMap& inputs) = 0;
  // Device time of one run, in microseconds: the cost model's figure on an
  // emulated board, the hardware timer's on a real one.
  virtual double device_us() const = 0;
};

class EngineBackend {
 public:
  virtual ~EngineBackend() = default;
  virtual std::string name() const = 0;
  // Loads a plan (a self-contained ONNX sub-model and its costs) onto engine
  // 0 or 1; throws ModelError when the engine cannot take it.
  virtual std::unique_ptr<EngineProgram> load(const PartitionPlan& plan, int engine) = 0;
};

// The emulated engines: OpenCV DNN on the host CPU, device time from the cost model.
std::unique_ptr<EngineBackend> make_emulated_backend();

}  // namespace hil::dual_engine
