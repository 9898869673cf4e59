// Metrics: the catalogue a suite declares its metrics from (suite.proto
// MetricSpec: regression, detection, lane, lead, plugin), the system metrics
// every eval reports (latency, deadline misses, command gaps, failovers), and
// the per-eval scorer that turns a network's decoded outputs on every frame
// of a clip, against the clip's ground truth, into summary metrics and
// per-frame series. Definitions (unit, direction, how the gate recomputes
// ratios, which series explains a metric) are data, so the gate, the nightly
// report, the database and the viewer need no per-metric code.
//
//   auto defs = suite_metrics(suite);              // system + declared
//   EvalScorer scorer(suite_metric_specs, iface);  // per eval, on the board
//   for (...) scorer.add_frame(truth_frame, record);
//   auto summary = scorer.summary();               // name -> value
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "evals/proto/clip.pb.h"
#include "evals/proto/model.pb.h"
#include "evals/proto/outputs.pb.h"
#include "evals/proto/suite.pb.h"

namespace hil::evals {

struct MetricDef {
  std::string name;
  std::string unit;
  suite::Direction direction = suite::LOWER_IS_BETTER;
  std::string description;
  // Ratio metrics (precision, recall, F1) are recomputed from summed counts
  // in every bootstrap resample: numerator / (numerator + other), both names
  // of auxiliary count metrics the eval also reports.
  std::string ratio_numerator, ratio_other;
  // The per-frame series that explains the metric frame by frame ("frame.NAME",
  // "out.HEAD.FIELD", "device_ms"), for "where do A and B diverge".
  std::string series;
  // The unit of the metric's per-frame values ("frame.NAME") where it is not
  // the metric's own: "errors" for the detection, lane-matching and lead
  // metrics, whose per-frame value counts the frame's errors (false and
  // missed detections or lines, a wrong lead verdict); "" for a mean error,
  // whose per-frame value is the frame's error.
  std::string series_unit;
  bool auxiliary = false;      // a count behind a ratio: stored, not listed first
  bool plugin = false;         // computed by the scheduler with a plugin
  bool frame_binary = false;   // the series is 1 on a wrong frame, 0 on a right one (McNemar flips)
  bool needs_control = false;  // exists only for networks with a control head
  // Follows from device time: identical run to run where the cost model
  // emulates it, varying where a board measures it (health checks skip it there).
  bool device_timed = false;
};

// The metrics every eval reports, whatever the suite.
const std::vector<MetricDef>& system_metrics();
// The suite's metrics: the system metrics, then each declared metric with
// its auxiliary counts. The suite must have been validated (parse_suite).
std::vector<MetricDef> suite_metrics(const suite::Suite& suite);
// The definitions one declared metric contributes (itself first).
std::vector<MetricDef> metric_defs(const suite::MetricSpec& spec);
const MetricDef* find_metric(const std::vector<MetricDef>& defs, const std::string& name);
bool is_system_metric(const std::string& name);

// Checks a declared metric on its own (kind set, thresholds and names in
// range); returns "" or what is wrong, for the suite parser to place.
std::string metric_spec_error(const suite::MetricSpec& spec);
// Ground truth (clip_file.h truth tokens) the metric needs from every clip,
// given the head it reads (2D or 3D objects).
std::vector<std::string> required_truth(const suite::MetricSpec& spec,
                                        const model::ModelInterface& iface);
// "" when the interface has the head the metric reads, of the right kind,
// with the field it names; else what is wrong (naming metric and head).
std::string metric_head_error(const suite::MetricSpec& spec, const model::ModelInterface& iface);

// For `hil gate power`: moves the field a regression metric scores `size`
// further from the frame's truth, so that the frame's error grows by exactly
// `size` (a plain bias could cancel an error of the other sign). Works on
// any head with that field (control, lead, tensor). False when the head has
// no such field; without truth on the frame, the direction is `fallback_sign`.
bool push_away_from_truth(outputs::HeadOutput& out, const model::OutputBinding& head,
                          const suite::RegressionMetric& spec, const clip::Frame& truth, float size,
                          float fallback_sign);

// What the board recorded for one frame.
struct FrameRecord {
  outputs::FrameOutputs outputs;  // decoded heads; outputs.has_outputs() false: none this frame
  bool has_command = true;        // the control head's command came in time (false: a command gap)
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
  // System metrics only (noop evals, tests).
  EvalScorer() = default;
  // The suite's declared metrics (plugins are skipped: the scheduler runs
  // them) for a network with this interface.
  EvalScorer(std::vector<suite::MetricSpec> metrics, model::ModelInterface iface);

  void add_frame(const clip::Frame& truth, const FrameRecord& record);
  // A failover: how long the fault took to detect and the survivor to
  // command, and whether that fit the FTTI (false too when nothing recovered).
  void add_failover(double detection_ms, double switchover_ms, bool within_ftti);
  // Summary metrics by name: system metrics and every declared metric with
  // its counts. A metric undefined on this clip (AP without any labelled
  // object of its classes) is left out, so the gate does not pair it.
  std::map<std::string, double> summary() const;
  // Per-frame series: outputs of scalar heads ("out.HEAD.FIELD"), the truth
  // they are compared with ("truth.HEAD.FIELD"), each declared metric's
  // per-frame value ("frame.NAME"), host and device time, the commander.
  std::vector<Series> series() const;
  // The decoded outputs of every frame, for storage.
  outputs::EvalOutputs outputs() const;
  uint32_t frames() const { return static_cast<uint32_t>(records_.size()); }

 private:
  std::vector<suite::MetricSpec> metrics_;
  model::ModelInterface iface_;
  bool counts_command_gaps_ = false;
  std::vector<FrameRecord> records_;
  std::vector<clip::Frame> truth_;  // labels, control, odometry; images dropped
  struct Failover {
    double detection_ms, switchover_ms;
    bool within_ftti;
  };
  std::vector<Failover> failovers_;
};

double percentile(std::vector<double> values, double p);

// Per-frame series as stored: little-endian float32, byte planes shuffled
// (all first bytes, then all second bytes, ...) so that the slowly changing
// sign and exponent bytes compress well, then zlib. "zlib-f32le" (no shuffle)
// is read too.
inline constexpr const char* kSeriesCodec = "zlib-shuffle-f32le";
std::string encode_series(const std::vector<float>& values);
// Throws std::runtime_error when the blob does not hold `frames` values of the codec.
std::vector<float> decode_series(const std::string& blob, uint32_t frames,
                                 const std::string& codec = kSeriesCodec);

// Decoded outputs as stored: a serialised EvalOutputs, zlib-compressed.
inline constexpr const char* kOutputsCodec = "zlib-evaloutputs";
std::string encode_outputs(const outputs::EvalOutputs& outputs);
// Throws std::runtime_error when the blob is not one.
outputs::EvalOutputs decode_outputs(const std::string& blob,
                                    const std::string& codec = kOutputsCodec);

}  // namespace hil::evals
