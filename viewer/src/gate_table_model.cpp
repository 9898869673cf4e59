#include "gate_table_model.h"

#include <algorithm>
#include <tuple>

#include "results_source.h"
#include "verdict_style.h"

namespace hil::viewer {
namespace {

bool same_rows(const std::vector<hil::db::GateRow>& a, const std::vector<hil::db::GateRow>& b) {
  auto fields = [](const hil::db::GateRow& r) {
    return std::tie(r.metric, r.slice, r.blocking, r.verdict, r.clips, r.baseline, r.candidate,
                    r.degradation, r.lo, r.hi, r.margin, r.reason);
  };
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [&](const auto& x, const auto& y) { return fields(x) == fields(y); });
}

// Four significant digits: the gate's own reasons print {:.4g} too.
QString number(double v) { return QString::number(v, 'g', 4); }

// Degradation is signed (positive is worse); say so explicitly.
QString signed_number(double v) { return v > 0 ? QStringLiteral("+") + number(v) : number(v); }

}  // namespace

GateTableModel::GateTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void GateTableModel::set_source(ResultsSource* source) {
  beginResetModel();
  source_ = source;
  run_id_.reset();
  rows_.clear();
  endResetModel();
}

void GateTableModel::show_run(std::optional<int64_t> run_id) { replace(run_id, read(run_id)); }

void GateTableModel::refresh() {
  std::vector<hil::db::GateRow> fresh = read(run_id_);
  if (same_rows(fresh, rows_)) return;
  replace(run_id_, std::move(fresh));
}

std::vector<hil::db::GateRow> GateTableModel::read(std::optional<int64_t> run_id) const {
  if (source_ == nullptr || !run_id) return {};
  return source_->gate_results(*run_id);
}

void GateTableModel::replace(std::optional<int64_t> run_id, std::vector<hil::db::GateRow> rows) {
  beginResetModel();
  run_id_ = run_id;
  rows_ = std::move(rows);
  endResetModel();
}

int GateTableModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

int GateTableModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : kColumnCount;
}

QVariant GateTableModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) {
    return QVariant();
  }
  const hil::db::GateRow& row = rows_[static_cast<size_t>(index.row())];
  const int column = index.column();
  switch (role) {
    case Qt::DisplayRole:
      return display(row, column);
    case Qt::ToolTipRole:
      return column == kReason || column == kVerdict ? QString::fromStdString(row.reason)
                                                     : QVariant();
    case Qt::TextAlignmentRole:
      if (column >= kClips && column <= kMargin) {
        return QVariant::fromValue(Qt::Alignment(Qt::AlignRight | Qt::AlignVCenter));
      }
      return QVariant();
    case Qt::BackgroundRole:
    case Qt::ForegroundRole: {
      if (column != kVerdict) return QVariant();
      const VerdictKind verdict = verdict_kind(row.verdict);
      const QColor color =
          role == Qt::BackgroundRole ? verdict_background(verdict) : verdict_foreground(verdict);
      return color.isValid() ? QVariant(color) : QVariant();
    }
    default:
      return QVariant();
  }
}

QVariant GateTableModel::display(const hil::db::GateRow& row, int column) const {
  switch (column) {
    case kMetric:
      return QString::fromStdString(row.metric);
    case kSlice:
      return QString::fromStdString(row.slice);
    case kBlocking:
      return row.blocking ? QStringLiteral("blocking") : QStringLiteral("advisory");
    case kVerdict:
      return QString::fromStdString(row.verdict);
    case kClips:
      return QVariant::fromValue<qlonglong>(row.clips);
    case kBaseline:
      return number(row.baseline);
    case kCandidate:
      return number(row.candidate);
    case kDegradation:
      return signed_number(row.degradation);
    case kInterval:
      return QStringLiteral("[%1, %2]").arg(number(row.lo), number(row.hi));
    case kMargin:
      return number(row.margin);
    case kReason:
      return QString::fromStdString(row.reason);
    default:
      return QVariant();
  }
}

QVariant GateTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return QVariant();
  switch (section) {
    case kMetric:
      return QStringLiteral("Metric");
    case kSlice:
      return QStringLiteral("Slice");
    case kBlocking:
      return QStringLiteral("Role");
    case kVerdict:
      return QStringLiteral("Verdict");
    case kClips:
      return QStringLiteral("Clips");
    case kBaseline:
      return QStringLiteral("Baseline");
    case kCandidate:
      return QStringLiteral("Candidate");
    case kDegradation:
      return QStringLiteral("Degradation");
    case kInterval:
      return QStringLiteral("Interval");
    case kMargin:
      return QStringLiteral("Margin");
    case kReason:
      return QStringLiteral("Reason");
    default:
      return QVariant();
  }
}

}  // namespace hil::viewer
