#include "main_window.h"

#include <QAction>
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
#include <QSplitter>
#include <QStatusBar>
#include <QTableView>
#include <QTime>
#include <QTimer>
#include <QVBoxLayout>

#include "coloured_cell_delegate.h"
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

}  // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent),
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
  show_gate_results();
}

MainWindow::~MainWindow() {
  // The models point at source_; detach them before it goes.
  refresh_timer_->stop();
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
  QAction* quit = file->addAction(QStringLiteral("&Quit"), this, &QWidget::close);
  quit->setShortcut(QKeySequence::Quit);
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
  splitter->addWidget(runs_and_chart);
  splitter->addWidget(gate_pane);
  splitter->setStretchFactor(0, 1);
  splitter->setStretchFactor(1, 1);
  setCentralWidget(splitter);
}

std::optional<QString> MainWindow::open_database(const QString& path) {
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
  source_ = std::move(source);
  setWindowTitle(QStringLiteral("%1 — hil-viewer").arg(QFileInfo(path).absoluteFilePath()));
  fit_columns(run_table_);
  if (run_model_->rowCount() > 0) select_run(run_model_->run_at(0).id);
  statusBar()->clearMessage();
  status_label_->setText(QStringLiteral("%1 runs · read %2")
                             .arg(run_model_->rowCount())
                             .arg(QTime::currentTime().toString(QStringLiteral("HH:mm:ss"))));
  refresh_timer_->start();
  return std::nullopt;
}

void MainWindow::open_database_interactively(const QString& path) {
  RecentFiles recent;
  if (auto error = open_database(path)) {
    // A file that is gone stays gone: drop it from the recent list.
    if (!QFileInfo::exists(path)) recent.remove(path);
    QMessageBox::critical(this, QStringLiteral("Cannot open results database"), *error);
    return;
  }
  recent.add(path);
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
      row ? QString::fromStdString(run_model_->run_at(*row).verdict_summary) : QString();
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
