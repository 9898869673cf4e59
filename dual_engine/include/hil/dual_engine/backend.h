// The engine behind a board, as the dual-engine runtime sees it. Emulated
// boards implement it with OpenCV DNN and the cost model; the `host` board
// type with OpenCV DNN and a clock; a real board with its vendor's SDK, built
// outside this tree as a plugin (backend_plugin.h) and loaded into the agent
// at run time (docs/backends.md).
//
//   auto backend = make_board_backend(board_type);        // or make_plugin_backend("libnpu.so")
//   CompiledRevision revision(model, board_type, backend.get());
//   EvalRun run = play_eval(revision, clip, scenario, metrics);
//
// A backend outlives every CompiledRevision loaded through it. load() may be
// called from several threads (the host serialises calls where the backend
// needs it); each program is run by one engine thread at a time.
#pragma once

#include <filesystem>
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

// A backend that cannot be opened: a plugin file that is missing or not a
// plugin, an ABI version this hil does not speak, a device that refuses to
// open. The message names the file.
class BackendError : public ModelError {
 public:
  using ModelError::ModelError;
};

// The emulated engines: OpenCV DNN on the host CPU, device time from the cost model.
std::unique_ptr<EngineBackend> make_emulated_backend();

// The host's engines: OpenCV DNN on the host CPU, each run timed with a
// steady clock on the engine thread that ran it; that time is the device
// time (measures_time() is true). Expected times come from the cost model
// over the board type's figures (estimates of the host).
std::unique_ptr<EngineBackend> make_host_backend();

// The backend a board type names (BoardType.backend): emulated or host-measured.
std::unique_ptr<EngineBackend> make_board_backend(const board::BoardType& board);

// Loads a backend plugin (backend_plugin.h) and opens it with `options`.
// Throws BackendError naming the file when it is missing, lacks the entry
// symbol hil_backend_plugin_v1, speaks another ABI version, or refuses to open.
std::unique_ptr<EngineBackend> make_plugin_backend(const std::filesystem::path& library,
                                                   const std::string& options = "");

}  // namespace hil::dual_engine
