// What the clip table shows: the diff of revision A with revision B, one row
// per (clip, scenario), with A's value, B's value and the delta of each
// metric the suite gates or declares, each clip scored by its worst
// regression. Plain data, no Qt: built from hil::db::DiffRow, the database's
// metric definitions and the suite text, tested without a widget. No metric
// is known by name: a suite's metrics are its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hil/db/store.h"

namespace hil::viewer {

enum class Direction { kLowerIsBetter, kHigherIsBetter };

// A metric the table compares, with how to judge its delta.
struct DiffMetric {
  std::string name;
  std::string unit;
  Direction direction = Direction::kLowerIsBetter;
  std::string description;
  // The per-frame series that explains the metric ("frame.NAME",
  // "out.HEAD.FIELD", "device_ms"; evals::MetricDef::series), "" if none.
  std::string series;
  // The unit of the metric's per-frame values ("frame.NAME") when it is not
  // the metric's ("errors": a ratio metric's counts the frame's errors).
  std::string series_unit;
  // Gated by a suite. When any metric of the table is, only the gated ones
  // decide a clip's verdict (one only declared is shown, not judged); when
  // none is, every metric does, in RMS deltas.
  bool gated = true;
  bool blocking = true;
  // The gate's rule: max(abs, rel * |mean of A|) is one margin. Both 0 when
  // no suite gates the metric.
  double max_abs_degradation = 0;
  double max_rel_degradation = 0;
  // One unit of "how much worse" for this metric: the gate's margin over the
  // shown clips, or (no margin) the root mean square of the deltas; never 0.
  double scale = 1;
  bool scale_is_margin = false;
};

struct MetricDiff {
  bool present = false;            // both evals recorded the metric
  double a = 0, b = 0, delta = 0;  // delta = b - a
};

// Per clip: regressed when some metric is worse by more than one scale (the
// gate's margin), improved when none is and some is better by more than one.
enum class ClipVerdict { kUnchanged, kImproved, kRegressed };
const char* clip_verdict_name(ClipVerdict verdict);

struct ClipDiff {
  std::string clip_sha;
  std::string clip_name;
  std::string scenario;
  std::vector<std::string> tags;
  int64_t eval_a = 0, eval_b = 0;
  std::vector<MetricDiff> metrics;  // parallel to DiffTable::metrics
  // The largest badness / scale over the judged metrics (positive: B worse
  // than A), and which metric it came from (-1 when none is present).
  double worst = 0;
  int worst_metric = -1;
  ClipVerdict verdict = ClipVerdict::kUnchanged;
};

struct DiffTable {
  std::vector<DiffMetric> metrics;
  std::vector<ClipDiff> clips;    // worst regression first
  std::vector<std::string> tags;  // every tag of the clips, sorted
};

// Positive when B is worse than A on this metric (delta signed by direction).
double badness(const DiffMetric& metric, double delta);

// The metrics to compare: the gates of the given suite texts (blocking
// first, in suite order; a metric gated twice keeps its first rule), then
// every other metric the suites declare (plugins' included; a ratio's
// auxiliary counts left out), with units and directions from `defs` (the
// database's definitions), else from the suite's own definitions. With no
// gate at all, the declared metrics and a default set of system metrics.
// Unparsable suite text is skipped.
std::vector<DiffMetric> gating_metrics(const std::vector<std::string>& suite_texts,
                                       const std::vector<hil::db::MetricDefRow>& defs);

// Pivots the diff rows (any order, any metric) into one row per (clip,
// scenario) over `metrics`, computes scales, scores and verdicts (over the
// gated metrics when any is gated, else over all), and orders the clips
// worst first (ties by clip name).
DiffTable build_diff_table(const std::vector<hil::db::DiffRow>& rows,
                           std::vector<DiffMetric> metrics);

struct ClipFilter {
  std::string tag;                     // exact tag ("snow", "class:car"); empty: any
  std::string text;                    // case-insensitive substring of name, hash, tags, scenario
  std::optional<ClipVerdict> verdict;  // empty: any
};
bool matches(const ClipDiff& clip, const ClipFilter& filter);

std::vector<std::string> split_tags(const std::string& comma_separated);

}  // namespace hil::viewer
