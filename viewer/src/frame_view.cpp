#include "frame_view.h"

#include <cmath>

#include <QPainter>
#include <QPainterPath>

#include "clip_frames.h"
#include "revision_style.h"

namespace hil::viewer {
namespace {

constexpr int kMargin = 6;
constexpr int kTitleHeight = 18;
constexpr int kCaptionHeight = 16;
constexpr int kGap = 8;

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
    case OverlayKind::kPredictedLane:
      return QPen(side_colour(shape.side), 2.6);
    case OverlayKind::kPredictedCentre:
      return QPen(side_colour(shape.side), 1.4, Qt::DotLine);
    case OverlayKind::kLeadMarker:
      return QPen(side_colour(shape.side), 2.4);
    case OverlayKind::kSteering:
      return QPen(side_colour(shape.side), 3.2, Qt::SolidLine, Qt::RoundCap);
    case OverlayKind::kTruthSteering:
      return QPen(QColor(Qt::white), 2.0, Qt::SolidLine, Qt::RoundCap);
  }
  return QPen(Qt::black);
}

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

FrameView::FrameView(QWidget* parent) : QWidget(parent) {
  setMinimumSize(320, 160);
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
  setToolTip(QStringLiteral(
      "Camera frame with overlays. Green: ground-truth lane lines (yellow: road edges); red boxes: "
      "objects (dashed: fully occluded). Blue: A's predicted lane and lead vehicle; orange: B's. "
      "Needles at the bottom: steering (white: ground truth). Keys 1/2/3 switch side by side, "
      "overlay and flicker (F flips A/B)."));
}

void FrameView::set_clip(ClipFrames* clip) {
  clip_ = clip;
  update();
}

void FrameView::set_series(const EvalSeries* a, const EvalSeries* b) {
  series_[0] = a;
  series_[1] = b;
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

QStringList FrameView::captions_for(Side side) const {
  const EvalSeries* series = series_[static_cast<int>(side)];
  const QString who =
      QStringLiteral("%1 %2").arg(QLatin1String(side_name(side)), names_[static_cast<int>(side)]);
  if (series == nullptr) return {QStringLiteral("%1: no result").arg(who)};
  if (frame_ >= static_cast<int>(series->frames())) {
    return {QStringLiteral("%1: no result for frame %2 (the eval has %3)")
                .arg(who)
                .arg(frame_)
                .arg(series->frames())};
  }
  const Prediction p = prediction_at(*series, frame_);
  if (!p.valid)
    return {QStringLiteral("%1: no command on frame %2 (command gap)").arg(who).arg(frame_)};
  const float truth_offset = series->at("truth.lane_offset", frame_);
  const float truth_steer = series->at("truth.steering", frame_);
  const float truth_lead = series->at("truth.lead_distance", frame_);
  QString lead =
      p.lead_present()
          ? QStringLiteral("lead %1 m").arg(static_cast<double>(p.lead_distance), 0, 'f', 1)
          : QStringLiteral("no lead");
  lead += std::isnan(truth_lead)
              ? QStringLiteral(" (gt none)")
              : QStringLiteral(" (gt %1)").arg(static_cast<double>(truth_lead), 0, 'f', 1);
  // Two short lines: a side-by-side panel is narrow. "gt": ground truth.
  const QString tag = QLatin1String(side_name(side));
  return {QStringLiteral("%1 offset %2 m (gt %3) · heading %4 rad")
              .arg(tag, signed_value(p.lane_offset, 2), signed_value(truth_offset, 2),
                   signed_value(p.lane_heading, 3)),
          QStringLiteral("%1 %2 · steer %3 (gt %4)")
              .arg(tag, lead, signed_value(p.steering, 3), signed_value(truth_steer, 3))};
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
  const DecodedFrame* decoded = clip_->frame(frame_);
  const auto& header = clip_->header();
  const double frame_w = header.cameras_size() ? header.cameras(0).width() : 1;
  const double frame_h = header.cameras_size() ? header.cameras(0).height() : 1;

  const int count = static_cast<int>(sides.size());
  // Two caption lines per revision shown in a panel.
  const int captions = 2 * (count == 1 ? static_cast<int>(sides[0].size()) : 1);
  const double cell_w = (area.width() - 2.0 * kMargin - (count - 1) * kGap) / count;
  const double cell_h = area.height() - 2.0 * kMargin - kTitleHeight - captions * kCaptionHeight;
  const double scale = std::max(0.1, std::min(cell_w / frame_w, cell_h / frame_h));
  const double w = frame_w * scale, h = frame_h * scale;

  for (int i = 0; i < count; ++i) {
    Panel panel;
    const double left = kMargin + i * (cell_w + kGap) + (cell_w - w) / 2;
    panel.target = QRectF(left, kMargin + kTitleHeight, w, h);
    panel.scale = scale;
    QStringList names;
    for (Side side : sides[static_cast<size_t>(i)]) {
      names << QStringLiteral("%1: %2").arg(QLatin1String(side_name(side)),
                                            names_[static_cast<int>(side)]);
    }
    panel.title = QStringLiteral("%1 · frame %2/%3")
                      .arg(names.join(QStringLiteral(" vs ")))
                      .arg(frame_)
                      .arg(clip_->frame_count());
    if (mode_ == FrameMode::kFlicker) panel.title += QStringLiteral(" · F flips A/B");
    panel.title_colour = sides[static_cast<size_t>(i)].size() == 1
                             ? side_colour(sides[static_cast<size_t>(i)][0])
                             : palette().color(QPalette::WindowText);
    panel.has_image = decoded != nullptr;
    if (decoded != nullptr) {
      panel.shapes = truth_overlay(header, decoded->labels, options_);
      if (options_.steering && header.cameras_size()) {
        panel.shapes.push_back(truth_steering_needle(header.cameras(0), decoded->labels));
      }
    } else {
      panel.missing = clip_->error();
    }
    for (Side side : sides[static_cast<size_t>(i)]) {
      const EvalSeries* series = series_[static_cast<int>(side)];
      if (series != nullptr && header.cameras_size()) {
        auto shapes =
            prediction_overlay(header.cameras(0), prediction_at(*series, frame_), side, options_);
        panel.shapes.insert(panel.shapes.end(), shapes.begin(), shapes.end());
      }
      panel.captions << captions_for(side);
    }
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
  painter.drawText(QRectF(panel.target.left(), panel.target.top() - kTitleHeight,
                          panel.target.width(), kTitleHeight),
                   Qt::AlignLeft | Qt::AlignVCenter, panel.title);
  painter.restore();

  if (!panel.has_image) {
    painter.fillRect(panel.target, QColor(0x42, 0x42, 0x42));
    painter.setPen(Qt::white);
    painter.drawText(panel.target, Qt::AlignCenter | Qt::TextWordWrap,
                     QStringLiteral("frame %1 missing\n%2").arg(frame_).arg(panel.missing));
  } else if (const DecodedFrame* decoded = clip_->frame(frame_)) {
    painter.drawImage(panel.target, decoded->image);
  }

  // Overlays: frame coordinates -> widget coordinates; pens keep their width.
  painter.save();
  painter.setClipRect(panel.target);
  auto to_widget = [&](const QPointF& p) { return panel.target.topLeft() + p * panel.scale; };
  for (const OverlayShape& shape : panel.shapes) {
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
  painter.restore();

  painter.save();
  QFont small = painter.font();
  small.setPointSizeF(std::max(6.5, small.pointSizeF() - 1));
  painter.setFont(small);
  double y = panel.target.bottom();
  for (const QString& caption : panel.captions) {
    painter.setPen(palette().color(QPalette::WindowText));
    painter.drawText(QRectF(panel.target.left(), y, panel.target.width(), kCaptionHeight),
                     Qt::AlignLeft | Qt::AlignVCenter | Qt::TextSingleLine,
                     painter.fontMetrics().elidedText(caption, Qt::ElideRight,
                                                      static_cast<int>(panel.target.width())));
    y += kCaptionHeight;
  }
  painter.restore();
}

}  // namespace hil::viewer
