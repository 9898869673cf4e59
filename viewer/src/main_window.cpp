#include "main_window.h"
#include "hil/evals/gate.h"

#include <QAction>
#include <QCloseEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QKeySequence>
#include <QLabel>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QTime>
#include <QTimer>
#include <QVBoxLayout>

#include "coloured_cell_delegate.h"
#include "compare_pane.h"
#include "gate_table_model.h"
#include "margin_bars.h"
#include "margin_chart.h"
#include "recent_files.h"
#include "results_source.h"
#include "run_table_model.h"

namespace hil::viewer {
namespace {

constexpr int kMaxColumnWidth = 320;  // long labels and reasons elide; tooltips show all

QTableView* make_table(QAbstractItemModel* model, const QString& name, QWidget* parent) {
  auto* table = new QTableView(parent);
  table->setObjectName(name);
  table->setModel(model);
  table->setItemDelegate(new ColouredCellDelegate(table));
  table->setSelectionBehavior(QAbstractItemView::SelectRows);
  table->setSelectionMode(QAbstractItemView::SingleSelection);
  table->setAlternatingRowColors(true);
  table->setWordWrap(false);
  table->verticalHeader()->hide();
  table->horizontalHeader()->setStretchLastSection(true);
  table->horizontalHeader()->setHighlightSections(false);
  return table;
}

void fit_columns(QTableView* table) {
  table->resizeColumnsToContents();
  QHeaderView* header = table->horizontalHeader();
  for (int column = 0; column < header->count(); ++column) {
    if (header->sectionSize(column) > kMaxColumnWidth)
      header->resizeSection(column, kMaxColumnWidth);
  }
}

std::filesystem::path to_path(const QString& path) {
  return std::filesystem::path(QFile::encodeName(path).toStdString());
}

// Settings: window geometry and tab at the top level, the compare view's
// selection and layout under "compare", the database it belongs to beside.
constexpr const char* kGeometryKey = "window/geometry";
constexpr const char* kTabKey = "window/tab";
constexpr const char* kRunsSplitterKey = "window/runs_splitter";
constexpr const char* kCompareGroup = "compare";
constexpr const char* kLastDatabaseKey = "compare/database";

enum Export { kExportFrame, kExportCharts, kExportTable, kExportSeries };

}  // namespace

MainWindow::MainWindow(QWidget* parent, bool restore)
    : QMainWindow(parent),
      restore_(restore),
      run_model_(new RunTableModel(this)),
      gate_model_(new GateTableModel(this)),
      refresh_timer_(new QTimer(this)) {
  setWindowTitle(QStringLiteral("hil-viewer"));
  build_menus();
  build_panes();
  status_label_ = new QLabel(this);
  statusBar()->addPermanentWidget(status_label_);
  statusBar()->showMessage(QStringLiteral("Open a results database with File ▸ Open"));

  refresh_timer_->setInterval(kRefreshInterval);
  connect(refresh_timer_, &QTimer::timeout, this, &MainWindow::refresh);
  connect(run_table_->selectionModel(), &QItemSelectionModel::selectionChanged, this,
          &MainWindow::show_selected_run);
  // A model reset drops the selection without a selectionChanged signal.
  connect(run_model_, &QAbstractItemModel::modelReset, this, &MainWindow::show_selected_run);
  // The chart and heading follow the gate table, whoever changed it
  // (a new selection, or a run gated while we watch).
  connect(gate_model_, &QAbstractItemModel::modelReset, this, &MainWindow::show_gate_results);
  connect(run_table_, &QTableView::doubleClicked, this, &MainWindow::compare_selected_run);
  connect(compare_, &ComparePane::status_message, this,
          [this](const QString& message) { statusBar()->showMessage(message, 10000); });
  show_gate_results();
  if (restore_) restore_layout();
}

MainWindow::~MainWindow() {
  // The models point at source_; detach them before it goes.
  refresh_timer_->stop();
  compare_->set_source(nullptr);
  gate_model_->set_source(nullptr);
  run_model_->set_source(nullptr);
}

void MainWindow::build_menus() {
  QMenu* file = menuBar()->addMenu(QStringLiteral("&File"));
  QAction* open = file->addAction(QStringLiteral("&Open…"), this, &MainWindow::choose_database);
  open->setShortcut(QKeySequence::Open);
  recent_menu_ = file->addMenu(QStringLiteral("Open &Recent"));
  connect(recent_menu_, &QMenu::aboutToShow, this, &MainWindow::rebuild_recent_menu);
  QAction* reload = file->addAction(QStringLiteral("Re&load"), this, &MainWindow::refresh);
  reload->setShortcut(QKeySequence::Refresh);
  file->addSeparator();
  QMenu* exports = file->addMenu(QStringLiteral("&Export"));
  exports
      ->addAction(QStringLiteral("Frame view as PNG…"), this,
                  [this] { choose_export(kExportFrame); })
      ->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
  exports->addAction(QStringLiteral("Charts as PNG…"), this,
                     [this] { choose_export(kExportCharts); });
  exports->addAction(QStringLiteral("Clip table as CSV…"), this,
                     [this] { choose_export(kExportTable); });
  exports->addAction(QStringLiteral("Series of the clip as CSV…"), this,
                     [this] { choose_export(kExportSeries); });
  exports->addSeparator();
  exports->addAction(QStringLiteral("Copy command line of this view"), this,
                     [this] { compare_->copy_command_line(); });
  file->addSeparator();
  QAction* quit = file->addAction(QStringLiteral("&Quit"), this, &QWidget::close);
  quit->setShortcut(QKeySequence::Quit);

  QMenu* view = menuBar()->addMenu(QStringLiteral("&View"));
  view->addAction(QStringLiteral("&Compare revisions"), this, [this] { show_tab(kCompareTab); })
      ->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_1));
  view->addAction(QStringLiteral("&Runs and gates"), this, [this] { show_tab(kRunsTab); })
      ->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_2));
  view->addSeparator();
  view->addAction(QStringLiteral("Compare the selected run"), this,
                  &MainWindow::compare_selected_run);
  QMenu* help = menuBar()->addMenu(QStringLiteral("&Help"));
  help->addAction(QStringLiteral("&Keys…"), this, [this] { compare_->show_key_help(); });
}

void MainWindow::build_panes() {
  run_table_ = make_table(run_model_, QStringLiteral("run_table"), this);
  gate_table_ = make_table(gate_model_, QStringLiteral("gate_table"), this);
  margin_chart_ = create_margin_chart(this);
  margin_chart_->setObjectName(QStringLiteral("margin_chart"));
  margin_chart_->setMinimumSize(320, 240);

  auto* runs_and_chart = new QSplitter(Qt::Horizontal);
  runs_and_chart->addWidget(run_table_);
  runs_and_chart->addWidget(margin_chart_);
  // Initial sizes: the stretch factors only share out later resizes.
  runs_and_chart->setSizes({660, 540});
  runs_and_chart->setStretchFactor(0, 1);
  runs_and_chart->setStretchFactor(1, 1);

  auto* gate_pane = new QWidget;
  auto* gate_layout = new QVBoxLayout(gate_pane);
  gate_layout->setContentsMargins(0, 4, 0, 0);
  gate_heading_ = new QLabel;
  gate_heading_->setObjectName(QStringLiteral("gate_heading"));
  gate_heading_->setTextFormat(Qt::PlainText);
  QFont bold = gate_heading_->font();
  bold.setBold(true);
  gate_heading_->setFont(bold);
  gate_layout->addWidget(gate_heading_);
  gate_layout->addWidget(gate_table_);

  auto* splitter = new QSplitter(Qt::Vertical);
  splitter->setObjectName(QStringLiteral("runs_splitter"));
  splitter->addWidget(runs_and_chart);
  splitter->addWidget(gate_pane);
  splitter->setStretchFactor(0, 1);
  splitter->setStretchFactor(1, 1);

  compare_ = new ComparePane;
  compare_->setObjectName(QStringLiteral("compare_pane"));
  tabs_ = new QTabWidget;
  tabs_->setObjectName(QStringLiteral("tabs"));
  tabs_->setDocumentMode(true);
  tabs_->addTab(compare_, QStringLiteral("Compare A / B"));
  tabs_->addTab(splitter, QStringLiteral("Runs and gates"));
  tabs_->setTabToolTip(
      kCompareTab,
      QStringLiteral("Revision A against revision B, clip by clip and frame by frame (Ctrl+1)"));
  tabs_->setTabToolTip(
      kRunsTab, QStringLiteral("Runs, their gate verdicts and margins (Ctrl+2); double-click a run "
                               "to compare its revisions"));
  run_table_->setToolTip(
      QStringLiteral("Runs, newest first. Double-click one to compare its baseline (A) with its "
                     "candidate (B)."));
  setCentralWidget(tabs_);
}

void MainWindow::show_tab(Tab tab) { tabs_->setCurrentIndex(tab); }

MainWindow::Tab MainWindow::current_tab() const { return static_cast<Tab>(tabs_->currentIndex()); }

void MainWindow::compare_selected_run() {
  const std::optional<int64_t> run = selected_run();
  if (!run || !source_) return;
  ViewRequest request;
  request.run_id = *run;
  const QStringList problems = compare_->apply(request);
  if (!problems.isEmpty()) statusBar()->showMessage(problems.join(QStringLiteral("; ")), 10000);
  show_tab(kCompareTab);
}

void MainWindow::choose_export(int what) {
  struct Choice {
    const char* title;
    const char* filter;
    const char* suffix;
  };
  static constexpr Choice kChoices[] = {
      {"Export the frame view", "PNG images (*.png)", "frame.png"},
      {"Export the charts", "PNG images (*.png)", "charts.png"},
      {"Export the clip table", "CSV files (*.csv)", "clips.csv"},
      {"Export the clip's series", "CSV files (*.csv)", "series.csv"}};
  const Choice& choice = kChoices[what];
  const QString start = source_ ? QFileInfo(database_path()).absolutePath() + QStringLiteral("/") +
                                      QLatin1String(choice.suffix)
                                : QLatin1String(choice.suffix);
  const QString path = QFileDialog::getSaveFileName(this, QLatin1String(choice.title), start,
                                                    QLatin1String(choice.filter));
  if (path.isEmpty()) return;
  std::optional<QString> error;
  switch (what) {
    case kExportFrame:
      error = compare_->export_frame_png(path);
      break;
    case kExportCharts:
      error = compare_->export_charts_png(path);
      break;
    case kExportTable:
      error = compare_->export_table_csv(path);
      break;
    default:
      error = compare_->export_series_csv(path);
      break;
  }
  if (error) {
    QMessageBox::warning(this, QLatin1String(choice.title), *error);
  } else {
    statusBar()->showMessage(QStringLiteral("Wrote %1").arg(path), 10000);
  }
}

void MainWindow::save_settings() const {
  QSettings settings;
  settings.setValue(QLatin1String(kGeometryKey), saveGeometry());
  settings.setValue(QLatin1String(kTabKey), tabs_->currentIndex());
  if (auto* runs = findChild<QSplitter*>(QStringLiteral("runs_splitter"))) {
    settings.setValue(QLatin1String(kRunsSplitterKey), runs->saveState());
  }
  if (source_)
    settings.setValue(QLatin1String(kLastDatabaseKey),
                      QFileInfo(database_path()).absoluteFilePath());
  settings.beginGroup(QLatin1String(kCompareGroup));
  compare_->save_settings(settings);
  settings.endGroup();
}

void MainWindow::restore_layout() {
  QSettings settings;
  if (settings.contains(QLatin1String(kGeometryKey))) {
    restoreGeometry(settings.value(QLatin1String(kGeometryKey)).toByteArray());
  }
  if (auto* runs = findChild<QSplitter*>(QStringLiteral("runs_splitter"))) {
    runs->restoreState(settings.value(QLatin1String(kRunsSplitterKey)).toByteArray());
  }
  tabs_->setCurrentIndex(settings.value(QLatin1String(kTabKey), 0).toInt());
  settings.beginGroup(QLatin1String(kCompareGroup));
  compare_->restore_layout(settings);
  settings.endGroup();
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (restore_) save_settings();
  QMainWindow::closeEvent(event);
}

std::optional<QString> MainWindow::open_database(const QString& path, const ViewRequest& view,
                                                 QStringList* view_problems) {
  std::unique_ptr<ResultsSource> source;
  try {
    source = std::make_unique<ResultsSource>(to_path(path));
    // Point the models at the new source before the old one is destroyed.
    // The run model reads first and is left unchanged when that throws; the
    // gate model reads nothing until a run is selected.
    run_model_->set_source(source.get());
    gate_model_->set_source(source.get());
  } catch (const hil::db::DbError& e) {
    return QString::fromStdString(e.what());
  }
  compare_->set_source(nullptr);  // it must not see the old source go
  source_ = std::move(source);
  setWindowTitle(QStringLiteral("%1 — hil-viewer").arg(QFileInfo(path).absoluteFilePath()));
  fit_columns(run_table_);
  if (run_model_->rowCount() > 0) select_run(run_model_->run_at(0).id);
  if (view.run_id) select_run(*view.run_id);
  // The last session's view of this same database, unless one was asked for.
  ViewRequest request = view;
  QSettings settings;
  if (request.empty() && restore_ &&
      settings.value(QLatin1String(kLastDatabaseKey)).toString() ==
          QFileInfo(path).absoluteFilePath()) {
    settings.beginGroup(QLatin1String(kCompareGroup));
    request = ComparePane::saved_request(settings);
    settings.endGroup();
  }
  const QStringList problems = compare_->set_source(source_.get(), request);
  if (view_problems != nullptr) *view_problems = problems;
  statusBar()->clearMessage();
  status_label_->setText(QStringLiteral("%1 runs · read %2")
                             .arg(run_model_->rowCount())
                             .arg(QTime::currentTime().toString(QStringLiteral("HH:mm:ss"))));
  refresh_timer_->start();
  return std::nullopt;
}

void MainWindow::open_database_interactively(const QString& path, const ViewRequest& view) {
  RecentFiles recent;
  QStringList problems;
  if (auto error = open_database(path, view, &problems)) {
    // A file that is gone stays gone: drop it from the recent list.
    if (!QFileInfo::exists(path)) recent.remove(path);
    QMessageBox::critical(this, QStringLiteral("Cannot open results database"), *error);
    return;
  }
  recent.add(path);
  if (!problems.isEmpty()) {
    QMessageBox::warning(this, QStringLiteral("Not in this database"),
                         problems.join(QLatin1Char('\n')));
  }
}

QString MainWindow::database_path() const {
  return source_ ? QString::fromStdString(source_->path().string()) : QString();
}

bool MainWindow::select_run(int64_t run_id) {
  const std::optional<int> row = run_model_->row_of_run(run_id);
  if (!row) return false;
  const QModelIndex index = run_model_->index(*row, 0);
  run_table_->selectionModel()->setCurrentIndex(
      index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
  run_table_->scrollTo(index);
  return true;
}

std::optional<int64_t> MainWindow::selected_run() const {
  const QModelIndexList rows = run_table_->selectionModel()->selectedRows();
  if (rows.isEmpty()) return std::nullopt;
  return rows.front().data(RunTableModel::kRunIdRole).toLongLong();
}

void MainWindow::refresh() {
  if (!source_) return;
  try {
    run_model_->refresh();
    gate_model_->refresh();
    compare_->refresh();
  } catch (const hil::db::DbError& e) {
    show_error_in_status(QStringLiteral("Refresh failed"), e.what());
    return;
  }
  statusBar()->clearMessage();
  status_label_->setText(QStringLiteral("%1 runs · read %2")
                             .arg(run_model_->rowCount())
                             .arg(QTime::currentTime().toString(QStringLiteral("HH:mm:ss"))));
}

void MainWindow::choose_database() {
  const QString start = source_ ? QFileInfo(database_path()).absolutePath() : QString();
  const QString path = QFileDialog::getOpenFileName(
      this, QStringLiteral("Open results database"), start,
      QStringLiteral("hil results (*.db *.sqlite *.sqlite3);;All files (*)"));
  if (!path.isEmpty()) open_database_interactively(path);
}

void MainWindow::rebuild_recent_menu() {
  recent_menu_->clear();
  const QStringList paths = RecentFiles().paths();
  for (const QString& path : paths) {
    recent_menu_->addAction(path, this, [this, path] { open_database_interactively(path); });
  }
  if (paths.isEmpty()) {
    recent_menu_->addAction(QStringLiteral("(none)"))->setEnabled(false);
    return;
  }
  recent_menu_->addSeparator();
  recent_menu_->addAction(QStringLiteral("Clear list"), this, [] { RecentFiles().clear(); });
}

void MainWindow::show_selected_run() {
  try {
    gate_model_->show_run(selected_run());
  } catch (const hil::db::DbError& e) {
    show_error_in_status(QStringLiteral("Cannot read gate results"), e.what());
  }
}

void MainWindow::show_gate_results() {
  fit_columns(gate_table_);
  const std::optional<int64_t> run_id = gate_model_->run_id();
  if (!run_id) {
    gate_heading_->setText(QStringLiteral("Gate results"));
    margin_chart_->show_message(QStringLiteral("No run selected"));
    return;
  }
  const std::optional<int> row = run_model_->row_of_run(*run_id);
  const QString label = row ? QString::fromStdString(run_model_->run_at(*row).label) : QString();
  const QString run_name = QStringLiteral("Run %1 (%2)").arg(*run_id).arg(label);
  if (gate_model_->rows().empty()) {
    gate_heading_->setText(QStringLiteral("Gate results of %1: not gated yet").arg(run_name));
    margin_chart_->show_message(QStringLiteral("%1: not gated yet").arg(run_name));
    return;
  }
  const QString summary =
      row ? QString::fromStdString(
                hil::evals::split_summary(run_model_->run_at(*row).verdict_summary).summary)
          : QString();
  gate_heading_->setText(QStringLiteral("Gate results of %1 — %2").arg(run_name, summary));
  const std::vector<MarginBar> bars = margin_bars_of(gate_model_->rows());
  if (bars.empty()) {
    margin_chart_->show_message(QStringLiteral("%1: no blocking metrics").arg(run_name));
    return;
  }
  margin_chart_->show_bars(
      QStringLiteral("Run %1: blocking metrics against their margins").arg(*run_id), bars);
}

void MainWindow::show_error_in_status(const QString& what, const char* error) {
  statusBar()->showMessage(QStringLiteral("%1: %2").arg(what, QString::fromUtf8(error)));
}

}  // namespace hil::viewer
