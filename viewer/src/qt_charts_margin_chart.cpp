#include "qt_charts_margin_chart.h"

#include <algorithm>
#include <array>

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QLegendMarker>
#include <QLineSeries>
#include <QPen>
#include <QStackedBarSeries>
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

QString category_label(const MarginBar& bar) {
  if (!bar.has_margin) return QStringLiteral("%1 (no margin)").arg(bar.metric);
  return QStringLiteral("%1 (%2×)").arg(bar.metric, QString::number(bar.degradation, 'f', 2));
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
  chart_->addAxis(metric_axis_, Qt::AlignBottom);
  chart_->addAxis(ratio_axis_, Qt::AlignLeft);
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
  for (const auto& bar : bars_) categories << category_label(bar);
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
  auto* series = new QStackedBarSeries;
  series->setBarWidth(0.6);
  for (const auto& [verdict, name] : kVerdictSets) {
    QList<qreal> values;
    bool used = false;
    for (const auto& bar : bars_) {
      values << (bar.verdict == verdict ? bar.degradation : 0.0);
      used |= bar.verdict == verdict;
    }
    if (!used) continue;
    auto* set = new QBarSet(QString::fromLatin1(name));
    set->append(values);
    const QColor color = verdict == VerdictKind::kNone ? QColor(Qt::gray) : verdict_background(verdict);
    set->setColor(color);
    set->setBorderColor(color.darker(130));
    series->append(set);
  }
  chart_->addSeries(series);
  series->attachAxis(metric_axis_);
  series->attachAxis(ratio_axis_);
}

void QtChartsMarginChart::add_margin_line() {
  // On a category axis, bar i sits at x = i: span the whole plot width.
  auto* line = new QLineSeries;
  line->setName(QStringLiteral("margin"));
  line->append(-0.5, 1.0);
  line->append(static_cast<double>(bars_.size()) - 0.5, 1.0);
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
    whisker->append(static_cast<double>(i), bar.lo);
    whisker->append(static_cast<double>(i), bar.hi);
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
