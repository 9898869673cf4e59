#include "hil/evals/detection.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <stdexcept>

#include <fmt/format.h>

namespace hil::evals {

double Box2::area() const {
  // Inverted boxes count as empty rather than as negative area.
  return std::max(0.0, x1 - x0) * std::max(0.0, y1 - y0);
}

namespace {

double intersection_area(const Box2& a, const Box2& b) {
  const double w = std::min(a.x1, b.x1) - std::max(a.x0, b.x0);
  const double h = std::min(a.y1, b.y1) - std::max(a.y0, b.y0);
  return w > 0 && h > 0 ? w * h : 0.0;
}

struct Point {
  double x = 0, y = 0;
};

// Twice the signed area of triangle (o, a, b): positive when b lies left of o -> a.
double cross(const Point& o, const Point& a, const Point& b) {
  return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

// The footprint's corners, counter-clockwise, relative to (ox, oy): subtracting
// a nearby origin first keeps the digits that matter for boxes far from ego.
std::array<Point, 4> footprint(const clip::Cuboid& c, double ox, double oy) {
  const double cx = c.x() - ox, cy = c.y() - oy;
  const double ux = std::cos(c.yaw()), uy = std::sin(c.yaw());  // along the length
  const double hl = c.length() / 2, hw = c.width() / 2;         // across is (-uy, ux)
  // (+along, -across), (+along, +across), (-along, +across), (-along, -across).
  return {{{cx + hl * ux + hw * uy, cy + hl * uy - hw * ux},
           {cx + hl * ux - hw * uy, cy + hl * uy + hw * ux},
           {cx - hl * ux - hw * uy, cy - hl * uy + hw * ux},
           {cx - hl * ux + hw * uy, cy - hl * uy - hw * ux}}};
}

// One Sutherland-Hodgman step: the part of `subject` on the left of the
// directed edge e0 -> e1 (the inside of a counter-clockwise convex polygon).
// Points on the edge count as inside, so identical boxes keep every corner.
std::vector<Point> clip_left_of(const std::vector<Point>& subject, const Point& e0,
                                const Point& e1) {
  std::vector<Point> out;
  const std::size_t n = subject.size();
  out.reserve(n + 1);
  for (std::size_t i = 0; i < n; ++i) {
    const Point& prev = subject[(i + n - 1) % n];
    const Point& cur = subject[i];
    const double sp = cross(e0, e1, prev), sc = cross(e0, e1, cur);
    const bool prev_in = sp >= 0, cur_in = sc >= 0;
    if (prev_in != cur_in) {
      // Exactly one of sp, sc is negative, so sp - sc is never zero.
      const double t = sp / (sp - sc);
      out.push_back({prev.x + t * (cur.x - prev.x), prev.y + t * (cur.y - prev.y)});
    }
    if (cur_in) out.push_back(cur);
  }
  return out;
}

double polygon_area(const std::vector<Point>& p) {
  double twice = 0;
  for (std::size_t i = 0, n = p.size(); i < n; ++i) {
    const Point& a = p[i];
    const Point& b = p[(i + 1) % n];
    twice += a.x * b.y - b.x * a.y;
  }
  // Counter-clockwise in, counter-clockwise out; a degenerate sliver (touching
  // boxes) may round to a tiny negative value.
  return std::max(0.0, twice / 2);
}

bool known(suite::Matching m) {
  return m == suite::IOU_2D || m == suite::IOU_BEV || m == suite::CENTER_DISTANCE;
}

}  // namespace

double iou_2d(const Box2& a, const Box2& b) {
  const double area_a = a.area(), area_b = b.area();
  if (area_a <= 0 || area_b <= 0) return 0;
  const double inter = intersection_area(a, b);
  return inter / (area_a + area_b - inter);
}

double intersection_over_first(const Box2& a, const Box2& b) {
  const double area_a = a.area();
  if (area_a <= 0 || b.area() <= 0) return 0;
  return intersection_area(a, b) / area_a;
}

double bev_iou(const clip::Cuboid& a, const clip::Cuboid& b) {
  // Written so that NaN sizes also give 0.
  if (!(a.length() > 0 && a.width() > 0 && b.length() > 0 && b.width() > 0)) return 0;
  const auto pa = footprint(a, a.x(), a.y());
  const auto pb = footprint(b, a.x(), a.y());
  std::vector<Point> inter(pa.begin(), pa.end());
  for (std::size_t i = 0; i < pb.size() && !inter.empty(); ++i) {
    inter = clip_left_of(inter, pb[i], pb[(i + 1) % pb.size()]);
  }
  const double area_a = a.length() * a.width(), area_b = b.length() * b.width();
  // Rounding in the clipped corners can push the intersection a few ulps past
  // the smaller box (identical boxes); clamp so that the IoU never exceeds 1.
  const double overlap = std::min({polygon_area(inter), area_a, area_b});
  return overlap / (area_a + area_b - overlap);
}

double centre_distance(const clip::Cuboid& a, const clip::Cuboid& b) {
  return std::hypot(a.x() - b.x(), a.y() - b.y());
}

bool DistanceBand::contains(double distance) const {
  return min <= distance && (max == 0 || distance < max);
}

FrameMatch match_frame(const std::vector<DetectionBox>& detections,
                       const std::vector<TruthBox>& truths, suite::Matching matching,
                       double threshold, const std::vector<Box2>& ignore_regions,
                       const DistanceBand& band) {
  if (!known(matching)) {
    throw std::invalid_argument(fmt::format("match_frame: unknown matching {}", int(matching)));
  }
  const bool three_d = matching != suite::IOU_2D;
  const bool by_distance = matching == suite::CENTER_DISTANCE;
  // Checked up front, so that a missing cuboid fails the same way whether or
  // not this frame happened to need the comparison.
  for (std::size_t i = 0; i < detections.size(); ++i) {
    if (std::isnan(detections[i].score)) {
      throw std::invalid_argument(fmt::format("match_frame: detection {} has a NaN score", i));
    }
    if (three_d && !detections[i].cuboid) {
      throw std::invalid_argument(
          fmt::format("match_frame: detection {} has no cuboid, which {} matching needs", i,
                      matching_label(matching)));
    }
  }
  if (three_d) {
    for (std::size_t i = 0; i < truths.size(); ++i) {
      if (!truths[i].cuboid) {
        throw std::invalid_argument(
            fmt::format("match_frame: truth {} has no cuboid, which {} matching needs", i,
                        matching_label(matching)));
      }
    }
  }

  auto overlap = [&](const DetectionBox& d, const TruthBox& t) {
    switch (matching) {
      case suite::IOU_BEV:
        return bev_iou(*d.cuboid, *t.cuboid);
      case suite::CENTER_DISTANCE:
        return centre_distance(*d.cuboid, *t.cuboid);
      default:
        return iou_2d(d.box, t.box);
    }
  };
  // A distance is better when smaller and must not exceed the threshold; an
  // IoU is better when larger and must reach it.
  auto reaches = [&](double v) { return by_distance ? v <= threshold : v >= threshold; };
  auto better = [&](double v, double best) { return by_distance ? v < best : v > best; };

  std::vector<std::size_t> order(detections.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return detections[a].score > detections[b].score;
  });

  FrameMatch result;
  result.outcomes.assign(detections.size(), MatchOutcome::kFalsePositive);
  for (const auto& t : truths) result.truths += t.ignored ? 0 : 1;
  std::vector<bool> taken(truths.size(), false);

  for (std::size_t di : order) {
    const DetectionBox& d = detections[di];
    // The best candidate of each kind; on equal overlap the first truth in
    // input order keeps it.
    std::ptrdiff_t counting = -1, ignored = -1;
    double counting_value = 0, ignored_value = 0;
    for (std::size_t ti = 0; ti < truths.size(); ++ti) {
      if (taken[ti]) continue;
      const double v = overlap(d, truths[ti]);
      if (!reaches(v)) continue;
      auto& best = truths[ti].ignored ? ignored : counting;
      auto& best_value = truths[ti].ignored ? ignored_value : counting_value;
      if (best < 0 || better(v, best_value)) {
        best = static_cast<std::ptrdiff_t>(ti);
        best_value = v;
      }
    }
    MatchOutcome& outcome = result.outcomes[di];
    if (counting >= 0) {
      taken[static_cast<std::size_t>(counting)] = true;
      ++result.matched;
      outcome = MatchOutcome::kTruePositive;
    } else if (ignored >= 0) {
      // Consumed, as in COCOeval: a second detection of the same ignored
      // object is a duplicate and falls through to the rules below next time.
      taken[static_cast<std::size_t>(ignored)] = true;
      outcome = MatchOutcome::kIgnored;
    } else if (!three_d &&
               std::any_of(ignore_regions.begin(), ignore_regions.end(), [&](const Box2& r) {
                 return intersection_over_first(d.box, r) >= 0.5;
               })) {
      outcome = MatchOutcome::kIgnored;
    } else if (three_d && !band.contains(std::hypot(d.cuboid->x(), d.cuboid->y()))) {
      outcome = MatchOutcome::kIgnored;
    }
  }
  return result;
}

std::optional<double> average_precision(std::vector<std::pair<double, bool>> scored,
                                        uint64_t truths, suite::Interpolation interpolation) {
  if (interpolation != suite::COCO_101 && interpolation != suite::VOC_ALL_POINTS &&
      interpolation != suite::KITTI_40 && interpolation != suite::VOC_11) {
    throw std::invalid_argument(
        fmt::format("average_precision: unknown interpolation {}", int(interpolation)));
  }
  if (truths == 0) return std::nullopt;
  for (const auto& s : scored) {
    // NaN would break the sort's ordering.
    if (std::isnan(s.first)) throw std::invalid_argument("average_precision: NaN score");
  }
  // Stable, as pycocotools' mergesort: tied detections keep their input order.
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });

  const std::size_t n = scored.size();
  std::vector<double> recall(n), precision(n);
  uint64_t tp = 0;
  for (std::size_t k = 0; k < n; ++k) {
    if (scored[k].second) ++tp;
    // Divisions (not running sums) so that recall 1/4 is the same double as
    // the threshold 25/100.0 and "reaches" compares exactly.
    recall[k] = double(tp) / double(truths);
    precision[k] = double(tp) / double(k + 1);
  }
  if (tp > truths) {
    throw std::invalid_argument(
        fmt::format("average_precision: {} true positives for {} truths (each truth matches once)",
                    tp, truths));
  }
  // Envelope: from here on precision[k] is the best precision at rank k or later.
  for (std::size_t k = n; k-- > 1;) precision[k - 1] = std::max(precision[k - 1], precision[k]);

  // The envelope at recall r: the first rank whose recall reaches r (recall
  // only grows), 0 when none does (pycocotools' searchsorted, side='left').
  auto at = [&](double r) {
    const auto it = std::lower_bound(recall.begin(), recall.end(), r);
    return it == recall.end() ? 0.0 : precision[std::size_t(it - recall.begin())];
  };
  auto sampled = [&](int first, int last, double denominator) {
    double sum = 0;
    for (int i = first; i <= last; ++i) sum += at(i / denominator);
    return sum / (last - first + 1);
  };

  switch (interpolation) {
    case suite::COCO_101:
      return sampled(0, 100, 100.0);
    case suite::KITTI_40:
      return sampled(1, 40, 40.0);
    case suite::VOC_11:
      return sampled(0, 10, 10.0);
    default: {
      // VOCap: recall 0 in front and recall 1 with precision 0 at the end; the
      // last step (to 1) therefore adds nothing and is left out.
      double area = 0, previous = 0;
      for (std::size_t k = 0; k < n; ++k) {
        if (recall[k] != previous) area += (recall[k] - previous) * precision[k];
        previous = recall[k];
      }
      return area;
    }
  }
}

const char* interpolation_label(suite::Interpolation interpolation) {
  switch (interpolation) {
    case suite::COCO_101:
      return "COCO 101-point";
    case suite::VOC_ALL_POINTS:
      return "VOC all-point";
    case suite::KITTI_40:
      return "KITTI 40-point";
    case suite::VOC_11:
      return "VOC 11-point";
    default:
      return "unknown interpolation";
  }
}

const char* matching_label(suite::Matching matching) {
  switch (matching) {
    case suite::IOU_2D:
      return "2D IoU";
    case suite::IOU_BEV:
      return "BEV IoU";
    case suite::CENTER_DISTANCE:
      return "centre distance";
    default:
      return "unknown matching";
  }
}

}  // namespace hil::evals
