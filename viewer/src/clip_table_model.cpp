#include "clip_table_model.h"

#include <algorithm>
#include <cmath>

#include "verdict_style.h"

namespace hil::viewer {
namespace {

QString text(const std::string& s) { return QString::fromStdString(s); }

QString join(const std::vector<std::string>& parts) {
  QStringList out;
  for (const auto& p : parts) out << text(p);
  return out.join(QStringLiteral(", "));
}

// Blends from white towards `full` by `strength` in [0, 1].
QColor tint(const QColor& full, double strength) {
  strength = std::clamp(strength, 0.0, 1.0);
  auto mix = [&](int c) { return static_cast<int>(std::lround(255 + (c - 255) * strength)); };
  return QColor(mix(full.red()), mix(full.green()), mix(full.blue()));
}

const QColor kWorse(0xe5, 0x39, 0x35);   // red
const QColor kBetter(0x43, 0xa0, 0x47);  // green

}  // namespace

QString format_value(double value) {
  if (std::isnan(value)) return QStringLiteral("—");
  return QString::number(value, 'g', 4);
}

QString format_delta(double delta) {
  if (std::isnan(delta)) return QStringLiteral("—");
  return delta > 0 ? QStringLiteral("+") + format_value(delta) : format_value(delta);
}

ClipTableModel::ClipTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void ClipTableModel::show(ResultsSource* source, std::optional<Comparison> comparison) {
  DiffTable fresh;
  std::pair<int64_t, int64_t> stamp{-1, -1};
  if (source != nullptr && comparison) {
    stamp = source->results_stamp(*comparison);
    fresh = source->diff_table(*comparison);
  }
  source_ = source;
  comparison_ = comparison;
  stamp_ = stamp;
  set_table(std::move(fresh));
}

bool ClipTableModel::refresh() {
  if (source_ == nullptr || !comparison_) return false;
  const auto stamp = source_->results_stamp(*comparison_);
  if (stamp == stamp_) return false;
  DiffTable fresh = source_->diff_table(*comparison_);
  stamp_ = stamp;
  set_table(std::move(fresh));
  return true;
}

void ClipTableModel::set_table(DiffTable table) {
  begin_reset();
  table_ = std::move(table);
  if (sort_column_ >= columnCount()) {  // fewer metrics than before
    sort_column_ = kWorst;
    sort_order_ = Qt::DescendingOrder;
  }
  rebuild_order();
  end_reset();
  emit table_replaced();
}

void ClipTableModel::set_filter(ClipFilter filter) {
  begin_reset();
  filter_ = std::move(filter);
  rebuild_order();
  end_reset();
}

void ClipTableModel::rebuild_order() {
  order_.clear();
  for (size_t i = 0; i < table_.clips.size(); ++i) {
    if (matches(table_.clips[i], filter_)) order_.push_back(static_cast<int>(i));
  }
  // Sort the filtered rows by the current column, keys computed once
  // (stable: ties keep the table's worst-first order; missing values last).
  const bool descending = sort_order_ == Qt::DescendingOrder;
  std::vector<QVariant> keys(table_.clips.size());
  for (int i : order_)
    keys[static_cast<size_t>(i)] = sort_value(table_.clips[static_cast<size_t>(i)], sort_column_);
  std::stable_sort(order_.begin(), order_.end(), [&](int x, int y) {
    const QVariant& a = keys[static_cast<size_t>(x)];
    const QVariant& b = keys[static_cast<size_t>(y)];
    if (!a.isValid() || !b.isValid()) return a.isValid() && !b.isValid();
    const QPartialOrdering c = QVariant::compare(a, b);
    return descending ? c == QPartialOrdering::Greater : c == QPartialOrdering::Less;
  });
  fetched_ = std::min(filtered_count(), kPageRows);
}

void ClipTableModel::sort(int column, Qt::SortOrder order) {
  if (column < 0 || column >= columnCount()) return;
  begin_reset();
  sort_column_ = column;
  sort_order_ = order;
  rebuild_order();
  end_reset();
}

const ClipDiff& ClipTableModel::clip_at(int row) const {
  return table_.clips.at(static_cast<size_t>(order_.at(static_cast<size_t>(row))));
}

std::optional<int> ClipTableModel::row_of(const std::string& clip_sha,
                                          const std::string& scenario) {
  for (size_t row = 0; row < order_.size(); ++row) {
    const ClipDiff& clip = table_.clips[static_cast<size_t>(order_[row])];
    if (clip.clip_sha == clip_sha && (scenario.empty() || clip.scenario == scenario)) {
      fetch_up_to(static_cast<int>(row));
      return static_cast<int>(row);
    }
  }
  return std::nullopt;
}

void ClipTableModel::fetch_up_to(int row) {
  if (row < fetched_ || changing_) return;
  const int last = std::min(filtered_count(), (row / kPageRows + 1) * kPageRows);
  changing_ = true;  // views that fetch when told of the insert must wait for the next call
  beginInsertRows(QModelIndex(), fetched_, last - 1);
  fetched_ = last;
  endInsertRows();
  changing_ = false;
}

bool ClipTableModel::canFetchMore(const QModelIndex& parent) const {
  // Not while views react to a reset or an insert: inserting rows then is
  // a change inside a change.
  return !parent.isValid() && !changing_ && fetched_ < filtered_count();
}

void ClipTableModel::begin_reset() {
  changing_ = true;
  beginResetModel();
}

void ClipTableModel::end_reset() {
  endResetModel();
  changing_ = false;
}

void ClipTableModel::fetchMore(const QModelIndex& parent) {
  if (!canFetchMore(parent)) return;
  fetch_up_to(fetched_);
}

int ClipTableModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : fetched_;
}

int ClipTableModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : tags_column() + 1;
}

int ClipTableModel::metric_of_column(int column) const {
  if (column < kLeadingColumns || column >= scenario_column()) return -1;
  return (column - kLeadingColumns) / 3;
}

QColor ClipTableModel::delta_colour(const ClipDiff& clip, int metric) const {
  const auto m = static_cast<size_t>(metric);
  if (metric < 0 || m >= table_.metrics.size() || !clip.metrics[m].present) return QColor();
  const double score = badness(table_.metrics[m], clip.metrics[m].delta) / table_.metrics[m].scale;
  if (score == 0 || std::isnan(score)) return QColor();
  // A tenth of a margin is a pale tint; two margins and more the full colour.
  const double strength = 0.15 + 0.85 * std::min(std::abs(score), 2.0) / 2.0;
  return tint(score > 0 ? kWorse : kBetter, strength);
}

QVariant ClipTableModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) {
    return QVariant();
  }
  const ClipDiff& clip = clip_at(index.row());
  const int column = index.column();
  const int metric = metric_of_column(column);
  switch (role) {
    case Qt::DisplayRole:
      return display(clip, column);
    case kSortRole:
      return sort_value(clip, column);
    case kClipShaRole:
      return text(clip.clip_sha);
    case Qt::ToolTipRole:
      return tool_tip(clip, column);
    case Qt::TextAlignmentRole:
      if (metric >= 0 || column == kWorst) {
        return QVariant::fromValue(Qt::Alignment(Qt::AlignRight | Qt::AlignVCenter));
      }
      return QVariant();
    case Qt::BackgroundRole: {
      if (column == kVerdict) {
        if (clip.verdict == ClipVerdict::kRegressed) return verdict_background(VerdictKind::kFail);
        if (clip.verdict == ClipVerdict::kImproved) return verdict_background(VerdictKind::kPass);
        return QVariant();
      }
      if (column == kWorst) {
        const QColor c = delta_colour(clip, clip.worst_metric);
        return c.isValid() ? QVariant(c) : QVariant();
      }
      if (metric < 0 || (column - kLeadingColumns) % 3 != kDelta) return QVariant();
      const QColor c = delta_colour(clip, metric);
      return c.isValid() ? QVariant(c) : QVariant();
    }
    case Qt::ForegroundRole:
      if (column == kVerdict && clip.verdict != ClipVerdict::kUnchanged) return QColor(Qt::white);
      if (column == kWorst || (metric >= 0 && (column - kLeadingColumns) % 3 == kDelta)) {
        return QColor(Qt::black);  // readable on the tints whatever the palette
      }
      return QVariant();
    default:
      return QVariant();
  }
}

QVariant ClipTableModel::display(const ClipDiff& clip, int column) const {
  switch (column) {
    case kClip:
      return text(clip.clip_name.empty() ? clip.clip_sha.substr(0, 12) : clip.clip_name);
    case kVerdict:
      return QString::fromLatin1(clip_verdict_name(clip.verdict));
    case kWorst:
      if (clip.worst_metric < 0) return QStringLiteral("—");
      return QStringLiteral("%1 %2×")
          .arg(text(table_.metrics[static_cast<size_t>(clip.worst_metric)].name))
          .arg(clip.worst, 0, 'f', 2);
    default:
      break;
  }
  if (column == scenario_column()) return text(clip.scenario);
  if (column == tags_column()) return join(clip.tags);
  const int metric = metric_of_column(column);
  if (metric < 0 || static_cast<size_t>(metric) >= clip.metrics.size()) return QVariant();
  const MetricDiff& d = clip.metrics[static_cast<size_t>(metric)];
  if (!d.present) return QStringLiteral("—");
  switch ((column - kLeadingColumns) % 3) {
    case kA:
      return format_value(d.a);
    case kB:
      return format_value(d.b);
    default:
      return format_delta(d.delta);
  }
}

QVariant ClipTableModel::sort_value(const ClipDiff& clip, int column) const {
  switch (column) {
    case kClip:
      return text(clip.clip_name);
    case kVerdict:
      return static_cast<int>(clip.verdict);  // regressed > improved > unchanged
    case kWorst:
      return clip.worst;
    default:
      break;
  }
  if (column == scenario_column()) return text(clip.scenario);
  if (column == tags_column()) return join(clip.tags);
  const int metric = metric_of_column(column);
  if (metric < 0 || static_cast<size_t>(metric) >= clip.metrics.size()) return QVariant();
  const MetricDiff& d = clip.metrics[static_cast<size_t>(metric)];
  if (!d.present) return QVariant();
  switch ((column - kLeadingColumns) % 3) {
    case kA:
      return d.a;
    case kB:
      return d.b;
    default:
      // Δ sorts by how much worse B is (direction-aware), so descending is
      // "worst regressions first" for every metric.
      return badness(table_.metrics[static_cast<size_t>(metric)], d.delta);
  }
}

QVariant ClipTableModel::tool_tip(const ClipDiff& clip, int column) const {
  const int metric = metric_of_column(column);
  if (metric < 0) {
    switch (column) {
      case kClip:
        return QStringLiteral("%1\nsha256 %2\nevals: A %3, B %4")
            .arg(text(clip.clip_name), text(clip.clip_sha))
            .arg(clip.eval_a)
            .arg(clip.eval_b);
      case kVerdict:
        return QStringLiteral(
            "regressed: some gating metric is worse by more than its margin (or, with no gate, "
            "by more than the RMS of its deltas); improved: none is, and some is better by as "
            "much");
      case kWorst:
        return QStringLiteral(
            "The metric where B is worst relative to A, in margins (positive: worse)");
      default:
        return display(clip, column);
    }
  }
  const DiffMetric& m = table_.metrics[static_cast<size_t>(metric)];
  const MetricDiff& d = clip.metrics[static_cast<size_t>(metric)];
  if (!d.present) return QStringLiteral("%1: not recorded by both evals").arg(text(m.name));
  const double score = badness(m, d.delta) / m.scale;
  return QStringLiteral("%1 (%2, %3 is better)\nA %4, B %5, Δ %6\n%7 %8 %9")
      .arg(text(m.name), text(m.unit),
           m.direction == Direction::kLowerIsBetter ? QStringLiteral("lower")
                                                    : QStringLiteral("higher"),
           format_value(d.a), format_value(d.b), format_delta(d.delta))
      .arg(score > 0 ? QStringLiteral("B worse by") : QStringLiteral("B better by"))
      .arg(std::abs(score), 0, 'f', 2)
      .arg(m.scale_is_margin ? QStringLiteral("gate margins") : QStringLiteral("RMS deltas"));
}

QVariant ClipTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal) return QVariant();
  const int metric = metric_of_column(section);
  if (role == Qt::ToolTipRole) {
    if (metric < 0 || static_cast<size_t>(metric) >= table_.metrics.size()) return QVariant();
    const DiffMetric& m = table_.metrics[static_cast<size_t>(metric)];
    const QString gate = !m.gated     ? QStringLiteral("declared, not gated")
                         : m.blocking ? QStringLiteral("blocking gate")
                                      : QStringLiteral("advisory gate");
    QString tip =
        QStringLiteral("%1 (%2), %3 is better; %4%5")
            .arg(text(m.name), text(m.unit),
                 m.direction == Direction::kLowerIsBetter ? QStringLiteral("lower")
                                                          : QStringLiteral("higher"),
                 gate,
                 m.scale_is_margin ? QStringLiteral(", margin %1").arg(format_value(m.scale))
                                   : QString());
    if (!m.description.empty()) tip += QStringLiteral("\n") + text(m.description);
    return tip;
  }
  if (role != Qt::DisplayRole) return QVariant();
  switch (section) {
    case kClip:
      return QStringLiteral("Clip");
    case kVerdict:
      return QStringLiteral("Verdict");
    case kWorst:
      return QStringLiteral("Worst");
    default:
      break;
  }
  if (section == scenario_column()) return QStringLiteral("Scenario");
  if (section == tags_column()) return QStringLiteral("Tags");
  if (metric < 0 || static_cast<size_t>(metric) >= table_.metrics.size()) return QVariant();
  const QString name = text(table_.metrics[static_cast<size_t>(metric)].name);
  switch ((section - kLeadingColumns) % 3) {
    case kA:
      return QStringLiteral("%1 A").arg(name);
    case kB:
      return QStringLiteral("%1 B").arg(name);
    default:
      return QStringLiteral("%1 Δ").arg(name);
  }
}

}  // namespace hil::viewer
