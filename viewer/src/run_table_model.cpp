#include "run_table_model.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "hil/evals/gate.h"
#include "results_source.h"
#include "verdict_style.h"

namespace hil::viewer {
namespace {

bool same_run(const hil::db::RunRow& a, const hil::db::RunRow& b) {
  auto fields = [](const hil::db::RunRow& r) {
    return std::tie(r.id, r.label, r.candidate, r.baseline, r.suite, r.priority, r.state, r.verdict,
                    r.verdict_summary, r.submitted_at, r.finished_at, r.evals_total,
                    r.evals_succeeded, r.evals_failed);
  };
  return fields(a) == fields(b);
}

QString text(const std::string& s) { return QString::fromStdString(s); }

// The stored summary with its next steps on lines of their own (tooltips).
QString summary_with_steps(const std::string& stored) {
  const auto parts = hil::evals::split_summary(stored);
  QString out = text(parts.summary);
  for (const auto& step : parts.next_steps) out += QStringLiteral("\nnext: ") + text(step);
  return out;
}

}  // namespace

RunTableModel::RunTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void RunTableModel::set_source(ResultsSource* source) {
  // Read before resetting: a throw between begin and end would leave views
  // of a half-reset model.
  std::vector<hil::db::RunRow> fresh =
      source ? source->newest_runs() : std::vector<hil::db::RunRow>();
  beginResetModel();
  source_ = source;
  runs_ = std::move(fresh);
  endResetModel();
}

void RunTableModel::refresh() {
  if (source_ == nullptr) return;
  merge(source_->newest_runs());
}

void RunTableModel::merge(std::vector<hil::db::RunRow> fresh) {
  std::set<int64_t> fresh_ids;
  for (const auto& run : fresh) fresh_ids.insert(run.id);

  // 1. Runs that are gone (deleted, or pushed past the newest kRunsShown).
  for (int row = rowCount() - 1; row >= 0; --row) {
    if (fresh_ids.count(runs_[static_cast<size_t>(row)].id) != 0) continue;
    beginRemoveRows(QModelIndex(), row, row);
    runs_.erase(runs_.begin() + row);
    endRemoveRows();
  }

  // 2. Every remaining row is in `fresh`; walk both in order, inserting new
  // runs and updating changed ones.
  std::set<int64_t> known_ids;
  for (const auto& run : runs_) known_ids.insert(run.id);
  for (size_t i = 0; i < fresh.size(); ++i) {
    const int row = static_cast<int>(i);
    if (i < runs_.size() && runs_[i].id == fresh[i].id) {
      if (!same_run(runs_[i], fresh[i])) {
        runs_[i] = std::move(fresh[i]);
        emit dataChanged(index(row, 0), index(row, kColumnCount - 1));
      }
      continue;
    }
    if (known_ids.count(fresh[i].id) != 0) {
      // Known runs in a new order: the query's ORDER BY changed under us.
      // Cannot happen with newest-first ids; reset rather than guess.
      beginResetModel();
      runs_ = std::move(fresh);
      endResetModel();
      return;
    }
    beginInsertRows(QModelIndex(), row, row);
    runs_.insert(runs_.begin() + row, std::move(fresh[i]));
    endInsertRows();
  }
}

std::optional<int> RunTableModel::row_of_run(int64_t run_id) const {
  auto it = std::find_if(runs_.begin(), runs_.end(),
                         [run_id](const hil::db::RunRow& run) { return run.id == run_id; });
  if (it == runs_.end()) return std::nullopt;
  return static_cast<int>(it - runs_.begin());
}

int RunTableModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(runs_.size());
}

int RunTableModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : kColumnCount;
}

QVariant RunTableModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) {
    return QVariant();
  }
  const hil::db::RunRow& run = runs_[static_cast<size_t>(index.row())];
  const int column = index.column();
  switch (role) {
    case Qt::DisplayRole:
      return display(run, column);
    case Qt::ToolTipRole:
      return tool_tip(run, column);
    case kRunIdRole:
      return QVariant::fromValue<qlonglong>(run.id);
    case Qt::TextAlignmentRole:
      if (column == kId || column == kEvals) {
        return QVariant::fromValue(Qt::Alignment(Qt::AlignRight | Qt::AlignVCenter));
      }
      return QVariant();
    case Qt::BackgroundRole:
    case Qt::ForegroundRole: {
      if (column != kVerdict) return QVariant();
      const VerdictKind verdict = verdict_kind(run.verdict);
      const QColor color =
          role == Qt::BackgroundRole ? verdict_background(verdict) : verdict_foreground(verdict);
      return color.isValid() ? QVariant(color) : QVariant();
    }
    default:
      return QVariant();
  }
}

QVariant RunTableModel::display(const hil::db::RunRow& run, int column) const {
  switch (column) {
    case kId:
      return QVariant::fromValue<qlonglong>(run.id);
    case kLabel:
      return text(run.label);
    case kCandidate:
      return text(run.candidate);
    case kBaseline:
      return run.baseline.empty() ? QStringLiteral("—") : text(run.baseline);
    case kSuite:
      return text(run.suite);
    case kPriority:
      return text(run.priority);
    case kState:
      return text(run.state);
    case kEvals:
      return QStringLiteral("%1/%2").arg(run.evals_succeeded).arg(run.evals_total);
    case kVerdict:
      return text(run.verdict);
    case kSummary:
      return text(hil::evals::split_summary(run.verdict_summary).summary);
    default:
      return QVariant();
  }
}

QVariant RunTableModel::tool_tip(const hil::db::RunRow& run, int column) const {
  switch (column) {
    case kEvals:
      return QStringLiteral("%1 succeeded, %2 failed, %3 total")
          .arg(run.evals_succeeded)
          .arg(run.evals_failed)
          .arg(run.evals_total);
    case kVerdict:
    case kSummary:
      return run.verdict.empty() ? QStringLiteral("not gated yet")
                                 : summary_with_steps(run.verdict_summary);
    case kLabel:
      return text(run.label);
    default:
      return QVariant();
  }
}

QVariant RunTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return QVariant();
  switch (section) {
    case kId:
      return QStringLiteral("Run");
    case kLabel:
      return QStringLiteral("Label");
    case kCandidate:
      return QStringLiteral("Candidate");
    case kBaseline:
      return QStringLiteral("Baseline");
    case kSuite:
      return QStringLiteral("Suite");
    case kPriority:
      return QStringLiteral("Priority");
    case kState:
      return QStringLiteral("State");
    case kEvals:
      return QStringLiteral("Evals ok");
    case kVerdict:
      return QStringLiteral("Verdict");
    case kSummary:
      return QStringLiteral("Summary");
    default:
      return QVariant();
  }
}

}  // namespace hil::viewer
