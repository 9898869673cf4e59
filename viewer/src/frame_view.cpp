#include "frame_view.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <QPainter>
#include <QPainterPath>

#include "clip_frames.h"
#include "revision_style.h"

namespace hil::viewer {
namespace {

constexpr int kMargin = 6;
constexpr int kTitleHeight = 18;
constexpr int kCaptionHeight = 16;
constexpr int kGap = 8;      // between panels
constexpr int kCellGap = 3;  // between the cameras of a panel

QString signed_value(double v, int decimals) {
  if (std::isnan(v)) return QStringLiteral("—");
  return (v > 0 ? QStringLiteral("+") : QString()) + QString::number(v, 'f', decimals);
}

QPen pen_for(const OverlayShape& shape) {
  switch (shape.kind) {
    case OverlayKind::kTruthLane:
      return QPen(truth_lane_colour(), 1.6);
    case OverlayKind::kRoadEdge:
      return QPen(road_edge_colour(), 1.6);
    case OverlayKind::kObject:
      return QPen(object_colour(), 1.6);
    case OverlayKind::kOccludedObject: {
      QColor dim = object_colour();
      dim.setAlphaF(0.5);
      return QPen(dim, 1.2, Qt::DashLine);
    }
    case OverlayKind::kIgnoreRegion:
      return QPen(ignore_region_colour(), 1.2, Qt::DotLine);
    case OverlayKind::kPredictedLane:
      return QPen(side_colour(shape.side), 2.4);
    case OverlayKind::kDetection: {
      QColor colour = side_colour(shape.side);
      if (shape.faint) colour.setAlphaF(0.35);
      return QPen(colour, shape.faint ? 1.0 : 2.0);
    }
    case OverlayKind::kLeadMarker:
      return QPen(side_colour(shape.side), 2.4);
    case OverlayKind::kSteering:
      return QPen(side_colour(shape.side), 3.2, Qt::SolidLine, Qt::RoundCap);
    case OverlayKind::kTruthSteering:
      return QPen(QColor(Qt::white), 2.0, Qt::SolidLine, Qt::RoundCap);
  }
  return QPen(Qt::black);
}

// Where a panel's cameras go: `columns` per row, each image scaled by `scale`.
struct GridFit {
  double scale = 0;
  int columns = 1;
  bool stacked = false;  // panels one above the other (else side by side)
};

}  // namespace

const char* frame_mode_name(FrameMode mode) {
  switch (mode) {
    case FrameMode::kOverlay:
      return "overlay";
    case FrameMode::kFlicker:
      return "flicker";
    case FrameMode::kSideBySide:
      break;
  }
  return "side";
}

std::optional<FrameMode> frame_mode_from_name(const QString& name) {
  const QString n = name.trimmed().toLower();
  if (n == QLatin1String("side") || n == QLatin1String("side-by-side") || n == QLatin1String("1")) {
    return FrameMode::kSideBySide;
  }
  if (n == QLatin1String("overlay") || n == QLatin1String("2")) return FrameMode::kOverlay;
  if (n == QLatin1String("flicker") || n == QLatin1String("3")) return FrameMode::kFlicker;
  return std::nullopt;
}

const FrameView::CameraCell* FrameView::Panel::cell(int camera) const {
  for (const auto& c : cells) {
    if (c.camera == camera) return &c;
  }
  return nullptr;
}

FrameView::FrameView(QWidget* parent) : QWidget(parent) {
  setMinimumSize(320, 160);
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
  setToolTip(QStringLiteral(
      "Every camera of the clip with overlays. Green: ground-truth lane lines (yellow: road "
      "edges); red: labelled objects (dashed: fully occluded; dotted grey: ignored regions). "
      "Blue: A's lanes, detections and lead vehicle; orange: B's. Needles at the bottom of the "
      "forward camera: steering (white: ground truth). Keys 1/2/3 switch side by side, overlay "
      "and flicker (F flips A/B); C cycles the cameras, 0 shows them all."));
}

void FrameView::set_clip(ClipFrames* clip) {
  clip_ = clip;
  update();
}

void FrameView::set_results(const EvalResults* a, const EvalResults* b) {
  results_[0] = a;
  results_[1] = b;
  update();
}

void FrameView::set_revision_names(const QString& a, const QString& b) {
  names_[0] = a;
  names_[1] = b;
  update();
}

void FrameView::set_message(const QString& message) {
  message_ = message;
  update();
}

void FrameView::set_frame(int frame) {
  if (frame == frame_) return;
  frame_ = frame;
  update();
}

void FrameView::set_mode(FrameMode mode) {
  if (mode == mode_) return;
  mode_ = mode;
  update();
  emit mode_changed(mode);
}

void FrameView::set_options(const OverlayOptions& options) {
  options_ = options;
  update();
}

void FrameView::flip_flicker_side() {
  flicker_side_ = flicker_side_ == Side::kA ? Side::kB : Side::kA;
  update();
}

void FrameView::set_camera(int camera) {
  if (camera < 0) camera = kAllCameras;
  if (camera == camera_) return;
  camera_ = camera;
  update();
  emit camera_changed(camera_);
}

void FrameView::cycle_camera(int step) {
  const int cameras = clip_ != nullptr ? clip_->header().cameras_size() : 0;
  if (cameras <= 1) return;
  // Positions: 0 is every camera, 1..n camera 0..n-1.
  const int position = camera_ == kAllCameras || camera_ >= cameras ? 0 : camera_ + 1;
  const int next = ((position + step) % (cameras + 1) + cameras + 1) % (cameras + 1);
  set_camera(next == 0 ? kAllCameras : next - 1);
}

int FrameView::camera() const {
  if (clip_ != nullptr && camera_ >= clip_->header().cameras_size()) return kAllCameras;
  return camera_;
}

std::vector<int> FrameView::shown_cameras() const {
  if (clip_ == nullptr) return {};
  const auto& header = clip_->header();
  if (camera_ >= 0 && camera_ < header.cameras_size()) return {camera_};
  std::vector<int> all(static_cast<size_t>(header.cameras_size()));
  std::iota(all.begin(), all.end(), 0);
  // Left to right as they look: the most leftward yaw first (positive yaw
  // turns left), so a rig reads as one panorama.
  std::stable_sort(all.begin(), all.end(), [&](int x, int y) {
    return header.cameras(x).extrinsics().yaw() > header.cameras(y).extrinsics().yaw();
  });
  return all;
}

QStringList FrameView::captions_for(Side side) const {
  const EvalResults* r = results(side);
  const QString tag = QLatin1String(side_name(side));
  const QString who = QStringLiteral("%1 %2").arg(tag, names_[static_cast<int>(side)]);
  if (r == nullptr) return {QStringLiteral("%1: no result").arg(who)};
  const RevisionFrame now = revision_frame(*r, frame_);
  if (now.status == RevisionFrame::Status::kPastEnd) {
    return {QStringLiteral("%1: no result for frame %2 (the eval has %3)")
                .arg(who)
                .arg(frame_)
                .arg(std::max(r->series.frames(), r->outputs.frames()))};
  }
  if (now.status == RevisionFrame::Status::kGap) {
    return {QStringLiteral("%1: no outputs on frame %2 (a gap)").arg(who).arg(frame_)};
  }
  // Two short lines: a side-by-side panel is narrow. "gt": ground truth.
  // Outputs a metric compares with the truth first: what the gate judges.
  std::vector<std::string> outputs;
  for (const auto& name : r->series.names()) {
    if (name.rfind("out.", 0) == 0) outputs.push_back(name);
  }
  std::stable_partition(outputs.begin(), outputs.end(), [&](const std::string& name) {
    return r->series.has(truth_series_of(name));
  });
  QStringList scalars;
  for (const auto& name : outputs) {
    QString value = QStringLiteral("%1 %2").arg(QString::fromStdString(name.substr(4)),
                                                signed_value(r->series.at(name, frame_), 3));
    const std::string truth = truth_series_of(name);
    if (r->series.has(truth)) {
      value += QStringLiteral(" (gt %1)").arg(signed_value(r->series.at(truth, frame_), 3));
    }
    scalars << value;
  }
  QStringList heads;
  if (!r->outputs.stored()) {
    heads << (r->outputs_error.empty()
                  ? QStringLiteral("no outputs stored (lanes and objects not shown)")
                  : QStringLiteral("outputs unreadable: %1")
                        .arg(QString::fromStdString(r->outputs_error)));
  } else if (now.outputs != nullptr) {
    for (const auto& head : now.outputs->heads()) {
      const QString name = QString::fromStdString(head.head());
      const auto kind = r->kinds.find(head.head());
      if (kind == r->kinds.end()) continue;
      if (kind->second == hil::evals::HeadKind::kLanes) {
        heads << QStringLiteral("%1 %2 lines").arg(name).arg(head.lanes_size());
      } else if (kind->second == hil::evals::HeadKind::kObjects) {
        heads << QStringLiteral("%1 %2 objects").arg(name).arg(head.objects_size());
      }
    }
  }
  QStringList out;
  if (!scalars.isEmpty()) out << tag + QStringLiteral(" ") + scalars.join(QStringLiteral(" · "));
  if (!heads.isEmpty()) out << tag + QStringLiteral(" ") + heads.join(QStringLiteral(" · "));
  if (out.isEmpty()) out << QStringLiteral("%1: outputs on frame %2").arg(who).arg(frame_);
  return out;
}

std::vector<FrameView::Panel> FrameView::panels(std::optional<QSize> size) const {
  const QSize area = size.value_or(this->size());
  std::vector<Panel> out;
  if (clip_ == nullptr) return out;

  // Which revisions each panel shows.
  std::vector<std::vector<Side>> sides;
  switch (mode_) {
    case FrameMode::kSideBySide:
      sides = {{Side::kA}, {Side::kB}};
      break;
    case FrameMode::kOverlay:
      sides = {{Side::kA, Side::kB}};
      break;
    case FrameMode::kFlicker:
      sides = {{flicker_side_}};
      break;
  }
  const auto& header = clip_->header();
  const std::vector<int> cameras = shown_cameras();
  double camera_w = 1, camera_h = 1;
  for (int c : cameras) {
    camera_w = std::max(camera_w, static_cast<double>(header.cameras(c).width()));
    camera_h = std::max(camera_h, static_cast<double>(header.cameras(c).height()));
  }
  const int count = static_cast<int>(sides.size());
  const int n = std::max(1, static_cast<int>(cameras.size()));
  // Two caption lines per revision shown in a panel.
  const int captions = 2 * static_cast<int>(sides[0].size());
  const double chrome = kTitleHeight + captions * kCaptionHeight;

  // The largest images: panels side by side or stacked, cameras in 1..n
  // columns, whichever fits the area best.
  GridFit best;
  for (bool stacked : {false, true}) {
    if (stacked && count == 1) continue;
    const double panel_w = stacked ? area.width() - 2.0 * kMargin
                                   : (area.width() - 2.0 * kMargin - (count - 1) * kGap) / count;
    const double panel_h =
        stacked ? (area.height() - 2.0 * kMargin - (count - 1) * kGap) / count - chrome
                : area.height() - 2.0 * kMargin - chrome;
    for (int columns = 1; columns <= n; ++columns) {
      const int rows = (n + columns - 1) / columns;
      const double scale = std::min((panel_w - (columns - 1) * kCellGap) / (columns * camera_w),
                                    (panel_h - (rows - 1) * kCellGap) / (rows * camera_h));
      if (scale > best.scale) best = {scale, columns, stacked};
    }
  }
  const double scale = std::max(0.1, best.scale);
  const int columns = best.columns;
  const int rows = (n + columns - 1) / columns;
  const double grid_w = columns * camera_w * scale + (columns - 1) * kCellGap;
  const double grid_h = rows * camera_h * scale + (rows - 1) * kCellGap;
  const double panel_w = best.stacked ? area.width() - 2.0 * kMargin
                                      : (area.width() - 2.0 * kMargin - (count - 1) * kGap) / count;
  const double panel_h = grid_h + chrome;

  const DecodedFrame* decoded = clip_->frame(frame_);
  const hil::clip::Frame no_truth;
  const hil::clip::Frame& truth = decoded != nullptr ? decoded->labels : no_truth;
  RevisionFrame now[2];
  for (Side side : {Side::kA, Side::kB}) {
    if (const EvalResults* r = results(side))
      now[static_cast<int>(side)] = revision_frame(*r, frame_);
  }

  for (int i = 0; i < count; ++i) {
    Panel panel;
    panel.sides = sides[static_cast<size_t>(i)];
    const QPointF origin = best.stacked ? QPointF(kMargin, kMargin + i * (panel_h + kGap))
                                        : QPointF(kMargin + i * (panel_w + kGap), kMargin);
    panel.bounds = QRectF(origin, QSizeF(panel_w, panel_h));
    const double grid_left = origin.x() + (panel_w - grid_w) / 2;
    const double grid_top = origin.y() + kTitleHeight;
    QStringList names;
    for (Side side : panel.sides) {
      names << QStringLiteral("%1: %2").arg(QLatin1String(side_name(side)),
                                            names_[static_cast<int>(side)]);
    }
    panel.title = QStringLiteral("%1 · frame %2/%3")
                      .arg(names.join(QStringLiteral(" vs ")))
                      .arg(frame_)
                      .arg(clip_->frame_count());
    if (mode_ == FrameMode::kFlicker) panel.title += QStringLiteral(" · F flips A/B");
    panel.title_colour = panel.sides.size() == 1 ? side_colour(panel.sides[0])
                                                 : palette().color(QPalette::WindowText);
    for (size_t j = 0; j < cameras.size(); ++j) {
      const int c = cameras[j];
      const auto& camera = header.cameras(c);
      CameraCell cell;
      cell.camera = c;
      cell.name = QString::fromStdString(camera.name());
      cell.scale = scale;
      const int col = static_cast<int>(j) % columns, row = static_cast<int>(j) / columns;
      const double w = camera.width() * scale, h = camera.height() * scale;
      cell.target =
          QRectF(grid_left + col * (camera_w * scale + kCellGap) + (camera_w * scale - w) / 2,
                 grid_top + row * (camera_h * scale + kCellGap), w, h);
      if (decoded == nullptr) {
        cell.missing = clip_->error();
      } else if (static_cast<size_t>(c) < decoded->images.size() &&
                 !decoded->images[static_cast<size_t>(c)].isNull()) {
        cell.has_image = true;
      } else {
        cell.missing = static_cast<size_t>(c) < decoded->errors.size()
                           ? decoded->errors[static_cast<size_t>(c)]
                           : QStringLiteral("no image");
      }
      cell.shapes = truth_overlay(header, truth, c, options_);
      for (Side side : panel.sides) {
        auto shapes =
            outputs_overlay(header, c, now[static_cast<int>(side)], truth, side, options_);
        cell.shapes.insert(cell.shapes.end(), shapes.begin(), shapes.end());
      }
      panel.cells.push_back(std::move(cell));
    }
    // Steering belongs to no camera: its needles go on the one looking most
    // straight ahead.
    if (options_.steering && !panel.cells.empty()) {
      CameraCell& forward = *std::min_element(
          panel.cells.begin(), panel.cells.end(), [&](const CameraCell& x, const CameraCell& y) {
            return std::abs(header.cameras(x.camera).extrinsics().yaw()) <
                   std::abs(header.cameras(y.camera).extrinsics().yaw());
          });
      const auto& camera = header.cameras(forward.camera);
      double truth_steering = truth.control().steering();
      bool has_control = false;
      for (Side side : panel.sides) {
        for (const auto& s : now[static_cast<int>(side)].steering) {
          if (!has_control && !std::isnan(s.truth)) truth_steering = s.truth;
          has_control = true;
        }
      }
      if (options_.truth && decoded != nullptr) {
        forward.shapes.push_back(truth_steering_needle(camera, truth_steering));
      }
      for (Side side : panel.sides) {
        auto needles = steering_needles(camera, now[static_cast<int>(side)], side);
        forward.shapes.insert(forward.shapes.end(), needles.begin(), needles.end());
      }
    }
    for (Side side : panel.sides) panel.captions << captions_for(side);
    out.push_back(std::move(panel));
  }
  return out;
}

QImage FrameView::render(QSize size) const {
  QImage image(size, QImage::Format_RGB32);
  image.fill(palette().color(QPalette::Window));
  QPainter painter(&image);
  paint(painter, size);
  return image;
}

void FrameView::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  paint(painter, size());
}

void FrameView::paint(QPainter& painter, QSize size) const {
  painter.setRenderHint(QPainter::Antialiasing);
  painter.setRenderHint(QPainter::SmoothPixmapTransform);
  const std::vector<Panel> all = panels(size);
  if (all.empty()) {
    painter.setPen(palette().color(QPalette::PlaceholderText));
    painter.drawText(QRect(QPoint(0, 0), size), Qt::AlignCenter | Qt::TextWordWrap, message_);
    return;
  }
  for (const Panel& panel : all) draw_panel(painter, panel);
}

void FrameView::draw_panel(QPainter& painter, const Panel& panel) const {
  painter.save();
  QFont bold = painter.font();
  bold.setBold(true);
  painter.setFont(bold);
  painter.setPen(panel.title_colour);
  painter.drawText(
      QRectF(panel.bounds.left(), panel.bounds.top(), panel.bounds.width(), kTitleHeight),
      Qt::AlignLeft | Qt::AlignVCenter, panel.title);
  painter.restore();

  double bottom = panel.bounds.top() + kTitleHeight;
  for (const CameraCell& cell : panel.cells) {
    draw_cell(painter, cell);
    bottom = std::max(bottom, cell.target.bottom());
  }

  painter.save();
  QFont small = painter.font();
  small.setPointSizeF(std::max(6.5, small.pointSizeF() - 1));
  painter.setFont(small);
  for (const QString& caption : panel.captions) {
    painter.setPen(palette().color(QPalette::WindowText));
    painter.drawText(QRectF(panel.bounds.left(), bottom, panel.bounds.width(), kCaptionHeight),
                     Qt::AlignLeft | Qt::AlignVCenter | Qt::TextSingleLine,
                     painter.fontMetrics().elidedText(caption, Qt::ElideRight,
                                                      static_cast<int>(panel.bounds.width())));
    bottom += kCaptionHeight;
  }
  painter.restore();
}

void FrameView::draw_cell(QPainter& painter, const CameraCell& cell) const {
  if (!cell.has_image) {
    painter.fillRect(cell.target, QColor(0x42, 0x42, 0x42));
    painter.setPen(Qt::white);
    painter.drawText(cell.target, Qt::AlignCenter | Qt::TextWordWrap,
                     QStringLiteral("frame %1 missing\n%2").arg(frame_).arg(cell.missing));
  } else if (const DecodedFrame* decoded = clip_->frame(frame_)) {
    painter.drawImage(cell.target, decoded->images[static_cast<size_t>(cell.camera)]);
  }

  // Overlays: image coordinates -> widget coordinates; pens keep their width.
  painter.save();
  painter.setClipRect(cell.target);
  auto to_widget = [&](const QPointF& p) { return cell.target.topLeft() + p * cell.scale; };
  for (const OverlayShape& shape : cell.shapes) {
    if (shape.points.size() < 2) continue;
    QPolygonF points;
    for (const QPointF& p : shape.points) points << to_widget(p);
    painter.setPen(pen_for(shape));
    painter.setBrush(Qt::NoBrush);
    if (shape.closed) {
      painter.drawPolygon(points);
    } else {
      painter.drawPolyline(points);
    }
    if (shape.kind == OverlayKind::kLeadMarker && !shape.label.isEmpty()) {
      const QRectF box = points.boundingRect();
      painter.setPen(side_colour(shape.side));
      painter.drawText(QPointF(box.left(), box.top() - 3), shape.label);
    }
  }
  // Which camera, when there is more than one to tell apart.
  if (clip_ != nullptr && clip_->header().cameras_size() > 1) {
    QFont small = painter.font();
    small.setPointSizeF(std::max(6.5, small.pointSizeF() - 1));
    painter.setFont(small);
    const QRectF label = painter.fontMetrics().boundingRect(cell.name).adjusted(-3, -1, 3, 1);
    const QRectF where(cell.target.topLeft() + QPointF(2, 2), label.size());
    painter.fillRect(where, QColor(0, 0, 0, 150));
    painter.setPen(Qt::white);
    painter.drawText(where, Qt::AlignCenter, cell.name);
  }
  painter.restore();
}

}  // namespace hil::viewer
