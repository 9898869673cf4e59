#include "qt_charts_delta_histogram.h"

#include <algorithm>

#include <QAreaSeries>
#include <QChart>
#include <QChartView>
#include <QLegendMarker>
#include <QLineSeries>
#include <QPen>
#include <QVBoxLayout>
#include <QValueAxis>

namespace hil::viewer {
namespace {

struct SideStyle {
  BinSide side;
  const char* name;
  QColor colour;
};
const SideStyle kSides[3] = {{BinSide::kWorse, "B worse", QColor(0xe5, 0x39, 0x35)},
                             {BinSide::kSame, "about the same", QColor(0x9e, 0x9e, 0x9e)},
                             {BinSide::kBetter, "B better", QColor(0x43, 0xa0, 0x47)}};

}  // namespace

DeltaHistogramChart* create_delta_histogram_chart(QWidget* parent) {
  return new QtChartsDeltaHistogram(parent);
}

QtChartsDeltaHistogram::QtChartsDeltaHistogram(QWidget* parent)
    : DeltaHistogramChart(parent),
      chart_(new QChart),
      x_axis_(new QValueAxis),
      y_axis_(new QValueAxis) {
  chart_->setAnimationOptions(QChart::NoAnimation);
  chart_->legend()->setAlignment(Qt::AlignBottom);
  chart_->setMargins(QMargins(2, 0, 2, 0));
  chart_->setBackgroundRoundness(0);
  chart_->addAxis(x_axis_, Qt::AlignBottom);
  chart_->addAxis(y_axis_, Qt::AlignLeft);
  y_axis_->setLabelFormat(QStringLiteral("%d"));
  y_axis_->setTitleText(QStringLiteral("clips"));
  QFont small = font();
  small.setPointSizeF(std::max(6.5, small.pointSizeF() - 1));
  for (QValueAxis* axis : {x_axis_, y_axis_}) {
    axis->setLabelsFont(small);
    axis->setTitleFont(small);
  }
  chart_->legend()->setFont(small);
  for (int i = 0; i < 3; ++i) {
    auto* upper = new QLineSeries(this);
    areas_[i] = new QAreaSeries(upper);
    areas_[i]->setName(QLatin1String(kSides[i].name));
    areas_[i]->setColor(kSides[i].colour);
    areas_[i]->setBorderColor(kSides[i].colour.darker(120));
    chart_->addSeries(areas_[i]);
    areas_[i]->attachAxis(x_axis_);
    areas_[i]->attachAxis(y_axis_);
  }
  marker_ = new QLineSeries;
  marker_->setName(QStringLiteral("selected clip"));
  marker_->setPen(QPen(QColor(0x21, 0x21, 0x21), 2, Qt::DashLine));
  chart_->addSeries(marker_);
  marker_->attachAxis(x_axis_);
  marker_->attachAxis(y_axis_);

  auto* view = new QChartView(chart_, this);
  view->setRenderHint(QPainter::Antialiasing);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(view);
  setMinimumHeight(140);
  setToolTip(QStringLiteral(
      "How the delta (B - A) of the selected metric spreads over the clips in the table: red bins "
      "are clips where B is worse, green where it is better; the dashed line is the selected "
      "clip."));
  show_message(QStringLiteral("No comparison"));
}

void QtChartsDeltaHistogram::show_message(const QString& message) {
  bins_.clear();
  marked_.reset();
  for (QAreaSeries* area : areas_) area->upperSeries()->clear();
  marker_->clear();
  x_axis_->setVisible(false);
  y_axis_->setVisible(false);
  chart_->legend()->setVisible(false);
  chart_->setTitle(message);
}

void QtChartsDeltaHistogram::show_histogram(const QString& title, const QString& unit,
                                            const std::vector<HistogramBin>& bins,
                                            std::optional<double> marked_delta) {
  if (bins.empty()) {
    show_message(title);
    return;
  }
  bins_ = bins;
  marked_ = marked_delta;
  chart_->setTitle(title);
  chart_->legend()->setVisible(true);
  x_axis_->setVisible(true);
  y_axis_->setVisible(true);
  x_axis_->setTitleText(unit.isEmpty() ? QStringLiteral("B - A")
                                       : QStringLiteral("B - A (%1)").arg(unit));
  int highest = 1;
  for (int i = 0; i < 3; ++i) {
    // A stepped outline over the whole range: zero outside this side's bins.
    QList<QPointF> steps;
    for (const HistogramBin& bin : bins) {
      const double count = bin.side == kSides[i].side ? bin.count : 0;
      steps << QPointF(bin.lo, 0) << QPointF(bin.lo, count) << QPointF(bin.hi, count)
            << QPointF(bin.hi, 0);
      highest = std::max(highest, bin.count);
    }
    areas_[i]->upperSeries()->replace(steps);
  }
  // Half a bin of room each side, so a marked delta at either end shows.
  const double pad = (bins.front().hi - bins.front().lo) / 2;
  x_axis_->setRange(bins.front().lo - pad, bins.back().hi + pad);
  y_axis_->setRange(0, highest * 1.1);
  y_axis_->setTickCount(std::min(highest, 4) + 1);
  marker_->clear();
  if (marked_delta)
    marker_->replace(QList<QPointF>{{*marked_delta, 0}, {*marked_delta, highest * 1.1}});
  for (QLegendMarker* legend : chart_->legend()->markers(marker_))
    legend->setVisible(marked_delta.has_value());
}

}  // namespace hil::viewer
