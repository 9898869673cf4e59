// The gate's statistics: a paired comparison of candidate and baseline over
// the clips both ran, with a seeded bootstrap interval of the mean degradation
// and a margin set in the suite before testing.
//
//   pass          the whole interval is within the margin (no worse than δ)
//   fail          the whole interval lies beyond the margin (a confirmed regression)
//   inconclusive  neither: too few clips or too much noise; says how many more clips might decide
//   invalid       the run cannot be judged (evals missing beyond the suite's
//                 allowance, a side without results, results from a
//                 quarantined board, clips without the ground truth a gated
//                 metric needs); wins over fail, and says what to do next
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
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "evals/proto/suite.pb.h"
#include "hil/evals/metrics.h"

namespace hil::evals {

enum class Verdict { kPass = 0, kFail = 1, kInconclusive = 2, kInvalid = 3 };
const char* verdict_name(Verdict v);
// The verdict a name stands for; nullopt for anything else (not gated yet).
std::optional<Verdict> verdict_from_name(std::string_view name);

// Why a run cannot be judged.
enum class InvalidReason {
  kMissingEvals,          // more evals missing or failed than the suite allows
  kSideWithoutResults,    // the baseline (or the candidate) has no succeeded eval
  kQuarantinedBoard,      // results came from a board quarantined since
  kTruthLacksGatedField,  // no clip has what a blocking metric scores against
};
struct Invalidity {
  InvalidReason reason = InvalidReason::kMissingEvals;
  std::string detail;     // what is wrong, with the numbers and names
  std::string next_step;  // what to do about it: rerun, add clips, fix the suite
};

// One clip (and scenario) that both revisions ran: summary metrics of each.
struct PairedClip {
  std::string clip;  // clip sha256 (and scenario, when more than one)
  std::string
      cluster;  // the clip: scenarios of one clip are resampled together (empty: each pair alone)
  std::vector<std::string> tags;
  std::map<std::string, double> baseline;
  std::map<std::string, double> candidate;
};

struct MetricVerdict {
  std::string metric;
  std::string slice = "all";  // "all" or a condition tag
  bool blocking = true;
  Verdict verdict = Verdict::kInconclusive;
  uint32_t clips = 0;   // distinct clips (the statistical unit)
  double baseline = 0;  // corpus value (mean, or ratio of summed counts)
  double candidate = 0;
  double degradation = 0;  // positive is worse, in the metric's unit
  double lo = 0, hi = 0;   // bootstrap interval of the degradation
  double margin = 0;
  double p_value =
      1;  // one-sided bootstrap p of "no worse than the margin"; slices are BH-adjusted
  std::string reason;
};

struct GateReport {
  Verdict overall = Verdict::kInconclusive;
  std::vector<MetricVerdict> metrics;  // blocking metrics first, then slices
  uint32_t missing_evals = 0;
  std::vector<Invalidity> invalid;      // why the run cannot be judged (overall kInvalid)
  std::string summary;                  // one line
  std::vector<std::string> next_steps;  // what to do next, for people
};

struct GateOptions {
  uint32_t resamples = 2000;
  uint64_t seed = 20261125;
  uint32_t evals_total = 0;    // evals of the run, both revisions
  uint32_t missing_evals = 0;  // evals not succeeded in either revision
  double slice_fdr = 0.05;     // Benjamini-Hochberg false discovery rate over advisory slices
  // Found by the caller from what it stores (quarantined boards, a side
  // without results); run_gate adds what it can see in the clips.
  std::vector<Invalidity> invalid;
};

// Gates one metric (its definition gives direction and ratio counts).
MetricVerdict gate_metric(const suite::GatingRule& rule, const MetricDef& def,
                          const std::vector<PairedClip>& clips, const GateOptions& options,
                          const std::string& slice = "all");

// Frames of one clip scored right or wrong in both revisions (lead
// detection): how many went right->wrong and wrong->right.
struct ClipFlips {
  int64_t to_worse_frames = 0, to_better_frames = 0;
};
struct FlipTest {
  int64_t clips_worse = 0,
          clips_better = 0;  // clips with more frames flipped one way than the other
  double p_value = 1;        // exact two-sided McNemar over those clips
};
// One decision per clip, then McNemar over clips: frames within a clip are
// correlated, so pooling them would overstate the evidence.
FlipTest flip_test(const std::vector<ClipFlips>& clips);
// Exact two-sided McNemar p for b discordant pairs one way and c the other.
double mcnemar_exact_p(int64_t b, int64_t c);
// One-sided Clopper-Pearson upper bound, at `level`, of a rate seen k times
// in n trials (exact binomial): the largest p with P(X <= k | n, p) >= 1 - level.
double clopper_pearson_upper(uint64_t k, uint64_t n, double level);
// Benjamini-Hochberg adjusted p-values (step-up, monotone in the p order,
// capped at 1), in the input's order.
std::vector<double> benjamini_hochberg(const std::vector<double>& p);

// A stored verdict summary carries the next steps after a marker, so that
// every client (the gate's renderers, the viewer) shows them without another
// column or message field.
std::string summary_with_next_steps(const std::string& summary,
                                    const std::vector<std::string>& steps);
struct SummaryParts {
  std::string summary;
  std::vector<std::string> next_steps;
};
SummaryParts split_summary(const std::string& stored);

// About how many paired clips would decide an inconclusive metric; 0 when no
// number of clips would (the estimate sits on the margin).
uint64_t clips_that_might_decide(const MetricVerdict& v);

GateReport run_gate(const suite::Suite& suite, const std::vector<PairedClip>& clips,
                    const GateOptions& options);

}  // namespace hil::evals
