#include "frame_overlay.h"

#include <algorithm>
#include <cmath>

#include "hil/evals/clip_generator.h"

namespace hil::viewer {
namespace {

bool project(const hil::clip::Camera& camera, double x, double y, double z, QPointF* out) {
  double u = 0, v = 0;
  if (!hil::evals::project_point(camera, x, y, z, &u, &v)) return false;
  *out = QPointF(u, v);
  return true;
}

QPolygonF project_line(const hil::clip::Camera& camera, const hil::clip::LaneLine& line) {
  QPolygonF out;
  QPointF p;
  for (const auto& point : line.points()) {
    if (project(camera, point.x(), point.y(), 0, &p)) out << p;
  }
  return out;
}

const char* class_name(hil::clip::ObjectClass cls) {
  switch (cls) {
    case hil::clip::CLASS_CAR:
      return "car";
    case hil::clip::CLASS_TRUCK:
      return "truck";
    case hil::clip::CLASS_PEDESTRIAN:
      return "pedestrian";
    case hil::clip::CLASS_CYCLIST:
      return "cyclist";
    case hil::clip::CLASS_CONE:
      return "cone";
    default:
      return "object";
  }
}

// The cuboid's 12 edges, each a two-point polyline.
std::vector<QPolygonF> cuboid_edges(const hil::clip::Camera& camera, const hil::clip::Cuboid& c) {
  const double cs = std::cos(c.yaw()), sn = std::sin(c.yaw());
  QPointF corner[8];
  for (int i = 0; i < 8; ++i) {
    const double lx = (i & 1 ? 0.5 : -0.5) * c.length(), ly = (i & 2 ? 0.5 : -0.5) * c.width();
    const double lz = (i & 4 ? 0.5 : -0.5) * c.height();
    if (!project(camera, c.x() + cs * lx - sn * ly, c.y() + sn * lx + cs * ly, c.z() + lz,
                 &corner[i])) {
      return {};  // partly behind the camera: not drawn (as evals::draw_labels)
    }
  }
  static constexpr int kEdges[12][2] = {{0, 1}, {2, 3}, {4, 5}, {6, 7}, {0, 2}, {1, 3},
                                        {4, 6}, {5, 7}, {0, 4}, {1, 5}, {2, 6}, {3, 7}};
  std::vector<QPolygonF> edges;
  for (const auto& e : kEdges) edges.push_back(QPolygonF{corner[e[0]], corner[e[1]]});
  return edges;
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

}  // namespace

QPolygonF project_ground_line(const hil::clip::Camera& camera, double offset, double slope,
                              double x0, double x1, int samples) {
  QPolygonF out;
  QPointF p;
  for (int i = 0; i <= samples; ++i) {
    // Denser near the camera, where perspective spreads the points.
    const double t = static_cast<double>(i) / samples;
    const double x = x0 * std::pow(x1 / x0, t);
    if (project(camera, x, offset + slope * x, 0, &p)) out << p;
  }
  return out;
}

std::vector<OverlayShape> truth_overlay(const hil::clip::ClipHeader& header,
                                        const hil::clip::Frame& frame,
                                        const OverlayOptions& options) {
  std::vector<OverlayShape> out;
  if (header.cameras_size() == 0) return out;
  const auto& camera = header.cameras(0);
  if (options.truth_lanes) {
    for (const auto& line : frame.labels().lanes()) {
      out.push_back(
          {OverlayKind::kTruthLane, true, Side::kA, project_line(camera, line), false, {}});
    }
    for (const auto& line : frame.labels().road_edges()) {
      out.push_back(
          {OverlayKind::kRoadEdge, true, Side::kA, project_line(camera, line), false, {}});
    }
  }
  if (options.objects) {
    for (const auto& object : frame.labels().objects()) {
      if (object.visibility() == hil::clip::OUT_OF_VIEW) continue;
      const OverlayKind kind = object.visibility() == hil::clip::FULLY_OCCLUDED
                                   ? OverlayKind::kOccludedObject
                                   : OverlayKind::kObject;
      const QString label = QStringLiteral("%1 %2 m")
                                .arg(QString::fromLatin1(class_name(object.cls())))
                                .arg(object.cuboid().x(), 0, 'f', 1);
      for (auto& edge : cuboid_edges(camera, object.cuboid())) {
        out.push_back({kind, true, Side::kA, std::move(edge), false, label});
      }
    }
  }
  return out;
}

std::vector<OverlayShape> prediction_overlay(const hil::clip::Camera& camera,
                                             const Prediction& prediction, Side side,
                                             const OverlayOptions& options) {
  std::vector<OverlayShape> out;
  if (!prediction.valid) return out;
  const double centre = -prediction.lane_offset;
  const double slope = -std::tan(static_cast<double>(prediction.lane_heading));
  if (options.predicted_lanes) {
    for (double edge : {kLaneHalfWidth, -kLaneHalfWidth}) {
      out.push_back(
          {OverlayKind::kPredictedLane,
           false,
           side,
           project_ground_line(camera, centre + edge, slope, kPredictedLaneNear, kPredictedLaneFar),
           false,
           {}});
    }
    out.push_back(
        {OverlayKind::kPredictedCentre,
         false,
         side,
         project_ground_line(camera, centre, slope, kPredictedLaneNear, kPredictedLaneFar),
         false,
         {}});
  }
  if (options.lead && prediction.lead_present() && prediction.lead_distance > 0) {
    const double x = prediction.lead_distance;
    const double y = centre + slope * x;
    QPointF corners[4];
    const double ys[4] = {y + kLeadWidth / 2, y - kLeadWidth / 2, y - kLeadWidth / 2,
                          y + kLeadWidth / 2};
    const double zs[4] = {0, 0, kLeadHeight, kLeadHeight};
    bool visible = true;
    for (int i = 0; i < 4; ++i) visible = visible && project(camera, x, ys[i], zs[i], &corners[i]);
    if (visible) {
      out.push_back({OverlayKind::kLeadMarker, false, side,
                     QPolygonF{corners[0], corners[1], corners[2], corners[3]}, true,
                     QStringLiteral("lead %1 m").arg(x, 0, 'f', 1)});
    }
  }
  if (options.steering) {
    OverlayShape shape = needle(camera, prediction.steering, 0.3);
    shape.kind = OverlayKind::kSteering;
    shape.truth = false;
    shape.side = side;
    shape.label = QStringLiteral("%1 rad").arg(static_cast<double>(prediction.steering), 0, 'f', 3);
    out.push_back(std::move(shape));
  }
  return out;
}

OverlayShape truth_steering_needle(const hil::clip::Camera& camera, const hil::clip::Frame& frame) {
  OverlayShape shape = needle(camera, frame.control().steering(), 0.22);
  shape.kind = OverlayKind::kTruthSteering;
  shape.label = QStringLiteral("%1 rad").arg(frame.control().steering(), 0, 'f', 3);
  return shape;
}

}  // namespace hil::viewer
