#include "frame_overlay.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "hil/evals/camera.h"
#include "hil/evals/model_interface.h"

namespace hil::viewer {
namespace {

bool project(const hil::clip::Camera& camera, double x, double y, double z, QPointF* out) {
  double u = 0, v = 0;
  if (!hil::evals::project_point(camera, x, y, z, &u, &v)) return false;
  *out = QPointF(u, v);
  return true;
}

QPolygonF project_line(const hil::clip::Camera& camera, const hil::clip::LaneLine& line) {
  std::vector<double> xs, ys;
  for (const auto& point : line.points()) {
    xs.push_back(point.x());
    ys.push_back(point.y());
  }
  return project_ground_polyline(camera, xs, ys);
}

// The y of a polyline at x (linear between its stations), if x is within them.
std::optional<double> y_at(const hil::clip::LaneLine& line, double x) {
  for (int i = 1; i < line.points_size(); ++i) {
    const auto &a = line.points(i - 1), &b = line.points(i);
    if (a.x() <= x && x <= b.x() && b.x() > a.x()) {
      return a.y() + (b.y() - a.y()) * (x - a.x()) / (b.x() - a.x());
    }
  }
  return std::nullopt;
}

QString class_name(hil::clip::ObjectClass cls) {
  return QString::fromLatin1(hil::evals::object_class_name(cls));
}

// The cuboid's 12 edges, each a two-point polyline; none when a corner is
// behind the camera (as evals::draw_labels).
std::vector<QPolygonF> cuboid_edges(const hil::clip::Camera& camera, const hil::clip::Cuboid& c) {
  const double cs = std::cos(c.yaw()), sn = std::sin(c.yaw());
  QPointF corner[8];
  for (int i = 0; i < 8; ++i) {
    const double lx = (i & 1 ? 0.5 : -0.5) * c.length(), ly = (i & 2 ? 0.5 : -0.5) * c.width();
    const double lz = (i & 4 ? 0.5 : -0.5) * c.height();
    if (!project(camera, c.x() + cs * lx - sn * ly, c.y() + sn * lx + cs * ly, c.z() + lz,
                 &corner[i])) {
      return {};
    }
  }
  static constexpr int kEdges[12][2] = {{0, 1}, {2, 3}, {4, 5}, {6, 7}, {0, 2}, {1, 3},
                                        {4, 6}, {5, 7}, {0, 4}, {1, 5}, {2, 6}, {3, 7}};
  std::vector<QPolygonF> edges;
  for (const auto& e : kEdges) edges.push_back(QPolygonF{corner[e[0]], corner[e[1]]});
  return edges;
}

QPolygonF rectangle(double x0, double y0, double x1, double y1) {
  return QPolygonF{QPointF(x0, y0), QPointF(x1, y0), QPointF(x1, y1), QPointF(x0, y1)};
}

// Cuts the segment a-b to `r` (Liang-Barsky); false when none of it is inside.
bool clip_segment(const QRectF& r, QPointF* a, QPointF* b) {
  const double dx = b->x() - a->x(), dy = b->y() - a->y();
  double t0 = 0, t1 = 1;
  const double p[4] = {-dx, dx, -dy, dy};
  const double q[4] = {a->x() - r.left(), r.right() - a->x(), a->y() - r.top(),
                       r.bottom() - a->y()};
  for (int i = 0; i < 4; ++i) {
    if (p[i] == 0) {
      if (q[i] < 0) return false;
      continue;
    }
    const double t = q[i] / p[i];
    if (p[i] < 0) {
      t0 = std::max(t0, t);
    } else {
      t1 = std::min(t1, t);
    }
    if (t0 > t1) return false;
  }
  const QPointF start = *a;
  *a = start + QPointF(dx, dy) * t0;
  *b = start + QPointF(dx, dy) * t1;
  return true;
}

// Qt strokes a whole line before clipping it to the widget: a lane line a
// side camera sees at a grazing angle projects millions of pixels away and
// took tens of milliseconds to draw. So shapes are cut to the image grown by
// its own size on each side (nothing visible changes); a shape that leaves
// those bounds becomes the open pieces inside them.
std::vector<OverlayShape> clipped_to_view(const hil::clip::Camera& camera,
                                          std::vector<OverlayShape> shapes) {
  const double w = camera.width(), h = camera.height();
  const QRectF bounds(-w, -h, 3 * w, 3 * h);
  std::vector<OverlayShape> out;
  out.reserve(shapes.size());
  for (auto& shape : shapes) {
    if (std::all_of(shape.points.begin(), shape.points.end(),
                    [&](const QPointF& p) { return bounds.contains(p); })) {
      out.push_back(std::move(shape));
      continue;
    }
    QPolygonF ring = shape.points;
    if (shape.closed && !ring.isEmpty()) ring << ring.first();
    QPolygonF piece;
    auto flush = [&] {
      if (piece.size() >= 2) {
        OverlayShape part = shape;
        part.points = piece;
        part.closed = false;
        out.push_back(std::move(part));
      }
      piece.clear();
    };
    for (qsizetype i = 1; i < ring.size(); ++i) {
      QPointF a = ring[i - 1], b = ring[i];
      if (!clip_segment(bounds, &a, &b)) {
        flush();
        continue;
      }
      if (!piece.isEmpty() && piece.last() != a) flush();
      if (piece.isEmpty()) piece << a;
      piece << b;
      if (b != ring[i]) flush();  // it leaves the bounds here
    }
    flush();
  }
  return out;
}

OverlayShape needle(const hil::clip::Camera& camera, double steering, double length_fraction) {
  const double w = camera.width(), h = camera.height();
  const QPointF pivot(w / 2, h * 0.97);
  const double length = h * length_fraction;
  // Positive steering turns left: the needle leans left of vertical.
  const double angle = std::clamp(steering * kSteeringGain, -1.4, 1.4);
  OverlayShape shape;
  shape.points =
      QPolygonF{pivot, pivot + QPointF(-std::sin(angle) * length, -std::cos(angle) * length)};
  return shape;
}

void add_truth_objects(const hil::clip::Camera& camera, const hil::clip::Frame& frame,
                       std::vector<OverlayShape>* out) {
  for (const auto& object : frame.labels().objects()) {
    if (object.visibility() == hil::clip::OUT_OF_VIEW) continue;
    const OverlayKind kind = object.visibility() == hil::clip::FULLY_OCCLUDED
                                 ? OverlayKind::kOccludedObject
                                 : OverlayKind::kObject;
    if (object.has_cuboid()) {
      const QString label = QStringLiteral("%1 %2 m")
                                .arg(class_name(object.cls()))
                                .arg(object.cuboid().x(), 0, 'f', 1);
      for (auto& edge : cuboid_edges(camera, object.cuboid())) {
        out->push_back({kind, true, Side::kA, std::move(edge), false, label});
      }
      continue;
    }
    // Labelled in 2D only: its box in this camera, if it has one.
    for (const auto& box : object.boxes()) {
      if (box.camera() != camera.name()) continue;
      out->push_back({kind, true, Side::kA, rectangle(box.x0(), box.y0(), box.x1(), box.y1()), true,
                      class_name(object.cls())});
    }
  }
  for (const auto& region : frame.labels().ignore_regions()) {
    if (region.camera() != camera.name()) continue;
    out->push_back({OverlayKind::kIgnoreRegion,
                    true,
                    Side::kA,
                    rectangle(region.x0(), region.y0(), region.x1(), region.y1()),
                    true,
                    {}});
  }
}

void add_detections(const hil::clip::Camera& camera, const hil::outputs::HeadOutput& head,
                    Side side, std::vector<OverlayShape>* out) {
  for (const auto& d : head.objects()) {
    const QString label =
        QStringLiteral("%1 %2").arg(class_name(d.cls())).arg(d.score(), 0, 'f', 2);
    const bool faint = d.score() < kConfidentScore;
    if (!d.camera().empty()) {
      if (d.camera() != camera.name()) continue;  // a 2D box belongs to one camera
      out->push_back({OverlayKind::kDetection, false, side,
                      rectangle(d.x0(), d.y0(), d.x1(), d.y1()), true, label, faint});
    } else if (d.has_cuboid()) {
      for (auto& edge : cuboid_edges(camera, d.cuboid())) {
        out->push_back(
            {OverlayKind::kDetection, false, side, std::move(edge), false, label, faint});
      }
    }
  }
}

std::optional<OverlayShape> lead_marker(const hil::clip::Camera& camera,
                                        const hil::clip::Frame& truth,
                                        const RevisionFrame::Lead& lead, Side side) {
  if (!lead.present || !(lead.distance > 0)) return std::nullopt;
  const double x = lead.distance;
  const double y = ego_lane_centre(truth, x);
  const double ys[4] = {y + kLeadWidth / 2, y - kLeadWidth / 2, y - kLeadWidth / 2,
                        y + kLeadWidth / 2};
  const double zs[4] = {0, 0, kLeadHeight, kLeadHeight};
  QPolygonF corners;
  for (int i = 0; i < 4; ++i) {
    QPointF p;
    if (!project(camera, x, ys[i], zs[i], &p)) return std::nullopt;
    corners << p;
  }
  return OverlayShape{OverlayKind::kLeadMarker,
                      false,
                      side,
                      corners,
                      true,
                      QStringLiteral("lead %1 m").arg(x, 0, 'f', 1)};
}

}  // namespace

QPolygonF project_ground_polyline(const hil::clip::Camera& camera, const std::vector<double>& xs,
                                  const std::vector<double>& ys) {
  QPolygonF out;
  QPointF p;
  const size_t n = std::min(xs.size(), ys.size());
  for (size_t i = 0; i < n; ++i) {
    if (project(camera, xs[i], ys[i], 0, &p)) out << p;
    if (i + 1 == n || !(xs[i + 1] > xs[i])) continue;
    const int steps = static_cast<int>(std::ceil((xs[i + 1] - xs[i]) / kLaneStep));
    for (int s = 1; s < steps; ++s) {
      const double t = static_cast<double>(s) / steps;
      if (project(camera, xs[i] + t * (xs[i + 1] - xs[i]), ys[i] + t * (ys[i + 1] - ys[i]), 0,
                  &p)) {
        out << p;
      }
    }
  }
  return out;
}

double ego_lane_centre(const hil::clip::Frame& frame, double x) {
  std::optional<double> left, right;
  for (const auto& line : frame.labels().lanes()) {
    const auto y = y_at(line, x);
    if (!y) continue;
    if (*y >= 0 && (!left || *y < *left)) left = y;
    if (*y < 0 && (!right || *y > *right)) right = y;
  }
  return left && right ? (*left + *right) / 2 : 0.0;
}

std::vector<OverlayShape> truth_overlay(const hil::clip::ClipHeader& header,
                                        const hil::clip::Frame& frame, int camera_index,
                                        const OverlayOptions& options) {
  std::vector<OverlayShape> out;
  if (!options.truth || camera_index < 0 || camera_index >= header.cameras_size()) return out;
  const auto& camera = header.cameras(camera_index);
  if (options.lanes) {
    for (const auto& line : frame.labels().lanes()) {
      out.push_back(
          {OverlayKind::kTruthLane, true, Side::kA, project_line(camera, line), false, {}});
    }
    for (const auto& line : frame.labels().road_edges()) {
      out.push_back(
          {OverlayKind::kRoadEdge, true, Side::kA, project_line(camera, line), false, {}});
    }
  }
  if (options.objects) add_truth_objects(camera, frame, &out);
  return clipped_to_view(camera, std::move(out));
}

std::vector<OverlayShape> outputs_overlay(const hil::clip::ClipHeader& header, int camera_index,
                                          const RevisionFrame& now, const hil::clip::Frame& truth,
                                          Side side, const OverlayOptions& options) {
  std::vector<OverlayShape> out;
  if (now.status != RevisionFrame::Status::kOutputs || camera_index < 0 ||
      camera_index >= header.cameras_size()) {
    return out;
  }
  const auto& camera = header.cameras(camera_index);
  if (now.outputs != nullptr) {
    for (const auto& head : now.outputs->heads()) {
      if (options.lanes) {
        for (const auto& lane : head.lanes()) {
          const std::vector<double> xs(lane.x().begin(), lane.x().end());
          const std::vector<double> ys(lane.y().begin(), lane.y().end());
          out.push_back({OverlayKind::kPredictedLane,
                         false,
                         side,
                         project_ground_polyline(camera, xs, ys),
                         false,
                         {}});
        }
      }
      if (options.objects) add_detections(camera, head, side, &out);
    }
  }
  if (options.lead) {
    for (const auto& lead : now.leads) {
      if (auto marker = lead_marker(camera, truth, lead, side)) out.push_back(std::move(*marker));
    }
  }
  return clipped_to_view(camera, std::move(out));
}

std::vector<OverlayShape> steering_needles(const hil::clip::Camera& camera,
                                           const RevisionFrame& now, Side side) {
  std::vector<OverlayShape> out;
  if (now.status != RevisionFrame::Status::kOutputs) return out;
  for (const auto& s : now.steering) {
    OverlayShape shape = needle(camera, s.value, 0.3);
    shape.kind = OverlayKind::kSteering;
    shape.truth = false;
    shape.side = side;
    shape.label = QStringLiteral("%1 rad").arg(static_cast<double>(s.value), 0, 'f', 3);
    out.push_back(std::move(shape));
  }
  return out;
}

OverlayShape truth_steering_needle(const hil::clip::Camera& camera, double steering) {
  OverlayShape shape = needle(camera, steering, 0.22);
  shape.kind = OverlayKind::kTruthSteering;
  shape.label = QStringLiteral("%1 rad").arg(steering, 0, 'f', 3);
  return shape;
}

}  // namespace hil::viewer
