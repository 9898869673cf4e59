// Object detection scoring: box overlap, matching detections to labelled
// objects in one frame, and average precision with a named interpolation.
// Pure functions, no I/O; the metric catalogue (metrics.h) feeds them.
//
// Matching (per frame and class, as pycocotools' COCOeval and the KITTI
// devkit do): detections in descending score order (ties keep their input
// order); each takes the unmatched truth it overlaps most among the truth
// that counts, if that overlap reaches the threshold (a true positive); else
// the best unmatched *ignored* truth (outside the distance band, too small,
// too occluded: the detection is ignored, neither true nor false, and that
// truth is used up); else, under IOU_2D, a detection at least half inside one
// ignore region (KITTI DontCare; intersection_over_first >= 0.5) or, under
// IOU_BEV and CENTER_DISTANCE, one whose centre lies outside the distance
// band is ignored; else it is a false positive. Truth that counts and stays
// unmatched is a miss. On equal overlap the first truth in input order wins.
// Under CENTER_DISTANCE "overlaps most" is "nearest" and "reaches" is "not
// farther than".
//
//   auto outcomes = match_frame(dets, truths, suite::IOU_2D, 0.5, ignore_regions, band);
//   ... gather (score, outcome == kTruePositive) over the clip, per class ...
//   double ap = average_precision(scored, truths_that_count, suite::COCO_101);
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "evals/proto/clip.pb.h"
#include "evals/proto/suite.pb.h"

namespace hil::evals {

struct Box2 {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // pixels; x1, y1 exclusive
  double area() const;
};

// Intersection over union of two image boxes; 0 when either is empty.
double iou_2d(const Box2& a, const Box2& b);
// Intersection over the area of `a` (for ignore regions: how much of a
// detection lies inside a DontCare region).
double intersection_over_first(const Box2& a, const Box2& b);
// Intersection over union of the two cuboids' footprints on the ground plane
// (rotated rectangles: centre x, y, length along yaw, width across).
double bev_iou(const clip::Cuboid& a, const clip::Cuboid& b);
// Distance between the centres on the ground plane, metres.
double centre_distance(const clip::Cuboid& a, const clip::Cuboid& b);

struct DetectionBox {
  double score = 0;
  Box2 box;                            // 2D detections
  std::optional<clip::Cuboid> cuboid;  // 3D detections
};

struct TruthBox {
  Box2 box;
  std::optional<clip::Cuboid> cuboid;
  bool ignored = false;  // outside the metric's filters: matching it costs nothing, missing it too
};

enum class MatchOutcome { kTruePositive, kFalsePositive, kIgnored };

// A distance band on the ground plane (metres from the ego origin to the
// cuboid's centre); used to ignore unmatched 3D detections outside it.
struct DistanceBand {
  double min = 0;
  double max = 0;  // 0: no upper limit
  bool contains(double distance) const;
};

struct FrameMatch {
  std::vector<MatchOutcome> outcomes;  // one per detection, in the input order
  uint32_t truths = 0;                 // truth that counts (not ignored)
  uint32_t matched = 0;                // of those, matched by a detection
};

// Matches one frame's detections of one class against its truth of that
// class. `threshold` is the IoU to reach (IOU_2D, IOU_BEV) or the centre
// distance not to exceed, metres (CENTER_DISTANCE). Throws
// std::invalid_argument when IOU_BEV or CENTER_DISTANCE meets a detection or
// truth without a cuboid, on a NaN score or an unknown matching.
FrameMatch match_frame(const std::vector<DetectionBox>& detections,
                       const std::vector<TruthBox>& truths, suite::Matching matching,
                       double threshold, const std::vector<Box2>& ignore_regions = {},
                       const DistanceBand& band = {});

// Average precision from every scored, non-ignored detection of a class
// (is it a true positive) and the number of truth objects that count.
// Detections are ranked by descending score (stable). Returns nullopt when
// there is no truth (AP undefined). Precision at recall r is the envelope:
// the highest precision at any recall >= r.
//   COCO_101        mean of the envelope at recall 0, 0.01, ..., 1 (0 past the last recall reached)
//   VOC_ALL_POINTS  area under the envelope: sum over recall steps of (r_i - r_{i-1}) *
//   envelope(r_i) KITTI_40        mean of the envelope at recall 1/40, 2/40, ..., 1 VOC_11 mean of
//   the envelope at recall 0, 0.1, ..., 1
// Sampled recalls are i / 100.0, i / 40.0, i / 10.0, and a recall equal to one
// counts as reaching it. (pycocotools' np.linspace thresholds are one ulp above
// i / 100.0 at ten points, e.g. 0.35, so there a recall of exactly 0.35 does not
// count; the KITTI devkit samples at score thresholds picked to approximate
// these recalls rather than at the exact recall.) Throws std::invalid_argument
// on a NaN score, more true positives than truths, or an unknown interpolation.
std::optional<double> average_precision(std::vector<std::pair<double, bool>> scored,
                                        uint64_t truths, suite::Interpolation interpolation);

// "COCO 101-point", "VOC all-point", ... for reports.
const char* interpolation_label(suite::Interpolation interpolation);
const char* matching_label(suite::Matching matching);

}  // namespace hil::evals
