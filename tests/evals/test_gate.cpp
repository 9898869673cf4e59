#include <catch2/catch.hpp>

#include <cmath>

#include <fmt/format.h>

#include "hil/evals/change_points.h"
#include "hil/evals/gate.h"
#include "hil/evals/splitmix.h"

using namespace hil;

namespace {

suite::GatingRule rule(const std::string& metric, double abs_margin, uint32_t min_clips = 5) {
  suite::GatingRule r;
  r.set_metric(metric);
  r.set_max_abs_degradation(abs_margin);
  r.set_confidence(0.95);
  r.set_min_clips(min_clips);
  r.set_blocking(true);
  return r;
}

// A lower-is-better error metric, as a suite's regression metric would be.
evals::MetricDef error_metric(const std::string& name) {
  return {name, "m", suite::LOWER_IS_BETTER, "an error"};
}

// Recall as a ratio of summed counts, as the catalogue defines it.
evals::MetricDef recall_metric() {
  evals::MetricDef d{"lead_recall", "ratio", suite::HIGHER_IS_BETTER, "recall"};
  d.ratio_numerator = "lead_recall.tp";
  d.ratio_other = "lead_recall.fn";
  return d;
}

// Declares lane_offset_mae and steering_mae as regression metrics.
void declare_errors(suite::Suite& s) {
  for (const char* name : {"lane_offset_mae", "steering_mae"}) {
    auto* m = s.add_metrics();
    m->set_name(name);
    m->mutable_regression()->set_head("ego");
    m->mutable_regression()->set_field(name);
    m->mutable_regression()->set_truth("ego.lane_offset");
  }
}

// Deterministic pseudo-noise in [-1, 1].
double noise(int i, int salt) {
  double x = std::sin(i * 12.9898 + salt * 78.233) * 43758.5453;
  return 2 * (x - std::floor(x)) - 1;
}

std::vector<evals::PairedClip> clips(int n, double shift, double noise_scale,
                                     const std::string& metric = "lane_offset_mae") {
  std::vector<evals::PairedClip> out;
  for (int i = 0; i < n; ++i) {
    evals::PairedClip c;
    c.clip = std::to_string(i);
    c.tags = {i % 2 ? "snow" : "clear"};
    double base = 0.3 + 0.1 * noise(i, 1);
    c.baseline[metric] = base;
    c.candidate[metric] = base + shift + noise_scale * noise(i, 2);
    out.push_back(c);
  }
  return out;
}

}  // namespace

TEST_CASE("the gate passes a candidate no worse than the margin", "[gate]") {
  auto v = evals::gate_metric(rule("lane_offset_mae", 0.02), error_metric("lane_offset_mae"),
                              clips(40, -0.05, 0.01), {});
  CHECK(v.verdict == evals::Verdict::kPass);
  CHECK(v.hi <= v.margin);
  CHECK(v.degradation == Approx(-0.05).margin(0.01));
}

TEST_CASE("the gate fails a confirmed regression beyond the margin", "[gate]") {
  auto v = evals::gate_metric(rule("lane_offset_mae", 0.02), error_metric("lane_offset_mae"),
                              clips(40, 0.10, 0.01), {});
  CHECK(v.verdict == evals::Verdict::kFail);
  CHECK(v.lo > v.margin);
}

TEST_CASE("a tiny but significant change does not fail, a large noisy one does not pass",
          "[gate]") {
  // Tiny: 0.005 worse with almost no noise: significant, but within the margin.
  auto tiny = evals::gate_metric(rule("lane_offset_mae", 0.02), error_metric("lane_offset_mae"),
                                 clips(40, 0.005, 0.0005), {});
  CHECK(tiny.verdict == evals::Verdict::kPass);
  // Large and noisy: the interval straddles the margin.
  auto noisy = evals::gate_metric(rule("lane_offset_mae", 0.02), error_metric("lane_offset_mae"),
                                  clips(8, 0.03, 0.2), {});
  CHECK(noisy.verdict == evals::Verdict::kInconclusive);
  CHECK(noisy.reason.find("clips might decide") != std::string::npos);
}

TEST_CASE("too few clips is inconclusive, never a pass", "[gate]") {
  auto v = evals::gate_metric(rule("lane_offset_mae", 0.02, 10), error_metric("lane_offset_mae"),
                              clips(4, -0.1, 0.0), {});
  CHECK(v.verdict == evals::Verdict::kInconclusive);
}

TEST_CASE("ratio metrics are recomputed from summed counts", "[gate]") {
  std::vector<evals::PairedClip> cs;
  // One clip with many lead frames (recall drops a lot), many clips with one frame each
  // (unchanged).
  evals::PairedClip big;
  big.clip = "big";
  big.baseline = {{"lead_recall.tp", 300}, {"lead_recall.fn", 0}};
  big.candidate = {{"lead_recall.tp", 150}, {"lead_recall.fn", 150}};
  cs.push_back(big);
  for (int i = 0; i < 9; ++i) {
    evals::PairedClip c;
    c.clip = std::to_string(i);
    c.baseline = {{"lead_recall.tp", 1}, {"lead_recall.fn", 0}};
    c.candidate = {{"lead_recall.tp", 1}, {"lead_recall.fn", 0}};
    cs.push_back(c);
  }
  auto v = evals::gate_metric(rule("lead_recall", 0.02, 5), recall_metric(), cs, {});
  // Corpus recall: 159/309 vs 309/309, not the mean of per-clip ratios (0.95 vs 1).
  CHECK(v.candidate == Approx(159.0 / 309.0));
  CHECK(v.baseline == Approx(1.0));
  CHECK(v.degradation == Approx(1.0 - 159.0 / 309.0));
}

TEST_CASE("the bootstrap is seeded: the same inputs give the same interval", "[gate]") {
  auto data = clips(30, 0.01, 0.05);
  auto a =
      evals::gate_metric(rule("lane_offset_mae", 0.02), error_metric("lane_offset_mae"), data, {});
  auto b =
      evals::gate_metric(rule("lane_offset_mae", 0.02), error_metric("lane_offset_mae"), data, {});
  CHECK(a.lo == b.lo);
  CHECK(a.hi == b.hi);
}

TEST_CASE("the overall verdict fails on any blocking failure and reports slices", "[gate]") {
  suite::Suite s;
  declare_errors(s);
  *s.add_gates() = rule("lane_offset_mae", 0.02);
  *s.add_gates() = rule("steering_mae", 0.001);
  auto data = clips(40, 0.10, 0.01);
  for (auto& c : data) {
    c.baseline["steering_mae"] = 0.01;
    c.candidate["steering_mae"] = 0.01;
  }
  auto report = evals::run_gate(s, data, {});
  CHECK(report.overall == evals::Verdict::kFail);
  bool has_snow_slice = false;
  for (const auto& m : report.metrics) has_snow_slice |= m.slice == "snow" && !m.blocking;
  CHECK(has_snow_slice);
  auto better = clips(40, -0.05, 0.001);
  for (auto& c : better) c.baseline["steering_mae"] = c.candidate["steering_mae"] = 0.01;
  auto ok = evals::run_gate(s, better, {});
  CHECK(ok.overall == evals::Verdict::kPass);
  CHECK(ok.next_steps.empty());
}

TEST_CASE(
    "evals missing beyond the suite's allowance make the run invalid, and invalid wins over fail",
    "[gate]") {
  suite::Suite s;
  declare_errors(s);
  *s.add_gates() = rule("lane_offset_mae", 0.02);
  evals::GateOptions missing;
  missing.evals_total = 80;
  missing.missing_evals = 3;
  SECTION("no allowance: 3 of 80 missing is invalid, with a rerun to do") {
    auto report = evals::run_gate(s, clips(40, -0.05, 0.001), missing);
    CHECK(report.overall == evals::Verdict::kInvalid);
    REQUIRE(report.invalid.size() == 1);
    CHECK(report.invalid[0].reason == evals::InvalidReason::kMissingEvals);
    CHECK(report.invalid[0].detail.find("3 of 80") != std::string::npos);
    REQUIRE(report.next_steps.size() == 1);
    CHECK(report.next_steps[0].find("rerun") != std::string::npos);
  }
  SECTION("an allowance of 5 % (4 of 80) takes 3 missing: the clips decide, here a pass") {
    s.set_missing_evals_allowed(0.05);
    CHECK(evals::run_gate(s, clips(40, -0.05, 0.001), missing).overall == evals::Verdict::kPass);
  }
  SECTION("an allowance of 2.5 % (2 of 80) does not") {
    s.set_missing_evals_allowed(0.025);
    CHECK(evals::run_gate(s, clips(40, -0.05, 0.001), missing).overall == evals::Verdict::kInvalid);
  }
  SECTION("a clear regression with evals missing is still invalid, not fail") {
    auto report = evals::run_gate(s, clips(40, 0.10, 0.01), missing);
    CHECK(report.metrics[0].verdict == evals::Verdict::kFail);
    CHECK(report.overall == evals::Verdict::kInvalid);
  }
  SECTION("a reason the caller found (a quarantined board) makes it invalid") {
    evals::GateOptions quarantined;
    quarantined.invalid.push_back({evals::InvalidReason::kQuarantinedBoard,
                                   "2 results from board b-1", "rerun on healthy boards"});
    auto report = evals::run_gate(s, clips(40, -0.05, 0.001), quarantined);
    CHECK(report.overall == evals::Verdict::kInvalid);
    CHECK(report.next_steps == std::vector<std::string>{"rerun on healthy boards"});
  }
}

TEST_CASE("a blocking metric that no clip can score makes the run invalid: fix the suite",
          "[gate]") {
  suite::Suite s;
  declare_errors(s);
  *s.add_gates() = rule("lane_offset_mae", 0.02);
  *s.add_gates() = rule("steering_mae", 0.02);  // the clips carry no value of it
  auto report = evals::run_gate(s, clips(40, -0.05, 0.001), {});
  CHECK(report.overall == evals::Verdict::kInvalid);
  REQUIRE(report.invalid.size() == 1);
  CHECK(report.invalid[0].reason == evals::InvalidReason::kTruthLacksGatedField);
  CHECK(report.invalid[0].detail.find("steering_mae") != std::string::npos);
  CHECK(report.next_steps[0].find("fix the suite") != std::string::npos);
}

TEST_CASE("inconclusive says how many clips might decide; fail says where to look", "[gate]") {
  suite::Suite s;
  declare_errors(s);
  *s.add_gates() = rule("lane_offset_mae", 0.02);
  // A degradation of 0.02 (right on the margin) with noise: inconclusive.
  auto unsure = evals::run_gate(s, clips(6, 0.019, 0.02), {});
  REQUIRE(unsure.overall == evals::Verdict::kInconclusive);
  REQUIRE(unsure.next_steps.size() == 1);
  CHECK(unsure.next_steps[0].find("add clips") != std::string::npos);
  auto worse = evals::run_gate(s, clips(40, 0.10, 0.01), {});
  REQUIRE(worse.overall == evals::Verdict::kFail);
  CHECK(worse.next_steps[0].find("viewer") != std::string::npos);
}

TEST_CASE("the four verdicts have their own names", "[gate]") {
  for (auto v : {evals::Verdict::kPass, evals::Verdict::kFail, evals::Verdict::kInconclusive,
                 evals::Verdict::kInvalid}) {
    CHECK(evals::verdict_from_name(evals::verdict_name(v)) == v);
  }
  CHECK(std::string(evals::verdict_name(evals::Verdict::kInvalid)) == "invalid");
  CHECK_FALSE(evals::verdict_from_name("none").has_value());
}

TEST_CASE("Benjamini-Hochberg adjusted p-values are step-up and monotone, worked by hand",
          "[gate]") {
  // Sorted: 0.01, 0.011, 0.04, 0.5 (m = 4). Raw p m / rank: 0.04, 0.022,
  // 0.0533, 0.5; the step-up minimum from the top gives 0.022, 0.022, 0.0533,
  // 0.5. In input order:
  const auto q = evals::benjamini_hochberg({0.01, 0.011, 0.5, 0.04});
  REQUIRE(q.size() == 4);
  CHECK(q[0] == Approx(0.022));
  CHECK(q[1] == Approx(0.022));
  CHECK(q[2] == Approx(0.5));
  CHECK(q[3] == Approx(0.04 * 4 / 3));
  // Never above 1, and ties keep equal values.
  const auto capped = evals::benjamini_hochberg({0.9, 0.9, 0.9});
  for (double v : capped) CHECK(v == Approx(0.9));
  CHECK(evals::benjamini_hochberg({}).empty());
}

TEST_CASE("flip tests decide once per clip, never over pooled frames", "[gate]") {
  // One clip with 100 frames flipped to wrong is one clip of evidence: p = 1.
  auto one = evals::flip_test({{100, 0}});
  CHECK(one.clips_worse == 1);
  CHECK(one.p_value == Approx(1.0));
  // Six clips each more often worse: 2 * (1/2)^6 = 0.03125.
  auto six = evals::flip_test({{3, 1}, {2, 0}, {5, 4}, {1, 0}, {7, 2}, {2, 1}});
  CHECK(six.clips_worse == 6);
  CHECK(six.clips_better == 0);
  CHECK(six.p_value == Approx(0.03125));
  // Ties decide nothing; one each way: 2 * P(X <= 1 | n = 2) = 2 * 3/4, capped at 1.
  auto mixed = evals::flip_test({{2, 2}, {3, 0}, {0, 3}});
  CHECK(mixed.clips_worse == 1);
  CHECK(mixed.clips_better == 1);
  CHECK(mixed.p_value == Approx(1.0));
  // McNemar, hand-worked: b = 8, c = 1: 2 * (1 + 9) / 512 = 0.0390625.
  CHECK(evals::mcnemar_exact_p(8, 1) == Approx(0.0390625));
}

namespace {

// A uniform in [0, 1) and a standard normal (Box-Muller) from SplitMix: the
// test's own distribution, the same with every standard library.
double uniform(evals::SplitMix& rng) { return static_cast<double>(rng.next() >> 11) * 0x1.0p-53; }
double normal(evals::SplitMix& rng) {
  const double u1 = 1.0 - uniform(rng), u2 = uniform(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

}  // namespace

TEST_CASE("the gate's 95 % intervals cover a known true difference about 95 % of the time",
          "[gate][coverage]") {
  // 300 trials of 40 clips: baseline error 0.3 + N(0, 0.05) per clip, the
  // candidate 0.03 worse on average with N(0, 0.02) of clip-level noise.
  constexpr double kTrue = 0.03;
  constexpr int kTrials = 300;
  evals::SplitMix rng{7};
  int covered = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    std::vector<evals::PairedClip> data;
    for (int i = 0; i < 40; ++i) {
      evals::PairedClip c;
      c.clip = std::to_string(i);
      const double base = 0.3 + 0.05 * normal(rng);
      c.baseline["lane_offset_mae"] = base;
      c.candidate["lane_offset_mae"] = base + kTrue + 0.02 * normal(rng);
      data.push_back(c);
    }
    evals::GateOptions options;
    options.seed = 1000 + static_cast<uint64_t>(trial);
    auto v = evals::gate_metric(rule("lane_offset_mae", 0.02), error_metric("lane_offset_mae"),
                                data, options);
    covered += v.lo <= kTrue && kTrue <= v.hi;
  }
  const double rate = static_cast<double>(covered) / kTrials;
  INFO("coverage " << rate);
  CHECK(rate >= 0.93);
  CHECK(rate <= 0.97);
}

TEST_CASE("the bootstrap interval is bit-identical across compilers: a stored expected interval",
          "[gate]") {
  // Inputs built from integers only (no libm), the seed fixed; the interval
  // below was computed once and stored: a different standard library or
  // compiler must give the same bits.
  std::vector<evals::PairedClip> data;
  for (int i = 0; i < 25; ++i) {
    evals::PairedClip c;
    c.clip = std::to_string(i);
    c.baseline["lane_offset_mae"] = 0.25 + 0.01 * ((i * 7) % 11);
    c.candidate["lane_offset_mae"] = 0.25 + 0.01 * ((i * 5) % 13);
    data.push_back(c);
  }
  evals::GateOptions options;
  options.seed = 20261202;
  auto v = evals::gate_metric(rule("lane_offset_mae", 0.02), error_metric("lane_offset_mae"), data,
                              options);
  CHECK(fmt::format("{:.17g} {:.17g}", v.lo, v.hi) ==
        "-0.0059999999999999498 0.028399999999999925");
}

TEST_CASE("Clopper-Pearson upper bounds, worked by hand", "[gate]") {
  // No failure in n: the bound solves (1 - p)^n = 0.05, p = 1 - 0.05^(1/n).
  CHECK(evals::clopper_pearson_upper(0, 100, 0.95) ==
        Approx(1 - std::pow(0.05, 0.01)).epsilon(1e-6));
  CHECK(evals::clopper_pearson_upper(0, 300, 0.95) == Approx(0.009936).epsilon(1e-3));
  // One failure in 10: P(X <= 1) = (1-p)^10 + 10 p (1-p)^9 = 0.05 at p = 0.3942.
  CHECK(evals::clopper_pearson_upper(1, 10, 0.95) == Approx(0.3942).epsilon(1e-3));
  CHECK(evals::clopper_pearson_upper(5, 5, 0.95) == 1.0);
}

namespace {

std::vector<double> normal_series(
    uint64_t seed, const std::vector<std::pair<int, std::pair<double, double>>>& pieces) {
  // pieces: (length, (mean, sd)), values drawn from the test's own normal.
  evals::SplitMix rng{seed};
  std::vector<double> x;
  for (const auto& [n, ms] : pieces) {
    for (int i = 0; i < n; ++i) x.push_back(ms.first + ms.second * normal(rng));
  }
  return x;
}

// Pieces of (length, (level, spread)) with scrambled, trendless noise: the
// values -1, -0.6, ..., 1 in the order i * 7 mod 11, times the spread. A
// known answer needs noise without the runs a random draw can have.
std::vector<double> scrambled_series(
    const std::vector<std::pair<int, std::pair<double, double>>>& pieces) {
  std::vector<double> x;
  for (const auto& [n, ls] : pieces) {
    for (int i = 0; i < n; ++i) x.push_back(ls.first + ls.second * (((i * 7) % 11) - 5) / 5.0);
  }
  return x;
}

}  // namespace

TEST_CASE("E-Divisive finds one, two or no change points where the test put them",
          "[changepoints]") {
  evals::ChangePointOptions o;
  SECTION("one level shift of four standard deviations at 15") {
    auto cps =
        evals::find_change_points(scrambled_series({{15, {1.0, 0.05}}, {15, {1.2, 0.05}}}), o);
    REQUIRE(cps.size() == 1);
    CHECK(cps[0].index == 15);
    CHECK(cps[0].shift == Approx(0.2).margin(0.05));
    CHECK(cps[0].p_value <= 0.05);
  }
  SECTION("two shifts, up at 10 and back down at 20") {
    auto cps = evals::find_change_points(
        scrambled_series({{10, {0.0, 0.1}}, {10, {1.0, 0.1}}, {10, {0.0, 0.1}}}), o);
    REQUIRE(cps.size() == 2);
    CHECK(cps[0].index == 10);
    CHECK(cps[1].index == 20);
    CHECK(cps[0].shift > 0.7);
    CHECK(cps[1].shift < -0.7);
  }
  SECTION("a change in spread alone, the level unchanged, at 20") {
    auto cps =
        evals::find_change_points(scrambled_series({{20, {0.0, 0.05}}, {20, {0.0, 1.0}}}), o);
    REQUIRE_FALSE(cps.empty());
    CHECK(std::abs(cps[0].index - 20) <= 2);
    CHECK(cps[0].spread_ratio > 5);
  }
  SECTION("none in trendless noise") {
    CHECK(evals::find_change_points(scrambled_series({{30, {0.0, 1.0}}}), o).empty());
  }
}

TEST_CASE("change points across many series keep only what Benjamini-Hochberg rejects",
          "[changepoints]") {
  evals::ChangePointOptions o;
  std::vector<std::vector<double>> series;
  for (uint64_t s = 0; s < 19; ++s) series.push_back(normal_series(100 + s, {{20, {0.0, 1.0}}}));
  series.push_back(scrambled_series({{10, {0.0, 0.1}}, {10, {2.0, 0.1}}}));  // the one real change
  const auto found = evals::change_points_across(series, o);
  REQUIRE(found.size() == 20);
  for (size_t i = 0; i < 19; ++i) CHECK(found[i].empty());
  REQUIRE(found[19].size() == 1);
  CHECK(found[19][0].index == 10);
}

TEST_CASE("the false-alarm rate on null series stays near the step's alpha", "[changepoints]") {
  // 200 null series of 14 nights (the report's default history): at
  // alpha = 0.05 a per-series false alarm near 5 %, within binomial noise.
  evals::ChangePointOptions o;
  const double rate = evals::change_point_false_alarm_rate(200, 14, o);
  INFO("false-alarm rate " << rate);
  CHECK(rate <= 0.09);
}
