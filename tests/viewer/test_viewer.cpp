// hil-viewer against real results databases: each test builds one in a temp
// folder through hil::db (as the scheduler would), keeps the writer open like
// a running scheduler, and reads it through the viewer's models and window.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChart>
#include <QColor>
#include <QFile>
#include <QFileInfo>
#include <QHorizontalStackedBarSeries>
#include <QImage>
#include <QLabel>
#include <QLineSeries>
#include <QPersistentModelIndex>
#include <QProcess>
#include <QSettings>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include "command_line.h"
#include "gate_table_model.h"
#include "hil/db/database.h"
#include "hil/db/store.h"
#include "main_window.h"
#include "margin_bars.h"
#include "qt_charts_margin_chart.h"
#include "recent_files.h"
#include "results_source.h"
#include "run_table_model.h"
#include "screenshot.h"
#include "verdict_style.h"
#include "viewer_app.h"
#include "viewer_test_support.h"

namespace {

using hil::db::GateRow;
using hil::viewer::GateTableModel;
using hil::viewer::MainWindow;
using hil::viewer::RunTableModel;
using hil::viewer::VerdictKind;
using viewer_test::cell;
using viewer_test::cell_color;
using viewer_test::CheckedModel;
using viewer_test::count_pixels;

// ------------------------------------------------------------------ fixture

struct RunSpec {
  std::string label;
  std::string priority;
  int evals = 4;
  int succeeded = 4;
  bool done = true;
};

// A results database as a scheduler leaves it: three runs of a candidate
// against a baseline; the oldest failed its gate, the second passed, the
// newest is still running (not gated).
class ResultsDatabase {
 public:
  ResultsDatabase()
      : path_(std::filesystem::path(dir_.path().toStdString()) / "hil.db"),
        writer_(std::make_unique<hil::db::Database>(path_)),
        store_(*writer_) {
    REQUIRE(dir_.isValid());
    candidate_ =
        store_.upsert_revision({0, std::string(64, 'c'), "net-v2", "abc123", "481", "ana", 1000});
    baseline_ =
        store_.upsert_revision({0, std::string(64, 'b'), "net-v1", "def456", "", "ana", 1000});
    suite_ = store_.upsert_suite("smoke", "name: \"smoke\"", std::string(64, 's'));
    clips_.push_back(
        store_.upsert_clip({0, std::string(64, '1'), "highway-day", {"day"}, 300, 30}));
    clips_.push_back(
        store_.upsert_clip({0, std::string(64, '2'), "city-night", {"night"}, 300, 30}));

    fail_run = add_run({"pr-481 lane refactor", "gate"});
    store_.store_gate(fail_run, "fail", "fail: 2 paired clips, 1 blocking metric(s) regressed",
                      failing_gate_rows());
    pass_run = add_run({"pr-482 quantise head", "interactive"});
    store_.store_gate(pass_run, "pass", "pass: 2 paired clips, 0 blocking metric(s) regressed",
                      passing_gate_rows());
    running_run = add_run({"nightly", "nightly", 4, 2, false});
  }

  // Three blocking metrics (one per verdict) and one advisory slice; the
  // blocking ones come back ordered by metric name.
  static std::vector<GateRow> failing_gate_rows() {
    return {
        {"lane_offset_mae", "all", true, "fail", 2, 0.12, 0.15, 0.03, 0.021, 0.039, 0.01,
         "worse by 0.03 (interval [0.021, 0.039]) beyond margin 0.01"},
        {"lead_recall", "all", true, "pass", 2, 0.95, 0.952, -0.002, -0.006, 0.003, 0.01,
         "interval [-0.006, 0.003] within margin 0.01"},
        {"device_latency_p99_ms", "all", true, "inconclusive", 2, 30, 31.2, 1.2, -0.4, 2.9, 1.5,
         "interval [-0.4, 2.9] straddles margin 1.5; about 9 clips might decide"},
        {"lane_offset_mae", "night", false, "fail", 1, 0.2, 0.26, 0.06, 0.06, 0.06, 0.01,
         "1 paired clips, the suite needs at least 2"},
    };
  }
  static std::vector<GateRow> passing_gate_rows() {
    return {
        {"lane_offset_mae", "all", true, "pass", 2, 0.12, 0.121, 0.001, -0.003, 0.005, 0.01,
         "interval [-0.003, 0.005] within margin 0.01"},
    };
  }

  // Adds a run with half its evals on each revision, `succeeded` of them done.
  int64_t add_run(const RunSpec& spec) {
    std::vector<hil::db::NewEval> evals;
    for (int i = 0; i < spec.evals; ++i) {
      evals.push_back(
          {i % 2 == 0 ? candidate_ : baseline_, clips_[static_cast<size_t>(i / 2) % 2], "default"});
    }
    int64_t run_id = 0;
    {
      hil::db::Transaction transaction(*writer_);
      run_id = store_.create_run(spec.label, candidate_, baseline_, suite_, spec.priority, evals);
      transaction.commit();
    }
    const std::vector<hil::db::EvalRow> created = store_.evals_of_run(run_id);
    for (int i = 0; i < spec.succeeded; ++i) {
      hil::db::EvalOutcome outcome;
      outcome.eval_id = created[static_cast<size_t>(i)].id;
      outcome.board = "rack-001";
      outcome.succeeded = true;
      REQUIRE(store_.record_outcome(outcome));
    }
    store_.set_run_state(run_id, spec.done ? "done" : "running");
    return run_id;
  }

  hil::db::Store& store() { return store_; }
  const std::filesystem::path& path() const { return path_; }
  QString qpath() const { return QString::fromStdString(path_.string()); }
  QString file_in_dir(const QString& name) const { return dir_.filePath(name); }

  int64_t fail_run = 0, pass_run = 0, running_run = 0;

 private:
  QTemporaryDir dir_;
  std::filesystem::path path_;
  std::unique_ptr<hil::db::Database> writer_;  // open throughout, like a scheduler
  hil::db::Store store_;
  int64_t candidate_ = 0, baseline_ = 0, suite_ = 0;
  std::vector<int64_t> clips_;
};

// ------------------------------------------------------------------ run table

TEST_CASE("The run table lists the runs newest first with revisions, progress and verdict") {
  ResultsDatabase db;
  hil::viewer::ResultsSource source(db.path());
  RunTableModel model;
  CheckedModel checked(&model);
  model.set_source(&source);

  REQUIRE(model.rowCount() == 3);
  REQUIRE(model.columnCount() == RunTableModel::kColumnCount);
  CHECK(model.data(model.index(0, RunTableModel::kId), RunTableModel::kRunIdRole).toLongLong() ==
        db.running_run);
  CHECK(cell(model, 2, RunTableModel::kId) == QString::number(db.fail_run));
  CHECK(cell(model, 2, RunTableModel::kLabel) == "pr-481 lane refactor");
  CHECK(cell(model, 2, RunTableModel::kCandidate) == "net-v2");
  CHECK(cell(model, 2, RunTableModel::kBaseline) == "net-v1");
  CHECK(cell(model, 2, RunTableModel::kSuite) == "smoke");
  CHECK(cell(model, 2, RunTableModel::kPriority) == "gate");
  CHECK(cell(model, 2, RunTableModel::kState) == "done");
  CHECK(cell(model, 2, RunTableModel::kEvals) == "4/4");
  CHECK(cell(model, 2, RunTableModel::kVerdict) == "fail");
  CHECK(cell(model, 2, RunTableModel::kSummary).startsWith("fail: 2 paired clips"));
  CHECK(cell(model, 0, RunTableModel::kState) == "running");
  CHECK(cell(model, 0, RunTableModel::kEvals) == "2/4");
  CHECK(cell(model, 0, RunTableModel::kVerdict).isEmpty());
  CHECK(model.headerData(RunTableModel::kVerdict, Qt::Horizontal).toString() == "Verdict");

  SECTION("verdict cells are coloured: fail red, pass green, not gated left alone") {
    const QColor fail = cell_color(model, 2, RunTableModel::kVerdict, Qt::BackgroundRole);
    const QColor pass = cell_color(model, 1, RunTableModel::kVerdict, Qt::BackgroundRole);
    CHECK(fail == hil::viewer::verdict_background(VerdictKind::kFail));
    CHECK(fail.red() > 2 * fail.green());
    CHECK(pass == hil::viewer::verdict_background(VerdictKind::kPass));
    CHECK(pass.green() > 2 * pass.red());
    CHECK(cell_color(model, 2, RunTableModel::kVerdict, Qt::ForegroundRole) == QColor(Qt::white));
    CHECK(model.data(model.index(0, RunTableModel::kVerdict), Qt::BackgroundRole).isNull());
    // Only the verdict cell: the rest of the row keeps the view's colours.
    CHECK(model.data(model.index(2, RunTableModel::kLabel), Qt::BackgroundRole).isNull());
  }

  SECTION("the inconclusive colour is amber with dark text") {
    const QColor amber = hil::viewer::verdict_background(VerdictKind::kInconclusive);
    CHECK(amber.red() > 200);
    CHECK(amber.green() > 120);
    CHECK(amber.blue() < 60);
    CHECK(hil::viewer::verdict_foreground(VerdictKind::kInconclusive) == QColor(Qt::black));
    CHECK(hil::viewer::verdict_kind("inconclusive") == VerdictKind::kInconclusive);
    CHECK(hil::viewer::verdict_kind("") == VerdictKind::kNone);
  }
}

TEST_CASE("Refreshing the run table picks up the scheduler's writes and keeps rows of known runs") {
  ResultsDatabase db;
  hil::viewer::ResultsSource source(db.path());
  RunTableModel model;
  CheckedModel checked(&model);
  model.set_source(&source);
  const QPersistentModelIndex fail_cell(model.index(2, RunTableModel::kLabel));

  SECTION("a new run appears on top, known rows move down with it") {
    const int64_t new_run = db.add_run({"pr-483 new head", "gate", 2, 0, false});
    model.refresh();
    REQUIRE(model.rowCount() == 4);
    CHECK(model.run_at(0).id == new_run);
    REQUIRE(fail_cell.isValid());
    CHECK(fail_cell.row() == 3);
    CHECK(fail_cell.data().toString() == "pr-481 lane refactor");
  }

  SECTION("a run gated meanwhile shows its verdict in place") {
    db.store().store_gate(db.running_run, "inconclusive", "inconclusive: 1 paired clips",
                          ResultsDatabase::passing_gate_rows());
    model.refresh();
    REQUIRE(model.rowCount() == 3);
    CHECK(cell(model, 0, RunTableModel::kVerdict) == "inconclusive");
    CHECK(cell_color(model, 0, RunTableModel::kVerdict, Qt::BackgroundRole) ==
          hil::viewer::verdict_background(VerdictKind::kInconclusive));
    CHECK(fail_cell.row() == 2);
  }

  SECTION("nothing changed, nothing signalled") {
    int signals_seen = 0;
    QObject::connect(&model, &QAbstractItemModel::dataChanged, [&] { ++signals_seen; });
    QObject::connect(&model, &QAbstractItemModel::rowsInserted, [&] { ++signals_seen; });
    QObject::connect(&model, &QAbstractItemModel::modelReset, [&] { ++signals_seen; });
    model.refresh();
    CHECK(signals_seen == 0);
  }
}

// ------------------------------------------------------------------ gate table

TEST_CASE("The gate table shows a run's per-metric verdicts with interval, margin and reason") {
  ResultsDatabase db;
  hil::viewer::ResultsSource source(db.path());
  GateTableModel model;
  CheckedModel checked(&model);
  model.set_source(&source);
  CHECK(model.rowCount() == 0);

  model.show_run(db.fail_run);
  REQUIRE(model.rowCount() == 4);
  REQUIRE(model.run_id() == db.fail_run);
  // Blocking metrics first (by name), then the advisory slice.
  CHECK(cell(model, 0, GateTableModel::kMetric) == "device_latency_p99_ms");
  CHECK(cell(model, 1, GateTableModel::kMetric) == "lane_offset_mae");
  CHECK(cell(model, 3, GateTableModel::kSlice) == "night");
  CHECK(cell(model, 3, GateTableModel::kBlocking) == "advisory");
  CHECK(cell(model, 1, GateTableModel::kBlocking) == "blocking");
  CHECK(cell(model, 1, GateTableModel::kVerdict) == "fail");
  CHECK(cell(model, 1, GateTableModel::kClips) == "2");
  CHECK(cell(model, 1, GateTableModel::kBaseline) == "0.12");
  CHECK(cell(model, 1, GateTableModel::kCandidate) == "0.15");
  CHECK(cell(model, 1, GateTableModel::kDegradation) == "+0.03");
  CHECK(cell(model, 2, GateTableModel::kDegradation) == "-0.002");
  CHECK(cell(model, 1, GateTableModel::kInterval) == "[0.021, 0.039]");
  CHECK(cell(model, 1, GateTableModel::kMargin) == "0.01");
  CHECK(cell(model, 1, GateTableModel::kReason).startsWith("worse by 0.03"));
  CHECK(cell_color(model, 0, GateTableModel::kVerdict, Qt::BackgroundRole) ==
        hil::viewer::verdict_background(VerdictKind::kInconclusive));
  CHECK(cell_color(model, 1, GateTableModel::kVerdict, Qt::BackgroundRole) ==
        hil::viewer::verdict_background(VerdictKind::kFail));
  CHECK(cell_color(model, 2, GateTableModel::kVerdict, Qt::BackgroundRole) ==
        hil::viewer::verdict_background(VerdictKind::kPass));

  SECTION("a run not gated yet has no rows until its gate is stored") {
    model.show_run(db.running_run);
    CHECK(model.rowCount() == 0);
    db.store().store_gate(db.running_run, "pass", "pass", ResultsDatabase::passing_gate_rows());
    model.refresh();
    CHECK(model.rowCount() == 1);
  }

  SECTION("no run shows nothing") {
    model.show_run(std::nullopt);
    CHECK(model.rowCount() == 0);
    CHECK_FALSE(model.run_id().has_value());
  }
}

TEST_CASE("Margin bars measure each blocking metric's degradation in units of its margin") {
  std::vector<GateRow> rows = ResultsDatabase::failing_gate_rows();
  rows.push_back({"command_gaps", "all", true, "fail", 2, 0, 1, 1, 1, 1, 0, "no margin set"});
  const std::vector<hil::viewer::MarginBar> bars = hil::viewer::margin_bars_of(rows);

  REQUIRE(bars.size() == 4);  // the advisory "night" slice is not a bar
  CHECK(bars[0].metric == "lane_offset_mae");
  CHECK(bars[0].verdict == VerdictKind::kFail);
  CHECK(bars[0].degradation == Approx(3.0));
  CHECK(bars[0].lo == Approx(2.1));
  CHECK(bars[0].hi == Approx(3.9));
  CHECK(bars[1].degradation == Approx(-0.2));
  CHECK(bars[2].degradation == Approx(0.8));
  CHECK(bars[2].verdict == VerdictKind::kInconclusive);
  CHECK_FALSE(bars[3].has_margin);
  CHECK(bars[3].degradation == 0);
}

// ------------------------------------------------------------------ window

TEST_CASE("The window shows the selected run's gate results and margin chart") {
  ResultsDatabase db;
  MainWindow window;
  CheckedModel checked_runs(&window.run_model());
  CheckedModel checked_gates(&window.gate_model());
  REQUIRE_FALSE(window.open_database(db.qpath()).has_value());

  CHECK(window.windowTitle().contains(db.qpath()));
  CHECK(window.run_model().rowCount() == 3);
  // The newest run is selected at once; it is not gated yet.
  CHECK(window.selected_run() == db.running_run);
  CHECK(window.gate_model().rowCount() == 0);
  CHECK(window.margin_chart().shown_bars().empty());
  CHECK(window.refresh_timer().isActive());
  CHECK(window.refresh_timer().intervalAsDuration() == MainWindow::kRefreshInterval);

  // Select the failed run the way a user does: a click on its row.
  const int fail_row = *window.run_model().row_of_run(db.fail_run);
  QTableView& runs = window.run_table();
  window.resize(hil::viewer::kScreenshotSize);
  window.show_tab(MainWindow::kRunsTab);
  window.show();
  REQUIRE(QTest::qWaitForWindowExposed(&window));
  const QRect cell_rect = runs.visualRect(window.run_model().index(fail_row, 1));
  QTest::mouseClick(runs.viewport(), Qt::LeftButton, {}, cell_rect.center());
  REQUIRE(window.selected_run() == db.fail_run);

  QAbstractItemModel* gate_table = window.gate_table().model();
  REQUIRE(gate_table->rowCount() == 4);
  CHECK(cell(*gate_table, 1, GateTableModel::kMetric) == "lane_offset_mae");
  CHECK(cell(*gate_table, 1, GateTableModel::kVerdict) == "fail");
  CHECK(window.findChild<QLabel*>("gate_heading")->text().contains("pr-481 lane refactor"));

  const auto& bars = window.margin_chart().shown_bars();
  REQUIRE(bars.size() == 3);
  CHECK(bars[1].metric == "lane_offset_mae");

  SECTION("the Qt Charts series hold one bar set per verdict, the margin line and whiskers") {
    auto* chart = dynamic_cast<hil::viewer::QtChartsMarginChart*>(&window.margin_chart());
    REQUIRE(chart != nullptr);
    QHorizontalStackedBarSeries* bar_series = nullptr;
    QLineSeries* margin_line = nullptr;
    int whiskers = 0;
    for (QAbstractSeries* series : chart->chart()->series()) {
      if (auto* stacked = qobject_cast<QHorizontalStackedBarSeries*>(series)) bar_series = stacked;
      auto* line = qobject_cast<QLineSeries*>(series);
      if (line == nullptr) continue;
      if (line->name() == "margin") margin_line = line;
      if (line->name() == "bootstrap interval") ++whiskers;
    }
    REQUIRE(bar_series != nullptr);
    auto* axis = qobject_cast<QBarCategoryAxis*>(bar_series->attachedAxes().value(0));
    if (axis == nullptr)
      axis = qobject_cast<QBarCategoryAxis*>(bar_series->attachedAxes().value(1));
    REQUIRE(axis != nullptr);
    // Metric and its degradation / margin, the first metric on top (last category).
    REQUIRE(axis->count() == 3);
    CHECK(axis->at(2) == QStringLiteral("device_latency_p99_ms<br>0.80×"));
    CHECK(axis->at(1) == QStringLiteral("lane_offset_mae<br>3.00×"));
    CHECK(axis->at(0) == QStringLiteral("lead_recall<br>-0.20×"));

    const QList<QBarSet*> sets = bar_series->barSets();
    REQUIRE(sets.size() == 3);
    CHECK(sets[0]->label() == "fail");
    CHECK(sets[0]->color() == hil::viewer::verdict_background(VerdictKind::kFail));
    CHECK(sets[0]->at(1) == Approx(3.0));
    CHECK(sets[0]->at(0) == 0);
    CHECK(sets[0]->at(2) == 0);
    CHECK(sets[1]->label() == "inconclusive");
    CHECK(sets[1]->at(2) == Approx(0.8));
    CHECK(sets[2]->label() == "pass");
    CHECK(sets[2]->at(0) == Approx(-0.2));
    REQUIRE(margin_line != nullptr);
    CHECK(margin_line->at(0).x() == 1.0);
    CHECK(margin_line->at(1).x() == 1.0);
    CHECK(whiskers == 3);
  }

  SECTION("a selected run keeps its selection and gets its gate while the scheduler writes") {
    REQUIRE(window.select_run(db.running_run));
    db.add_run({"pr-490", "gate", 2, 0, false});
    db.store().store_gate(db.running_run, "pass", "pass: 2 paired clips",
                          ResultsDatabase::passing_gate_rows());
    window.refresh();
    CHECK(window.run_model().rowCount() == 4);
    CHECK(window.selected_run() == db.running_run);
    CHECK(window.gate_model().rowCount() == 1);
    REQUIRE(window.margin_chart().shown_bars().size() == 1);
    CHECK(window.margin_chart().shown_bars()[0].verdict == VerdictKind::kPass);
  }

  SECTION("the screenshot is the window at 1200x800 with the verdict colours in it") {
    window.show_tab(MainWindow::kRunsTab);  // the compare tab is the first screen
    const QString png = db.file_in_dir("window.png");
    REQUIRE_FALSE(hil::viewer::save_screenshot(window, hil::viewer::kScreenshotSize, png));
    REQUIRE(QFileInfo(png).size() > 0);
    const QImage image(png);
    REQUIRE_FALSE(image.isNull());
    CHECK(image.size() == QSize(1200, 800));
    // The fail cells and the fail bar, the pass cell and bar, the inconclusive ones.
    CHECK(count_pixels(image, hil::viewer::verdict_background(VerdictKind::kFail)) > 500);
    CHECK(count_pixels(image, hil::viewer::verdict_background(VerdictKind::kPass)) > 500);
    CHECK(count_pixels(image, hil::viewer::verdict_background(VerdictKind::kInconclusive)) > 500);
  }
}

TEST_CASE("The window's timer brings the scheduler's new runs in without a click") {
  ResultsDatabase db;
  MainWindow window;
  REQUIRE_FALSE(window.open_database(db.qpath()).has_value());
  REQUIRE(window.run_model().rowCount() == 3);
  db.add_run({"pr-491", "gate", 2, 0, false});
  // The timer fires every 2 s; allow for a slow machine.
  CHECK(QTest::qWaitFor([&] { return window.run_model().rowCount() == 4; }, 15000));
}

TEST_CASE("Opening a missing or foreign file says which file and why, and keeps the open one") {
  ResultsDatabase db;
  MainWindow window;
  REQUIRE_FALSE(window.open_database(db.qpath()).has_value());

  SECTION("missing") {
    const QString missing = db.file_in_dir("missing.db");
    const auto error = window.open_database(missing);
    REQUIRE(error.has_value());
    CHECK(error->contains(missing));
    CHECK(error->contains("no such file"));
  }
  SECTION("not a database at all") {
    const QString text_file = db.file_in_dir("notes.db");
    QFile file(text_file);
    REQUIRE(file.open(QIODevice::WriteOnly));
    file.write(QByteArray(4096, 'x'));
    file.close();
    const auto error = window.open_database(text_file);
    REQUIRE(error.has_value());
    CHECK(error->contains(text_file));
    CHECK(error->contains("not a database"));
  }
  SECTION("an SQLite database of another application") {
    const QString other = db.file_in_dir("other.db");
    {
      hil::db::Database foreign(other.toStdString());
      foreign.exec("DROP TABLE gate_results");
    }
    const auto error = window.open_database(other);
    REQUIRE(error.has_value());
    CHECK(error->contains(other));
    CHECK(error->contains("not a hil results database"));
    CHECK_FALSE(error->contains("SELECT"));  // the statement is noise in a dialog
  }
  CHECK(window.database_path() == db.qpath());
  CHECK(window.run_model().rowCount() == 3);
}

// ------------------------------------------------------------------ command line

TEST_CASE("The command line takes a database, --run and --screenshot and names what is wrong") {
  using hil::viewer::parse_command_line;
  const auto full =
      parse_command_line({"hil-viewer", "hil.db", "--run", "7", "--screenshot", "a.png"});
  CHECK(full.error.isEmpty());
  CHECK(full.options.database == "hil.db");
  CHECK(full.options.run_id == 7);
  CHECK(full.options.screenshot == "a.png");

  const auto bare = parse_command_line({"hil-viewer"});
  CHECK(bare.error.isEmpty());
  CHECK(bare.options.database.isEmpty());
  CHECK_FALSE(bare.options.run_id.has_value());

  CHECK(parse_command_line({"hil-viewer", "--run", "x"}).error.contains("--run"));
  CHECK(parse_command_line({"hil-viewer", "a.db", "b.db"}).error.contains("b.db"));
  CHECK(parse_command_line({"hil-viewer", "--bogus"}).error.contains("bogus"));
  CHECK(parse_command_line({"hil-viewer", "--help"}).help_text.contains("--screenshot"));
}

TEST_CASE("hil-viewer --screenshot writes a PNG and exits 0, or exits 3 on a bad database") {
  ResultsDatabase db;
  const QString png = db.file_in_dir("cli.png");
  QProcess viewer;
  viewer.setProgram(QStringLiteral(HIL_VIEWER_EXECUTABLE));

  SECTION("a hil database") {
    viewer.setArguments({db.qpath(), "--run", QString::number(db.pass_run), "--screenshot", png});
    viewer.start();
    REQUIRE(viewer.waitForFinished(60000));
    CHECK(viewer.exitStatus() == QProcess::NormalExit);
    CHECK(viewer.exitCode() == hil::viewer::kExitOk);
    CHECK(QImage(png).size() == QSize(1200, 800));
  }
  SECTION("a missing database") {
    viewer.setArguments({db.file_in_dir("missing.db"), "--screenshot", png});
    viewer.start();
    REQUIRE(viewer.waitForFinished(60000));
    CHECK(viewer.exitCode() == hil::viewer::kExitCannotOpenDatabase);
    CHECK(viewer.readAllStandardError().contains("missing.db: no such file"));
    CHECK_FALSE(QFileInfo::exists(png));
  }
  SECTION("a run the database does not have") {
    viewer.setArguments({db.qpath(), "--run", "999", "--screenshot", png});
    viewer.start();
    REQUIRE(viewer.waitForFinished(60000));
    CHECK(viewer.exitCode() == hil::viewer::kExitNoSuchRun);
    CHECK(viewer.readAllStandardError().contains("no run 999"));
  }
}

// ------------------------------------------------------------------ recent files

TEST_CASE("Recent files keep the newest first, once each, at most eight") {
  hil::viewer::RecentFiles recent;
  recent.clear();
  for (int i = 0; i < 10; ++i) recent.add(QStringLiteral("/data/run%1.db").arg(i));
  recent.add(QStringLiteral("/data/run5.db"));
  const QStringList paths = recent.paths();
  REQUIRE(paths.size() == hil::viewer::RecentFiles::kMaxFiles);
  CHECK(paths.front() == "/data/run5.db");
  CHECK(paths.count("/data/run5.db") == 1);
  CHECK(paths[1] == "/data/run9.db");
  CHECK_FALSE(paths.contains("/data/run0.db"));
  recent.remove(QStringLiteral("/data/run5.db"));
  CHECK(recent.paths().front() == "/data/run9.db");
}

}  // namespace

int main(int argc, char** argv) {
  // Before QApplication: the platform plugin is chosen in its constructor.
  qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  // Keep the user's hil-viewer settings (recent files) out of the tests.
  QTemporaryDir settings_dir;
  QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, settings_dir.path());
  QApplication::setOrganizationName(QStringLiteral("hil-tests"));
  QApplication::setApplicationName(QStringLiteral("test_viewer"));
  viewer_test::previous_message_handler() =
      qInstallMessageHandler(viewer_test::collect_model_test_failures);
  return Catch::Session().run(argc, argv);
}
