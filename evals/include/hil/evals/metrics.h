// Metric definitions and the per-eval scorer that turns a network's outputs
// on every frame of a clip, against the clip's ground truth, into summary
// metrics and per-frame series.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "evals/proto/clip.pb.h"
#include "evals/proto/suite.pb.h"

namespace hil::evals {

// What every sample network outputs per frame, in this order.
enum NetworkOutput : int {
  kLaneOffset = 0,    // metres, positive left
  kLaneHeading = 1,   // radians
  kLeadScore = 2,     // > 0.5 means a lead vehicle is present
  kLeadDistance = 3,  // metres (meaningful when present)
  kSteering = 4,      // radians
  kAcceleration = 5,  // m/s^2
  kNetworkOutputCount = 6,
};
const char* network_output_name(int index);

struct MetricDef {
  std::string name;
  std::string unit;
  suite::Direction direction;
  std::string description;
};

// Every summary metric hil computes; the gate and the viewer read units and
// directions from here (and the database stores a copy in metric_defs).
const std::vector<MetricDef>& metric_registry();
const MetricDef* find_metric(const std::string& name);

// What the board recorded for one frame.
struct FrameRecord {
  std::array<float, kNetworkOutputCount> outputs{};
  bool has_command = true;  // false: a command gap
  double host_ms = 0;
  double device_ms = 0;
  bool deadline_missed = false;
  int commander = 0;
  int mode = 0;           // 0 split, 1 single, 2 redundant
  bool failover = false;  // a failover happened on this frame
  bool mismatch = false;  // redundant mode: the engines disagreed
};

struct Series {
  std::string name;
  std::vector<float> values;
};

class EvalScorer {
 public:
  void add_frame(const clip::Frame& truth, const FrameRecord& record);
  // A failover: how long the fault took to detect and the survivor to command.
  void add_failover(double detection_ms, double switchover_ms);
  // Summary metrics by name (see metric_registry()).
  std::map<std::string, double> summary() const;
  // Per-frame series: outputs, truth and errors, latencies.
  std::vector<Series> series() const;
  uint32_t frames() const { return static_cast<uint32_t>(records_.size()); }

 private:
  std::vector<FrameRecord> records_;
  std::vector<clip::EgoTruth> truth_;
  std::vector<clip::Control> control_;
  std::vector<bool> lead_visible_;  // the lead vehicle is fully visible (else partly or fully occluded)
  std::vector<std::pair<double, double>> failovers_;
};

double percentile(std::vector<double> values, double p);

// Per-frame series as stored: little-endian float32, byte planes shuffled
// (all first bytes, then all second bytes, ...) so that the slowly changing
// sign and exponent bytes compress well, then zlib. "zlib-f32le" (no shuffle)
// is read too.
inline constexpr const char* kSeriesCodec = "zlib-shuffle-f32le";
std::string encode_series(const std::vector<float>& values);
// Throws std::runtime_error when the blob does not hold `frames` values of the codec.
std::vector<float> decode_series(const std::string& blob, uint32_t frames, const std::string& codec = kSeriesCodec);

}  // namespace hil::evals
