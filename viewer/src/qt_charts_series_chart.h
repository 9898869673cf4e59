// SeriesChart drawn with Qt Charts: A and B as line series (one per run of
// valid frames, so gaps stay gaps), the truth dashed, the delta as an area
// series between them, a cursor line; wheel zooms the frame axis, dragging
// pans it, a click moves the cursor, a double click or right click resets.
#pragma once

#include <vector>

#include "series_chart.h"

class QAreaSeries;
class QChart;
class QChartView;
class QLineSeries;
class QValueAxis;

namespace hil::viewer {

class QtChartsSeriesChart : public SeriesChart {
  Q_OBJECT

 public:
  // Segments per line beyond which the rest is joined (a series with more
  // gaps than this is drawn bridged after the 64th).
  static constexpr int kMaxSegments = 64;

  explicit QtChartsSeriesChart(QWidget* parent = nullptr);

  void show_series(const ChartData& data) override;
  void show_message(const QString& message) override;
  const ChartData& shown() const override { return data_; }
  void set_cursor(int frame) override;
  int cursor() const override { return cursor_; }
  void set_frame_range(double first, double last) override;
  std::pair<double, double> frame_range() const override;
  void reset_zoom() override;
  void set_delta_shading(bool on) override;
  bool delta_shading() const override { return shading_; }
  std::vector<Polyline> drawn(Side side) const override { return drawn_[static_cast<int>(side)]; }

  QChart* chart() const { return chart_; }
  // Called by the view (mouse and wheel), in frame units.
  void zoom_at(double frame, double factor);
  void pan_by(double frames);
  int frame_at_view_x(double x) const;

 protected:
  void resizeEvent(QResizeEvent* event) override;

 private:
  void redraw();
  void fill_line(std::vector<QLineSeries*>& pool, const std::vector<Polyline>& segments,
                 const QColor& colour, const QString& name, Qt::PenStyle style);
  void place_cursor();
  void fit_value_axis();
  void on_range_changed(double first, double last);
  int columns() const;

  QChart* chart_;
  QChartView* view_;
  QValueAxis* x_axis_;
  QValueAxis* y_axis_;
  std::vector<QLineSeries*> lines_[3];  // A, B, truth segments
  QAreaSeries* delta_ = nullptr;
  QLineSeries* delta_upper_ = nullptr;
  QLineSeries* delta_lower_ = nullptr;
  QLineSeries* cursor_line_ = nullptr;
  ChartData data_;
  std::vector<Polyline> drawn_[2];
  int cursor_ = 0;
  bool shading_ = true;
  bool setting_range_ = false;               // programmatic range change: no signal
  double drawn_first_ = 0, drawn_last_ = 0;  // the range the lines were decimated for
  int drawn_columns_ = 0;
  double value_lo_ = 0, value_hi_ = 1;  // every value of the shown series
  double fitted_height_ = 0;            // the plot height the value axis was fitted to
};

}  // namespace hil::viewer
