// The gate's statistics: a paired comparison of candidate and baseline over
// the clips both ran, with a seeded bootstrap interval of the mean degradation
// and a margin set in the suite before testing.
//
//   pass          the whole interval is within the margin (no worse than δ)
//   fail          the whole interval lies beyond the margin (a confirmed regression)
//   inconclusive  neither: too few clips or too much noise; says how many more clips might decide
//
// Why a bootstrap and not a signed-rank test: the gate needs an interval of
// the mean degradation in the metric's unit to compare with the margin (a
// rank test answers "is there any shift", not "is it larger than 0.02 m"),
// and ratio metrics such as recall must be recomputed from resampled counts,
// which a bootstrap over clips does naturally. Clips are the unit: frames
// within a clip are correlated.
//
// Advisory slices (condition, object class) run many tests at once: their
// fails are kept only where Benjamini-Hochberg at `slice_fdr` rejects.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "evals/proto/suite.pb.h"
#include "hil/evals/metrics.h"

namespace hil::evals {

enum class Verdict { kPass = 0, kFail = 1, kInconclusive = 2 };
const char* verdict_name(Verdict v);

// One clip (and scenario) that both revisions ran: summary metrics of each.
struct PairedClip {
  std::string clip;     // clip sha256 (and scenario, when more than one)
  std::string cluster;  // the clip: scenarios of one clip are resampled together (empty: each pair alone)
  std::vector<std::string> tags;
  std::map<std::string, double> baseline;
  std::map<std::string, double> candidate;
};

struct MetricVerdict {
  std::string metric;
  std::string slice = "all";  // "all" or a condition tag
  bool blocking = true;
  Verdict verdict = Verdict::kInconclusive;
  uint32_t clips = 0;     // distinct clips (the statistical unit)
  double baseline = 0;   // corpus value (mean, or ratio of summed counts)
  double candidate = 0;
  double degradation = 0;  // positive is worse, in the metric's unit
  double lo = 0, hi = 0;   // bootstrap interval of the degradation
  double margin = 0;
  double p_value = 1;  // one-sided bootstrap p of "no worse than the margin"; slices are BH-adjusted
  std::string reason;
};

struct GateReport {
  Verdict overall = Verdict::kInconclusive;
  std::vector<MetricVerdict> metrics;  // blocking metrics first, then slices
  uint32_t missing_evals = 0;
  std::string summary;  // one line
};

struct GateOptions {
  uint32_t resamples = 2000;
  uint64_t seed = 20261125;
  uint32_t missing_evals = 0;  // evals not succeeded in either revision
  double slice_fdr = 0.05;     // Benjamini-Hochberg false discovery rate over advisory slices
};

// Gates one metric (its definition gives direction and ratio counts).
MetricVerdict gate_metric(const suite::GatingRule& rule, const MetricDef& def, const std::vector<PairedClip>& clips,
                          const GateOptions& options, const std::string& slice = "all");

GateReport run_gate(const suite::Suite& suite, const std::vector<PairedClip>& clips, const GateOptions& options);

}  // namespace hil::evals
