#include "eval_series.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "hil/evals/metrics.h"

namespace hil::viewer {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

// Derived error series: name -> (output, truth).
struct Derived {
  const char* name;
  const char* output;
  const char* truth;
};
constexpr Derived kDerived[] = {
    {"err.lane_offset", "out.lane_offset", "truth.lane_offset"},
    {"err.steering", "out.steering", "truth.steering"},
    {"err.lead_distance", "out.lead_distance", "truth.lead_distance"},
};

const Derived* find_derived(const std::string& name) {
  for (const auto& d : kDerived) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

// Charts list these first: what a reviewer looks at before anything else.
constexpr const char* kPreferredOrder[] = {
    "out.lane_offset",   "out.lane_heading", "out.steering",    "out.acceleration",
    "out.lead_distance", "out.lead_score",   "err.lane_offset", "err.steering",
    "err.lead_distance", "device_ms",        "host_ms",         "commander"};

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

bool EvalSeries::has(const std::string& name) const {
  if (values_.count(name) != 0) return true;
  const Derived* d = find_derived(name);
  return d != nullptr && values_.count(d->output) != 0 && values_.count(d->truth) != 0;
}

std::vector<float> EvalSeries::series(const std::string& name) const {
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  const Derived* d = find_derived(name);
  if (d == nullptr || !has(name)) return {};
  const auto& out = values_.at(d->output);
  const auto& truth = values_.at(d->truth);
  std::vector<float> err(std::min(out.size(), truth.size()));
  for (size_t i = 0; i < err.size(); ++i) err[i] = std::abs(out[i] - truth[i]);  // NaN stays NaN
  return err;
}

float EvalSeries::at(const std::string& name, int64_t frame) const {
  if (frame < 0) return kMissing;
  if (auto it = values_.find(name); it != values_.end()) {
    return static_cast<size_t>(frame) < it->second.size() ? it->second[static_cast<size_t>(frame)]
                                                          : kMissing;
  }
  if (const Derived* d = find_derived(name))
    return std::abs(at(d->output, frame) - at(d->truth, frame));
  return kMissing;
}

std::vector<std::string> EvalSeries::names() const {
  std::vector<std::string> out;
  for (const auto& [name, values] : values_) out.push_back(name);
  for (const auto& d : kDerived) {
    if (has(d.name)) out.push_back(d.name);
  }
  return out;
}

Prediction prediction_at(const EvalSeries& series, int64_t frame) {
  Prediction p;
  p.lane_offset = series.at("out.lane_offset", frame);
  p.lane_heading = series.at("out.lane_heading", frame);
  p.lead_score = series.at("out.lead_score", frame);
  p.lead_distance = series.at("out.lead_distance", frame);
  p.steering = series.at("out.steering", frame);
  p.acceleration = series.at("out.acceleration", frame);
  p.valid = !std::isnan(p.lane_offset) && !std::isnan(p.lane_heading) && !std::isnan(p.steering);
  return p;
}

std::vector<std::string> chartable_series(const EvalSeries& a, const EvalSeries& b) {
  std::vector<std::string> out;
  auto either = [&](const std::string& name) { return a.has(name) || b.has(name); };
  for (const char* name : kPreferredOrder) {
    if (either(name)) out.push_back(name);
  }
  for (const auto* s : {&a, &b}) {
    for (const auto& name : s->names()) {
      if (name.rfind("truth.", 0) == 0) continue;  // drawn beside their outputs
      if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    }
  }
  return out;
}

std::string truth_series_of(const std::string& name) {
  if (name == "out.lane_offset") return "truth.lane_offset";
  if (name == "out.steering") return "truth.steering";
  if (name == "out.lead_distance") return "truth.lead_distance";
  return "";
}

std::string series_unit(const std::string& name) {
  auto suffix = [&](const char* s) {
    const std::string tail(s);
    return name.size() >= tail.size() &&
           name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
  };
  if (suffix("_ms")) return "ms";
  if (suffix("lane_offset") || suffix("lead_distance")) return "m";
  if (suffix("lane_heading") || suffix("steering")) return "rad";
  if (suffix("acceleration")) return "m/s²";
  if (suffix("lead_score")) return "score";
  if (name == "commander") return "engine";
  return "";
}

}  // namespace hil::viewer
