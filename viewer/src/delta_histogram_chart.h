// The histogram of per-clip deltas (B - A) of the selected metric over the
// clips the table shows: bins on the worse side red, on the better side
// green, "about the same" grey, and the selected clip's delta marked. Behind
// an interface of our own, like every chart (see margin_chart.h).
#pragma once

#include <optional>
#include <vector>

#include <QString>
#include <QWidget>

#include "histogram_bins.h"

namespace hil::viewer {

class DeltaHistogramChart : public QWidget {
 public:
  using QWidget::QWidget;

  virtual void show_histogram(const QString& title, const QString& unit,
                              const std::vector<HistogramBin>& bins,
                              std::optional<double> marked_delta) = 0;
  virtual void show_message(const QString& message) = 0;
  virtual const std::vector<HistogramBin>& shown_bins() const = 0;
  virtual std::optional<double> marked_delta() const = 0;
};

DeltaHistogramChart* create_delta_histogram_chart(QWidget* parent);

}  // namespace hil::viewer
