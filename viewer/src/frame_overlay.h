// What the frame view draws over one camera's image, as geometry in that
// camera's pixel coordinates (0..width, 0..height):
//   - ground truth: lane lines and road edges, object cuboids (fully
//     occluded ones dashed), 2D boxes of objects labelled without a cuboid
//     and ignore regions (on the camera they belong to);
//   - a revision's decoded outputs (eval_outputs.h): lane polylines (ego
//     frame), detections (2D boxes on the camera they belong to, 3D cuboids
//     in every camera), each lead head's vehicle and each control head's
//     steering needle.
// Every 3D point goes through evals::project_point with the camera's full
// pose, so every camera of every rig is drawn alike. Shapes are cut to the
// image grown by its size on each side (a shape leaving it becomes open
// pieces): drawing is then cheap whatever a camera's angle. Plain geometry,
// so tests check it without pixels.
//
// A lead head says how far the vehicle ahead is, not where across: its
// marker, a kLeadWidth x kLeadHeight rectangle, stands at that distance on
// the centre of the ground truth's ego lane (the lane lines nearest either
// side of the ego), or straight ahead without lane truth. Steering is a
// needle below the image's centre, turned by the angle (x kSteeringGain, so
// that a few hundredths of a radian are visible).
#pragma once

#include <vector>

#include <QPolygonF>
#include <QString>

#include "eval_outputs.h"
#include "evals/proto/clip.pb.h"
#include "timeline_markers.h"

namespace hil::viewer {

inline constexpr double kLeadWidth = 1.8, kLeadHeight = 1.5;
inline constexpr double kSteeringGain = 8.0;
// Predicted lane polylines are drawn through points this far apart (metres
// along x), so that lens distortion bends them as it bends the truth.
inline constexpr double kLaneStep = 1.0;
// The catalogue's default operating point (DetectionMetric.score_threshold).
inline constexpr double kConfidentScore = 0.5;

enum class OverlayKind {
  kTruthLane,
  kRoadEdge,
  kObject,          // truth: visible or partly occluded (cuboid edge or 2D box)
  kOccludedObject,  // truth: fully occluded; drawn dashed and dim
  kIgnoreRegion,    // truth: a region whose objects are not labelled
  kPredictedLane,   // a lanes head's line
  kDetection,       // an objects head's 2D box or cuboid edge
  kLeadMarker,
  kSteering,
  kTruthSteering,
};

struct OverlayShape {
  OverlayKind kind = OverlayKind::kTruthLane;
  // Whose shape: A, B, or neither (ground truth).
  bool truth = true;
  Side side = Side::kA;
  QPolygonF points;  // pixel coordinates of the camera image
  bool closed = false;
  QString label;  // "car 23.1 m", "car 0.87", "lead 24.0 m", ...
  // A detection scoring below kConfidentScore: drawn thin and translucent,
  // so the few a metric's operating point keeps stand out from the many a
  // head emits for AP.
  bool faint = false;
};

// Which overlays to draw; each toggleable in the frame view. A category
// covers the ground truth and both revisions; `truth` hides all the truth.
struct OverlayOptions {
  bool truth = true;
  bool lanes = true;
  bool objects = true;
  bool lead = true;
  bool steering = true;
  bool operator==(const OverlayOptions&) const = default;
};

// Ground truth of `frame` seen through camera `camera` (an index into the
// header's cameras). Steering is apart: see truth_steering_needle().
std::vector<OverlayShape> truth_overlay(const hil::clip::ClipHeader& header,
                                        const hil::clip::Frame& frame, int camera,
                                        const OverlayOptions& options);

// One revision's lanes, detections and lead vehicles on one frame, seen
// through camera `camera`; `truth` is the frame's ground truth (the lead
// marker's lane). Nothing unless `now` has outputs.
std::vector<OverlayShape> outputs_overlay(const hil::clip::ClipHeader& header, int camera,
                                          const RevisionFrame& now, const hil::clip::Frame& truth,
                                          Side side, const OverlayOptions& options);

// One needle per control head of the revision on this frame.
std::vector<OverlayShape> steering_needles(const hil::clip::Camera& camera,
                                           const RevisionFrame& now, Side side);
OverlayShape truth_steering_needle(const hil::clip::Camera& camera, double steering);

// Projects a ground polyline (ego frame x, y; z = 0), sampled every
// kLaneStep metres between its stations; points behind the camera are dropped.
QPolygonF project_ground_polyline(const hil::clip::Camera& camera, const std::vector<double>& xs,
                                  const std::vector<double>& ys);

// The centre of the ground truth's ego lane at `x` metres ahead: halfway
// between the nearest lane lines left and right of the ego, 0 without both.
double ego_lane_centre(const hil::clip::Frame& frame, double x);

}  // namespace hil::viewer
