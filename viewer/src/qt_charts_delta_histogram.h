// DeltaHistogramChart drawn with Qt Charts: one stepped area series per side
// (worse, same, better) on a value axis in the metric's unit, and a vertical
// line at the selected clip's delta.
#pragma once

#include <optional>
#include <vector>

#include "delta_histogram_chart.h"

class QAreaSeries;
class QChart;
class QLineSeries;
class QValueAxis;

namespace hil::viewer {

class QtChartsDeltaHistogram : public DeltaHistogramChart {
 public:
  explicit QtChartsDeltaHistogram(QWidget* parent = nullptr);

  void show_histogram(const QString& title, const QString& unit,
                      const std::vector<HistogramBin>& bins,
                      std::optional<double> marked_delta) override;
  void show_message(const QString& message) override;
  const std::vector<HistogramBin>& shown_bins() const override { return bins_; }
  std::optional<double> marked_delta() const override { return marked_; }

  QChart* chart() const { return chart_; }

 private:
  QChart* chart_;
  QValueAxis* x_axis_;
  QValueAxis* y_axis_;
  QAreaSeries* areas_[3];  // worse, same, better
  QLineSeries* marker_;
  std::vector<HistogramBin> bins_;
  std::optional<double> marked_;
};

}  // namespace hil::viewer
