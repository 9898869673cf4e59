// What the clip table shows: the diff of revision A with revision B, one row
// per (clip, scenario), with A's value, B's value and the delta of each gating
// metric, each clip scored by its worst regression. Plain data, no Qt: built
// from hil::db::DiffRow and the suite's gates, tested without a widget.
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
  // The largest badness / scale over the metrics (positive: B worse than A),
  // and which metric it came from (-1 when none is present).
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
// first, in suite order; a metric gated twice keeps its first rule), with
// units and directions from `defs`. With no gate at all, a default set of the
// registry's driving and latency metrics. Unparsable suite text is skipped.
std::vector<DiffMetric> gating_metrics(const std::vector<std::string>& suite_texts,
                                       const std::vector<hil::db::MetricDefRow>& defs);

// Pivots the diff rows (any order, any metric) into one row per (clip,
// scenario) over `metrics`, computes scales, scores and verdicts, and orders
// the clips worst first (ties by clip name).
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
