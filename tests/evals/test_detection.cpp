#include <catch2/catch.hpp>

#include <cmath>
#include <stdexcept>
#include <string>

#include "hil/evals/detection.h"

using namespace hil;
using evals::MatchOutcome;

namespace {

clip::Cuboid cuboid(double x, double y, double length, double width, double yaw = 0) {
  clip::Cuboid c;
  c.set_x(x);
  c.set_y(y);
  c.set_z(0.8);
  c.set_length(length);
  c.set_width(width);
  c.set_height(1.6);
  c.set_yaw(yaw);
  return c;
}

evals::DetectionBox det2(double score, double x0, double y0, double x1, double y1) {
  return {score, {x0, y0, x1, y1}, std::nullopt};
}

evals::DetectionBox det3(double score, double x, double y, double length = 4, double width = 2) {
  return {score, {}, cuboid(x, y, length, width)};
}

evals::TruthBox truth2(double x0, double y0, double x1, double y1, bool ignored = false) {
  return {{x0, y0, x1, y1}, std::nullopt, ignored};
}

evals::TruthBox truth3(double x, double y, double length = 4, double width = 2) {
  return {{}, cuboid(x, y, length, width), false};
}

constexpr double kPi = 3.14159265358979323846;

}  // namespace

TEST_CASE("2D IoU is zero for disjoint and touching boxes", "[detection]") {
  const evals::Box2 a{0, 0, 10, 10};
  CHECK(evals::iou_2d(a, {20, 20, 30, 30}) == 0);
  // x1 is exclusive: [0, 10) and [10, 20) share no pixel.
  CHECK(evals::iou_2d(a, {10, 0, 20, 10}) == 0);
}

TEST_CASE("2D IoU of a box nested in another is the ratio of their areas", "[detection]") {
  // Inner 5 x 5 = 25 inside outer 10 x 10 = 100: intersection 25, union 100.
  CHECK(evals::iou_2d({0, 0, 10, 10}, {2, 2, 7, 7}) == Approx(0.25));
  CHECK(evals::iou_2d({2, 2, 7, 7}, {0, 0, 10, 10}) == Approx(0.25));
}

TEST_CASE("2D IoU of two boxes overlapping by half of each is one third", "[detection]") {
  // Intersection 5 x 10 = 50, union 100 + 100 - 50 = 150: 50 / 150 = 1/3.
  CHECK(evals::iou_2d({0, 0, 10, 10}, {5, 0, 15, 10}) == Approx(1.0 / 3));
}

TEST_CASE("2D IoU of identical boxes is one", "[detection]") {
  CHECK(evals::iou_2d({3, 4, 13, 24}, {3, 4, 13, 24}) == 1);
}

TEST_CASE("empty and inverted 2D boxes have no area and no overlap", "[detection]") {
  const evals::Box2 flat{5, 5, 5, 10};       // zero width
  const evals::Box2 inverted{10, 0, 0, 10};  // x1 < x0
  CHECK(flat.area() == 0);
  CHECK(inverted.area() == 0);
  CHECK(evals::Box2{0, 0, 4, 3}.area() == 12);  // 4 x 3
  CHECK(evals::iou_2d(flat, flat) == 0);
  CHECK(evals::iou_2d(inverted, {0, 0, 10, 10}) == 0);
  CHECK(evals::iou_2d({0, 0, 10, 10}, inverted) == 0);
  CHECK(evals::intersection_over_first(flat, {0, 0, 10, 10}) == 0);
  CHECK(evals::intersection_over_first({0, 0, 10, 10}, inverted) == 0);
}

TEST_CASE("intersection over the first box measures how much of it lies in the second",
          "[detection]") {
  // Half of the 10 x 10 box lies in the other: 50 / 100.
  CHECK(evals::intersection_over_first({0, 0, 10, 10}, {5, 0, 15, 10}) == Approx(0.5));
  // A 5 x 5 box inside a 10 x 10 one: 25 / 25 one way, 25 / 100 the other.
  CHECK(evals::intersection_over_first({2, 2, 7, 7}, {0, 0, 10, 10}) == Approx(1.0));
  CHECK(evals::intersection_over_first({0, 0, 10, 10}, {2, 2, 7, 7}) == Approx(0.25));
}

TEST_CASE("BEV IoU of identical boxes is one, rotated or not", "[detection]") {
  const auto straight = cuboid(10, -3, 4.5, 1.8);
  CHECK(evals::bev_iou(straight, straight) == Approx(1.0));
  const auto turned = cuboid(35.2, 7.1, 4.5, 1.8, 0.3);
  CHECK(evals::bev_iou(turned, turned) == Approx(1.0));
}

TEST_CASE("BEV IoU of axis-aligned boxes overlapping in part", "[detection]") {
  // a: x in [-2, 2], y in [-1, 1] (length 4 along yaw 0 = x, width 2), area 8.
  // b: x in [-1, 3], y in [-0.5, 1.5], area 8.
  // Intersection x in [-1, 2] (3) by y in [-0.5, 1] (1.5) = 4.5; union 8 + 8 - 4.5 = 11.5.
  // IoU = 4.5 / 11.5 = 9/23 = 0.3913...
  CHECK(evals::bev_iou(cuboid(0, 0, 4, 2), cuboid(1, 0.5, 4, 2)) == Approx(9.0 / 23));
}

TEST_CASE("BEV boxes lie with their length along the yaw direction", "[detection]") {
  // a: 4 x 2 along x; b: the same box turned by pi/2, so 2 wide in x, 4 long in y.
  // Intersection x in [-1, 1] by y in [-1, 1] = 4; union 8 + 8 - 4 = 12; IoU = 1/3.
  CHECK(evals::bev_iou(cuboid(0, 0, 4, 2), cuboid(0, 0, 4, 2, kPi / 2)) == Approx(1.0 / 3));
}

TEST_CASE("BEV IoU of a square and the same square turned by 45 degrees", "[detection]") {
  // Both 2 x 2 squares have every edge 1 m from the centre, so the intersection is
  // bounded by 8 lines 1 m from the centre, every 45 degrees: a regular octagon with
  // apothem 1 and side 2 tan(22.5 deg) = 2 (sqrt 2 - 1).
  // Octagon area = perimeter * apothem / 2 = 8 * 2 (sqrt 2 - 1) / 2 = 8 (sqrt 2 - 1) = 3.3137.
  // Union = 4 + 4 - 8 (sqrt 2 - 1) = 16 - 8 sqrt 2 = 8 sqrt 2 (sqrt 2 - 1) = 4.6863.
  // IoU = 8 (sqrt 2 - 1) / (8 sqrt 2 (sqrt 2 - 1)) = 1 / sqrt 2 = 0.70711.
  CHECK(evals::bev_iou(cuboid(5, 5, 2, 2), cuboid(5, 5, 2, 2, kPi / 4)) ==
        Approx(1 / std::sqrt(2.0)));
}

TEST_CASE("BEV IoU of boxes far apart or only touching is zero", "[detection]") {
  CHECK(evals::bev_iou(cuboid(0, 0, 4, 2), cuboid(100, 50, 4, 2, 1.0)) == 0);
  // a spans x in [-2, 2], b x in [2, 6]: they share an edge and no area.
  CHECK(evals::bev_iou(cuboid(0, 0, 4, 2), cuboid(4, 0, 4, 2)) == Approx(0.0).margin(1e-12));
  // Zero width: no footprint, no overlap.
  CHECK(evals::bev_iou(cuboid(0, 0, 4, 0), cuboid(0, 0, 4, 2)) == 0);
}

TEST_CASE("a box turned by pi has the same BEV footprint as unturned", "[detection]") {
  // Same boxes as the partial overlap above: 9/23 whichever way b faces.
  CHECK(evals::bev_iou(cuboid(0, 0, 4, 2), cuboid(1, 0.5, 4, 2, kPi)) == Approx(9.0 / 23));
  CHECK(evals::bev_iou(cuboid(0, 0, 4, 2, kPi), cuboid(0, 0, 4, 2)) == Approx(1.0));
}

TEST_CASE("centre distance is measured on the ground plane", "[detection]") {
  auto a = cuboid(1, 2, 4, 2);
  auto b = cuboid(4, 6, 4, 2);
  b.set_z(10);  // height does not count
  // hypot(4 - 1, 6 - 2) = hypot(3, 4) = 5.
  CHECK(evals::centre_distance(a, b) == Approx(5.0));
}

TEST_CASE("a distance band includes its minimum and excludes its maximum", "[detection]") {
  const evals::DistanceBand all{};
  CHECK(all.contains(0));
  CHECK(all.contains(1e9));  // max 0: no upper limit
  const evals::DistanceBand band{5, 50};
  CHECK_FALSE(band.contains(4.99));
  CHECK(band.contains(5));
  CHECK(band.contains(49.99));
  CHECK_FALSE(band.contains(50));
}

TEST_CASE("a worked frame: true, duplicate, ignored-truth and ignore-region detections",
          "[detection]") {
  const std::vector<evals::TruthBox> truths{
      truth2(0, 0, 10, 10),         // T0 counts
      truth2(20, 0, 30, 10),        // T1 counts, nobody finds it: a miss
      truth2(40, 0, 50, 10, true),  // T2 ignored
  };
  const std::vector<evals::Box2> regions{{100, 0, 120, 20}};
  const std::vector<evals::DetectionBox> dets{
      // D0 and D1 tie on score; D0 comes first in the input, so it goes first and takes T0
      // even though D1 fits T0 better. D0 vs T0: 9 x 10 = 90 / (100 + 100 - 90) = 9/11 >= 0.5.
      det2(0.8, 1, 0, 11, 10),
      // D1: IoU 1 with T0, but T0 is taken; no other truth overlaps: a duplicate, FP.
      det2(0.8, 0, 0, 10, 10),
      // D2 (highest score): IoU 1 with the ignored T2 only: ignored.
      det2(0.95, 40, 0, 50, 10),
      // D3: 20 x 20 = 400, of which x in [110, 120) = 10 x 20 = 200 in the region: 0.5, ignored.
      det2(0.5, 110, 0, 130, 20),
  };
  const auto m = evals::match_frame(dets, truths, suite::IOU_2D, 0.5, regions);
  REQUIRE(m.outcomes.size() == 4);
  CHECK(m.outcomes[0] == MatchOutcome::kTruePositive);
  CHECK(m.outcomes[1] == MatchOutcome::kFalsePositive);
  CHECK(m.outcomes[2] == MatchOutcome::kIgnored);
  CHECK(m.outcomes[3] == MatchOutcome::kIgnored);
  CHECK(m.truths == 2);   // T0, T1
  CHECK(m.matched == 1);  // T0
}

TEST_CASE("an IoU equal to the threshold is a match", "[detection]") {
  // The detection covers the top half of the truth: 10 x 5 = 50 / (100 + 50 - 50) = 0.5.
  const auto m =
      evals::match_frame({det2(0.9, 0, 0, 10, 5)}, {truth2(0, 0, 10, 10)}, suite::IOU_2D, 0.5);
  CHECK(m.outcomes.at(0) == MatchOutcome::kTruePositive);
}

TEST_CASE("on equal overlap a detection takes the first truth in input order", "[detection]") {
  const std::vector<evals::TruthBox> truths{truth2(0, 0, 10, 10), truth2(10, 0, 20, 10)};
  const std::vector<evals::DetectionBox> dets{
      // Straddles both: 5 x 10 = 50 / (100 + 100 - 50) = 1/3 with each; takes T0, the first.
      det2(0.9, 5, 0, 15, 10),
      // Exactly T0, which is taken; 0 with T1: false positive. (Had D0 taken T1, this would
      // be a true positive.)
      det2(0.8, 0, 0, 10, 10),
  };
  const auto m = evals::match_frame(dets, truths, suite::IOU_2D, 0.3);
  CHECK(m.outcomes.at(0) == MatchOutcome::kTruePositive);
  CHECK(m.outcomes.at(1) == MatchOutcome::kFalsePositive);
  CHECK(m.matched == 1);
}

TEST_CASE("a detection less than half inside an ignore region is a false positive", "[detection]") {
  // 20 x 20 = 400, of which x in [111, 120) = 9 x 20 = 180 in the region: 0.45 < 0.5.
  const auto m =
      evals::match_frame({det2(0.9, 111, 0, 131, 20)}, {}, suite::IOU_2D, 0.5, {{100, 0, 120, 20}});
  CHECK(m.outcomes.at(0) == MatchOutcome::kFalsePositive);
  CHECK(m.truths == 0);
}

TEST_CASE("truth that counts wins over ignored truth, and ignored truth is used once",
          "[detection]") {
  const std::vector<evals::TruthBox> truths{truth2(0, 0, 10, 10), truth2(2, 0, 12, 10, true)};
  const std::vector<evals::DetectionBox> dets{
      // IoU 1 with the ignored truth, 8 x 10 = 80 / (200 - 80) = 2/3 with the counting one:
      // the counting one reaches 0.5, so it is a true positive.
      det2(0.9, 2, 0, 12, 10),
      // Same box: the counting truth is taken, the ignored one (IoU 1) makes it ignored.
      det2(0.8, 2, 0, 12, 10),
      // Same box again: both truths used, no region: false positive.
      det2(0.7, 2, 0, 12, 10),
  };
  const auto m = evals::match_frame(dets, truths, suite::IOU_2D, 0.5);
  CHECK(m.outcomes.at(0) == MatchOutcome::kTruePositive);
  CHECK(m.outcomes.at(1) == MatchOutcome::kIgnored);
  CHECK(m.outcomes.at(2) == MatchOutcome::kFalsePositive);
  CHECK(m.truths == 1);
  CHECK(m.matched == 1);
}

TEST_CASE("centre-distance matching takes the nearest unmatched truth within the threshold",
          "[detection]") {
  const std::vector<evals::TruthBox> truths{truth3(10, 0), truth3(12, 0), truth3(20, 0)};
  const std::vector<evals::DetectionBox> dets{
      // D0 at x 11.2: 1.2 m from T0, 0.8 m from T1: takes T1, the nearer.
      det3(0.9, 11.2, 0),
      // D1 at x 9: 1.0 m from T0 (free because D0 took T1): true positive.
      det3(0.8, 9, 0),
      // D2 at x 12.5: T0 and T1 taken, T2 7.5 m away: false positive.
      det3(0.7, 12.5, 0),
      // D3 at x 21.5: exactly 1.5 m from T2, which does not exceed 1.5: true positive.
      det3(0.6, 21.5, 0),
  };
  const auto m = evals::match_frame(dets, truths, suite::CENTER_DISTANCE, 1.5);
  CHECK(m.outcomes.at(0) == MatchOutcome::kTruePositive);
  CHECK(m.outcomes.at(1) == MatchOutcome::kTruePositive);
  CHECK(m.outcomes.at(2) == MatchOutcome::kFalsePositive);
  CHECK(m.outcomes.at(3) == MatchOutcome::kTruePositive);
  CHECK(m.truths == 3);
  CHECK(m.matched == 3);
}

TEST_CASE("3D matching without a cuboid is a programming error", "[detection]") {
  CHECK_THROWS_AS(
      evals::match_frame({det3(0.9, 10, 0)}, {truth2(0, 0, 10, 10)}, suite::IOU_BEV, 0.5),
      std::invalid_argument);
  CHECK_THROWS_AS(
      evals::match_frame({det2(0.9, 0, 0, 10, 10)}, {truth3(10, 0)}, suite::CENTER_DISTANCE, 2.0),
      std::invalid_argument);
  // 2D matching needs no cuboid.
  CHECK_NOTHROW(
      evals::match_frame({det2(0.9, 0, 0, 10, 10)}, {truth2(0, 0, 10, 10)}, suite::IOU_2D, 0.5));
}

TEST_CASE("unmatched 3D detections outside the distance band are ignored", "[detection]") {
  const evals::DistanceBand band{5, 50};
  const std::vector<evals::DetectionBox> dets{
      det3(0.9, 10, 0),   // IoU 1 with the truth: true positive
      det3(0.8, 60, 0),   // 60 m >= 50: ignored
      det3(0.7, 30, 40),  // hypot(30, 40) = 50 m, the excluded maximum: ignored
      det3(0.6, 20, 0),   // 20 m, in the band, matches nothing: false positive
      det3(0.5, 3, 4),    // hypot(3, 4) = 5 m, the included minimum: false positive
      det3(0.4, 0, 3),    // 3 m < 5: ignored
      // 11 m: IoU with the truth is 3 x 2 = 6 / (8 + 8 - 6) = 0.6, but it is taken: a
      // duplicate inside the band, false positive.
      det3(0.3, 11, 0),
  };
  const auto m = evals::match_frame(dets, {truth3(10, 0)}, suite::IOU_BEV, 0.5, {}, band);
  REQUIRE(m.outcomes.size() == 7);
  CHECK(m.outcomes[0] == MatchOutcome::kTruePositive);
  CHECK(m.outcomes[1] == MatchOutcome::kIgnored);
  CHECK(m.outcomes[2] == MatchOutcome::kIgnored);
  CHECK(m.outcomes[3] == MatchOutcome::kFalsePositive);
  CHECK(m.outcomes[4] == MatchOutcome::kFalsePositive);
  CHECK(m.outcomes[5] == MatchOutcome::kIgnored);
  CHECK(m.outcomes[6] == MatchOutcome::kFalsePositive);
  CHECK(m.truths == 1);
  CHECK(m.matched == 1);
}

TEST_CASE("average precision of a hand-worked ranking, for each interpolation", "[detection]") {
  // Given out of order; by score the ranking is TP (0.9), FP (0.8), TP (0.7), FP (0.6),
  // TP (0.5), with 4 truths:
  //   rank  tp fp  recall  precision  envelope (best precision at this rank or later)
  //   1     1  0   0.25    1          1
  //   2     1  1   0.25    0.5        2/3
  //   3     2  1   0.5     2/3        2/3
  //   4     2  2   0.5     0.5        0.6
  //   5     3  2   0.75    0.6        0.6
  // Envelope against recall r: 1 for r <= 0.25, 2/3 for r in (0.25, 0.5], 0.6 for
  // r in (0.5, 0.75], 0 above 0.75 (no rank reaches it).
  const std::vector<std::pair<double, bool>> scored{
      {0.6, false}, {0.9, true}, {0.5, true}, {0.8, false}, {0.7, true}};

  // COCO: r = 0 .. 0.25 is 26 points at 1 (0.25 is reached exactly, so it counts);
  // 0.26 .. 0.50 is 25 points at 2/3; 0.51 .. 0.75 is 25 at 0.6; 0.76 .. 1 is 25 at 0.
  // (26 + 50/3 + 15) / 101 = (173/3) / 101 = 173/303 = 0.570957.
  CHECK(*evals::average_precision(scored, 4, suite::COCO_101) == Approx(173.0 / 303));
  // VOC all-point: recall steps 0 -> 0.25 at 1, 0.25 -> 0.5 at 2/3, 0.5 -> 0.75 at 0.6,
  // 0.75 -> 1 (the appended point) at 0: 0.25 + 1/6 + 0.15 = 17/30 = 0.566667.
  CHECK(*evals::average_precision(scored, 4, suite::VOC_ALL_POINTS) == Approx(17.0 / 30));
  // KITTI: r = 1/40 .. 10/40 (0.25) is 10 points at 1; 11/40 .. 20/40 is 10 at 2/3;
  // 21/40 .. 30/40 is 10 at 0.6; 31/40 .. 1 is 10 at 0.
  // (10 + 20/3 + 6) / 40 = (68/3) / 40 = 17/30 = 0.566667.
  CHECK(*evals::average_precision(scored, 4, suite::KITTI_40) == Approx(17.0 / 30));
  // VOC 11: r = 0, 0.1, 0.2 at 1; 0.3, 0.4, 0.5 at 2/3; 0.6, 0.7 at 0.6; 0.8, 0.9, 1 at 0.
  // (3 + 2 + 1.2) / 11 = 6.2 / 11 = 31/55 = 0.563636.
  CHECK(*evals::average_precision(scored, 4, suite::VOC_11) == Approx(31.0 / 55));
}

TEST_CASE("a perfect detector has an average precision of one", "[detection]") {
  // Recall 1/3, 2/3, 1 at precision 1 each: the envelope is 1 everywhere.
  const std::vector<std::pair<double, bool>> scored{{0.9, true}, {0.7, true}, {0.4, true}};
  for (auto interpolation :
       {suite::COCO_101, suite::VOC_ALL_POINTS, suite::KITTI_40, suite::VOC_11}) {
    CHECK(*evals::average_precision(scored, 3, interpolation) == Approx(1.0));
  }
}

TEST_CASE("precision is zero past the highest recall reached", "[detection]") {
  // Two true positives of 4 truths: precision 1 up to recall 0.5, nothing beyond.
  const std::vector<std::pair<double, bool>> scored{{0.9, true}, {0.8, true}};
  // COCO: r = 0 .. 0.5 is 51 points at 1: 51/101 = 0.50495.
  CHECK(*evals::average_precision(scored, 4, suite::COCO_101) == Approx(51.0 / 101));
  // VOC all-point: 0.5 * 1 + 0.5 * 0 = 0.5.
  CHECK(*evals::average_precision(scored, 4, suite::VOC_ALL_POINTS) == Approx(0.5));
  // KITTI: 1/40 .. 20/40 is 20 points at 1: 20/40 = 0.5.
  CHECK(*evals::average_precision(scored, 4, suite::KITTI_40) == Approx(0.5));
  // VOC 11: 0 .. 0.5 is 6 points at 1: 6/11 = 0.54545.
  CHECK(*evals::average_precision(scored, 4, suite::VOC_11) == Approx(6.0 / 11));
}

TEST_CASE("no detections give an average precision of zero", "[detection]") {
  for (auto interpolation :
       {suite::COCO_101, suite::VOC_ALL_POINTS, suite::KITTI_40, suite::VOC_11}) {
    const auto ap = evals::average_precision({}, 4, interpolation);
    REQUIRE(ap.has_value());
    CHECK(*ap == 0);
  }
}

TEST_CASE("average precision is undefined without truth", "[detection]") {
  CHECK_FALSE(evals::average_precision({}, 0, suite::COCO_101).has_value());
  CHECK_FALSE(evals::average_precision({{0.9, false}}, 0, suite::VOC_ALL_POINTS).has_value());
}

TEST_CASE("detections ranked after every truth is found do not change average precision",
          "[detection]") {
  // TP, FP, TP with 2 truths: recall 0.5, 0.5, 1 at precision 1, 0.5, 2/3.
  // Envelope: 1 for r <= 0.5, 2/3 for r in (0.5, 1].
  std::vector<std::pair<double, bool>> scored{{0.9, true}, {0.8, false}, {0.7, true}};
  // COCO: 51 points (0 .. 0.5) at 1 and 50 at 2/3: (51 + 100/3) / 101 = 253/303 = 0.834983.
  const double coco = 253.0 / 303;
  // VOC all-point: 0.5 * 1 + 0.5 * 2/3 = 5/6.
  const double voc = 5.0 / 6;
  // KITTI: 20 points at 1 and 20 at 2/3: (20 + 40/3) / 40 = 5/6.
  const double kitti = 5.0 / 6;
  // VOC 11: 0 .. 0.5 is 6 points at 1, 0.6 .. 1 is 5 at 2/3: (6 + 10/3) / 11 = 28/33.
  const double voc11 = 28.0 / 33;
  CHECK(*evals::average_precision(scored, 2, suite::COCO_101) == Approx(coco));
  CHECK(*evals::average_precision(scored, 2, suite::VOC_ALL_POINTS) == Approx(voc));
  CHECK(*evals::average_precision(scored, 2, suite::KITTI_40) == Approx(kitti));
  CHECK(*evals::average_precision(scored, 2, suite::VOC_11) == Approx(voc11));
  // Three more false positives, lower scores (listed first: the ranking is by score).
  // Precision at recall 1 falls to 2/4, 2/5, 2/6, but the envelope keeps 2/3 from rank 3.
  scored.insert(scored.begin(), {{0.3, false}, {0.2, false}, {0.1, false}});
  CHECK(*evals::average_precision(scored, 2, suite::COCO_101) == Approx(coco));
  CHECK(*evals::average_precision(scored, 2, suite::VOC_ALL_POINTS) == Approx(voc));
  CHECK(*evals::average_precision(scored, 2, suite::KITTI_40) == Approx(kitti));
  CHECK(*evals::average_precision(scored, 2, suite::VOC_11) == Approx(voc11));
}

TEST_CASE("tied scores keep their input order in the ranking", "[detection]") {
  // FP then TP at the same score, 1 truth: recall 0, 1 at precision 0, 1/2; the envelope
  // is 1/2 at every recall, so the area is 1 * 1/2.
  CHECK(*evals::average_precision({{0.5, false}, {0.5, true}}, 1, suite::VOC_ALL_POINTS) ==
        Approx(0.5));
  // TP first: precision 1 at recall 1, area 1.
  CHECK(*evals::average_precision({{0.5, true}, {0.5, false}}, 1, suite::VOC_ALL_POINTS) ==
        Approx(1.0));
}

TEST_CASE("more true positives than truths is a programming error", "[detection]") {
  CHECK_THROWS_AS(evals::average_precision({{0.9, true}, {0.8, true}}, 1, suite::COCO_101),
                  std::invalid_argument);
}

TEST_CASE("interpolations and matchings have short names for reports", "[detection]") {
  CHECK(std::string(evals::interpolation_label(suite::COCO_101)) == "COCO 101-point");
  CHECK(std::string(evals::interpolation_label(suite::VOC_ALL_POINTS)) == "VOC all-point");
  CHECK(std::string(evals::interpolation_label(suite::KITTI_40)) == "KITTI 40-point");
  CHECK(std::string(evals::interpolation_label(suite::VOC_11)) == "VOC 11-point");
  CHECK(std::string(evals::matching_label(suite::IOU_2D)) == "2D IoU");
  CHECK(std::string(evals::matching_label(suite::IOU_BEV)) == "BEV IoU");
  CHECK(std::string(evals::matching_label(suite::CENTER_DISTANCE)) == "centre distance");
}
