// The clip table: one row per (clip, scenario) of the comparison of revision
// A with revision B, with A's value, B's value and the delta of each gating
// metric; worst regressions first; sortable by any column and filterable by
// tag (condition, road, traffic, object class), verdict and text. Delta cells
// are coloured by direction (red: B worse, green: B better), deeper the more
// margins the delta spans. Reads through ResultsSource only; rows are handed
// to views in pages (canFetchMore/fetchMore) so 10k clips show at once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <QAbstractTableModel>
#include <QColor>

#include "clip_diff.h"
#include "results_source.h"

namespace hil::viewer {

class ClipTableModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  // Columns: clip, verdict, worst; three per metric (A, B, Δ); then scenario
  // and tags (long, so last).
  enum Column { kClip, kVerdict, kWorst, kLeadingColumns };
  enum MetricPart { kA = 0, kB = 1, kDelta = 2 };
  static constexpr int kClipShaRole = Qt::UserRole;   // QString
  static constexpr int kSortRole = Qt::UserRole + 1;  // the raw value a column sorts by
  static constexpr int kPageRows = 1000;

  explicit ClipTableModel(QObject* parent = nullptr);

  // Shows the comparison (reads at once), or nothing for nullptr / nullopt.
  // The source is not owned. Throws hil::db::DbError (model unchanged).
  void show(ResultsSource* source, std::optional<Comparison> comparison);
  // Re-reads when either revision got new results since the last read
  // (results_stamp); returns true when it did. Throws hil::db::DbError.
  bool refresh();
  // Replaces the content directly (tests, and callers that built it).
  void set_table(DiffTable table);

  void set_filter(ClipFilter filter);
  const ClipFilter& filter() const { return filter_; }

  // Sorts the shown rows (all of them, not just the fetched page).
  void sort(int column, Qt::SortOrder order = Qt::AscendingOrder) override;
  int sort_column() const { return sort_column_; }
  Qt::SortOrder sort_order() const { return sort_order_; }

  const DiffTable& table() const { return table_; }
  const std::optional<Comparison>& comparison() const { return comparison_; }
  // Rows passing the filter, in the current order (fetched or not).
  int filtered_count() const { return static_cast<int>(order_.size()); }
  // The clip of a filtered row (0 <= row < filtered_count()).
  const ClipDiff& clip_at(int row) const;
  // The filtered row of a clip (fetching pages up to it), or nullopt.
  std::optional<int> row_of(const std::string& clip_sha, const std::string& scenario = {});
  // Makes rows up to `row` available to views.
  void fetch_up_to(int row);

  // Column helpers for views and exports.
  static int metric_column(int metric, MetricPart part) {
    return kLeadingColumns + 3 * metric + part;
  }
  // Which metric a column belongs to (-1 for the others).
  int metric_of_column(int column) const;
  int scenario_column() const { return kLeadingColumns + 3 * metric_count(); }
  int tags_column() const { return scenario_column() + 1; }
  int metric_count() const { return static_cast<int>(table_.metrics.size()); }
  QColor delta_colour(const ClipDiff& clip, int metric) const;

  int rowCount(const QModelIndex& parent = QModelIndex()) const override;
  int columnCount(const QModelIndex& parent = QModelIndex()) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;
  bool canFetchMore(const QModelIndex& parent) const override;
  void fetchMore(const QModelIndex& parent) override;

 signals:
  // After show(), refresh() or set_table() replaced the rows.
  void table_replaced();

 private:
  void rebuild_order();
  void begin_reset();
  void end_reset();
  QVariant display(const ClipDiff& clip, int column) const;
  QVariant sort_value(const ClipDiff& clip, int column) const;
  QVariant tool_tip(const ClipDiff& clip, int column) const;

  ResultsSource* source_ = nullptr;
  std::optional<Comparison> comparison_;
  std::pair<int64_t, int64_t> stamp_{-1, -1};
  DiffTable table_;
  ClipFilter filter_;
  std::vector<int> order_;  // indexes into table_.clips: filtered, sorted
  int fetched_ = 0;         // rows views see (a prefix of order_)
  bool changing_ = false;   // between begin and end of a reset or insert
  int sort_column_ = kWorst;
  Qt::SortOrder sort_order_ = Qt::DescendingOrder;
};

// Text of a value as the table shows it: 4 significant digits, deltas signed.
QString format_value(double value);
QString format_delta(double delta);

}  // namespace hil::viewer
