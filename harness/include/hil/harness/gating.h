// Turns a finished run's stored metrics into a gate verdict (evals/ does the
// statistics) and renders verdicts for people and CI systems.
#pragma once

#include <cstdint>
#include <map>
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
  std::string candidate_sha, baseline_sha;
  std::string verdict;
  std::string summary;
  uint32_t evals_total = 0, evals_succeeded = 0, evals_failed = 0;
  std::vector<db::GateRow> rows;
  std::vector<db::GateClipRow> worst_clips;
  std::string viewer_db = "hil.db";  // the database path for viewer commands
  // What each gated metric measures (unit, matching rule, interpolation...),
  // from the suite's declarations; printed under the table.
  std::map<std::string, std::string> definitions;
  // Succeeded evals whose device latency the boards measured, and those the
  // cost model emulated (RunStatus.device_time_*).
  uint32_t device_time_measured = 0, device_time_emulated = 0;
};

// Where the latency figures of a verdict came from.
enum class LatencySource {
  kNone,      // no succeeded evals
  kEmulated,  // the cost model: deterministic, a latency gate cannot flake
  kMeasured,  // measured on the boards: varies run to run
  kMixed,     // some of each: latency metrics compare unlike figures
};
LatencySource latency_source(const VerdictView& view);
// One sentence for reports: where latency came from and what that means.
std::string latency_note(const VerdictView& view);

// A fixed-width table for terminals (fmt), with the worst clips.
std::string render_verdict_table(const VerdictView& view);
// JUnit XML (Jenkins junit-10.xsd): a testsuite of blocking metrics and one of
// advisory slices; a regression is a <failure> with the numbers, an
// inconclusive metric is <skipped> with the reason.
std::string render_junit(const VerdictView& view);
// A Markdown summary for a PR comment or CI job summary.
std::string render_markdown(const VerdictView& view);
std::string render_json(const VerdictView& view);
// `hil-viewer DB --a SHA --b SHA --clip SHA --frame K`
std::string viewer_command(const VerdictView& view, const db::GateClipRow& clip);

}  // namespace hil::harness
