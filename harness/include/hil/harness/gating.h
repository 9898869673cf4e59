// Turns a finished run's stored metrics into a gate verdict (evals/ does the
// statistics) and renders verdicts for people and CI systems.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hil/db/store.h"
#include "hil/evals/gate.h"

namespace hil::harness {

// Pairs candidate and baseline evals of a run by (clip, scenario), runs the
// suite's gating rules, stores the verdict rows; returns the report.
evals::GateReport gate_run(db::Store& store, int64_t run_id);

struct VerdictView {
  int64_t run_id = 0;
  std::string candidate, baseline, suite;
  std::string verdict;
  std::string summary;
  uint32_t evals_total = 0, evals_succeeded = 0, evals_failed = 0;
  std::vector<db::GateRow> rows;
};

// A fixed-width table for terminals (fmt).
std::string render_verdict_table(const VerdictView& view);

}  // namespace hil::harness
