#include "timeline_view.h"

#include <algorithm>
#include <cmath>

#include <QHelpEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>

#include "revision_style.h"

namespace hil::viewer {
namespace {

constexpr double kLabelWidth = 22;  // "A", "B" row labels on the left
constexpr double kRightMargin = 8;
constexpr double kRowHeight = 12;

}  // namespace

TimelineView::TimelineView(QWidget* parent) : QWidget(parent) {
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
  setFixedHeight(58);
  setMouseTracking(false);
  setToolTip(QStringLiteral(
      "Timeline: click or drag to scrub. Rows A and B mark deadline misses (amber), frames "
      "without outputs (red) and failovers (purple). Space plays, ←/→ step, Shift+←/→ jump 10 "
      "frames."));
}

void TimelineView::set_clip(int frame_count, double fps) {
  frame_count_ = std::max(frame_count, 0);
  fps_ = fps;
  frame_ = 0;
  markers_.clear();
  update();
}

void TimelineView::set_markers(std::vector<TimelineMarker> markers) {
  markers_ = std::move(markers);
  update();
}

void TimelineView::set_frame(int frame) {
  if (frame == frame_) return;
  frame_ = frame;
  update();
}

QRectF TimelineView::track() const {
  return QRectF(kLabelWidth, 2 * kRowHeight + 4, width() - kLabelWidth - kRightMargin, 14);
}

double TimelineView::x_of_frame(int frame) const {
  const QRectF t = track();
  if (frame_count_ <= 1) return t.left();
  return t.left() + t.width() * frame / (frame_count_ - 1);
}

int TimelineView::frame_at(double x) const {
  const QRectF t = track();
  if (frame_count_ <= 1 || t.width() <= 0) return 0;
  const double f = (x - t.left()) / t.width() * (frame_count_ - 1);
  return std::clamp(static_cast<int>(std::lround(f)), 0, frame_count_ - 1);
}

void TimelineView::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  painter.setRenderHint(QPainter::Antialiasing);
  const QRectF t = track();
  const QColor text = palette().color(QPalette::WindowText);

  // Marker rows.
  for (Side side : {Side::kA, Side::kB}) {
    const double top = 2 + static_cast<int>(side) * kRowHeight;
    painter.setPen(side_colour(side));
    QFont bold = font();
    bold.setBold(true);
    painter.setFont(bold);
    painter.drawText(QRectF(0, top, kLabelWidth - 4, kRowHeight), Qt::AlignRight | Qt::AlignVCenter,
                     QLatin1String(side_name(side)));
    painter.setFont(font());
    painter.setPen(QColor(0, 0, 0, 30));
    painter.drawLine(QPointF(t.left(), top + kRowHeight / 2),
                     QPointF(t.right(), top + kRowHeight / 2));
    for (const TimelineMarker& m : markers_) {
      if (m.side != side) continue;
      const double x = x_of_frame(static_cast<int>(m.frame));
      const double w = std::max(3.0, t.width() / std::max(frame_count_, 1));
      painter.fillRect(QRectF(x - w / 2, top + 1, w, kRowHeight - 2), marker_colour(m.kind));
    }
  }

  // The track, ticks every ~80 px with frame numbers and seconds.
  painter.setPen(QPen(text, 1));
  painter.setBrush(palette().color(QPalette::Base));
  painter.drawRoundedRect(t, 3, 3);
  if (frame_count_ > 0) {
    const int step_candidates[] = {1,   2,   5,   10,   20,   25,   50,   100,
                                   200, 250, 500, 1000, 2000, 5000, 10000};
    int step = 10000;
    for (int s : step_candidates) {
      if (t.width() * s / std::max(frame_count_ - 1, 1) >= 70) {
        step = s;
        break;
      }
    }
    QFont small = font();
    small.setPointSizeF(std::max(6.0, small.pointSizeF() - 1));
    painter.setFont(small);
    for (int f = 0; f < frame_count_; f += step) {
      const double x = x_of_frame(f);
      painter.drawLine(QPointF(x, t.bottom() - 4), QPointF(x, t.bottom()));
      const QString label = fps_ > 0 ? QStringLiteral("%1 · %2 s").arg(f).arg(f / fps_, 0, 'f', 1)
                                     : QString::number(f);
      painter.drawText(QRectF(x - 40, t.bottom() + 1, 80, 12), Qt::AlignCenter, label);
    }
  }

  // The cursor.
  const double x = x_of_frame(frame_);
  painter.setPen(QPen(QColor(0xd5, 0x00, 0x00), 2));
  painter.drawLine(QPointF(x, 0), QPointF(x, t.bottom()));
}

void TimelineView::mousePressEvent(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton || frame_count_ == 0) return;
  emit frame_requested(frame_at(event->position().x()));
}

void TimelineView::mouseMoveEvent(QMouseEvent* event) {
  if (!(event->buttons() & Qt::LeftButton) || frame_count_ == 0) return;
  emit frame_requested(frame_at(event->position().x()));
}

bool TimelineView::event(QEvent* event) {
  if (event->type() != QEvent::ToolTip || frame_count_ == 0) return QWidget::event(event);
  auto* help = static_cast<QHelpEvent*>(event);
  const int frame = frame_at(help->pos().x());
  QStringList lines{
      QStringLiteral("frame %1 (%2 s)").arg(frame).arg(fps_ > 0 ? frame / fps_ : 0.0, 0, 'f', 2)};
  for (const TimelineMarker& m : markers_) {
    if (m.frame == frame) {
      lines << QStringLiteral("%1: %2").arg(QLatin1String(side_name(m.side)),
                                            QLatin1String(marker_kind_name(m.kind)));
    }
  }
  if (lines.size() == 1) lines << toolTip();
  QToolTip::showText(help->globalPos(), lines.join('\n'), this);
  return true;
}

}  // namespace hil::viewer
