#include "qt_charts_margin_chart.h"

#include <algorithm>
#include <array>

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QHorizontalStackedBarSeries>
#include <QLegendMarker>
#include <QLineSeries>
#include <QPen>
#include <QVBoxLayout>
#include <QValueAxis>

namespace hil::viewer {
namespace {

struct VerdictSet {
  VerdictKind verdict;
  const char* name;
};
// Worst first, so the legend reads like the gate's priorities.
constexpr std::array<VerdictSet, 4> kVerdictSets = {{{VerdictKind::kFail, "fail"},
                                                     {VerdictKind::kInconclusive, "inconclusive"},
                                                     {VerdictKind::kPass, "pass"},
                                                     {VerdictKind::kNone, "no verdict"}}};

// Horizontal bars (a forest plot): metric names of any length fit on the
// left, and the first metric is drawn on top, as in the gate table. Qt Charts
// puts category 0 at the bottom, hence the reversal.
double position_of(size_t bar, size_t bars) { return static_cast<double>(bars - 1 - bar); }

// Axis labels are rich text: the metric, and below it how many margins it
// degraded by.
QString category_label(const MarginBar& bar) {
  const QString metric = bar.metric.toHtmlEscaped();
  if (!bar.has_margin) return QStringLiteral("%1<br>no margin").arg(metric);
  return QStringLiteral("%1<br>%2×").arg(metric, QString::number(bar.degradation, 'f', 2));
}

}  // namespace

MarginChart* create_margin_chart(QWidget* parent) { return new QtChartsMarginChart(parent); }

QtChartsMarginChart::QtChartsMarginChart(QWidget* parent)
    : MarginChart(parent),
      chart_(new QChart),
      metric_axis_(new QBarCategoryAxis),
      ratio_axis_(new QValueAxis) {
  // Animations would make screenshots depend on timing; bars change rarely.
  chart_->setAnimationOptions(QChart::NoAnimation);
  chart_->legend()->setAlignment(Qt::AlignBottom);
  chart_->addAxis(metric_axis_, Qt::AlignLeft);
  chart_->addAxis(ratio_axis_, Qt::AlignBottom);
  ratio_axis_->setTitleText(QStringLiteral("degradation / margin"));
  ratio_axis_->setLabelFormat(QStringLiteral("%.1f"));

  auto* view = new QChartView(chart_, this);  // takes ownership of chart_
  view->setRenderHint(QPainter::Antialiasing);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(view);
  show_message(QStringLiteral("No run selected"));
}

void QtChartsMarginChart::show_message(const QString& message) {
  chart_->removeAllSeries();
  bars_.clear();
  metric_axis_->clear();
  metric_axis_->setVisible(false);
  ratio_axis_->setVisible(false);
  chart_->setTitle(message);
}

void QtChartsMarginChart::show_bars(const QString& title, const std::vector<MarginBar>& bars) {
  if (bars.empty()) {
    show_message(title);
    return;
  }
  chart_->removeAllSeries();  // deletes them; the axes stay
  bars_ = bars;
  chart_->setTitle(title);
  QStringList categories;
  for (auto bar = bars_.rbegin(); bar != bars_.rend(); ++bar) categories << category_label(*bar);
  metric_axis_->setCategories(categories);
  metric_axis_->setVisible(true);
  ratio_axis_->setVisible(true);
  add_verdict_bars();
  add_margin_line();
  add_interval_whiskers();
  fit_ratio_axis();
}

void QtChartsMarginChart::add_verdict_bars() {
  // One bar set per verdict, zero where a metric has another verdict: Qt
  // Charts colours per set, not per bar, and this also gives a legend entry
  // per verdict.
  auto* series = new QHorizontalStackedBarSeries;
  series->setBarWidth(0.6);
  for (const auto& [verdict, name] : kVerdictSets) {
    QList<qreal> values;
    bool used = false;
    for (auto bar = bars_.rbegin(); bar != bars_.rend(); ++bar) {
      values << (bar->verdict == verdict ? bar->degradation : 0.0);
      used |= bar->verdict == verdict;
    }
    if (!used) continue;
    auto* set = new QBarSet(QString::fromLatin1(name));
    set->append(values);
    const QColor color =
        verdict == VerdictKind::kNone ? QColor(Qt::gray) : verdict_background(verdict);
    set->setColor(color);
    set->setBorderColor(color.darker(130));
    series->append(set);
  }
  chart_->addSeries(series);
  series->attachAxis(metric_axis_);
  series->attachAxis(ratio_axis_);
}

void QtChartsMarginChart::add_margin_line() {
  // On a category axis, bar i sits at i: span the whole plot height.
  auto* line = new QLineSeries;
  line->setName(QStringLiteral("margin"));
  line->append(1.0, -0.5);
  line->append(1.0, static_cast<double>(bars_.size()) - 0.5);
  line->setPen(QPen(QColor(0x42, 0x42, 0x42), 2, Qt::DashLine));
  chart_->addSeries(line);
  line->attachAxis(metric_axis_);
  line->attachAxis(ratio_axis_);
}

void QtChartsMarginChart::add_interval_whiskers() {
  bool first = true;
  for (size_t i = 0; i < bars_.size(); ++i) {
    const MarginBar& bar = bars_[i];
    if (!bar.has_margin) continue;
    auto* whisker = new QLineSeries;
    whisker->setName(QStringLiteral("bootstrap interval"));
    whisker->append(bar.lo, position_of(i, bars_.size()));
    whisker->append(bar.hi, position_of(i, bars_.size()));
    whisker->setPen(QPen(Qt::black, 2));
    chart_->addSeries(whisker);
    whisker->attachAxis(metric_axis_);
    whisker->attachAxis(ratio_axis_);
    // One legend entry for all whiskers.
    for (QLegendMarker* marker : chart_->legend()->markers(whisker)) marker->setVisible(first);
    first = false;
  }
}

void QtChartsMarginChart::fit_ratio_axis() {
  // Always show 0 and the margin line, whatever the values.
  double low = 0, high = 1.25;
  for (const auto& bar : bars_) {
    low = std::min({low, bar.degradation, bar.lo});
    high = std::max({high, bar.degradation, bar.hi});
  }
  const double pad = (high - low) * 0.05;
  ratio_axis_->setRange(low - pad, high + pad);
  ratio_axis_->applyNiceNumbers();
}

}  // namespace hil::viewer
