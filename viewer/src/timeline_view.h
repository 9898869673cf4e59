// The timeline under the frame view: the clip's frames left to right, a
// cursor on the current frame, and a row of markers per revision (deadline
// misses amber, frames without outputs red, failovers purple). Click or drag to scrub.
#pragma once

#include <vector>

#include <QWidget>

#include "timeline_markers.h"

namespace hil::viewer {

class TimelineView : public QWidget {
  Q_OBJECT

 public:
  explicit TimelineView(QWidget* parent = nullptr);

  void set_clip(int frame_count, double fps);
  void set_markers(std::vector<TimelineMarker> markers);
  const std::vector<TimelineMarker>& markers() const { return markers_; }
  int frame() const { return frame_; }
  int frame_count() const { return frame_count_; }

  // Geometry, for painting, mouse handling and tests.
  double x_of_frame(int frame) const;
  int frame_at(double x) const;

  QSize sizeHint() const override { return {640, 58}; }
  QSize minimumSizeHint() const override { return {200, 58}; }

 public slots:
  void set_frame(int frame);

 signals:
  void frame_requested(int frame);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  bool event(QEvent* event) override;

 private:
  QRectF track() const;

  int frame_count_ = 0;
  double fps_ = 30;
  int frame_ = 0;
  std::vector<TimelineMarker> markers_;
};

}  // namespace hil::viewer
