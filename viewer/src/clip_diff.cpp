#include "clip_diff.h"

#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "evals/proto/suite.pb.h"
#include "hil/evals/metrics.h"

namespace hil::viewer {
namespace {

// Shown after the suites' declared metrics when no suite gates anything.
constexpr const char* kDefaultSystemMetrics[] = {"device_latency_p99_ms", "command_gaps"};

// `def`: the suite's own definition of the metric, when it declares it.
DiffMetric describe(const std::string& name, const hil::evals::MetricDef* def,
                    const std::vector<hil::db::MetricDefRow>& defs) {
  DiffMetric metric;
  metric.name = name;
  if (def == nullptr) def = hil::evals::find_metric(hil::evals::system_metrics(), name);
  if (def != nullptr) {
    metric.unit = def->unit;
    metric.direction = def->direction == hil::suite::HIGHER_IS_BETTER ? Direction::kHigherIsBetter
                                                                      : Direction::kLowerIsBetter;
    metric.description = def->description;
    metric.series = def->series;
    metric.series_unit = def->series_unit;
  }
  // The database's definition wins: the scheduler wrote it when the run was
  // submitted (a plugin's unit included).
  auto row = std::find_if(defs.begin(), defs.end(),
                          [&](const hil::db::MetricDefRow& d) { return d.name == name; });
  if (row != defs.end()) {
    if (!row->unit.empty()) metric.unit = row->unit;
    metric.direction =
        row->direction == "higher" ? Direction::kHigherIsBetter : Direction::kLowerIsBetter;
    if (!row->description.empty()) metric.description = row->description;
  }
  return metric;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

const char* clip_verdict_name(ClipVerdict verdict) {
  switch (verdict) {
    case ClipVerdict::kRegressed:
      return "regressed";
    case ClipVerdict::kImproved:
      return "improved";
    case ClipVerdict::kUnchanged:
      break;
  }
  return "unchanged";
}

double badness(const DiffMetric& metric, double delta) {
  return metric.direction == Direction::kLowerIsBetter ? delta : -delta;
}

std::vector<std::string> split_tags(const std::string& comma_separated) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= comma_separated.size()) {
    const size_t comma = std::min(comma_separated.find(',', start), comma_separated.size());
    if (comma > start) out.push_back(comma_separated.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

std::vector<DiffMetric> gating_metrics(const std::vector<std::string>& suite_texts,
                                       const std::vector<hil::db::MetricDefRow>& defs) {
  // Every suite's declared definitions first: a gate may name any of them.
  std::vector<hil::evals::MetricDef> declared_defs;
  std::vector<hil::suite::Suite> suites;
  for (const auto& text : suite_texts) {
    hil::suite::Suite suite;
    // Leniently: the scheduler validated the suite when it was submitted.
    if (!google::protobuf::TextFormat::ParseFromString(text, &suite)) continue;
    for (const auto& m : suite.metrics()) {
      for (auto& def : hil::evals::metric_defs(m)) declared_defs.push_back(std::move(def));
    }
    suites.push_back(std::move(suite));
  }
  std::vector<DiffMetric> blocking, advisory, declared;
  std::set<std::string> seen;
  for (const auto& suite : suites) {
    for (const auto& gate : suite.gates()) {
      if (gate.metric().empty() || !seen.insert(gate.metric()).second) continue;
      DiffMetric metric =
          describe(gate.metric(), hil::evals::find_metric(declared_defs, gate.metric()), defs);
      metric.blocking = gate.blocking();
      metric.max_abs_degradation = gate.max_abs_degradation();
      metric.max_rel_degradation = gate.max_rel_degradation();
      (gate.blocking() ? blocking : advisory).push_back(std::move(metric));
    }
  }
  for (const auto& def : declared_defs) {
    if (def.auxiliary || !seen.insert(def.name).second) continue;
    DiffMetric metric = describe(def.name, &def, defs);
    metric.gated = metric.blocking = false;
    declared.push_back(std::move(metric));
  }
  const bool any_gate = !blocking.empty() || !advisory.empty();
  blocking.insert(blocking.end(), advisory.begin(), advisory.end());
  blocking.insert(blocking.end(), declared.begin(), declared.end());
  if (any_gate) return blocking;
  // Nothing gated: show how fast and how often the network commanded too.
  for (const char* name : kDefaultSystemMetrics) {
    const bool defined = defs.empty() || std::any_of(defs.begin(), defs.end(),
                                                     [&](const auto& d) { return d.name == name; });
    if (!defined || !seen.insert(name).second) continue;
    DiffMetric metric = describe(name, nullptr, defs);
    metric.gated = metric.blocking = false;
    blocking.push_back(std::move(metric));
  }
  return blocking;
}

DiffTable build_diff_table(const std::vector<hil::db::DiffRow>& rows,
                           std::vector<DiffMetric> metrics) {
  DiffTable table;
  table.metrics = std::move(metrics);
  std::map<std::string, size_t> metric_index;
  for (size_t m = 0; m < table.metrics.size(); ++m) metric_index[table.metrics[m].name] = m;

  // Pivot: one ClipDiff per (clip, scenario), in first-seen order.
  std::map<std::pair<std::string, std::string>, size_t> clip_index;
  std::set<std::string> tags;
  for (const auto& row : rows) {
    auto metric = metric_index.find(row.metric);
    if (metric == metric_index.end()) continue;
    auto [it, inserted] = clip_index.try_emplace({row.clip_sha, row.scenario}, table.clips.size());
    if (inserted) {
      ClipDiff clip;
      clip.clip_sha = row.clip_sha;
      clip.clip_name = row.clip_name;
      clip.scenario = row.scenario;
      clip.tags = split_tags(row.tags);
      tags.insert(clip.tags.begin(), clip.tags.end());
      clip.eval_a = row.eval_a;
      clip.eval_b = row.eval_b;
      clip.metrics.resize(table.metrics.size());
      table.clips.push_back(std::move(clip));
    }
    table.clips[it->second].metrics[metric->second] = {true, row.a, row.b, row.delta};
  }
  table.tags.assign(tags.begin(), tags.end());

  // Scales: the gate's margin over these clips, else the RMS of the deltas.
  for (size_t m = 0; m < table.metrics.size(); ++m) {
    DiffMetric& metric = table.metrics[m];
    double sum_a = 0, sum_sq = 0;
    size_t n = 0;
    for (const auto& clip : table.clips) {
      if (!clip.metrics[m].present) continue;
      sum_a += clip.metrics[m].a;
      sum_sq += clip.metrics[m].delta * clip.metrics[m].delta;
      ++n;
    }
    const double mean_a = n ? sum_a / static_cast<double>(n) : 0;
    const double margin =
        std::max(metric.max_abs_degradation, metric.max_rel_degradation * std::abs(mean_a));
    metric.scale_is_margin = margin > 0;
    const double rms = n ? std::sqrt(sum_sq / static_cast<double>(n)) : 0;
    metric.scale = margin > 0 ? margin : (rms > 0 ? rms : 1.0);
  }

  // With gates, the verdict is theirs; a metric only declared is shown.
  const bool any_gated = std::any_of(table.metrics.begin(), table.metrics.end(),
                                     [](const DiffMetric& m) { return m.gated; });
  for (auto& clip : table.clips) {
    bool any_better = false;
    for (size_t m = 0; m < table.metrics.size(); ++m) {
      if (!clip.metrics[m].present || (any_gated && !table.metrics[m].gated)) continue;
      const double score =
          badness(table.metrics[m], clip.metrics[m].delta) / table.metrics[m].scale;
      if (clip.worst_metric < 0 || score > clip.worst) {
        clip.worst = score;
        clip.worst_metric = static_cast<int>(m);
      }
      any_better = any_better || score < -1.0;
    }
    clip.verdict = clip.worst_metric >= 0 && clip.worst > 1.0 ? ClipVerdict::kRegressed
                   : any_better                               ? ClipVerdict::kImproved
                                                              : ClipVerdict::kUnchanged;
  }
  std::stable_sort(table.clips.begin(), table.clips.end(),
                   [](const ClipDiff& x, const ClipDiff& y) {
                     return std::tie(y.worst, x.clip_name, x.scenario) <
                            std::tie(x.worst, y.clip_name, y.scenario);
                   });
  return table;
}

bool matches(const ClipDiff& clip, const ClipFilter& filter) {
  if (filter.verdict && clip.verdict != *filter.verdict) return false;
  if (!filter.tag.empty() &&
      std::find(clip.tags.begin(), clip.tags.end(), filter.tag) == clip.tags.end()) {
    return false;
  }
  if (filter.text.empty()) return true;
  const std::string needle = lower(filter.text);
  auto has = [&](const std::string& hay) { return lower(hay).find(needle) != std::string::npos; };
  if (has(clip.clip_name) || has(clip.clip_sha) || has(clip.scenario)) return true;
  return std::any_of(clip.tags.begin(), clip.tags.end(), has);
}

}  // namespace hil::viewer
