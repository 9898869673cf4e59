// The morning report of the nightly sweep: per revision and metric, the value,
// the change against the previous night and the night a metric moved (a
// change point with its confidence); slices by condition, object class and
// traffic pattern, against the previous night; the clips that got
// worse, with the viewer command; board health. Markdown or HTML (with SVG
// trend plots, no plotting library).
#pragma once

#include <string>
#include <vector>

#include "hil/db/store.h"

namespace hil::harness {

struct NightlyReportOptions {
  std::string night;  // default: the latest night in the database
  int nights = 14;    // history shown and searched for change points
  // Metrics shown; empty: what the night's suites declare (counts behind
  // ratios left out), then device_latency_p99_ms and command_gaps.
  std::vector<std::string> metrics;
  // Metrics of the slices (by condition, object class, traffic pattern);
  // empty: the night's suites' blocking gates (at most four), else the first
  // three declared.
  std::vector<std::string> slice_metrics;
  bool html = false;
  std::string viewer_db = "hil.db";
  uint64_t seed = 7;  // the change points' permutation tests (evals/change_points.h)
};

std::string render_nightly_report(db::Store& store, const NightlyReportOptions& options);

}  // namespace hil::harness
