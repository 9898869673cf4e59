// The dual-engine runtime: two engines, each its own thread holding its
// partition plans and a full-graph standby plan. One commands (emits the
// outputs and control command), the other extends compute; roles swap at a
// frame boundary on request; a watchdog fails an engine on crash, missed
// heartbeat, non-finite output or repeated deadline misses, and the survivor
// keeps the command stream going on its standby plan.
//
// Two clocks run side by side. Host time is measured. Device time is what the
// board's backend reports for each run: on emulated boards the cost model's
// figure, so it is the same on every run and every machine and latency gates
// cannot flake; on the `host` board type and backend plugins it is measured
// (EngineBackend::measures_time()). Fault schedules add to it either way.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "evals/proto/suite.pb.h"
#include "hil/dual_engine/backend.h"
#include "hil/dual_engine/compiler.h"
#include "hil/dual_engine/executor.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/metrics.h"
#include "hil/evals/suite.h"

namespace hil::dual_engine {

// A revision compiled for a board type, with every plan loaded on both
// engines through the board's backend (roles are interchangeable), and its
// model interface checked against its graph. Built once per (revision,
// board type) and reused across evals; not for concurrent use: an agent's
// slots each check out a copy of their own (device_agents/revision_pool.h).
class CompiledRevision {
 public:
  // `backend` defaults to the emulated engines. Throws evals::InterfaceError
  // when the revision carries no interface or one that does not fit.
  CompiledRevision(const Model& model, const board::BoardType& board,
                   EngineBackend* backend = nullptr);
  const CompiledModel& plan() const { return plan_; }
  const board::BoardType& board() const { return board_; }
  const model::ModelInterface& iface() const { return iface_; }

  struct EnginePrograms {
    std::unique_ptr<EngineProgram> first, second, standby;
  };
  // Device time is measured per run (host board type, plugins), so it varies.
  bool measures_time() const { return measures_time_; }
  EnginePrograms& engine(int e) { return engines_[e]; }

 private:
  board::BoardType board_;
  model::ModelInterface iface_;
  CompiledModel plan_;
  EnginePrograms engines_[2];
  bool measures_time_ = false;
};

using FaultKind = evals::FaultKind;  // one list of fault kinds, checked by the suite
const char* fault_kind_name(FaultKind kind);

// Parses "ENGINE:KIND@FRAME" (engine: commander, extender, 0, 1; kind: crash,
// hang, slow:N, nan, ecc); throws std::invalid_argument naming the part at fault.
suite::Fault parse_fault(const std::string& text);

struct FailoverEvent {
  uint32_t frame = 0;  // the frame the fault hit
  int failed_engine = 0;
  FaultKind kind = FaultKind::kCrash;
  bool was_commander = false;
  // All emulated, derived from the board type's supervision and the plans' costs:
  double detection_ms =
      0;  // fault onset to detection (heartbeat, interrupt, output check, deadline misses)
  uint32_t detection_frames = 0;  // slow engines: the deadline misses that declared it
  double warmup_ms = 0;      // part of the switchover spent starting the survivor's standby plan
  double switchover_ms = 0;  // detection to the survivor's command (warm-up included)
  uint32_t gap_frames = 0;   // frames with no command (no outputs) because of it
  bool recovered = true;     // false: the survivor faulted too, nothing commanded any more
  bool within_ftti = true;   // recovered and detection + switchover <= the FTTI
  bool transient = false;    // ECC: one bad frame recomputed, no role change
};

struct EvalRun {
  std::vector<evals::FrameRecord> frames;
  evals::EvalScorer scorer;
  double host_seconds = 0;
  std::string mode;
  double period_ms = 0;        // the clip's frame period
  double split_period_ms = 0;  // steady-state emulated time per frame, split
  double ftti_ms = 0;          // the fault-tolerant time interval the failovers were held to
  std::vector<FailoverEvent> failovers;
  std::vector<std::string> events;  // everything that happened, in order, for people
  double decode_seconds = 0;        // host time decoding camera images
  double preprocess_seconds = 0;    // host time turning them into input tensors
};

// The host gave up waiting for an engine that was still running: the host,
// not the emulated board, is stuck or far too slow. The eval fails as an
// infrastructure error (retried elsewhere), never as an engine fault.
class HostStallError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Called after each frame; return false to abort (e.g. the lease was lost).
using FrameProgress = std::function<bool(uint32_t frames_done)>;

struct RuntimeOptions {
  // Emulated faults are found by the board's own supervision on the emulated
  // clock, never by host time. The host waits for a running engine at least
  // this long, and at least host_stall_factor times the slowest run it has
  // measured on this eval, before it calls the host stalled (HostStallError):
  // a loaded machine or a sanitizer build slows every run alike.
  double host_stall_floor_ms = 5000;
  double host_stall_factor = 50;
  // Test aid: every engine run takes this many times its host time (the host
  // throttled); emulated results must not change.
  double host_slowdown = 1;
};

// Plays every readable frame of the clip and scores it with the suite's
// declared metrics (plugins excepted) besides the system metrics. Throws
// ModelError, evals::InterfaceError or ClipError on bad input (the eval
// fails with that message: a clip without the ground truth a metric needs,
// a camera the interface reads and the clip lacks), evals::ScenarioError on
// a bad scenario.
EvalRun play_eval(CompiledRevision& revision, const evals::ClipReader& clip,
                  const suite::Scenario& scenario, const std::vector<suite::MetricSpec>& metrics,
                  const FrameProgress& progress = {}, const RuntimeOptions& options = {});

}  // namespace hil::dual_engine
