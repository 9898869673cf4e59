// Plays an eval on an emulated dual-engine board: every frame of a clip
// through the compiled revision, in split, single or redundant mode, with
// the emulated device time of every frame from the cost model.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "evals/proto/suite.pb.h"
#include "hil/dual_engine/compiler.h"
#include "hil/dual_engine/executor.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/metrics.h"

namespace hil::dual_engine {

// A revision compiled for a board type, with an executor per plan. Built once
// per (revision, board type) and reused across evals.
class CompiledRevision {
 public:
  CompiledRevision(const Model& model, const board::BoardType& board);
  const CompiledModel& plan() const { return plan_; }
  const board::BoardType& board() const { return board_; }
  PartitionExecutor& first() { return first_; }
  PartitionExecutor& second() { return second_; }
  PartitionExecutor& standby(int engine) { return standby_[engine]; }

 private:
  board::BoardType board_;
  CompiledModel plan_;
  PartitionExecutor first_, second_;
  PartitionExecutor standby_[2];
};

struct EvalRun {
  std::vector<evals::FrameRecord> frames;
  evals::EvalScorer scorer;
  double host_seconds = 0;
  std::string mode;
  std::vector<std::string> events;  // failovers, role swaps, mismatches
};

// Called after each frame; return false to abort (e.g. the lease was lost).
using FrameProgress = std::function<bool(uint32_t frames_done)>;

// Plays every readable frame of the clip. Throws ModelError or ClipError on
// bad input (the eval fails with that message).
EvalRun play_eval(CompiledRevision& revision, const evals::ClipReader& clip, const suite::Scenario& scenario,
                  const FrameProgress& progress = {});

}  // namespace hil::dual_engine
