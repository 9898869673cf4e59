#include <catch2/catch.hpp>

#include <cmath>

#include "hil/evals/gate.h"

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
evals::MetricDef error_metric(const std::string& name) { return {name, "m", suite::LOWER_IS_BETTER, "an error"}; }

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

std::vector<evals::PairedClip> clips(int n, double shift, double noise_scale, const std::string& metric = "lane_offset_mae") {
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
  auto v = evals::gate_metric(rule("lane_offset_mae", 0.02), error_metric("lane_offset_mae"), clips(40, -0.05, 0.01), {});
  CHECK(v.verdict == evals::Verdict::kPass);
  CHECK(v.hi <= v.margin);
  CHECK(v.degradation == Approx(-0.05).margin(0.01));
}

TEST_CASE("the gate fails a confirmed regression beyond the margin", "[gate]") {
  auto v = evals::gate_metric(rule("lane_offset_mae", 0.02), error_metric("lane_offset_mae"), clips(40, 0.10, 0.01), {});
  CHECK(v.verdict == evals::Verdict::kFail);
  CHECK(v.lo > v.margin);
}

TEST_CASE("a tiny but significant change does not fail, a large noisy one does not pass", "[gate]") {
  // Tiny: 0.005 worse with almost no noise: significant, but within the margin.
  auto tiny = evals::gate_metric(rule("lane_offset_mae", 0.02), error_metric("lane_offset_mae"), clips(40, 0.005, 0.0005), {});
  CHECK(tiny.verdict == evals::Verdict::kPass);
  // Large and noisy: the interval straddles the margin.
  auto noisy = evals::gate_metric(rule("lane_offset_mae", 0.02), error_metric("lane_offset_mae"), clips(8, 0.03, 0.2), {});
  CHECK(noisy.verdict == evals::Verdict::kInconclusive);
  CHECK(noisy.reason.find("clips might decide") != std::string::npos);
}

TEST_CASE("too few clips is inconclusive, never a pass", "[gate]") {
  auto v = evals::gate_metric(rule("lane_offset_mae", 0.02, 10), error_metric("lane_offset_mae"), clips(4, -0.1, 0.0), {});
  CHECK(v.verdict == evals::Verdict::kInconclusive);
}

TEST_CASE("ratio metrics are recomputed from summed counts", "[gate]") {
  std::vector<evals::PairedClip> cs;
  // One clip with many lead frames (recall drops a lot), many clips with one frame each (unchanged).
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
  auto a = evals::gate_metric(rule("lane_offset_mae", 0.02), error_metric("lane_offset_mae"), data, {});
  auto b = evals::gate_metric(rule("lane_offset_mae", 0.02), error_metric("lane_offset_mae"), data, {});
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
  evals::GateOptions missing;
  missing.missing_evals = 3;
  auto ok = evals::run_gate(s, clips(40, -0.05, 0.001), missing);
  CHECK(ok.overall == evals::Verdict::kInconclusive);
  CHECK(ok.summary.find("3 evals missing") != std::string::npos);
}
