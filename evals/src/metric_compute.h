// Computing declared metrics over one eval (private to evals): each kind
// turns the frames' ground truth and decoded outputs into summary values and
// a per-frame series. Definitions and checks are in metric_catalogue.cpp.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "hil/evals/metrics.h"

namespace hil::evals {

double detection_threshold(const suite::DetectionMetric& d);
double detection_score_threshold(const suite::DetectionMetric& d);
double lane_tolerance(const suite::LaneMetric& l);
std::vector<double> lane_stations(const suite::LaneMetric& l);

// The head a declared metric reads ("" for plugins).
std::string metric_head(const suite::MetricSpec& spec);

// Truth fields of regression metrics: "control.steering", "ego.lane_offset", ...
std::string truth_unit(const std::string& field);
std::string truth_token_of(const std::string& field);
// NaN when the frame has no such truth (ego.lead_distance without a lead).
double truth_value(const clip::Frame& frame, const std::string& field);

// Scalar fields of a head: control (steering, acceleration), lead (score,
// distance), tensor (its named fields); index into head_field_names, or -1.
std::vector<std::string> head_field_names(const model::OutputBinding& head);
int head_field_index(const model::OutputBinding& head, const std::string& field);
float head_field_value(const outputs::HeadOutput& out, const model::OutputBinding& head, int index);

// The head's output in a frame's outputs, or nullptr.
const outputs::HeadOutput* head_output(const outputs::FrameOutputs& frame, const std::string& head);

// Is the frame's lead vehicle fully visible (false: partly or fully occluded)?
bool lead_visible(const clip::Frame& frame);
bool frame_passes(const clip::Frame& frame, suite::FrameFilter filter);

struct MetricResult {
  std::map<std::string, double> values;  // the metric (unless undefined) and its counts
  std::vector<float> per_frame;          // "frame.NAME"
};

// One declared metric over an eval; `head` is the binding it reads (checked
// at submission). Plugin metrics are not computed here.
MetricResult compute_metric(const suite::MetricSpec& spec, const model::OutputBinding& head,
                            const std::vector<clip::Frame>& truth,
                            const std::vector<FrameRecord>& records);

}  // namespace hil::evals
