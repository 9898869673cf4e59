#include "qt_charts_series_chart.h"

#include <algorithm>
#include <cmath>

#include <QAreaSeries>
#include <QChart>
#include <QChartView>
#include <QGraphicsLayout>
#include <QLegendMarker>
#include <QLineSeries>
#include <QMouseEvent>
#include <QPen>
#include <QVBoxLayout>
#include <QValueAxis>
#include <QWheelEvent>

#include "revision_style.h"

namespace hil::viewer {
namespace {

QList<QPointF> to_list(const Polyline& points) {
  return QList<QPointF>(points.begin(), points.end());
}

// 1, 2 or 5 times a power of ten: about `ticks` intervals over `span`.
double nice_step(double span, int ticks) {
  const double raw = span / ticks;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * power >= raw) return m * power;
  }
  return 10 * power;
}

double nice_frame_step(double span, int ticks) { return std::max(nice_step(span, ticks), 1.0); }

// Mouse: wheel zooms the frame axis around the pointer, a drag pans, a click
// moves the cursor, a double click or a right click shows every frame.
class ChartView : public QChartView {
 public:
  ChartView(QChart* chart, QtChartsSeriesChart* owner) : QChartView(chart, owner), owner_(owner) {
    setRenderHint(QPainter::Antialiasing);
    setRubberBand(QChartView::NoRubberBand);
  }

 protected:
  void wheelEvent(QWheelEvent* event) override {
    const double steps = event->angleDelta().y() / 120.0;
    if (steps == 0) return;
    owner_->zoom_at(frame_at(event->position().x()), std::pow(0.8, steps));
    event->accept();
  }
  void mousePressEvent(QMouseEvent* event) override {
    if (event->button() == Qt::RightButton) {
      owner_->reset_zoom();
      return;
    }
    if (event->button() != Qt::LeftButton) return;
    press_x_ = last_x_ = event->position().x();
    dragged_ = false;
  }
  void mouseMoveEvent(QMouseEvent* event) override {
    if (!(event->buttons() & Qt::LeftButton)) return;
    const double x = event->position().x();
    if (std::abs(x - press_x_) > 3) dragged_ = true;
    if (!dragged_) return;
    owner_->pan_by(frame_at(last_x_) - frame_at(x));
    last_x_ = x;
  }
  void mouseReleaseEvent(QMouseEvent* event) override {
    if (event->button() == Qt::LeftButton && !dragged_) {
      emit owner_->frame_clicked(owner_->frame_at_view_x(event->position().x()));
    }
  }
  void mouseDoubleClickEvent(QMouseEvent*) override { owner_->reset_zoom(); }

 private:
  double frame_at(double x) const {
    return chart()
        ->mapToValue(chart()->mapFromScene(mapToScene(QPoint(static_cast<int>(x), 0))))
        .x();
  }

  QtChartsSeriesChart* owner_;
  double press_x_ = 0, last_x_ = 0;
  bool dragged_ = false;
};

}  // namespace

SeriesChart* create_series_chart(QWidget* parent) { return new QtChartsSeriesChart(parent); }

QtChartsSeriesChart::QtChartsSeriesChart(QWidget* parent)
    : SeriesChart(parent), chart_(new QChart), x_axis_(new QValueAxis), y_axis_(new QValueAxis) {
  // Animations would make screenshots depend on timing; OpenGL is left off
  // (offscreen platform, screenshots, and it covers other items).
  chart_->setAnimationOptions(QChart::NoAnimation);
  // The compare pane shows one legend for all its charts.
  chart_->legend()->hide();
  chart_->setMargins(QMargins(2, 0, 2, 0));
  chart_->layout()->setContentsMargins(0, 0, 0, 0);
  chart_->setBackgroundRoundness(0);
  chart_->addAxis(x_axis_, Qt::AlignBottom);
  chart_->addAxis(y_axis_, Qt::AlignLeft);
  x_axis_->setLabelFormat(QStringLiteral("%d"));
  x_axis_->setTickType(QValueAxis::TicksDynamic);
  x_axis_->setTickAnchor(0);
  QFont small = font();
  small.setPointSizeF(std::max(6.5, small.pointSizeF() - 1));
  x_axis_->setLabelsFont(small);
  y_axis_->setLabelsFont(small);
  y_axis_->setTitleFont(small);
  connect(x_axis_, &QValueAxis::rangeChanged, this, &QtChartsSeriesChart::on_range_changed);

  delta_upper_ = new QLineSeries(this);
  delta_lower_ = new QLineSeries(this);
  delta_ = new QAreaSeries(delta_upper_, delta_lower_);
  delta_->setName(QStringLiteral("Δ"));
  delta_->setPen(Qt::NoPen);
  delta_->setBrush(QColor(0x9c, 0x27, 0xb0, 70));
  chart_->addSeries(delta_);
  delta_->attachAxis(x_axis_);
  delta_->attachAxis(y_axis_);

  cursor_line_ = new QLineSeries;
  cursor_line_->setName(QStringLiteral("cursor"));
  cursor_line_->setPen(QPen(QColor(0xd5, 0x00, 0x00), 1.5));
  chart_->addSeries(cursor_line_);
  cursor_line_->attachAxis(x_axis_);
  cursor_line_->attachAxis(y_axis_);
  for (QLegendMarker* marker : chart_->legend()->markers(cursor_line_)) marker->setVisible(false);

  view_ = new ChartView(chart_, this);  // takes ownership of chart_
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(view_);
  setMinimumHeight(80);
  setToolTip(QStringLiteral(
      "Per-frame series of A (blue) and B (orange), the ground truth dashed, their difference "
      "shaded. Wheel: zoom frames; drag: pan; click: go to frame; double or right click: all "
      "frames. Zoom and pan are shared by all charts."));
  show_message(QStringLiteral("Select a clip"));
}

void QtChartsSeriesChart::show_message(const QString& message) {
  data_ = ChartData();
  drawn_[0].clear();
  drawn_[1].clear();
  for (auto& pool : lines_) {
    for (QLineSeries* line : pool) line->clear();
  }
  delta_upper_->clear();
  delta_lower_->clear();
  cursor_line_->clear();
  x_axis_->setVisible(false);
  y_axis_->setVisible(false);
  chart_->setTitle(message);
}

void QtChartsSeriesChart::show_series(const ChartData& data) {
  data_ = data;
  chart_->setTitle(QString());
  x_axis_->setVisible(true);
  y_axis_->setVisible(true);
  y_axis_->setTitleText(QString());

  // The value axis covers every value of the clip (not the decimated ones).
  value_lo_ = INFINITY;
  value_hi_ = -INFINITY;
  for (const auto* values : {&data.a, &data.b, &data.truth}) {
    for (float v : *values) {
      if (std::isnan(v)) continue;
      value_lo_ = std::min(value_lo_, static_cast<double>(v));
      value_hi_ = std::max(value_hi_, static_cast<double>(v));
    }
  }
  if (!std::isfinite(value_lo_)) value_lo_ = 0, value_hi_ = 1;
  if (value_hi_ - value_lo_ < 1e-9) value_lo_ -= 0.5, value_hi_ += 0.5;
  fit_value_axis();
  drawn_columns_ = 0;  // redraw even when the range is unchanged
  reset_zoom();
  if (drawn_columns_ == 0) redraw();
}

void QtChartsSeriesChart::fit_value_axis() {
  // Whole steps, and no more labels than the height holds: Qt Charts elides
  // a label to "..." when its share of the axis is shorter than the font.
  const double height =
      chart_->plotArea().height() > 0 ? chart_->plotArea().height() : 0.6 * this->height();
  const int intervals = std::clamp(static_cast<int>(height / (2.2 * fontMetrics().height())), 1, 5);
  const double step = nice_step(value_hi_ - value_lo_, intervals);
  const double bottom = std::floor(value_lo_ / step) * step,
               top = std::ceil(value_hi_ / step) * step;
  y_axis_->setRange(bottom, top);
  y_axis_->setTickCount(static_cast<int>(std::lround((top - bottom) / step)) + 1);
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step))));
  y_axis_->setLabelFormat(QStringLiteral("%.%1f").arg(decimals));
  fitted_height_ = height;
  place_cursor();
}

int QtChartsSeriesChart::columns() const {
  return std::max(
      50, static_cast<int>(chart_->plotArea().width() > 0 ? chart_->plotArea().width() : width()));
}

void QtChartsSeriesChart::fill_line(std::vector<QLineSeries*>& pool,
                                    const std::vector<Polyline>& segments, const QColor& colour,
                                    const QString& name, Qt::PenStyle style) {
  // Segments past kMaxSegments are joined into the last one.
  std::vector<Polyline> lines(segments.begin(),
                              segments.begin() + std::min<size_t>(segments.size(), kMaxSegments));
  for (size_t i = kMaxSegments; i < segments.size(); ++i) {
    lines.back().insert(lines.back().end(), segments[i].begin(), segments[i].end());
  }
  while (pool.size() < std::max<size_t>(lines.size(), 1)) {
    auto* line = new QLineSeries;
    chart_->addSeries(line);
    line->attachAxis(x_axis_);
    line->attachAxis(y_axis_);
    pool.push_back(line);
  }
  for (size_t i = 0; i < pool.size(); ++i) {
    QLineSeries* line = pool[i];
    line->setName(name);
    line->setPen(QPen(colour, style == Qt::SolidLine ? 1.8 : 1.2, style));
    // One call per segment: replace() rebuilds the path once.
    line->replace(i < lines.size() ? to_list(lines[i]) : QList<QPointF>());
    // One legend entry per line, whatever its number of segments.
    for (QLegendMarker* marker : chart_->legend()->markers(line))
      marker->setVisible(i == 0 && !name.isEmpty());
  }
}

void QtChartsSeriesChart::redraw() {
  if (data_.name.isEmpty()) return;
  const auto [first, last] = frame_range();
  const int cols = columns();
  drawn_[0] = decimate_min_max(data_.a, first, last, cols);
  drawn_[1] = decimate_min_max(data_.b, first, last, cols);
  fill_line(lines_[0], drawn_[0], side_colour(Side::kA), QStringLiteral("A %1").arg(data_.a_name),
            Qt::SolidLine);
  fill_line(lines_[1], drawn_[1], side_colour(Side::kB), QStringLiteral("B %1").arg(data_.b_name),
            Qt::SolidLine);
  fill_line(lines_[2], decimate_min_max(data_.truth, first, last, cols), truth_colour(),
            data_.truth.empty() ? QString() : QStringLiteral("truth"), Qt::DashLine);

  // The delta band: A and B sampled at the same frames (one per column).
  // Where either is missing the band closes with a vertical edge on the
  // last frame before the gap and reopens on the first after it.
  QList<QPointF> upper, lower;
  if (shading_) {
    const auto n = static_cast<int64_t>(std::min(data_.a.size(), data_.b.size()));
    const int64_t begin = std::clamp<int64_t>(static_cast<int64_t>(std::floor(first)), 0,
                                              std::max<int64_t>(n - 1, 0));
    const int64_t end =
        std::clamp<int64_t>(static_cast<int64_t>(std::ceil(last)), 0, std::max<int64_t>(n - 1, 0));
    const int64_t step = std::max<int64_t>(1, (end - begin + 1) / cols);
    bool open = false;
    QPointF last_a;
    for (int64_t k = begin; n > 0 && k <= end; k += step) {
      const float a = data_.a[static_cast<size_t>(k)], b = data_.b[static_cast<size_t>(k)];
      const double x = static_cast<double>(k);
      if (std::isnan(a) || std::isnan(b)) {
        if (open) {
          upper << last_a;
          lower << last_a;
        }
        open = false;
        continue;
      }
      if (!open && !upper.isEmpty()) {
        upper << QPointF(x, a);
        lower << QPointF(x, a);
      }
      upper << QPointF(x, a);
      lower << QPointF(x, b);
      last_a = QPointF(x, a);
      open = true;
    }
  }
  delta_upper_->replace(upper);
  delta_lower_->replace(lower);
  for (QLegendMarker* marker : chart_->legend()->markers(delta_)) marker->setVisible(shading_);
  drawn_first_ = first;
  drawn_last_ = last;
  drawn_columns_ = cols;
  place_cursor();
}

void QtChartsSeriesChart::set_cursor(int frame) {
  cursor_ = frame;
  place_cursor();
}

void QtChartsSeriesChart::place_cursor() {
  if (data_.name.isEmpty()) return;
  const double x = cursor_;
  cursor_line_->replace(QList<QPointF>{{x, y_axis_->min()}, {x, y_axis_->max()}});
}

void QtChartsSeriesChart::set_frame_range(double first, double last) {
  setting_range_ = true;
  x_axis_->setRange(first, last);
  setting_range_ = false;
}

std::pair<double, double> QtChartsSeriesChart::frame_range() const {
  return {x_axis_->min(), x_axis_->max()};
}

void QtChartsSeriesChart::reset_zoom() {
  const size_t n = std::max({data_.a.size(), data_.b.size(), data_.truth.size(), size_t{2}});
  // Emits frame_range_changed (through on_range_changed): linked charts follow.
  x_axis_->setRange(0, static_cast<double>(n - 1));
}

void QtChartsSeriesChart::zoom_at(double frame, double factor) {
  const auto [first, last] = frame_range();
  const double span = std::max(4.0, (last - first) * factor);
  const double t = last > first ? (frame - first) / (last - first) : 0.5;
  x_axis_->setRange(frame - t * span, frame + (1 - t) * span);
}

void QtChartsSeriesChart::pan_by(double frames) {
  const auto [first, last] = frame_range();
  x_axis_->setRange(first + frames, last + frames);
}

int QtChartsSeriesChart::frame_at_view_x(double x) const {
  const QPointF value =
      chart_->mapToValue(chart_->mapFromScene(view_->mapToScene(QPoint(static_cast<int>(x), 0))));
  return static_cast<int>(std::lround(value.x()));
}

void QtChartsSeriesChart::on_range_changed(double first, double last) {
  x_axis_->setTickInterval(nice_frame_step(last - first, 6));
  // Decimate again when the zoom changed by more than 20 % or the view moved
  // past what was drawn.
  const double drawn_span = drawn_last_ - drawn_first_;
  const double span = last - first;
  const bool zoomed = drawn_span <= 0 || std::abs(span - drawn_span) > 0.2 * drawn_span;
  const bool moved = first < drawn_first_ || last > drawn_last_;
  if (zoomed || moved || drawn_columns_ != columns()) redraw();
  if (!setting_range_) emit frame_range_changed(first, last);
}

void QtChartsSeriesChart::set_delta_shading(bool on) {
  shading_ = on;
  redraw();
}

void QtChartsSeriesChart::resizeEvent(QResizeEvent* event) {
  SeriesChart::resizeEvent(event);
  if (data_.name.isEmpty()) return;
  if (std::abs(chart_->plotArea().height() - fitted_height_) > 8) fit_value_axis();
  if (std::abs(columns() - drawn_columns_) > drawn_columns_ / 5) redraw();
}

}  // namespace hil::viewer
