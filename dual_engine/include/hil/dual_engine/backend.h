// The engine behind a board, as the dual-engine runtime sees it. Emulated
// boards implement it with OpenCV DNN and the cost model; a real board
// implements it with its vendor's SDK, built outside this tree and loaded
// into the agent at run time (docs/backends.md).
#pragma once

#include <memory>
#include <string>

#include "hil/dual_engine/compiler.h"
#include "hil/dual_engine/executor.h"

namespace hil::dual_engine {

// How one run on an engine ended, as the engine reports it.
enum class EngineStatus {
  kOk,
  kCrashed,    // the engine died (reset, lost context): a crash of that engine
  kHung,       // the engine stopped answering and its own watchdog gave up
  kSramError,  // uncorrectable SRAM (ECC) error: this frame's outputs are bad
};
const char* engine_status_name(EngineStatus status);

struct EngineRun {
  EngineStatus status = EngineStatus::kOk;
  TensorMap outputs;
  // Device time of this run, in microseconds: the cost model's figure on an
  // emulated board, measured on a real one (or on the host board type).
  double device_us = 0;
};

// One compiled plan loaded onto one engine.
class EngineProgram {
 public:
  virtual ~EngineProgram() = default;
  // Runs the plan on its engine. A fault is reported through the status; an
  // exception counts as a crash of that engine.
  virtual EngineRun run(const TensorMap& inputs) = 0;
  // The expected device time of one run, in microseconds, used to plan
  // (which engine can recompute a late frame sooner); runs report their own.
  virtual double expected_device_us() const = 0;
};

class EngineBackend {
 public:
  virtual ~EngineBackend() = default;
  virtual std::string name() const = 0;
  // True when run() measures device time rather than computing it: latency
  // metrics then vary run to run, and the gate says so.
  virtual bool measures_time() const = 0;
  // Loads a plan (a self-contained ONNX sub-model and its costs) onto engine
  // 0 or 1; throws ModelError when the engine cannot take it.
  virtual std::unique_ptr<EngineProgram> load(const PartitionPlan& plan, int engine) = 0;
};

// The emulated engines: OpenCV DNN on the host CPU, device time from the cost model.
std::unique_ptr<EngineBackend> make_emulated_backend();

}  // namespace hil::dual_engine
