// hil-viewer's window over one results database, in two tabs: Compare
// (revision A against B, clip by clip and frame by frame: compare_pane.h)
// and Runs (the runs on top, the selected run's margin chart beside them and
// its gate results below). Re-read every kRefreshInterval so a scheduler's
// new results appear while it writes. Layout and the last selection are kept
// in QSettings and restored on the next start.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include <QMainWindow>
#include <QString>
#include <QStringList>

#include "view_state.h"

class QCloseEvent;
class QLabel;
class QMenu;
class QTabWidget;
class QTableView;
class QTimer;

namespace hil::viewer {

class ComparePane;
class GateTableModel;
class MarginChart;
class ResultsSource;
class RunTableModel;

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  static constexpr std::chrono::milliseconds kRefreshInterval{2000};
  enum Tab { kCompareTab = 0, kRunsTab = 1 };

  // `restore`: take the layout (and, for the same database, the last
  // selection) from the user's settings; off for reproducible screenshots.
  explicit MainWindow(QWidget* parent = nullptr, bool restore = true);
  ~MainWindow() override;

  // Opens `path` read-only, shows its runs and selects the newest, and
  // shows `view` in the compare tab (empty: the last session's view of this
  // database, else the newest run's pair). Returns the error (naming the
  // file) when it cannot be read as a hil results database; the window then
  // keeps showing what it showed before. Parts of `view` not found are
  // listed in `view_problems`.
  std::optional<QString> open_database(const QString& path, const ViewRequest& view = {},
                                       QStringList* view_problems = nullptr);
  // open_database() for a user's choice: remembers the file among the recent
  // ones, or shows the error in a dialog.
  void open_database_interactively(const QString& path, const ViewRequest& view = {});
  QString database_path() const;

  // Selects `run_id` in the run table; false when the table does not list it.
  bool select_run(int64_t run_id);
  std::optional<int64_t> selected_run() const;

  void show_tab(Tab tab);
  Tab current_tab() const;
  // Writes the layout and selection to the user's settings (also on close).
  void save_settings() const;

  ComparePane& compare() { return *compare_; }
  RunTableModel& run_model() { return *run_model_; }
  GateTableModel& gate_model() { return *gate_model_; }
  MarginChart& margin_chart() { return *margin_chart_; }
  QTableView& run_table() { return *run_table_; }
  QTableView& gate_table() { return *gate_table_; }
  QTimer& refresh_timer() { return *refresh_timer_; }

 public slots:
  // Re-reads runs and the selected run's gate results; a failure (file gone,
  // disk error) is shown in the status bar and retried at the next tick.
  void refresh();

 protected:
  void closeEvent(QCloseEvent* event) override;

 private slots:
  void choose_database();
  void compare_selected_run();
  void choose_export(int what);
  void rebuild_recent_menu();
  void show_selected_run();
  void show_gate_results();

 private:
  void build_menus();
  void build_panes();
  void show_error_in_status(const QString& what, const char* error);

  void restore_layout();

  std::unique_ptr<ResultsSource> source_;
  bool restore_ = true;
  QTabWidget* tabs_ = nullptr;
  ComparePane* compare_ = nullptr;
  RunTableModel* run_model_;
  GateTableModel* gate_model_;
  QTableView* run_table_ = nullptr;
  QTableView* gate_table_ = nullptr;
  QLabel* gate_heading_ = nullptr;
  MarginChart* margin_chart_ = nullptr;
  QLabel* status_label_ = nullptr;
  QMenu* recent_menu_ = nullptr;
  QTimer* refresh_timer_;
};

}  // namespace hil::viewer
