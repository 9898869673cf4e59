// What the frame view draws over a camera frame, as geometry in the frame's
// pixel coordinates (0..width, 0..height): ground-truth lane lines, road
// edges and object cuboids projected with the clip's camera
// (evals::project_point), each revision's predicted lane and lead vehicle, and
// steering needles. Plain geometry, so tests check it without pixels.
//
// The predicted lane: the network reports the ego's offset from its lane's
// centre (o, metres, + left) and its heading relative to the lane (h,
// radians). In the ego frame (x forward, y left) the lane's centre line is
// then the straight line y(x) = -o - tan(h) x (the networks predict no
// curvature), drawn with its two boundaries at ±kLaneHalfWidth from 3 m to
// 40 m ahead. The lead vehicle is a 1.8 m × 1.5 m rectangle standing on that
// centre line at the predicted distance, when the lead score is above 0.5.
// Steering is a needle below the image's centre, turned by the angle
// (× kSteeringGain, so that a few hundredths of a radian are visible).
#pragma once

#include <vector>

#include <QPolygonF>
#include <QString>

#include "eval_series.h"
#include "evals/proto/clip.pb.h"
#include "timeline_markers.h"

namespace hil::viewer {

inline constexpr double kLaneHalfWidth = 1.8;  // the generator's lanes are 3.6 m wide
inline constexpr double kPredictedLaneNear = 3.0;
inline constexpr double kPredictedLaneFar = 40.0;
inline constexpr double kLeadWidth = 1.8, kLeadHeight = 1.5;
inline constexpr double kSteeringGain = 8.0;

enum class OverlayKind {
  kTruthLane,
  kRoadEdge,
  kObject,           // visible or partly occluded
  kOccludedObject,   // fully occluded: drawn dashed and dim
  kPredictedLane,    // boundaries (solid)
  kPredictedCentre,  // centre line (dotted)
  kLeadMarker,
  kSteering,
  kTruthSteering,
};

struct OverlayShape {
  OverlayKind kind = OverlayKind::kTruthLane;
  // Whose shape: A, B, or neither (ground truth).
  bool truth = true;
  Side side = Side::kA;
  QPolygonF points;  // pixel coordinates of the camera frame
  bool closed = false;
  QString label;  // "car 23.1 m", "lead 24.0 m", ...
};

// Which overlays to draw; each toggleable in the frame view.
struct OverlayOptions {
  bool truth_lanes = true;
  bool objects = true;
  bool predicted_lanes = true;
  bool lead = true;
  bool steering = true;
  bool operator==(const OverlayOptions&) const = default;
};

// Ground truth of `frame` seen through camera 0 of `header`.
std::vector<OverlayShape> truth_overlay(const hil::clip::ClipHeader& header,
                                        const hil::clip::Frame& frame,
                                        const OverlayOptions& options);

// One revision's prediction (nothing when !prediction.valid).
std::vector<OverlayShape> prediction_overlay(const hil::clip::Camera& camera,
                                             const Prediction& prediction, Side side,
                                             const OverlayOptions& options);

// The ground-truth steering needle of `frame`.
OverlayShape truth_steering_needle(const hil::clip::Camera& camera, const hil::clip::Frame& frame);

// Projects a ground polyline y(x) sampled from x0 to x1; points behind the
// camera are dropped.
QPolygonF project_ground_line(const hil::clip::Camera& camera, double offset, double slope,
                              double x0, double x1, int samples = 24);

}  // namespace hil::viewer
