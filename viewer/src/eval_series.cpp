#include "eval_series.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "hil/evals/metrics.h"

namespace hil::viewer {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// Menu groups after the metrics' own series: head outputs, per-frame
// metrics, then times and the commander.
int group_of(const std::string& name) {
  if (starts_with(name, "out.")) return 0;
  if (starts_with(name, "frame.")) return 1;
  return 2;
}

}  // namespace

EvalSeries::EvalSeries(int64_t eval_id, const std::vector<hil::db::SeriesBlob>& blobs)
    : eval_id_(eval_id) {
  for (const auto& blob : blobs) {
    try {
      values_[blob.name] = hil::evals::decode_series(blob.data, blob.frames, blob.codec);
    } catch (const std::exception& e) {
      throw std::runtime_error(
          fmt::format("eval {}: series '{}': {}", eval_id, blob.name, e.what()));
    }
    frames_ = std::max(frames_, blob.frames);
  }
}

std::vector<float> EvalSeries::series(const std::string& name) const {
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  return {};
}

float EvalSeries::at(const std::string& name, int64_t frame) const {
  if (frame < 0) return kMissing;
  auto it = values_.find(name);
  if (it == values_.end() || static_cast<size_t>(frame) >= it->second.size()) return kMissing;
  return it->second[static_cast<size_t>(frame)];
}

std::vector<std::string> EvalSeries::names() const {
  std::vector<std::string> out;
  for (const auto& [name, values] : values_) out.push_back(name);
  return out;
}

std::string truth_series_of(const std::string& name) {
  return starts_with(name, "out.") ? "truth." + name.substr(4) : std::string();
}

bool split_head_series(const std::string& name, std::string* head, std::string* field) {
  size_t start = 0;
  if (starts_with(name, "out.")) {
    start = 4;
  } else if (starts_with(name, "truth.")) {
    start = 6;
  } else {
    return false;
  }
  const size_t dot = name.find('.', start);
  if (dot == std::string::npos || dot == start || dot + 1 >= name.size()) return false;
  *head = name.substr(start, dot - start);
  *field = name.substr(dot + 1);
  return true;
}

std::vector<std::string> chartable_series(const EvalSeries& a, const EvalSeries& b,
                                          const std::vector<DiffMetric>& metrics) {
  auto either = [&](const std::string& name) { return a.has(name) || b.has(name); };
  std::vector<std::string> out;
  std::set<std::string> listed;
  for (const auto& metric : metrics) {
    if (!metric.series.empty() && either(metric.series) && listed.insert(metric.series).second) {
      out.push_back(metric.series);
    }
  }
  std::vector<std::string> rest;
  for (const auto* s : {&a, &b}) {
    for (const auto& name : s->names()) {
      if (starts_with(name, "truth.")) continue;  // drawn beside their outputs
      if (listed.insert(name).second) rest.push_back(name);
    }
  }
  std::stable_sort(rest.begin(), rest.end(), [](const std::string& x, const std::string& y) {
    return std::make_pair(group_of(x), x) < std::make_pair(group_of(y), y);
  });
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

std::vector<std::string> default_chart_series(const std::vector<std::string>& chartable,
                                              const std::vector<DiffMetric>& metrics,
                                              int worst_metric, size_t count) {
  std::vector<std::string> out;
  auto add = [&](const std::string& name) {
    if (out.size() >= count || name.empty()) return;
    if (std::find(chartable.begin(), chartable.end(), name) == chartable.end()) return;
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  };
  if (worst_metric >= 0 && static_cast<size_t>(worst_metric) < metrics.size()) {
    add(metrics[static_cast<size_t>(worst_metric)].series);
  }
  for (const auto& metric : metrics) add(metric.series);
  for (const auto& name : chartable) add(name);
  return out;
}

std::string series_unit(const std::string& name, const std::vector<DiffMetric>& metrics,
                        const HeadKinds& kinds) {
  // A metric's own per-frame series: in the unit its definition gives.
  if (starts_with(name, "frame.")) {
    for (const auto& m : metrics) {
      if ("frame." + m.name == name) return m.series_unit.empty() ? m.unit : m.series_unit;
    }
    return "";
  }
  std::string head, field;
  if (split_head_series(name, &head, &field)) {
    // The output a regression metric reads, and its truth, are in the
    // metric's unit (the truth's).
    const std::string output = "out." + head + "." + field;
    for (const auto& m : metrics) {
      if (m.series == output && !m.unit.empty()) return m.unit;
    }
    const auto kind = kinds.find(head);
    if (kind == kinds.end()) return "";
    switch (kind->second) {
      case hil::evals::HeadKind::kControl:
        return field == "steering" ? "rad" : field == "acceleration" ? "m/s^2" : "";
      case hil::evals::HeadKind::kLead:
        return field == "score" ? "score" : field == "distance" ? "m" : "";
      default:
        return "";
    }
  }
  if (name.size() > 3 && name.compare(name.size() - 3, 3, "_ms") == 0) return "ms";
  if (name == "commander") return "engine";
  return "";
}

}  // namespace hil::viewer
