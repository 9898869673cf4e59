#include "hil/evals/metrics.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace hil::evals {

const char* network_output_name(int index) {
  static constexpr const char* kNames[] = {"lane_offset", "lane_heading", "lead_score",
                                           "lead_distance", "steering", "acceleration"};
  return index >= 0 && index < kNetworkOutputCount ? kNames[index] : "unknown";
}

const std::vector<MetricDef>& metric_registry() {
  using suite::HIGHER_IS_BETTER;
  using suite::LOWER_IS_BETTER;
  static const std::vector<MetricDef> k{
      {"lane_offset_mae", "m", LOWER_IS_BETTER, "mean absolute error of the lateral offset from the lane centre"},
      {"lane_heading_mae", "rad", LOWER_IS_BETTER, "mean absolute error of the heading relative to the lane"},
      {"steering_mae", "rad", LOWER_IS_BETTER, "mean absolute error of the steering command vs ground-truth control"},
      {"accel_mae", "m/s^2", LOWER_IS_BETTER, "mean absolute error of the acceleration command"},
      {"lead_tp", "frames", HIGHER_IS_BETTER, "frames with a lead vehicle, detected"},
      {"lead_fp", "frames", LOWER_IS_BETTER, "frames without a lead vehicle, one reported"},
      {"lead_fn", "frames", LOWER_IS_BETTER, "frames with a lead vehicle, missed"},
      {"lead_precision", "ratio", HIGHER_IS_BETTER, "lead-vehicle detection precision (NaN-free: 1 when nothing reported)"},
      {"lead_recall", "ratio", HIGHER_IS_BETTER, "lead-vehicle detection recall (1 when no lead present)"},
      {"lead_distance_mae", "m", LOWER_IS_BETTER, "mean absolute lead distance error on frames where both agree a lead is present"},
      {"lead_tp_visible", "frames", HIGHER_IS_BETTER, "frames with a fully visible lead vehicle, detected"},
      {"lead_fn_visible", "frames", LOWER_IS_BETTER, "frames with a fully visible lead vehicle, missed"},
      {"lead_tp_occluded", "frames", HIGHER_IS_BETTER, "frames with a partly or fully occluded lead vehicle, detected"},
      {"lead_fn_occluded", "frames", LOWER_IS_BETTER, "frames with a partly or fully occluded lead vehicle, missed"},
      {"lead_recall_visible", "ratio", HIGHER_IS_BETTER, "lead recall when the lead vehicle is fully visible"},
      {"lead_recall_occluded", "ratio", HIGHER_IS_BETTER, "lead recall when the lead vehicle is partly or fully occluded"},
      {"host_latency_p50_ms", "ms", LOWER_IS_BETTER, "median host time per frame"},
      {"host_latency_p99_ms", "ms", LOWER_IS_BETTER, "99th percentile host time per frame"},
      {"host_latency_max_ms", "ms", LOWER_IS_BETTER, "worst host time per frame"},
      {"device_latency_p50_ms", "ms", LOWER_IS_BETTER, "median emulated device time per frame (deterministic)"},
      {"device_latency_p99_ms", "ms", LOWER_IS_BETTER, "99th percentile emulated device time per frame"},
      {"device_latency_max_ms", "ms", LOWER_IS_BETTER, "worst emulated device time per frame"},
      {"deadline_misses", "frames", LOWER_IS_BETTER, "frames whose emulated device time exceeded the frame period"},
      {"command_gaps", "frames", LOWER_IS_BETTER, "frames without a control command"},
      {"frames", "frames", HIGHER_IS_BETTER, "frames played"},
      {"failovers", "events", LOWER_IS_BETTER, "engine failovers"},
      {"failover_detection_ms", "ms", LOWER_IS_BETTER, "worst emulated time from a fault to its detection"},
      {"failover_switchover_ms", "ms", LOWER_IS_BETTER, "worst emulated time from detection to the survivor's command"},
      {"redundant_mismatches", "frames", LOWER_IS_BETTER, "redundant-mode frames where the engines disagreed"},
  };
  return k;
}

const MetricDef* find_metric(const std::string& name) {
  for (const auto& m : metric_registry()) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

void EvalScorer::add_failover(double detection_ms, double switchover_ms) {
  failovers_.emplace_back(detection_ms, switchover_ms);
}

void EvalScorer::add_frame(const clip::Frame& truth, const FrameRecord& record) {
  records_.push_back(record);
  const auto& ego = truth.labels().ego();
  truth_.push_back(ego);
  control_.push_back(truth.control());
  // Which labelled object is the lead: the vehicle whose rear is at the lead distance.
  bool visible = true;
  if (ego.lead_present()) {
    for (const auto& o : truth.labels().objects()) {
      const auto& c = o.cuboid();
      if (std::abs(c.x() - c.length() / 2 - ego.lead_distance()) < 0.25 && std::abs(c.y()) < 2.5) {
        visible = o.visibility() == clip::VISIBLE;
        break;
      }
    }
  }
  lead_visible_.push_back(visible);
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  // Nearest-rank: the smallest value with at least p of the values at or below it.
  auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

std::map<std::string, double> EvalScorer::summary() const {
  std::map<std::string, double> m;
  double lane = 0, heading = 0, steer = 0, accel = 0, dist = 0;
  uint32_t n = 0, dist_n = 0, tp = 0, fp = 0, fn = 0, gaps = 0, misses = 0;
  uint32_t tp_vis = 0, fn_vis = 0, tp_occ = 0, fn_occ = 0;
  std::vector<double> host, device;
  for (size_t i = 0; i < records_.size(); ++i) {
    const auto& r = records_[i];
    host.push_back(r.host_ms);
    device.push_back(r.device_ms);
    misses += r.deadline_missed ? 1 : 0;
    if (!r.has_command) {
      ++gaps;
      continue;
    }
    const auto& t = truth_[i];
    const auto& o = r.outputs;
    ++n;
    lane += std::abs(o[kLaneOffset] - t.lane_offset());
    heading += std::abs(o[kLaneHeading] - t.lane_heading());
    steer += std::abs(o[kSteering] - control_[i].steering());
    accel += std::abs(o[kAcceleration] - control_[i].acceleration());
    bool predicted = o[kLeadScore] > 0.5f;
    if (t.lead_present()) {
      uint32_t& tp_slice = lead_visible_[i] ? tp_vis : tp_occ;
      uint32_t& fn_slice = lead_visible_[i] ? fn_vis : fn_occ;
      ++(predicted ? tp_slice : fn_slice);
    }
    if (predicted && t.lead_present()) {
      ++tp;
      dist += std::abs(o[kLeadDistance] - t.lead_distance());
      ++dist_n;
    } else if (predicted) {
      ++fp;
    } else if (t.lead_present()) {
      ++fn;
    }
  }
  double dn = std::max<uint32_t>(n, 1);
  m["lane_offset_mae"] = lane / dn;
  m["lane_heading_mae"] = heading / dn;
  m["steering_mae"] = steer / dn;
  m["accel_mae"] = accel / dn;
  m["lead_tp"] = tp;
  m["lead_fp"] = fp;
  m["lead_fn"] = fn;
  m["lead_precision"] = tp + fp ? static_cast<double>(tp) / (tp + fp) : 1.0;
  m["lead_recall"] = tp + fn ? static_cast<double>(tp) / (tp + fn) : 1.0;
  m["lead_distance_mae"] = dist_n ? dist / dist_n : 0.0;
  m["lead_tp_visible"] = tp_vis;
  m["lead_fn_visible"] = fn_vis;
  m["lead_tp_occluded"] = tp_occ;
  m["lead_fn_occluded"] = fn_occ;
  m["lead_recall_visible"] = tp_vis + fn_vis ? static_cast<double>(tp_vis) / (tp_vis + fn_vis) : 1.0;
  m["lead_recall_occluded"] = tp_occ + fn_occ ? static_cast<double>(tp_occ) / (tp_occ + fn_occ) : 1.0;
  m["host_latency_p50_ms"] = percentile(host, 0.5);
  m["host_latency_p99_ms"] = percentile(host, 0.99);
  m["host_latency_max_ms"] = host.empty() ? 0 : *std::max_element(host.begin(), host.end());
  m["device_latency_p50_ms"] = percentile(device, 0.5);
  m["device_latency_p99_ms"] = percentile(device, 0.99);
  m["device_latency_max_ms"] = device.empty() ? 0 : *std::max_element(device.begin(), device.end());
  m["deadline_misses"] = misses;
  m["command_gaps"] = gaps;
  m["frames"] = static_cast<double>(records_.size());
  double detect = 0, switchover = 0;
  for (const auto& [d, s] : failovers_) {
    detect = std::max(detect, d);
    switchover = std::max(switchover, s);
  }
  m["failovers"] = static_cast<double>(failovers_.size());
  m["failover_detection_ms"] = detect;
  m["failover_switchover_ms"] = switchover;
  uint32_t mismatches = 0;
  for (const auto& r : records_) mismatches += r.mismatch;
  m["redundant_mismatches"] = mismatches;
  return m;
}

std::vector<Series> EvalScorer::series() const {
  std::vector<Series> out;
  for (int k = 0; k < kNetworkOutputCount; ++k) {
    Series s{fmt::format("out.{}", network_output_name(k)), {}};
    for (const auto& r : records_) s.values.push_back(r.has_command ? r.outputs[static_cast<size_t>(k)] : NAN);
    out.push_back(std::move(s));
  }
  Series lane{"truth.lane_offset", {}}, steer{"truth.steering", {}}, lead{"truth.lead_distance", {}};
  Series host{"host_ms", {}}, device{"device_ms", {}}, cmd{"commander", {}};
  for (size_t i = 0; i < records_.size(); ++i) {
    lane.values.push_back(static_cast<float>(truth_[i].lane_offset()));
    steer.values.push_back(static_cast<float>(control_[i].steering()));
    lead.values.push_back(truth_[i].lead_present() ? static_cast<float>(truth_[i].lead_distance()) : NAN);
    host.values.push_back(static_cast<float>(records_[i].host_ms));
    device.values.push_back(static_cast<float>(records_[i].device_ms));
    cmd.values.push_back(records_[i].has_command ? static_cast<float>(records_[i].commander) : -1.0f);
  }
  for (auto* s : {&lane, &steer, &lead, &host, &device, &cmd}) out.push_back(std::move(*s));
  return out;
}

std::string encode_series(const std::vector<float>& values) {
  const size_t n = values.size();
  std::string raw(n * 4, '\0');
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &values[i], 4);
    for (size_t b = 0; b < 4; ++b) raw[b * n + i] = static_cast<char>((bits >> (8 * b)) & 0xff);
  }
  uLongf bound = compressBound(static_cast<uLong>(raw.size()));
  std::string z(bound, '\0');
  compress2(reinterpret_cast<Bytef*>(z.data()), &bound, reinterpret_cast<const Bytef*>(raw.data()),
            static_cast<uLong>(raw.size()), 6);
  z.resize(bound);
  return z;
}

std::vector<float> decode_series(const std::string& blob, uint32_t frames, const std::string& codec) {
  const bool shuffled = codec == "zlib-shuffle-f32le";
  if (!shuffled && codec != "zlib-f32le") throw std::runtime_error(fmt::format("unknown series codec '{}'", codec));
  const size_t n = frames;
  std::string raw(n * 4, '\0');
  uLongf len = static_cast<uLongf>(raw.size());
  if (uncompress(reinterpret_cast<Bytef*>(raw.data()), &len, reinterpret_cast<const Bytef*>(blob.data()),
                 static_cast<uLong>(blob.size())) != Z_OK ||
      len != raw.size()) {
    throw std::runtime_error(fmt::format("series blob does not decode to {} float32 values ({})", frames, codec));
  }
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits = 0;
    for (size_t b = 4; b-- > 0;) {
      char byte = shuffled ? raw[b * n + i] : raw[i * 4 + b];
      bits = (bits << 8) | static_cast<unsigned char>(byte);
    }
    std::memcpy(&out[i], &bits, 4);
  }
  return out;
}

}  // namespace hil::evals
