// MarginChart drawn with Qt Charts: a horizontal bar per blocking metric
// (coloured by its verdict), its bootstrap interval as a whisker, and a dashed
// line at 1.0, the margin.
#pragma once

#include <vector>

#include "margin_chart.h"

class QChart;
class QBarCategoryAxis;
class QValueAxis;

namespace hil::viewer {

class QtChartsMarginChart : public MarginChart {
  Q_OBJECT

 public:
  explicit QtChartsMarginChart(QWidget* parent = nullptr);

  void show_bars(const QString& title, const std::vector<MarginBar>& bars) override;
  void show_message(const QString& message) override;
  const std::vector<MarginBar>& shown_bars() const override { return bars_; }

  // The Qt Charts scene, for tests that check the series themselves.
  QChart* chart() const { return chart_; }

 private:
  void add_verdict_bars();
  void add_margin_line();
  void add_interval_whiskers();
  void fit_ratio_axis();

  QChart* chart_;  // owned by its QChartView
  QBarCategoryAxis* metric_axis_;
  QValueAxis* ratio_axis_;
  std::vector<MarginBar> bars_;
};

}  // namespace hil::viewer
