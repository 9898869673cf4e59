// The gate's per-metric verdicts for one run: blocking metrics first, then
// the advisory condition slices, in the order hil::db::Store returns them.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <QAbstractTableModel>

#include "hil/db/store.h"

namespace hil::viewer {

class ResultsSource;

class GateTableModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  enum Column {
    kMetric,
    kSlice,
    kBlocking,
    kVerdict,
    kClips,
    kBaseline,
    kCandidate,
    kDegradation,
    kInterval,
    kMargin,
    kReason,
    kColumnCount
  };

  explicit GateTableModel(QObject* parent = nullptr);

  // Switches to another database (not owned); shows no run until show_run().
  void set_source(ResultsSource* source);
  // Shows the gate results of `run_id`, or none. Throws hil::db::DbError
  // (the model is then left unchanged).
  void show_run(std::optional<int64_t> run_id);
  // Re-reads the shown run's results; resets the model only when they changed
  // (a run gets its rows once, when it is gated). Throws hil::db::DbError.
  void refresh();

  std::optional<int64_t> run_id() const { return run_id_; }
  const std::vector<hil::db::GateRow>& rows() const { return rows_; }

  int rowCount(const QModelIndex& parent = QModelIndex()) const override;
  int columnCount(const QModelIndex& parent = QModelIndex()) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;

 private:
  std::vector<hil::db::GateRow> read(std::optional<int64_t> run_id) const;
  void replace(std::optional<int64_t> run_id, std::vector<hil::db::GateRow> rows);
  QVariant display(const hil::db::GateRow& row, int column) const;

  ResultsSource* source_ = nullptr;
  std::optional<int64_t> run_id_;
  std::vector<hil::db::GateRow> rows_;
};

}  // namespace hil::viewer
