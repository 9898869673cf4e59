// The runs of a results database, newest first: one row per run with its
// revisions, suite, progress and gate verdict.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <QAbstractTableModel>

#include "hil/db/store.h"

namespace hil::viewer {

class ResultsSource;

class RunTableModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  enum Column {
    kId,
    kLabel,
    kCandidate,
    kBaseline,
    kSuite,
    kPriority,
    kState,
    kEvals,
    kVerdict,
    kSummary,
    kColumnCount
  };
  // The run id of any cell's row, as qlonglong: lets views find a run
  // without knowing the column layout.
  static constexpr int kRunIdRole = Qt::UserRole;

  explicit RunTableModel(QObject* parent = nullptr);

  // Shows the runs of `source`, or none for nullptr. The source is not owned
  // and must outlive its use here. Throws hil::db::DbError (the model is then
  // left unchanged).
  void set_source(ResultsSource* source);
  // Re-reads the runs. Rows of runs still present keep their identity (moved
  // by row inserts and removals, updated in place), so a view's selection
  // follows its run while the scheduler writes. Throws hil::db::DbError.
  void refresh();

  std::optional<int> row_of_run(int64_t run_id) const;
  const hil::db::RunRow& run_at(int row) const { return runs_.at(static_cast<size_t>(row)); }

  int rowCount(const QModelIndex& parent = QModelIndex()) const override;
  int columnCount(const QModelIndex& parent = QModelIndex()) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;

 private:
  void merge(std::vector<hil::db::RunRow> fresh);
  QVariant display(const hil::db::RunRow& run, int column) const;
  QVariant tool_tip(const hil::db::RunRow& run, int column) const;

  ResultsSource* source_ = nullptr;
  std::vector<hil::db::RunRow> runs_;
};

}  // namespace hil::viewer
