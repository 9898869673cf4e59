// A per-frame chart of one series for A and B on shared axes, the delta
// between them shaded, the ground truth (when stored) dashed, and a cursor on
// the current frame. Behind an interface of our own (see margin_chart.h):
// Qt Charts is deprecated from Qt 6.10, so only create_series_chart() knows
// the backend. Long series are decimated for drawing (decimation.h), never
// for the values shown elsewhere.
#pragma once

#include <utility>
#include <vector>

#include <QString>
#include <QWidget>

#include "decimation.h"
#include "timeline_markers.h"

namespace hil::viewer {

struct ChartData {
  QString name;  // "out.control.steering", "frame.lane_error_20m"
  QString unit;
  QString a_name, b_name;          // revision names for the legend
  std::vector<float> a, b, truth;  // per frame; NaN: missing; truth may be empty
};

class SeriesChart : public QWidget {
  Q_OBJECT

 public:
  using QWidget::QWidget;

  virtual void show_series(const ChartData& data) = 0;
  // No series, only `message` (no clip selected, no such series).
  virtual void show_message(const QString& message) = 0;
  // What show_series() last received (empty after show_message()).
  virtual const ChartData& shown() const = 0;

  virtual void set_cursor(int frame) = 0;
  virtual int cursor() const = 0;
  // The frames in view (x axis); charts are linked through these.
  virtual void set_frame_range(double first, double last) = 0;
  virtual std::pair<double, double> frame_range() const = 0;
  virtual void reset_zoom() = 0;
  virtual void set_delta_shading(bool on) = 0;
  virtual bool delta_shading() const = 0;
  // The decimated polylines handed to the backend for a revision's line.
  virtual std::vector<Polyline> drawn(Side side) const = 0;

 signals:
  // The user zoomed or panned (not emitted for set_frame_range()).
  void frame_range_changed(double first, double last);
  // The user clicked on the plot at this frame.
  void frame_clicked(int frame);
};

// The current backend (Qt Charts), owned by `parent` like any child widget.
SeriesChart* create_series_chart(QWidget* parent);

}  // namespace hil::viewer
