#include "hil/evals/gate.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "hil/evals/splitmix.h"

#include "hil/evals/metrics.h"

namespace hil::evals {
namespace {

double value_of(const std::map<std::string, double>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? NAN : it->second;
}

// Each clip's contribution to the corpus statistic of one side, extracted
// once: resampling then sums plain numbers instead of looking up names.
struct Contribution {
  double num = 0, den = 0;
};

// Ratio metrics are recomputed from summed per-clip counts, never averaged
// from per-clip ratios (a clip with one lead frame must not weigh as much as
// a clip with three hundred).
std::vector<Contribution> contributions(const std::vector<const PairedClip*>& clips,
                                        const MetricDef& def, bool candidate) {
  const bool ratio = !def.ratio_numerator.empty();
  std::vector<Contribution> out(clips.size());
  for (size_t i = 0; i < clips.size(); ++i) {
    const auto& m = candidate ? clips[i]->candidate : clips[i]->baseline;
    if (ratio) {
      double a = value_of(m, def.ratio_numerator), b = value_of(m, def.ratio_other);
      out[i] = {a, a + b};
    } else {
      out[i] = {value_of(m, def.name), 1};
    }
  }
  return out;
}

double corpus(const std::vector<Contribution>& parts, const std::vector<size_t>& idx, bool ratio) {
  double num = 0, den = 0;
  for (size_t i : idx) {
    num += parts[i].num;
    den += parts[i].den;
  }
  if (den == 0) return ratio ? 1.0 : 0.0;
  return num / den;
}

}  // namespace

namespace {
constexpr std::string_view kNextMarker = " | next: ";
constexpr std::string_view kStepSeparator = " ; ";
}  // namespace

std::string summary_with_next_steps(const std::string& summary,
                                    const std::vector<std::string>& steps) {
  std::string out = summary;
  for (size_t i = 0; i < steps.size(); ++i)
    out += std::string(i ? kStepSeparator : kNextMarker) + steps[i];
  return out;
}

SummaryParts split_summary(const std::string& stored) {
  SummaryParts parts;
  const auto at = stored.find(kNextMarker);
  parts.summary = stored.substr(0, at);
  if (at == std::string::npos) return parts;
  const std::string rest = stored.substr(at + kNextMarker.size());
  for (size_t from = 0;;) {
    const auto sep = rest.find(kStepSeparator, from);
    parts.next_steps.push_back(
        rest.substr(from, sep == std::string::npos ? std::string::npos : sep - from));
    if (sep == std::string::npos) break;
    from = sep + kStepSeparator.size();
  }
  return parts;
}

double mcnemar_exact_p(int64_t b, int64_t c) {
  const int64_t n = b + c;
  if (n == 0) return 1.0;
  const int64_t k = std::min(b, c);
  // 2 * P(X <= k), X ~ Binomial(n, 1/2), summed in log space.
  double sum = 0;
  for (int64_t i = 0; i <= k; ++i) {
    sum += std::exp(std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) -
                    n * std::log(2.0));
  }
  return std::min(1.0, 2 * sum);
}

FlipTest flip_test(const std::vector<ClipFlips>& clips) {
  FlipTest t;
  for (const auto& c : clips) {
    t.clips_worse += c.to_worse_frames > c.to_better_frames;
    t.clips_better += c.to_worse_frames < c.to_better_frames;
  }
  t.p_value = mcnemar_exact_p(t.clips_worse, t.clips_better);
  return t;
}

double clopper_pearson_upper(uint64_t k, uint64_t n, double level) {
  if (n == 0) return 1.0;
  if (k >= n) return 1.0;
  const double tail = 1 - level;
  auto cdf = [&](double p) {  // P(X <= k | n, p)
    double sum = 0;
    for (uint64_t i = 0; i <= k; ++i) {
      const double d = static_cast<double>(i), nn = static_cast<double>(n);
      sum += std::exp(std::lgamma(nn + 1) - std::lgamma(d + 1) - std::lgamma(nn - d + 1) +
                      d * std::log(p) + (nn - d) * std::log1p(-p));
    }
    return sum;
  };
  double lo = static_cast<double>(k) / static_cast<double>(n), hi = 1.0;
  for (int it = 0; it < 100; ++it) {  // the CDF falls as p grows
    const double mid = (lo + hi) / 2;
    (cdf(mid) > tail ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

std::vector<double> benjamini_hochberg(const std::vector<double>& p) {
  const size_t m = p.size();
  std::vector<size_t> order(m);
  for (size_t i = 0; i < m; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  std::vector<double> adjusted(m);
  double running = 1.0;  // from the largest p down: q_(k) = min over j >= k of p_(j) m / j
  for (size_t r = m; r-- > 0;) {
    running = std::min(running, p[order[r]] * static_cast<double>(m) / static_cast<double>(r + 1));
    adjusted[order[r]] = running;
  }
  return adjusted;
}

uint64_t clips_that_might_decide(const MetricVerdict& v) {
  // The interval's half-width shrinks as 1/sqrt(n): n * (half / gap)^2 clips
  // would make it as wide as the distance from the estimate to the margin.
  const double half = (v.hi - v.lo) / 2;
  const double gap = std::abs(v.margin - v.degradation);
  if (gap <= 1e-12 || v.clips == 0) return 0;
  return static_cast<uint64_t>(
      std::ceil(static_cast<double>(v.clips) * (half / gap) * (half / gap)));
}

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kFail:
      return "fail";
    case Verdict::kInvalid:
      return "invalid";
    case Verdict::kInconclusive:
      break;
  }
  return "inconclusive";
}

std::optional<Verdict> verdict_from_name(std::string_view name) {
  for (auto v : {Verdict::kPass, Verdict::kFail, Verdict::kInconclusive, Verdict::kInvalid}) {
    if (name == verdict_name(v)) return v;
  }
  return std::nullopt;
}

MetricVerdict gate_metric(const suite::GatingRule& rule, const MetricDef& def,
                          const std::vector<PairedClip>& all, const GateOptions& options,
                          const std::string& slice) {
  MetricVerdict v;
  v.metric = rule.metric();
  v.slice = slice;
  v.blocking = rule.blocking() && slice == "all";
  double sign = def.direction == suite::HIGHER_IS_BETTER ? -1.0 : 1.0;

  std::vector<const PairedClip*> clips;
  const bool is_ratio = !def.ratio_numerator.empty();
  for (const auto& c : all) {
    if (slice != "all" && std::find(c.tags.begin(), c.tags.end(), slice) == c.tags.end()) continue;
    const std::string& key = is_ratio ? def.ratio_numerator : def.name;
    if (std::isnan(value_of(c.baseline, key)) || std::isnan(value_of(c.candidate, key))) continue;
    clips.push_back(&c);
  }
  // Clusters: all scenarios of one clip move together in a resample, since
  // they share the clip's content (and so its errors).
  std::map<std::string, std::vector<size_t>> by_cluster;
  for (size_t i = 0; i < clips.size(); ++i) {
    by_cluster[clips[i]->cluster.empty() ? clips[i]->clip : clips[i]->cluster].push_back(i);
  }
  std::vector<std::vector<size_t>> clusters;
  for (auto& [key, members] : by_cluster) clusters.push_back(std::move(members));
  v.clips = static_cast<uint32_t>(clusters.size());
  std::vector<size_t> idx(clips.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  const auto base_parts = contributions(clips, def, false);
  const auto cand_parts = contributions(clips, def, true);
  v.baseline = corpus(base_parts, idx, is_ratio);
  v.candidate = corpus(cand_parts, idx, is_ratio);
  v.degradation = sign * (v.candidate - v.baseline);
  v.margin =
      std::max(rule.max_abs_degradation(), rule.max_rel_degradation() * std::abs(v.baseline));
  uint32_t min_clips = std::max<uint32_t>(rule.min_clips(), 2);
  if (clusters.size() < min_clips) {
    v.verdict = Verdict::kInconclusive;
    v.reason =
        fmt::format("{} paired clips, the suite needs at least {}", clusters.size(), min_clips);
    v.lo = v.hi = v.degradation;
    return v;
  }

  // Paired bootstrap over clips: resample clips, recompute both sides.
  double confidence = rule.confidence() > 0 ? rule.confidence() : 0.95;
  SplitMix rng{options.seed ^ fnv1a64(rule.metric() + "/" + slice)};
  std::vector<double> stats;
  stats.reserve(options.resamples);
  std::vector<size_t> sample;
  sample.reserve(clips.size() * 2);
  for (uint32_t r = 0; r < options.resamples; ++r) {
    sample.clear();
    for (size_t c = 0; c < clusters.size(); ++c) {
      const auto& members = clusters[rng.next() % clusters.size()];
      sample.insert(sample.end(), members.begin(), members.end());
    }
    stats.push_back(sign *
                    (corpus(cand_parts, sample, is_ratio) - corpus(base_parts, sample, is_ratio)));
  }
  std::sort(stats.begin(), stats.end());
  double alpha = 1 - confidence;
  auto at = [&](double q) {
    auto i = static_cast<size_t>(std::floor(q * static_cast<double>(stats.size() - 1)));
    return stats[std::min(i, stats.size() - 1)];
  };
  v.lo = at(alpha / 2);
  v.hi = at(1 - alpha / 2);
  // One-sided p-value of H0 "degradation <= margin": the share of resamples
  // at or below the margin.
  size_t at_or_below =
      static_cast<size_t>(std::upper_bound(stats.begin(), stats.end(), v.margin) - stats.begin());
  v.p_value = static_cast<double>(at_or_below + 1) / static_cast<double>(stats.size() + 1);
  if (v.hi <= v.margin) {
    v.verdict = Verdict::kPass;
    v.reason = fmt::format("interval [{:.4g}, {:.4g}] within margin {:.4g}", v.lo, v.hi, v.margin);
  } else if (v.lo > v.margin) {
    v.verdict = Verdict::kFail;
    v.reason = fmt::format("worse by {:.4g} (interval [{:.4g}, {:.4g}]) beyond margin {:.4g}",
                           v.degradation, v.lo, v.hi, v.margin);
  } else {
    v.verdict = Verdict::kInconclusive;
    if (const uint64_t need = clips_that_might_decide(v)) {
      v.reason = fmt::format(
          "interval [{:.4g}, {:.4g}] straddles margin {:.4g}; about {} clips might decide", v.lo,
          v.hi, v.margin, need);
    } else {
      v.reason = fmt::format("estimate equals the margin {:.4g}", v.margin);
    }
  }
  return v;
}

GateReport run_gate(const suite::Suite& suite, const std::vector<PairedClip>& clips,
                    const GateOptions& options) {
  GateReport report;
  report.missing_evals = options.missing_evals;
  // Slices: conditions (plain tags) and object classes ("class:..." tags).
  std::set<std::string> conditions;
  for (const auto& c : clips) {
    for (const auto& t : c.tags) {
      if (t.find(':') == std::string::npos || t.rfind("class:", 0) == 0) conditions.insert(t);
    }
  }
  bool any_fail = false, any_inconclusive = false;
  const auto defs = suite_metrics(suite);
  auto def_of = [&](const suite::GatingRule& rule) -> const MetricDef& {
    const auto* d = find_metric(defs, rule.metric());
    if (!d)
      throw std::invalid_argument(
          fmt::format("suite {} gates unknown metric '{}'", suite.name(), rule.metric()));
    return *d;
  };
  for (const auto& rule : suite.gates()) {
    auto v = gate_metric(rule, def_of(rule), clips, options);
    if (v.blocking) {
      any_fail |= v.verdict == Verdict::kFail;
      any_inconclusive |= v.verdict == Verdict::kInconclusive;
    }
    report.metrics.push_back(std::move(v));
  }
  // Advisory slices by condition: reported, never blocking.
  if (conditions.size() > 1) {
    std::vector<MetricVerdict> slices;
    for (const auto& rule : suite.gates()) {
      for (const auto& cond : conditions)
        slices.push_back(gate_metric(rule, def_of(rule), clips, options, cond));
    }
    // Benjamini-Hochberg over the slices that were tested (enough clips).
    std::vector<size_t> tested;
    for (size_t i = 0; i < slices.size(); ++i) {
      if (slices[i].clips >= 2 && slices[i].hi != slices[i].lo) tested.push_back(i);
    }
    std::vector<double> raw;
    for (size_t i : tested) raw.push_back(slices[i].p_value);
    const auto adjusted = benjamini_hochberg(raw);
    for (size_t k = 0; k < tested.size(); ++k) {
      auto& s = slices[tested[k]];
      s.p_value = adjusted[k];
      if (s.verdict == Verdict::kFail && adjusted[k] > options.slice_fdr) {
        s.verdict = Verdict::kInconclusive;
        s.reason +=
            fmt::format("; not significant after Benjamini-Hochberg at FDR {}", options.slice_fdr);
      }
    }
    for (auto& s : slices) report.metrics.push_back(std::move(s));
  }
  // What makes the run impossible to judge.
  report.invalid = options.invalid;
  const double allowed = suite.missing_evals_allowed() * options.evals_total;
  if (options.missing_evals > 0 && options.missing_evals > allowed) {
    report.invalid.push_back(
        {InvalidReason::kMissingEvals,
         fmt::format("{} of {} evals missing or failed; the suite allows {}", options.missing_evals,
                     options.evals_total, static_cast<uint32_t>(std::floor(allowed))),
         "rerun the gate (if the failures are the candidate's own, fix the candidate: see the "
         "failed evals)"});
  }
  if (!clips.empty()) {
    for (const auto& m : report.metrics) {
      if (m.blocking && m.clips == 0) {
        report.invalid.push_back(
            {InvalidReason::kTruthLacksGatedField,
             fmt::format("no clip gives a value of blocking metric '{}' for both revisions",
                         m.metric),
             fmt::format("fix the suite: gate '{}' only on clips whose ground truth it scores "
                         "against, or add such "
                         "clips",
                         m.metric)});
      }
    }
  }
  uint32_t fails = 0;
  for (const auto& m : report.metrics) fails += m.blocking && m.verdict == Verdict::kFail;
  if (!report.invalid.empty()) {
    report.overall = Verdict::kInvalid;
  } else if (any_fail) {
    report.overall = Verdict::kFail;
  } else if (any_inconclusive || clips.empty()) {
    report.overall = Verdict::kInconclusive;
  } else {
    report.overall = Verdict::kPass;
  }
  std::string why;
  for (const auto& inv : report.invalid) why += fmt::format("; {}", inv.detail);
  report.summary = fmt::format(
      "{}: {} paired clips, {} blocking metric(s) regressed{}{}", verdict_name(report.overall),
      clips.size(), fails,
      options.missing_evals ? fmt::format(", {} evals missing or failed", options.missing_evals)
                            : std::string(),
      why);
  switch (report.overall) {
    case Verdict::kInvalid:
      for (const auto& inv : report.invalid) report.next_steps.push_back(inv.next_step);
      break;
    case Verdict::kFail:
      report.next_steps.push_back(
          "open the worst clips in the viewer (commands below); fix the regression, or change the "
          "baseline if it is "
          "intended");
      break;
    case Verdict::kInconclusive: {
      uint64_t need = 0;
      for (const auto& m : report.metrics) {
        if (!m.blocking || m.verdict != Verdict::kInconclusive) continue;
        need = std::max(need, clips_that_might_decide(m));
      }
      report.next_steps.push_back(need > 0
                                      ? fmt::format("add clips: about {} paired clips might "
                                                    "decide; or widen the margin only from an A/A "
                                                    "calibration",
                                                    need)
                                      : "add clips, or rerun: the estimate sits on the margin");
      break;
    }
    case Verdict::kPass:
      break;
  }
  return report;
}

}  // namespace hil::evals
