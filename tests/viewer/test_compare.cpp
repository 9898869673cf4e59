// The compare view (revision A against revision B) against real results
// databases: three-camera JPEG clips generated into the blob folder, evals
// of a multi-head network scored by evals::EvalScorer under a suite with
// metrics of its own, series and decoded outputs stored as the boards send
// them (see compare_fixture.h). Run under the offscreen platform.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

#include <QApplication>
#include <QChart>
#include <QClipboard>
#include <QComboBox>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QProcess>
#include <QSettings>
#include <QTableView>
#include <QTest>
#include <QValueAxis>

#include "clip_diff.h"
#include "clip_frames.h"
#include "clip_table_model.h"
#include "command_line.h"
#include "compare_fixture.h"
#include "compare_pane.h"
#include "csv_export.h"
#include "decimation.h"
#include "delta_histogram_chart.h"
#include "eval_outputs.h"
#include "frame_overlay.h"
#include "frame_view.h"
#include "histogram_bins.h"
#include "main_window.h"
#include "playback_controller.h"
#include "qt_charts_series_chart.h"
#include "results_source.h"
#include "revision_style.h"
#include "screenshot.h"
#include "timeline_markers.h"
#include "timeline_view.h"
#include "verdict_style.h"
#include "view_state.h"
#include "viewer_app.h"
#include "viewer_test_support.h"

namespace {

using compare_test::CompareDatabase;
using compare_test::line_y_at;
using compare_test::TestClip;
using hil::evals::HeadKind;
using hil::viewer::ClipDiff;
using hil::viewer::ClipTableModel;
using hil::viewer::ClipVerdict;
using hil::viewer::ComparePane;
using hil::viewer::Comparison;
using hil::viewer::FrameMode;
using hil::viewer::FrameView;
using hil::viewer::MainWindow;
using hil::viewer::MarkerKind;
using hil::viewer::OverlayKind;
using hil::viewer::OverlayShape;
using hil::viewer::RevisionFrame;
using hil::viewer::Side;
using viewer_test::cell;
using viewer_test::CheckedModel;

QString q(const std::string& s) { return QString::fromStdString(s); }

Comparison run_comparison(const CompareDatabase& db, int64_t run = 0) {
  Comparison c;
  c.revision_a = db.base;
  c.revision_b = db.snowblind;
  c.run_id = run != 0 ? run : db.run;
  return c;
}

// Screenshots the tests take are kept when HIL_VIEWER_TEST_SCREENSHOTS names
// a folder (CI artefacts); otherwise they go to the test's temp folder.
QString screenshot_path(const CompareDatabase& db, const QString& name) {
  const QString dir = qEnvironmentVariable("HIL_VIEWER_TEST_SCREENSHOTS");
  if (dir.isEmpty()) return db.file_in_dir(name);
  QDir().mkpath(dir);
  return QDir(dir).filePath(name);
}

int camera_index(const hil::clip::ClipHeader& header, const std::string& name) {
  for (int c = 0; c < header.cameras_size(); ++c) {
    if (header.cameras(c).name() == name) return c;
  }
  FAIL("no camera " << name);
  return -1;
}

template <typename Pred>
int count_shapes(const std::vector<OverlayShape>& shapes, Pred pred) {
  return static_cast<int>(std::count_if(shapes.begin(), shapes.end(), pred));
}

int count_kind(const std::vector<OverlayShape>& shapes, OverlayKind kind) {
  return count_shapes(shapes, [&](const OverlayShape& s) { return s.kind == kind; });
}

// Pixels of exactly `colour` inside `rect` of `image`.
int count_pixels_in(const QImage& image, const QRectF& rect, const QColor& colour) {
  int count = 0;
  const QRect r = rect.toAlignedRect().intersected(image.rect());
  for (int y = r.top(); y <= r.bottom(); ++y) {
    for (int x = r.left(); x <= r.right(); ++x)
      count += image.pixelColor(x, y).rgb() == colour.rgb();
  }
  return count;
}

// The pane of a window showing `db`'s run, at a fixed size, shown (keys and
// layouts need a shown window).
struct ShownWindow {
  explicit ShownWindow(const CompareDatabase& db, const hil::viewer::ViewRequest& view = {})
      : window(nullptr, false) {
    window.resize(hil::viewer::kScreenshotSize);
    REQUIRE_FALSE(window.open_database(db.qpath(), view, &problems).has_value());
    window.show_tab(MainWindow::kCompareTab);
    window.show();
    REQUIRE(QTest::qWaitForWindowExposed(&window));
  }
  ComparePane& pane() { return window.compare(); }
  MainWindow window;
  QStringList problems;
};

// ------------------------------------------------------------------ queries and diff table

TEST_CASE("The scoped diff pairs each clip's evals of A and B and reads every metric asked for") {
  CompareDatabase db;
  hil::viewer::ResultsSource source(db.path());

  const auto rows = db.store().diff_revisions_scoped(db.base, db.snowblind, std::nullopt, db.run,
                                                     {"drift", "lead_catch"});
  REQUIRE(rows.size() == 8);  // 4 clips x 2 metrics
  for (const auto& row : rows) {
    const auto clip = std::find_if(db.clips.begin(), db.clips.end(),
                                   [&](const TestClip& c) { return c.sha256 == row.clip_sha; });
    REQUIRE(clip != db.clips.end());
    const auto a = db.expected_metrics(*clip, false);
    const auto b = db.expected_metrics(*clip, true);
    CHECK(row.a == Approx(a.at(row.metric)));
    CHECK(row.b == Approx(b.at(row.metric)));
    CHECK(row.delta == Approx(row.b - row.a));
    CHECK(row.scenario == "split");
  }

  SECTION("a later run of the same pair replaces the earlier evals in the unscoped diff") {
    const int64_t again = db.add_run("again", {db.clips[1]});
    const auto all = db.store().diff_revisions_scoped(db.base, db.snowblind, std::nullopt,
                                                      std::nullopt, {"drift"});
    REQUIRE(all.size() == 4);
    const auto evals = db.store().evals_of_run(again);
    for (const auto& row : all) {
      if (row.clip_sha != db.clips[1].sha256) continue;
      CHECK((row.eval_a == evals[0].id || row.eval_a == evals[1].id));
    }
    // Within the first run, its own evals.
    CHECK(db.store()
              .diff_revisions_scoped(db.base, db.snowblind, std::nullopt, db.run, {"drift"})
              .size() == 4);
    CHECK(db.store().diff_revisions_scoped(db.base, db.snowblind, std::nullopt, again, {}).size() >
          0);
  }

  SECTION("clips are found by a unique hash prefix, runs by id, revisions newest first") {
    const auto clip = db.store().clip_by_sha(db.snow_clip().sha256.substr(0, 10));
    REQUIRE(clip.has_value());
    CHECK(clip->sha256 == db.snow_clip().sha256);
    CHECK(clip->frames == compare_test::kFrames);
    CHECK_FALSE(db.store().clip_by_sha("abc").has_value());  // too short to mean one clip
    const auto run = db.store().run_revisions(db.run);
    REQUIRE(run.has_value());
    CHECK(run->candidate_id == db.snowblind);
    CHECK(run->baseline_id == db.base);
    const auto revisions = source.revisions();
    REQUIRE(revisions.size() == 2);
    CHECK(revisions[0].succeeded_evals == 4);
  }

  SECTION("the results stamp changes when either revision gets a result in the scope") {
    Comparison all = run_comparison(db);
    all.run_id.reset();
    const auto before_all = source.results_stamp(all);
    const auto before_run = source.results_stamp(run_comparison(db));
    CHECK(before_all.first == 8);
    CHECK(before_run == before_all);
    db.add_run("more", {db.clips[2]});
    CHECK(source.results_stamp(all) != before_all);
    CHECK(source.results_stamp(run_comparison(db)) == before_run);  // another run's results
  }
}

TEST_CASE(
    "The diff table lists the suite's gated metrics, then its declared ones, and scores clips in "
    "the gates' margins, worst first") {
  CompareDatabase db;
  hil::viewer::ResultsSource source(db.path());
  const hil::viewer::DiffTable table = source.diff_table(run_comparison(db));

  // Blocking gates in suite order, the advisory one, then the metrics the
  // suite only declares (the plugin's included), under the suite's names.
  const std::vector<std::string> names = {
      "drift",          "wobble",         "lead_catch",   "device_latency_p99_ms",
      "front_boxes_ap", "kerb_error_20m", "comfort_index"};
  REQUIRE(table.metrics.size() == names.size());
  for (size_t i = 0; i < names.size(); ++i) CHECK(table.metrics[i].name == names[i]);
  CHECK(table.metrics[0].gated);
  CHECK(table.metrics[0].blocking);
  CHECK(table.metrics[3].gated);
  CHECK_FALSE(table.metrics[3].blocking);
  for (size_t i = 4; i < names.size(); ++i) CHECK_FALSE(table.metrics[i].gated);
  // Units and directions from the database's definitions (the catalogue's).
  CHECK(table.metrics[0].unit == "m");
  CHECK(table.metrics[1].unit == "rad");
  CHECK(table.metrics[2].unit == "ratio");
  CHECK(table.metrics[2].direction == hil::viewer::Direction::kHigherIsBetter);
  CHECK(table.metrics[4].unit == "AP");
  CHECK(table.metrics[4].direction == hil::viewer::Direction::kHigherIsBetter);
  CHECK(table.metrics[5].unit == "m");
  // The series that explains each metric frame by frame.
  CHECK(table.metrics[0].series == "out.ego.lane_offset");
  CHECK(table.metrics[1].series == "out.control.steering");
  CHECK(table.metrics[2].series == "frame.lead_catch");
  CHECK(table.metrics[3].series == "device_ms");
  CHECK(table.metrics[6].series.empty());         // a plugin's value has none
  CHECK(table.metrics[6].unit == "m/s^3");        // as the suite declares it
  CHECK(table.metrics[0].scale == Approx(0.02));  // the gate's margin
  CHECK(table.metrics[0].scale_is_margin);

  REQUIRE(table.clips.size() == 4);
  const ClipDiff& worst = table.clips[0];
  CHECK(worst.clip_sha == db.snow_clip().sha256);
  CHECK(worst.verdict == ClipVerdict::kRegressed);
  // Lead recall fell from 1 to 0 (33 margins of 0.03); the lane offset is
  // off by 0.6 m (30 margins of 0.02), steering by 0.04 rad (20 of 0.002).
  CHECK(table.metrics[static_cast<size_t>(worst.worst_metric)].name == "lead_catch");
  CHECK(worst.worst == Approx(1 / 0.03));
  // The plugin's value, as the scheduler recorded it.
  CHECK(worst.metrics[6].present);
  CHECK(worst.metrics[6].b == Approx(compare_test::kComfortBSnow));
  for (size_t i = 1; i < table.clips.size(); ++i) {
    CHECK(table.clips[i].worst <= table.clips[i - 1].worst);
    CHECK(table.clips[i].verdict != ClipVerdict::kRegressed);
  }
  CHECK(std::find(table.tags.begin(), table.tags.end(), "snow") != table.tags.end());
  CHECK(std::find(table.tags.begin(), table.tags.end(), "road:straight") != table.tags.end());

  SECTION("without gates, the declared metrics and a default set, measured in RMS deltas") {
    const auto metrics = hil::viewer::gating_metrics({compare_test::kDeclaredOnlySuiteText}, {});
    const std::vector<std::string> expected = {"drift",
                                               "wobble",
                                               "lead_catch",
                                               "front_boxes_ap",
                                               "kerb_error_20m",
                                               "comfort_index",
                                               "device_latency_p99_ms",
                                               "command_gaps"};
    REQUIRE(metrics.size() == expected.size());
    for (size_t i = 0; i < expected.size(); ++i) CHECK(metrics[i].name == expected[i]);
    CHECK(metrics[0].unit == "m");  // the suite's own definition, with no database's
    auto rows = db.store().diff_revisions_scoped(db.base, db.snowblind, std::nullopt, db.run, {});
    const auto plain = hil::viewer::build_diff_table(rows, metrics);
    CHECK_FALSE(plain.metrics[0].scale_is_margin);
    CHECK(plain.metrics[0].scale > 0);
    CHECK(plain.clips[0].clip_sha == db.snow_clip().sha256);
    CHECK(hil::viewer::gating_metrics({"name: \"nothing declared\""}, {}).size() == 2);
  }
}

TEST_CASE("With gates, a metric only declared is shown but does not decide a clip's verdict") {
  hil::viewer::DiffMetric gated{"gated_thing", "m"};
  gated.max_abs_degradation = 0.1;
  hil::viewer::DiffMetric declared{"declared_thing", "m"};
  declared.gated = declared.blocking = false;
  std::vector<hil::db::DiffRow> rows;
  for (int i = 0; i < 3; ++i) {
    const std::string sha = std::string(63, 'a') + std::to_string(i);
    // B is as good on the gated metric everywhere, far worse on the other one on clip 0.
    rows.push_back({sha, "clip-" + std::to_string(i), "", "split", "gated_thing", 1, 1, 0, 1, 2});
    const double b = i == 0 ? 9.0 : 1.0;
    rows.push_back(
        {sha, "clip-" + std::to_string(i), "", "split", "declared_thing", 1, b, b - 1, 1, 2});
  }
  const auto table = hil::viewer::build_diff_table(rows, {gated, declared});
  REQUIRE(table.clips.size() == 3);
  for (const auto& clip : table.clips) CHECK(clip.verdict == ClipVerdict::kUnchanged);
  CHECK(table.clips[0].metrics[1].delta == Approx(8.0));  // still in the table

  SECTION("without any gate, every metric decides") {
    gated.gated = gated.blocking = false;
    const auto judged = hil::viewer::build_diff_table(rows, {gated, declared});
    CHECK(judged.clips[0].verdict == ClipVerdict::kRegressed);
    CHECK(judged.clips[0].clip_name == "clip-0");
  }
}

// ------------------------------------------------------------------ clip table model

TEST_CASE("The clip table shows A, B and the delta of each metric, coloured by direction") {
  CompareDatabase db;
  hil::viewer::ResultsSource source(db.path());
  ClipTableModel model;
  CheckedModel checked(&model);
  model.show(&source, run_comparison(db));

  REQUIRE(model.rowCount() == 4);
  REQUIRE(model.columnCount() == 3 + 3 * 7 + 2);
  CHECK(model.headerData(ClipTableModel::metric_column(0, ClipTableModel::kA), Qt::Horizontal)
            .toString() == "drift A");
  CHECK(model.headerData(ClipTableModel::metric_column(0, ClipTableModel::kDelta), Qt::Horizontal)
            .toString() == "drift Δ");
  CHECK(model.headerData(ClipTableModel::metric_column(6, ClipTableModel::kB), Qt::Horizontal)
            .toString() == "comfort_index B");
  CHECK(model.headerData(model.tags_column(), Qt::Horizontal).toString() == "Tags");
  // A declared metric says it is not gated, and what it measures.
  const QString tip = model
                          .headerData(ClipTableModel::metric_column(4, ClipTableModel::kA),
                                      Qt::Horizontal, Qt::ToolTipRole)
                          .toString();
  CHECK(tip.startsWith("front_boxes_ap (AP), higher is better; declared, not gated"));
  CHECK(tip.contains("average precision of head 'objects_front'"));

  const auto a = db.expected_metrics(db.snow_clip(), false);
  const auto b = db.expected_metrics(db.snow_clip(), true);
  CHECK(cell(model, 0, ClipTableModel::kClip) == q(db.snow_clip().header.name()));
  CHECK(cell(model, 0, ClipTableModel::kVerdict) == "regressed");
  CHECK(cell(model, 0, ClipTableModel::kWorst) == "lead_catch 33.33×");
  CHECK(cell(model, 0, ClipTableModel::metric_column(0, ClipTableModel::kA)) ==
        QString::number(a.at("drift"), 'g', 4));
  CHECK(cell(model, 0, ClipTableModel::metric_column(0, ClipTableModel::kB)) ==
        QString::number(b.at("drift"), 'g', 4));
  CHECK(cell(model, 0, ClipTableModel::metric_column(0, ClipTableModel::kDelta)).startsWith("+"));
  CHECK(cell(model, 0, ClipTableModel::metric_column(6, ClipTableModel::kB)) == "1.4");
  CHECK(model.data(model.index(0, 0), ClipTableModel::kClipShaRole).toString() ==
        q(db.snow_clip().sha256));
  CHECK(cell(model, 0, model.tags_column()).contains("snow"));
  CHECK(cell(model, 0, ClipTableModel::metric_column(0, ClipTableModel::kDelta), Qt::ToolTipRole)
            .contains("B worse by"));

  SECTION("a regression is red, an improvement green, the verdict cell in the gate's colours") {
    const QColor worse = viewer_test::cell_color(
        model, 0, ClipTableModel::metric_column(0, ClipTableModel::kDelta), Qt::BackgroundRole);
    CHECK(worse.red() > 200);
    CHECK(worse.green() < 100);
    // lead_catch is higher-better and dropped to 0 on the snow clip: red too.
    const QColor recall = viewer_test::cell_color(
        model, 0, ClipTableModel::metric_column(2, ClipTableModel::kDelta), Qt::BackgroundRole);
    CHECK(recall.red() > recall.green());
    // B steers closer to the truth on the other clips: green steering deltas.
    const QColor better = viewer_test::cell_color(
        model, 1, ClipTableModel::metric_column(1, ClipTableModel::kDelta), Qt::BackgroundRole);
    CHECK(better.green() > better.red());
    CHECK(viewer_test::cell_color(model, 0, ClipTableModel::kVerdict, Qt::BackgroundRole) ==
          hil::viewer::verdict_background(hil::viewer::VerdictKind::kFail));
    // A and B cells keep the view's colours.
    CHECK(model
              .data(model.index(0, ClipTableModel::metric_column(0, ClipTableModel::kA)),
                    Qt::BackgroundRole)
              .isNull());
  }

  SECTION("sorting by any column, the delta by how much worse B is") {
    model.sort(ClipTableModel::kClip, Qt::AscendingOrder);
    for (int row = 1; row < model.rowCount(); ++row) {
      CHECK(cell(model, row - 1, ClipTableModel::kClip) <= cell(model, row, ClipTableModel::kClip));
    }
    model.sort(ClipTableModel::metric_column(2, ClipTableModel::kDelta), Qt::DescendingOrder);
    CHECK(cell(model, 0, ClipTableModel::kClip) ==
          q(db.snow_clip().header.name()));  // recall fell the most
    model.sort(ClipTableModel::metric_column(0, ClipTableModel::kA), Qt::AscendingOrder);
    for (int row = 1; row < model.rowCount(); ++row) {
      CHECK(model.clip_at(row - 1).metrics[0].a <= model.clip_at(row).metrics[0].a);
    }
  }

  SECTION("filters by tag, text and verdict") {
    model.set_filter({"snow", "", std::nullopt});
    REQUIRE(model.rowCount() == 1);
    CHECK(model.clip_at(0).clip_sha == db.snow_clip().sha256);
    model.set_filter({"", db.clips[2].sha256.substr(0, 8), std::nullopt});
    REQUIRE(model.rowCount() == 1);
    CHECK(model.clip_at(0).clip_sha == db.clips[2].sha256);
    model.set_filter({"", "ROAD:STRAIGHT", std::nullopt});  // case-insensitive, in tags
    CHECK(model.rowCount() == 2);
    model.set_filter({"", "", ClipVerdict::kRegressed});
    CHECK(model.rowCount() == 1);
    model.set_filter({"class:car", "", std::nullopt});
    CHECK(model.rowCount() >= 1);
    model.set_filter({});
    CHECK(model.rowCount() == 4);
  }

  SECTION("new results refresh the table, none leave it alone") {
    int resets = 0;
    QObject::connect(&model, &QAbstractItemModel::modelReset, [&] { ++resets; });
    CHECK_FALSE(model.refresh());
    CHECK(resets == 0);
    hil::evals::ClipSpec spec;
    spec.seed = 150;
    spec.frames = compare_test::kFrames;
    spec.condition = "snow";
    spec.rig = "tri";
    const TestClip extra = db.add_clip(spec);
    Comparison all = run_comparison(db);
    all.run_id.reset();
    model.show(&source, all);
    REQUIRE(model.rowCount() == 4);
    db.add_run("extra", {extra});
    CHECK(model.refresh());
    CHECK(model.rowCount() == 5);
  }
}

TEST_CASE("A suite that only declares metrics has them listed under its own names") {
  CompareDatabase db(/*with_run=*/true, compare_test::kDeclaredOnlySuiteText);
  ShownWindow shown(db);
  const ClipTableModel& model = shown.pane().clip_model();
  REQUIRE(model.rowCount() == 4);
  QStringList headers;
  for (int c = 0; c < model.columnCount(); ++c) {
    headers << model.headerData(c, Qt::Horizontal).toString();
  }
  for (const char* name : {"drift A", "wobble B", "lead_catch Δ", "front_boxes_ap A",
                           "kerb_error_20m A", "comfort_index A", "command_gaps A"}) {
    INFO(name << " among " << headers.join(", ").toStdString());
    CHECK(headers.contains(QString::fromUtf8(name)));
  }
  // The histogram offers the same metrics.
  auto* metric = shown.pane().findChild<QComboBox*>("histogram_metric");
  REQUIRE(metric != nullptr);
  CHECK(metric->itemText(0) == "drift");
  CHECK(metric->findText("kerb_error_20m") >= 0);
}

TEST_CASE("The clip table hands rows to views in pages and passes Qt's model tester") {
  hil::viewer::DiffTable table;
  table.metrics.push_back({"lane_offset_mae", "m"});
  for (int i = 0; i < 2500; ++i) {
    ClipDiff clip;
    clip.clip_sha = std::to_string(100000 + i);
    clip.clip_name = "clip-" + std::to_string(i);
    clip.scenario = "split";
    clip.metrics.push_back({true, 0.1, 0.1 + i * 1e-4, i * 1e-4});
    table.clips.push_back(clip);
  }
  ClipTableModel model;
  CheckedModel checked(&model);
  model.set_table(table);
  CHECK(model.filtered_count() == 2500);
  CHECK(model.rowCount() == ClipTableModel::kPageRows);
  CHECK(model.canFetchMore(QModelIndex()));
  model.fetchMore(QModelIndex());
  CHECK(model.rowCount() == 2 * ClipTableModel::kPageRows);
  const auto row = model.row_of("102400");
  REQUIRE(row.has_value());
  CHECK(model.rowCount() > *row);
  CHECK_FALSE(model.canFetchMore(QModelIndex()));
}

TEST_CASE("Ten thousand clips read and show in well under a second") {
  // 10k clips x 2 revisions with the suite's metrics, no series: the first
  // screen of a large comparison.
  CompareDatabase db(/*with_run=*/false);
  constexpr int kClips = 10000;
  std::vector<hil::db::NewEval> evals;
  {
    hil::db::Transaction transaction(db.store().database());
    for (int i = 0; i < kClips; ++i) {
      char sha[65];
      std::snprintf(sha, sizeof sha, "%064x", i + 1);
      const int64_t clip =
          db.store().upsert_clip({0, sha, "bulk-" + std::to_string(i), {"snow"}, 48, 36});
      evals.push_back({db.base, clip, "split"});
      evals.push_back({db.snowblind, clip, "split"});
    }
    const int64_t run =
        db.store().create_run("bulk", db.snowblind, db.base, db.suite, "nightly", evals);
    for (const auto& e : db.store().evals_of_run(run)) {
      hil::db::EvalOutcome outcome;
      outcome.eval_id = e.id;
      outcome.succeeded = true;
      const double v = (e.id % 97) / 1000.0;
      outcome.metrics = {{"drift", v},
                         {"wobble", v / 10},
                         {"lead_catch", 1 - v},
                         {"device_latency_p99_ms", 10 + v},
                         {"front_boxes_ap", 1 - v},
                         {"kerb_error_20m", v},
                         {"comfort_index", v}};
      db.store().record_outcome(outcome);
    }
    transaction.commit();
  }
  hil::viewer::ResultsSource source(db.path());
  ClipTableModel model;
  QElapsedTimer timer;
  timer.start();
  Comparison all;
  all.revision_a = db.base;
  all.revision_b = db.snowblind;
  model.show(&source, all);
  const qint64 ms = timer.elapsed();
  WARN("10k clips: diff query, pivot, scores and sort in " << ms << " ms");
  CHECK(model.filtered_count() == kClips);
  CHECK(model.rowCount() == ClipTableModel::kPageRows);
  CHECK(ms < 1000);
  timer.restart();
  model.sort(ClipTableModel::metric_column(0, ClipTableModel::kDelta), Qt::AscendingOrder);
  CHECK(timer.elapsed() < 500);
}

// ------------------------------------------------------------------ pure helpers

TEST_CASE("Timeline markers are deadline misses, gaps without outputs and failovers") {
  CompareDatabase db;
  hil::viewer::ResultsSource source(db.path());
  const auto table = source.diff_table(run_comparison(db));
  const ClipDiff& snow = table.clips[0];
  const auto b = source.eval_series(snow.eval_b);
  const auto a = source.eval_series(snow.eval_a);
  const double fps = db.snow_clip().header.fps();

  using hil::viewer::TimelineMarker;
  const std::vector<TimelineMarker> expected = {
      {compare_test::kMissFrame, MarkerKind::kDeadlineMiss, Side::kB},
      {5, MarkerKind::kCommandGap, Side::kB},
      {6, MarkerKind::kCommandGap, Side::kB},
      {compare_test::kFailoverFrame, MarkerKind::kFailover, Side::kB}};
  CHECK(hil::viewer::timeline_markers(b, Side::kB, fps) == expected);
  CHECK(hil::viewer::timeline_markers(a, Side::kA, fps).empty());
  // A frame period longer than 40 ms: no miss.
  CHECK(hil::viewer::timeline_markers(b, Side::kB, 20).size() == 3);
}

TEST_CASE(
    "Series are listed, paired with their truth and given units from the metrics and head kinds, "
    "whatever their names") {
  CompareDatabase db;
  hil::viewer::ResultsSource source(db.path());
  const auto table = source.diff_table(run_comparison(db));
  const auto a = source.eval_results(table.clips[0].eval_a);
  const auto b = source.eval_results(table.clips[0].eval_b);

  // Heads told apart by what the results show, no name known in advance.
  CHECK(a.outputs.stored());
  CHECK(a.kinds.at("control") == HeadKind::kControl);
  CHECK(a.kinds.at("lead") == HeadKind::kLead);
  CHECK(a.kinds.at("ego") == HeadKind::kTensor);
  CHECK(a.kinds.at("lanes") == HeadKind::kLanes);
  CHECK(a.kinds.at("objects_front") == HeadKind::kObjects);
  CHECK(a.kinds.at("objects_3d") == HeadKind::kObjects);

  // The series explaining the table's metrics first (in table order), then
  // the other outputs, the other per-frame metrics, the rest; no truth.
  const std::vector<std::string> expected = {"out.ego.lane_offset",
                                             "out.control.steering",
                                             "frame.lead_catch",
                                             "device_ms",
                                             "frame.front_boxes_ap",
                                             "frame.kerb_error_20m",
                                             "out.control.acceleration",
                                             "out.ego.lane_heading",
                                             "out.lead.distance",
                                             "out.lead.score",
                                             "frame.drift",
                                             "frame.wobble",
                                             "commander",
                                             "host_ms"};
  const auto names = hil::viewer::chartable_series(a.series, b.series, table.metrics);
  CHECK(names == expected);
  // Until picked: the worst metric's series (lead_catch on the snow clip), then the table's.
  CHECK(
      hil::viewer::default_chart_series(names, table.metrics, 2, 3) ==
      std::vector<std::string>{"frame.lead_catch", "out.ego.lane_offset", "out.control.steering"});
  CHECK(hil::viewer::truth_series_of("out.ego.lane_offset") == "truth.ego.lane_offset");
  CHECK(a.series.has("truth.ego.lane_offset"));
  CHECK(hil::viewer::truth_series_of("frame.drift").empty());

  hil::viewer::HeadKinds kinds = a.kinds;
  auto unit = [&](const char* name) {
    return hil::viewer::series_unit(name, table.metrics, kinds);
  };
  CHECK(unit("out.ego.lane_offset") == "m");  // the regression metric's truth unit
  CHECK(unit("truth.ego.lane_offset") == "m");
  CHECK(unit("out.ego.lane_heading").empty());  // a tensor field no metric reads
  CHECK(unit("out.control.steering") == "rad");
  CHECK(unit("out.control.acceleration") == "m/s^2");
  CHECK(unit("out.lead.score") == "score");
  CHECK(unit("out.lead.distance") == "m");
  // A ratio's per-frame series counts the frame's errors; a mean error's is the error.
  CHECK(unit("frame.lead_catch") == "errors");
  CHECK(unit("frame.front_boxes_ap") == "errors");
  CHECK(unit("frame.kerb_error_20m") == "m");
  CHECK(unit("device_ms") == "ms");
  CHECK(unit("commander") == "engine");

  SECTION("a tensor whose fields are named like a control head's stays a tensor") {
    hil::outputs::EvalOutputs outputs;
    auto* frame = outputs.add_frames();
    frame->set_has_outputs(true);
    auto* head = frame->add_heads();
    head->set_head("twin");
    head->add_values(0.1f);
    head->add_values(0.2f);
    std::vector<hil::db::SeriesBlob> blobs;
    for (const char* name : {"out.twin.steering", "out.twin.acceleration", "out.wheel.steering"}) {
      blobs.push_back({name, hil::evals::kSeriesCodec, 1, hil::evals::encode_series({0.1f})});
    }
    const hil::viewer::EvalSeries series(1, blobs);
    const auto guessed = hil::viewer::head_kinds(series, hil::viewer::EvalOutputs(outputs));
    CHECK(guessed.at("twin") == HeadKind::kTensor);
    CHECK(guessed.at("wheel") == HeadKind::kControl);
    CHECK(hil::viewer::head_kinds(series, hil::viewer::EvalOutputs()).at("twin") ==
          HeadKind::kControl);
  }
}

TEST_CASE("A revision's frame reads its outputs, its gaps and, without outputs, its series") {
  CompareDatabase db;
  hil::viewer::ResultsSource source(db.path());
  const auto table = source.diff_table(run_comparison(db));
  const auto b = source.eval_results(table.clips[0].eval_b);
  const auto& truth = db.snow_clip().frames;

  const RevisionFrame now = hil::viewer::revision_frame(b, 8);
  REQUIRE(now.status == RevisionFrame::Status::kOutputs);
  REQUIRE(now.outputs != nullptr);
  REQUIRE(now.steering.size() == 1);
  CHECK(now.steering[0].head == "control");
  CHECK(now.steering[0].value == Approx(truth[8].control().steering() - 0.04).margin(1e-6));
  CHECK(now.steering[0].truth == Approx(truth[8].control().steering()).margin(1e-6));
  REQUIRE(now.leads.size() == 1);
  CHECK_FALSE(now.leads[0].present);  // snowblind sees no lead on snow
  CHECK(hil::viewer::revision_frame(b, 5).status == RevisionFrame::Status::kGap);
  CHECK(hil::viewer::revision_frame(b, 24).status == RevisionFrame::Status::kPastEnd);

  SECTION("without stored outputs, gaps come from the commander and scalar heads from the series") {
    hil::viewer::EvalResults plain;
    plain.series = b.series;
    plain.kinds = hil::viewer::head_kinds(plain.series, plain.outputs);
    CHECK(hil::viewer::revision_frame(plain, 5).status == RevisionFrame::Status::kGap);
    const RevisionFrame read = hil::viewer::revision_frame(plain, 8);
    CHECK(read.status == RevisionFrame::Status::kOutputs);
    CHECK(read.outputs == nullptr);
    REQUIRE(read.steering.size() == 1);
    CHECK(read.steering[0].value == Approx(now.steering[0].value));
    REQUIRE(read.leads.size() == 1);
    CHECK_FALSE(read.leads[0].present);  // score 0.1
  }
}

TEST_CASE("Decimation keeps every spike, about four points per column, and gaps as gaps") {
  std::vector<float> values(100000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(std::sin(i * 0.001));
  values[54321] = 50;   // a spike
  values[77777] = -50;  // and a dip
  const auto segments = hil::viewer::decimate_min_max(values, 0, 99999, 500);
  REQUIRE(segments.size() == 1);
  CHECK(hil::viewer::point_count(segments) <= 4 * 500 + 4);
  CHECK(hil::viewer::point_count(segments) >= 500);
  double top = -1e9, bottom = 1e9;
  for (const QPointF& p : segments[0]) {
    top = std::max(top, p.y());
    bottom = std::min(bottom, p.y());
  }
  CHECK(top == 50);
  CHECK(bottom == -50);
  for (size_t i = 1; i < segments[0].size(); ++i)
    CHECK(segments[0][i].x() > segments[0][i - 1].x());

  SECTION("a zoomed view keeps every frame in it, plus a neighbour on each side") {
    const auto zoomed = hil::viewer::decimate_min_max(values, 1000, 1100, 500);
    REQUIRE(zoomed.size() == 1);
    CHECK(zoomed[0].front().x() == 999);
    CHECK(zoomed[0].back().x() == 1101);
    CHECK(zoomed[0].size() == 103);
  }
  SECTION("missing values split the line") {
    std::vector<float> gappy(20, 1.0f);
    gappy[5] = gappy[6] = std::numeric_limits<float>::quiet_NaN();
    const auto split = hil::viewer::decimate_min_max(gappy, 0, 19, 100);
    REQUIRE(split.size() == 2);
    CHECK(split[0].back().x() == 4);
    CHECK(split[1].front().x() == 7);
  }
}

TEST_CASE(
    "The delta histogram bins are symmetric around zero and sided by the metric's direction") {
  const std::vector<double> deltas = {-0.3, -0.1, 0.0, 0.001, 0.2, 0.3, 0.3};
  const auto bins = hil::viewer::delta_histogram(deltas, hil::viewer::Direction::kLowerIsBetter, 6);
  REQUIRE(bins.size() == 7);  // made odd
  CHECK(bins.front().lo == Approx(-0.3));
  CHECK(bins.back().hi == Approx(0.3));
  CHECK(bins[3].side == hil::viewer::BinSide::kSame);
  CHECK(bins[3].count == 2);
  CHECK(bins[6].side == hil::viewer::BinSide::kWorse);
  CHECK(bins[6].count == 2);
  CHECK(bins[0].side == hil::viewer::BinSide::kBetter);
  int total = 0;
  for (const auto& bin : bins) total += bin.count;
  CHECK(total == 7);
  const auto higher =
      hil::viewer::delta_histogram(deltas, hil::viewer::Direction::kHigherIsBetter, 7);
  CHECK(higher[0].side == hil::viewer::BinSide::kWorse);
}

TEST_CASE(
    "A view is a command line: revisions by name or hash prefix, clip, frame, mode and camera") {
  CompareDatabase db;
  hil::viewer::ResultsSource source(db.path());
  const auto revisions = source.revisions();
  CHECK(hil::viewer::resolve_revision(revisions, "base") == db.base);
  CHECK(hil::viewer::resolve_revision(revisions, "bbbbbbbbbbbb") == db.snowblind);
  CHECK(hil::viewer::resolve_revision(revisions, q(std::string(64, 'a'))) == db.base);
  CHECK_FALSE(hil::viewer::resolve_revision(revisions, "nope").has_value());
  CHECK_FALSE(hil::viewer::resolve_revision(revisions, "abc").has_value());

  const QString line = hil::viewer::view_command_line(
      "/data/my results/hil.db", q(std::string(64, 'a')), q(std::string(64, 'b')), std::nullopt,
      "c0ffee", 7, FrameMode::kOverlay);
  CHECK(line ==
        "hil-viewer '/data/my results/hil.db' --a aaaaaaaaaaaa --b bbbbbbbbbbbb --clip c0ffee "
        "--frame 7 "
        "--mode overlay");

  const auto parsed = hil::viewer::parse_command_line(
      {"hil-viewer", "hil.db", "--a", "base", "--b", "snowblind", "--clip", "c0ffee", "--frame",
       "7", "--mode", "overlay", "--size", "1600x1000", "--tab", "compare"});
  REQUIRE(parsed.error.isEmpty());
  CHECK(parsed.options.view.revision_a == "base");
  CHECK(parsed.options.view.revision_b == "snowblind");
  CHECK(parsed.options.view.clip == "c0ffee");
  CHECK(parsed.options.view.frame == 7);
  CHECK(parsed.options.view.mode == FrameMode::kOverlay);
  CHECK(parsed.options.size == QSize(1600, 1000));
  CHECK(parsed.options.view.camera.isEmpty());
  CHECK(hil::viewer::parse_command_line({"hil-viewer", "x.db", "--camera", "left"})
            .options.view.camera == "left");
  CHECK(hil::viewer::parse_command_line({"hil-viewer", "x.db", "--camera", " "})
            .error.contains("--camera"));
  CHECK(hil::viewer::view_command_line("hil.db", q(std::string(64, 'a')), q(std::string(64, 'b')),
                                       std::nullopt, "c0ffee", 7, FrameMode::kSideBySide, "left")
            .endsWith("--frame 7 --camera left"));
  CHECK(hil::viewer::parse_command_line({"hil-viewer", "x.db", "--mode", "sideways"})
            .error.contains("--mode"));
  CHECK(hil::viewer::parse_command_line({"hil-viewer", "x.db", "--frame", "-1"})
            .error.contains("--frame"));
  CHECK(hil::viewer::parse_command_line({"hil-viewer", "x.db", "--size", "9x9"})
            .error.contains("--size"));
  CHECK(hil::viewer::parse_command_line({"hil-viewer", "--a", "base"})
            .error.contains("need a database"));
}

// ------------------------------------------------------------------ frame overlays

TEST_CASE("A lanes head's polylines land on the ground-truth lines they predict, on every camera") {
  CompareDatabase db(/*with_run=*/false);
  const TestClip& clip = db.snow_clip();  // a straight road
  REQUIRE(clip.road == "straight");
  REQUIRE(clip.header.cameras_size() == 3);
  const hil::clip::Frame& frame = clip.frames[10];
  REQUIRE(frame.labels().lanes_size() == 4);  // three lanes
  // A head that predicts every truth line exactly at its stations.
  hil::outputs::FrameOutputs outputs;
  outputs.set_has_outputs(true);
  auto* head = outputs.add_heads();
  head->set_head("lanes");
  for (const auto& line : frame.labels().lanes()) {
    auto* lane = head->add_lanes();
    for (float x : compare_test::kStations) {
      lane->add_x(x);
      lane->add_y(static_cast<float>(line_y_at(line, x)));
    }
  }
  RevisionFrame now;
  now.status = RevisionFrame::Status::kOutputs;
  now.outputs = &outputs;

  int in_view = 0;
  for (int c = 0; c < 3; ++c) {
    const auto& camera = clip.header.cameras(c);
    const auto shapes = hil::viewer::outputs_overlay(clip.header, c, now, frame, Side::kA, {});
    // Lines are cut to the image (grown by its size each side): a side
    // camera may draw a line in pieces, or not at all.
    QPolygonF drawn;
    for (const auto& s : shapes) {
      if (s.kind == OverlayKind::kPredictedLane) drawn << s.points;
    }
    if (camera.name() == "front") CHECK(count_kind(shapes, OverlayKind::kPredictedLane) == 4);
    const QRectF bounds(-1.0 * camera.width(), -1.0 * camera.height(), 3.0 * camera.width(),
                        3.0 * camera.height());
    CHECK(std::all_of(drawn.begin(), drawn.end(), [&](const QPointF& p) {
      return p.x() >= bounds.left() - 1e-9 && p.x() <= bounds.right() + 1e-9 &&
             p.y() >= bounds.top() - 1e-9 && p.y() <= bounds.bottom() + 1e-9;
    }));
    for (int i = 0; i < 4; ++i) {
      for (double x : {10.0, 20.0}) {
        double u = 0, v = 0;
        const double y = line_y_at(frame.labels().lanes(i), x);
        if (!hil::evals::project_point(camera, x, y, 0, &u, &v)) continue;
        if (u < 0 || u >= camera.width() || v < 0 || v >= camera.height()) continue;
        double nearest = 1e9;
        for (const QPointF& p : drawn)
          nearest = std::min(nearest, std::hypot(p.x() - u, p.y() - v));
        CHECK(nearest < 0.01);  // the station is a vertex of the drawn line
        ++in_view;
      }
    }
  }
  CHECK(in_view >= 8);  // the front camera sees every line at 10 and 20 m, the others some

  SECTION("a line predicted 0.6 m to the right lands visibly right of the truth") {
    const auto& front = clip.header.cameras(camera_index(clip.header, "front"));
    const auto& line = frame.labels().lanes(1);
    const QPolygonF off = hil::viewer::project_ground_polyline(
        front, {10.0, 11.0}, {line_y_at(line, 10) - 0.6, line_y_at(line, 11) - 0.6});
    double u = 0, v = 0;
    REQUIRE(hil::evals::project_point(front, 10, line_y_at(line, 10), 0, &u, &v));
    REQUIRE(off.size() >= 1);
    CHECK(off[0].x() - u > 4);  // y smaller (to the right) is u larger; pixels of a 128-pixel image
  }

  SECTION("a lead head's marker stands at its distance in the true ego lane, only when present") {
    const auto& front = clip.header.cameras(camera_index(clip.header, "front"));
    RevisionFrame lead;
    lead.status = RevisionFrame::Status::kOutputs;
    lead.leads.push_back({"lead", true, 0.9f, 20.0f});
    const auto shapes = hil::viewer::outputs_overlay(
        clip.header, camera_index(clip.header, "front"), lead, frame, Side::kB, {});
    const auto marker = std::find_if(shapes.begin(), shapes.end(), [](const auto& s) {
      return s.kind == OverlayKind::kLeadMarker;
    });
    REQUIRE(marker != shapes.end());
    CHECK(marker->side == Side::kB);
    CHECK(marker->closed);
    CHECK(marker->label == "lead 20.0 m");
    // The ego lane: the truth lines nearest left and right of the ego at 20 m.
    double left = 1e9, right = -1e9;
    for (const auto& line : frame.labels().lanes()) {
      const double y = line_y_at(line, 20);
      if (y >= 0) left = std::min(left, y);
      if (y < 0) right = std::max(right, y);
    }
    double u = 0, v = 0;
    REQUIRE(hil::evals::project_point(front, 20, (left + right) / 2 + 0.9, 0, &u, &v));
    CHECK(marker->points[0].x() == Approx(u));
    CHECK(marker->points[0].y() == Approx(v));
    lead.leads[0].present = false;
    const auto none = hil::viewer::outputs_overlay(clip.header, 0, lead, frame, Side::kB, {});
    CHECK(count_kind(none, OverlayKind::kLeadMarker) == 0);
  }

  SECTION("a gap draws nothing; the truth and each category can be switched off") {
    RevisionFrame gap;
    gap.status = RevisionFrame::Status::kGap;
    gap.outputs = &outputs;
    CHECK(hil::viewer::outputs_overlay(clip.header, 0, gap, frame, Side::kA, {}).empty());
    hil::viewer::OverlayOptions lanes_off;
    lanes_off.lanes = false;
    CHECK(hil::viewer::outputs_overlay(clip.header, 0, now, frame, Side::kA, lanes_off).empty());
    const auto all = hil::viewer::truth_overlay(clip.header, frame, 0, {});
    CHECK(count_kind(all, OverlayKind::kTruthLane) == 4);
    CHECK(count_kind(all, OverlayKind::kRoadEdge) == 2);
    CHECK(count_kind(all, OverlayKind::kObject) > 0);
    hil::viewer::OverlayOptions no_truth;
    no_truth.truth = false;
    CHECK(hil::viewer::truth_overlay(clip.header, frame, 0, no_truth).empty());
    CHECK(count_kind(hil::viewer::truth_overlay(clip.header, frame, 0, lanes_off),
                     OverlayKind::kTruthLane) == 0);
  }
}

TEST_CASE(
    "2D boxes are drawn on the camera they belong to, cuboids on every camera, the truth's 2D "
    "boxes where an object has no cuboid") {
  CompareDatabase db(/*with_run=*/false);
  const hil::clip::ClipHeader& header = db.snow_clip().header;
  const int front = camera_index(header, "front"), left = camera_index(header, "left"),
            right = camera_index(header, "right");
  hil::clip::Frame frame;
  // Labelled in 2D only, seen by the left camera; an ignored region on the right one.
  auto* walker = frame.mutable_labels()->add_objects();
  walker->set_cls(hil::clip::CLASS_PEDESTRIAN);
  walker->set_visibility(hil::clip::VISIBLE);
  auto* box = walker->add_boxes();
  box->set_camera("left");
  box->set_x0(10);
  box->set_y0(12);
  box->set_x1(30);
  box->set_y1(50);
  auto* region = frame.mutable_labels()->add_ignore_regions();
  region->set_camera("right");
  region->set_x1(20);
  region->set_y1(20);

  const auto on_left = hil::viewer::truth_overlay(header, frame, left, {});
  REQUIRE(count_kind(on_left, OverlayKind::kObject) == 1);
  CHECK(on_left[0].closed);
  CHECK(on_left[0].points ==
        QPolygonF({QPointF(10, 12), QPointF(30, 12), QPointF(30, 50), QPointF(10, 50)}));
  CHECK(on_left[0].label == "pedestrian");
  CHECK(hil::viewer::truth_overlay(header, frame, front, {}).empty());
  const auto on_right = hil::viewer::truth_overlay(header, frame, right, {});
  REQUIRE(on_right.size() == 1);
  CHECK(on_right[0].kind == OverlayKind::kIgnoreRegion);

  // A's detections: a box on the left camera, a cuboid 20 m ahead and 3 m left.
  hil::outputs::FrameOutputs outputs;
  outputs.set_has_outputs(true);
  auto* head = outputs.add_heads();
  head->set_head("any_name");
  auto* flat = head->add_objects();
  flat->set_cls(hil::clip::CLASS_CAR);
  flat->set_score(0.75f);
  flat->set_camera("left");
  flat->set_x0(40);
  flat->set_y0(10);
  flat->set_x1(60);
  flat->set_y1(30);
  auto* solid = head->add_objects();
  solid->set_cls(hil::clip::CLASS_TRUCK);
  solid->set_score(0.6f);
  auto* c = solid->mutable_cuboid();
  c->set_x(20);
  c->set_y(3);
  c->set_z(0.75);
  c->set_length(4.5);
  c->set_width(1.8);
  c->set_height(1.5);
  auto* unsure = head->add_objects();  // below the default operating point (0.5)
  unsure->set_cls(hil::clip::CLASS_CYCLIST);
  unsure->set_score(0.3f);
  unsure->set_camera("right");
  unsure->set_x1(10);
  unsure->set_y1(10);
  RevisionFrame now;
  now.status = RevisionFrame::Status::kOutputs;
  now.outputs = &outputs;

  auto closed_detections = [](const std::vector<OverlayShape>& shapes) {
    return count_shapes(
        shapes, [](const auto& s) { return s.kind == OverlayKind::kDetection && s.closed; });
  };
  const auto a_left = hil::viewer::outputs_overlay(header, left, now, frame, Side::kA, {});
  CHECK(closed_detections(a_left) == 1);
  const auto a_front = hil::viewer::outputs_overlay(header, front, now, frame, Side::kA, {});
  CHECK(closed_detections(a_front) == 0);
  const auto a_right = hil::viewer::outputs_overlay(header, right, now, frame, Side::kA, {});
  REQUIRE(closed_detections(a_right) == 1);
  const auto box_on_right = std::find_if(a_right.begin(), a_right.end(), [](const auto& s) {
    return s.kind == OverlayKind::kDetection && s.closed;
  });
  CHECK(box_on_right->faint);  // drawn thin and translucent
  CHECK(box_on_right->label == "cyclist 0.30");
  // The cuboid's 12 edges in the front camera, its corners where the camera puts them.
  REQUIRE(count_kind(a_front, OverlayKind::kDetection) == 12);
  double u = 0, v = 0;
  REQUIRE(hil::evals::project_point(header.cameras(front), 20 - 2.25, 3 - 0.9, 0, &u, &v));
  CHECK(a_front[0].points[0].x() == Approx(u));
  CHECK(a_front[0].points[0].y() == Approx(v));
  CHECK(a_front[0].side == Side::kA);
  CHECK_FALSE(a_front[0].truth);
  CHECK(a_front[0].label == "truck 0.60");
  CHECK_FALSE(a_front[0].faint);

  SECTION("steering needles lean the way the wheels turn, none on a gap") {
    RevisionFrame steer;
    steer.status = RevisionFrame::Status::kOutputs;
    steer.steering.push_back({"control", 0.05f, NAN});
    const auto needles = hil::viewer::steering_needles(header.cameras(front), steer, Side::kB);
    REQUIRE(needles.size() == 1);
    CHECK(needles[0].kind == OverlayKind::kSteering);
    CHECK(needles[0].points[1].x() < needles[0].points[0].x());  // left
    steer.status = RevisionFrame::Status::kGap;
    CHECK(hil::viewer::steering_needles(header.cameras(front), steer, Side::kB).empty());
  }
}

// ------------------------------------------------------------------ the pane

TEST_CASE(
    "Opening a database shows the newest run's pair with its worst clip, every camera and both "
    "revisions' outputs") {
  CompareDatabase db;
  ShownWindow shown(db);
  ComparePane& pane = shown.pane();
  CHECK(shown.problems.isEmpty());
  REQUIRE(pane.comparison().has_value());
  CHECK(pane.comparison()->revision_a == db.base);
  CHECK(pane.comparison()->revision_b == db.snowblind);
  CHECK(pane.comparison()->run_id == db.run);
  CHECK(pane.clip_model().rowCount() == 4);
  REQUIRE(pane.selected_clip() != nullptr);
  CHECK(pane.selected_clip()->clip_sha == db.snow_clip().sha256);
  CHECK(pane.frame() == 0);
  CHECK(pane.summary().text().startsWith("4 clips paired: 1 regressed"));
  REQUIRE(pane.clip_frames() != nullptr);
  CHECK(pane.clip_frames()->frame_count() == compare_test::kFrames);
  CHECK(pane.playback().fps() == Approx(db.snow_clip().header.fps()));

  FrameView& view = pane.frame_view();
  CHECK(view.camera() == hil::viewer::kAllCameras);
  auto shapes_of = [](const FrameView::Panel& panel) {
    std::vector<OverlayShape> all;
    for (const auto& cell : panel.cells)
      all.insert(all.end(), cell.shapes.begin(), cell.shapes.end());
    return all;
  };
  SECTION("side by side: every camera in each panel, A's outputs in A's, B's in B's") {
    const auto panels = view.panels();
    REQUIRE(panels.size() == 2);
    CHECK(panels[0].title.startsWith("A: base"));
    CHECK(panels[1].title.startsWith("B: snowblind"));
    for (int i = 0; i < 2; ++i) {
      const auto& panel = panels[static_cast<size_t>(i)];
      const Side side = i == 0 ? Side::kA : Side::kB;
      // Left to right as the cameras look.
      REQUIRE(panel.cells.size() == 3);
      CHECK(panel.cells[0].name == "left");
      CHECK(panel.cells[1].name == "front");
      CHECK(panel.cells[2].name == "right");
      for (const auto& cell : panel.cells) {
        CHECK(cell.has_image);
        CHECK(cell.target.width() / cell.target.height() == Approx(2.0));  // 128 x 64 images
        CHECK(QRectF(QPointF(0, 0), QSizeF(view.size())).contains(cell.target));
      }
      CHECK(panel.cells[0].target.right() <= panel.cells[1].target.left());
      for (const auto& shape : shapes_of(panel)) {
        if (!shape.truth) CHECK(shape.side == side);
      }
      const auto& front = *panel.cell(camera_index(db.snow_clip().header, "front"));
      CHECK(count_kind(front.shapes, OverlayKind::kTruthLane) == 4);
      CHECK(count_kind(front.shapes, OverlayKind::kPredictedLane) == 4);
      // Steering belongs to no camera: its needles go on the forward one.
      CHECK(count_kind(front.shapes, OverlayKind::kTruthSteering) == 1);
      CHECK(count_kind(front.shapes, OverlayKind::kSteering) == 1);
      CHECK(count_kind(panel.cells[0].shapes, OverlayKind::kSteering) == 0);
    }
    // A detects the lead vehicle ahead; snowblind detects nothing on snow.
    CHECK(count_kind(panels[0].cell(0)->shapes, OverlayKind::kDetection) > 0);
    CHECK(count_kind(shapes_of(panels[1]), OverlayKind::kDetection) == 0);
    // The outputs compared with the truth first, each with it.
    CHECK(panels[1].captions[0].startsWith("B control.steering "));
    CHECK(panels[1].captions[0].contains(" · ego.lane_offset "));
    CHECK(panels[1].captions[0].count("(gt ") == 2);
    CHECK(panels[1].captions[1].contains("lanes 4 lines"));
    // B's lanes are 0.6 m to the right: near the car, right of A's.
    auto first_lane_point = [](const FrameView::Panel& p) {
      for (const auto& s : p.cell(0)->shapes) {
        if (s.kind == OverlayKind::kPredictedLane) return s.points.first();
      }
      return QPointF();
    };
    CHECK(first_lane_point(panels[1]).x() - first_lane_point(panels[0]).x() > 2);
  }
  SECTION("overlay: one panel with both; flicker: one revision, F flips it") {
    QTest::keyClick(&shown.window, Qt::Key_2);
    CHECK(view.mode() == FrameMode::kOverlay);
    auto panels = view.panels();
    REQUIRE(panels.size() == 1);
    CHECK(panels[0].cells.size() == 3);
    CHECK(panels[0].captions.size() == 4);
    bool a = false, b = false;
    for (const auto& s : shapes_of(panels[0])) {
      a = a || (!s.truth && s.side == Side::kA);
      b = b || (!s.truth && s.side == Side::kB);
    }
    CHECK((a && b));
    QTest::keyClick(&shown.window, Qt::Key_3);
    CHECK(view.mode() == FrameMode::kFlicker);
    CHECK(view.panels()[0].title.startsWith("A: base"));
    QTest::keyClick(&shown.window, Qt::Key_F);
    CHECK(view.flicker_side() == Side::kB);
    CHECK(view.panels()[0].title.startsWith("B: snowblind"));
    QTest::keyClick(&shown.window, Qt::Key_1);
    CHECK(view.panels().size() == 2);
  }
  SECTION("a frame without outputs shows as a gap: nothing of B drawn, and says so") {
    pane.set_frame(5);
    const auto panels = view.panels();
    CHECK(panels[1].captions[0].contains("no outputs on frame 5"));
    for (const auto& shape : shapes_of(panels[1])) CHECK(shape.truth);
    CHECK(count_kind(shapes_of(panels[1]), OverlayKind::kTruthLane) > 0);
  }
  SECTION("the timeline marks B's miss, gaps and failover; clicking it moves every pane") {
    hil::viewer::TimelineView& timeline = pane.timeline();
    CHECK(timeline.markers().size() == 4);
    const int x = static_cast<int>(timeline.x_of_frame(compare_test::kFailoverFrame));
    QTest::mouseClick(&timeline, Qt::LeftButton, {}, QPoint(x, timeline.height() / 2));
    CHECK(pane.frame() == compare_test::kFailoverFrame);
    CHECK(view.frame() == compare_test::kFailoverFrame);
    CHECK(timeline.frame() == compare_test::kFailoverFrame);
    for (int i = 0; i < ComparePane::kCharts; ++i)
      CHECK(pane.chart(i).cursor() == compare_test::kFailoverFrame);
  }
}

TEST_CASE(
    "A three-camera clip shows three camera panes, and a 2D detection only in the pane of its "
    "camera") {
  CompareDatabase db;
  // A answers with one box on the left camera and nothing else; B with nothing.
  constexpr double kX0 = 24, kY0 = 14, kX1 = 72, kY1 = 44;
  compare_test::RunOptions options;
  options.predictor = [&](const hil::clip::Frame&, bool is_snowblind, bool, int k) {
    hil::evals::FrameRecord r;
    r.outputs.set_frame(static_cast<uint32_t>(k));
    r.outputs.set_has_outputs(true);
    if (!is_snowblind) {
      auto* head = r.outputs.add_heads();
      head->set_head("objects_left");
      auto* d = head->add_objects();
      d->set_cls(hil::clip::CLASS_CAR);
      d->set_score(0.9f);
      d->set_camera("left");
      d->set_x0(kX0);
      d->set_y0(kY0);
      d->set_x1(kX1);
      d->set_y1(kY1);
    }
    return r;
  };
  const TestClip& clip = db.clips[1];
  const int64_t run = db.add_run("one box on the left", {clip}, options);
  hil::viewer::ViewRequest request;
  request.run_id = run;
  request.mode = FrameMode::kFlicker;  // A alone
  ShownWindow shown(db, request);
  ComparePane& pane = shown.pane();
  REQUIRE(pane.selected_clip() != nullptr);
  REQUIRE(pane.selected_clip()->clip_sha == clip.sha256);
  for (int c = 0; c < 3; ++c) CHECK(clip.header.cameras(c).encoding() == hil::clip::ENCODING_JPEG);
  pane.set_frame(4);

  FrameView& view = pane.frame_view();
  const auto panels = view.panels();
  REQUIRE(panels.size() == 1);
  REQUIRE(panels[0].cells.size() == 3);
  for (const auto& cell : panels[0].cells) CHECK(cell.has_image);  // JPEG frames decoded
  const auto* left = panels[0].cell(camera_index(clip.header, "left"));
  const auto* front = panels[0].cell(camera_index(clip.header, "front"));
  const auto* right = panels[0].cell(camera_index(clip.header, "right"));
  REQUIRE((left && front && right));

  const QImage grab = view.grab().toImage();
  const QColor blue = hil::viewer::side_colour(Side::kA);
  CHECK(count_pixels_in(grab, left->target, blue) > 40);
  CHECK(count_pixels_in(grab, front->target, blue) == 0);
  CHECK(count_pixels_in(grab, right->target, blue) == 0);
  // The box's top edge is where the detection put it.
  const QPointF top = left->target.topLeft() + QPointF((kX0 + kX1) / 2, kY0) * left->scale;
  int on_edge = 0;
  for (int dx = -2; dx <= 2; ++dx) {
    for (int dy = -2; dy <= 2; ++dy) {
      on_edge += grab.pixelColor(top.toPoint() + QPoint(dx, dy)).rgb() == blue.rgb();
    }
  }
  CHECK(on_edge > 0);

  SECTION("B, which detected nothing, draws no blue or orange in any pane") {
    QTest::keyClick(&shown.window, Qt::Key_F);
    const QImage b = view.grab().toImage();
    const auto panels_b = view.panels();
    for (const auto& cell : panels_b[0].cells) {
      CHECK(count_pixels_in(b, cell.target, blue) == 0);
      CHECK(count_pixels_in(b, cell.target, hil::viewer::side_colour(Side::kB)) == 0);
    }
  }
}

TEST_CASE("An eval stored without outputs still shows the truth and says no outputs are stored") {
  CompareDatabase db;
  compare_test::RunOptions options;
  options.store_outputs = false;  // as a suite with drop_frame_outputs
  const int64_t run = db.add_run("outputs dropped", db.clips, options);
  hil::viewer::ViewRequest request;
  request.run_id = run;
  request.frame = 8;
  ShownWindow shown(db, request);
  ComparePane& pane = shown.pane();
  CHECK(shown.problems.isEmpty());
  REQUIRE(pane.results(Side::kA) != nullptr);
  CHECK_FALSE(pane.results(Side::kA)->outputs.stored());
  CHECK(pane.results(Side::kA)->outputs_error.empty());

  const auto panels = pane.frame_view().panels();
  REQUIRE(panels.size() == 2);
  for (const auto& panel : panels) {
    REQUIRE(panel.cells.size() == 3);
    const auto& front = *panel.cell(camera_index(db.snow_clip().header, "front"));
    CHECK(front.has_image);
    CHECK(count_kind(front.shapes, OverlayKind::kTruthLane) == 4);
    CHECK(count_kind(front.shapes, OverlayKind::kObject) > 0);
    for (const auto& cell : panel.cells) {
      CHECK(count_kind(cell.shapes, OverlayKind::kPredictedLane) == 0);
      CHECK(count_kind(cell.shapes, OverlayKind::kDetection) == 0);
    }
    // Steering comes from the series: still drawn.
    CHECK(count_kind(front.shapes, OverlayKind::kSteering) == 1);
    CHECK(panel.captions.join(" ").contains("no outputs stored"));
  }
  CHECK(pane.chart(1).shown().name == "out.ego.lane_offset");
  const QImage image = pane.frame_view().render(QSize(900, 400));
  CHECK(viewer_test::count_pixels(image, hil::viewer::truth_lane_colour()) > 10);
}

TEST_CASE(
    "A single-camera clip (PNG frames) looks as before: one image per revision, no camera to "
    "pick") {
  CompareDatabase db(/*with_run=*/false);
  hil::evals::ClipSpec spec;
  spec.seed = 170;
  spec.frames = compare_test::kFrames;
  spec.condition = "clear";
  spec.road = "straight";
  spec.traffic = "lead-brake";
  spec.lanes = 3;
  spec.encoding = hil::clip::ENCODING_PNG;
  const TestClip single = db.add_clip(spec);  // rig "front"
  REQUIRE(single.header.cameras_size() == 1);
  db.add_run("front camera only", {single});
  ShownWindow shown(db);
  ComparePane& pane = shown.pane();
  REQUIRE(pane.selected_clip() != nullptr);
  CHECK(pane.selected_clip()->clip_sha == single.sha256);
  const auto panels = pane.frame_view().panels();
  REQUIRE(panels.size() == 2);
  for (const auto& panel : panels) {
    REQUIRE(panel.cells.size() == 1);
    CHECK(panel.cells[0].name == "front");
    CHECK(panel.cells[0].has_image);
    CHECK(panel.cells[0].target.width() > 200);
    CHECK(panel.cells[0].target.width() / panel.cells[0].target.height() == Approx(2.0));
    CHECK(count_kind(panel.cells[0].shapes, OverlayKind::kPredictedLane) == 4);
  }
  // Side by side as before: A left of B.
  CHECK(panels[0].cells[0].target.right() < panels[1].cells[0].target.left());
  auto* picker = pane.findChild<QComboBox*>("camera_picker");
  REQUIRE(picker != nullptr);
  CHECK_FALSE(picker->isEnabled());
  QTest::keyClick(&shown.window, Qt::Key_C);
  CHECK(pane.camera() == hil::viewer::kAllCameras);
}

TEST_CASE("C cycles the cameras, 0 shows them all, and the camera is part of the view") {
  CompareDatabase db;
  ShownWindow shown(db);
  ComparePane& pane = shown.pane();
  FrameView& view = pane.frame_view();
  QWidget* w = &shown.window;
  auto shown_names = [&] {
    QStringList names;
    const auto panels = view.panels();
    for (const auto& cell : panels[0].cells) names << cell.name;
    return names;
  };
  CHECK(shown_names() == QStringList{"left", "front", "right"});
  QTest::keyClick(w, Qt::Key_C);
  CHECK(shown_names() == QStringList{"front"});
  QTest::keyClick(w, Qt::Key_C);
  CHECK(shown_names() == QStringList{"left"});
  QTest::keyClick(w, Qt::Key_C);
  CHECK(shown_names() == QStringList{"right"});
  QTest::keyClick(w, Qt::Key_C);
  CHECK(view.camera() == hil::viewer::kAllCameras);
  QTest::keyClick(w, Qt::Key_C, Qt::ShiftModifier);
  CHECK(shown_names() == QStringList{"right"});
  auto* picker = pane.findChild<QComboBox*>("camera_picker");
  REQUIRE(picker != nullptr);
  CHECK(picker->currentText() == "right");
  QTest::keyClick(w, Qt::Key_0);
  CHECK(shown_names().size() == 3);
  CHECK(picker->currentText() == "all cameras");
  picker->setCurrentIndex(picker->findText("left"));
  CHECK(shown_names() == QStringList{"left"});
  // One camera alone gets the whole panel.
  const double alone = view.panels()[0].cells[0].target.width();
  CHECK(pane.command_line().endsWith("--camera left"));

  SECTION("the command line reopens that camera; an unknown one is reported") {
    const auto parsed =
        hil::viewer::parse_command_line(QProcess::splitCommand(pane.command_line()));
    REQUIRE(parsed.error.isEmpty());
    ShownWindow again(db, parsed.options.view);
    CHECK(again.problems.isEmpty());
    CHECK(again.pane().camera() == camera_index(db.snow_clip().header, "left"));
    CHECK(again.pane().frame_view().panels()[0].cells[0].target.width() == Approx(alone));
    hil::viewer::ViewRequest rear;
    rear.camera = "rear";
    ShownWindow missing(db, rear);
    CHECK(missing.problems.join(" ").contains("no camera 'rear'"));
  }
}

TEST_CASE("Scrubbing draws each frame, with its overlays, faster than the clip's frame rate") {
  CompareDatabase db;
  ShownWindow shown(db);
  ComparePane& pane = shown.pane();
  const double period_ms = 1000.0 / db.snow_clip().header.fps();
  for (FrameMode mode : {FrameMode::kSideBySide, FrameMode::kOverlay}) {
    pane.set_mode(mode);
    QElapsedTimer timer;
    timer.start();
    for (int k = 0; k < static_cast<int>(compare_test::kFrames); ++k) {
      pane.set_frame(k);
      pane.frame_view().repaint();  // paint now, not at the next event loop turn
      pane.timeline().repaint();
      for (int i = 0; i < ComparePane::kCharts; ++i) pane.chart(i).repaint();
    }
    const double per_frame = static_cast<double>(timer.elapsed()) / compare_test::kFrames;
    WARN(hil::viewer::frame_mode_name(mode)
         << ": " << per_frame << " ms per frame, three cameras (period " << period_ms << " ms)");
    CHECK(per_frame < period_ms);
  }
}

TEST_CASE(
    "The charts show A, B and the truth per frame, share their frame axis and follow the cursor") {
  CompareDatabase db;
  ShownWindow shown(db);
  ComparePane& pane = shown.pane();
  hil::viewer::ResultsSource source(db.path());
  const auto table = source.diff_table(run_comparison(db));
  // What the boards scored (the snow clip is the table's first).
  REQUIRE(table.clips[0].clip_sha == db.snow_clip().sha256);
  const auto a = db.expected_series(db.snow_clip(), false);
  const auto b = db.expected_series(db.snow_clip(), true);
  const auto a_metrics = db.expected_metrics(db.snow_clip(), false);
  const auto b_metrics = db.expected_metrics(db.snow_clip(), true);

  // Until picked: what explains the worst metric (lead_catch), then the gates' series.
  CHECK(pane.chart(0).shown().name == "frame.lead_catch");
  CHECK(pane.chart(0).shown().unit == "errors");
  CHECK(pane.chart(2).shown().name == "out.control.steering");
  CHECK(pane.chart(2).shown().unit == "rad");
  hil::viewer::SeriesChart& lane = pane.chart(1);
  REQUIRE(lane.shown().name == "out.ego.lane_offset");
  CHECK(lane.shown().a == a.at("out.ego.lane_offset"));
  CHECK(lane.shown().truth == a.at("truth.ego.lane_offset"));
  CHECK(lane.shown().unit == "m");
  CHECK(pane.chart(0).shown().truth.empty());
  // The menu: whatever the evals have, the truth drawn beside its output, not listed.
  auto* menu = pane.findChild<QComboBox*>("chart_series_0");
  REQUIRE(menu != nullptr);
  CHECK(menu->findText("out.lead.distance") >= 0);
  CHECK(menu->findText("frame.kerb_error_20m") >= 0);
  for (int i = 0; i < menu->count(); ++i) CHECK_FALSE(menu->itemText(i).startsWith("truth."));
  // B's line: the gap frames split it into two drawn segments, every point exact.
  const auto drawn = lane.drawn(Side::kB);
  REQUIRE(drawn.size() == 2);
  CHECK(drawn[0].back().x() == 4);
  CHECK(drawn[1].front().x() == 7);
  CHECK(drawn[1].front().y() == Approx(b.at("out.ego.lane_offset")[7]));
  // The Qt Charts series hold the same points.
  auto* qt = dynamic_cast<hil::viewer::QtChartsSeriesChart*>(&lane);
  REQUIRE(qt != nullptr);
  int b_lines = 0;
  for (QAbstractSeries* series : qt->chart()->series()) {
    auto* line = qobject_cast<QLineSeries*>(series);
    if (line == nullptr || !line->name().startsWith("B ") || line->count() == 0) continue;
    ++b_lines;
    CHECK(line->pen().color() == hil::viewer::side_colour(Side::kB));
  }
  CHECK(b_lines == 2);

  SECTION("the readout shows exact values at the cursor, the truth and the unit") {
    pane.set_frame(8);
    const QString readout = pane.chart_readout(1).text();
    CHECK(readout.contains("frame 8"));
    CHECK(readout.contains(QString::number(b.at("out.ego.lane_offset")[8], 'g', 4)));
    CHECK(readout.contains("truth " + QString::number(a.at("truth.ego.lane_offset")[8], 'g', 4)));
    CHECK(readout.endsWith("(m)"));
  }
  SECTION("zooming one chart zooms them all; a new series picked keeps the others") {
    qt->zoom_at(12, 0.5);
    const auto range = lane.frame_range();
    CHECK(range.second - range.first == Approx(11.5));
    for (int i = 0; i < ComparePane::kCharts; ++i) {
      CHECK(pane.chart(i).frame_range().first == Approx(range.first));
      CHECK(pane.chart(i).frame_range().second == Approx(range.second));
    }
    pane.set_chart_series(2, "frame.wobble");
    CHECK(pane.chart(2).shown().name == "frame.wobble");
    CHECK(pane.chart(2).shown().unit == "rad");
    CHECK(pane.chart(2).shown().b[0] == Approx(b.at("frame.wobble")[0]));
    CHECK(pane.chart_series(1) == "out.ego.lane_offset");
    // The pick stays when another clip is shown.
    QTest::keyClick(&shown.window, Qt::Key_BracketRight);
    CHECK(pane.chart(2).shown().name == "frame.wobble");
  }
  SECTION("D hides and shows the delta shading") {
    CHECK(lane.delta_shading());
    QTest::keyClick(&shown.window, Qt::Key_D);
    CHECK_FALSE(lane.delta_shading());
    QTest::keyClick(&shown.window, Qt::Key_D);
    CHECK(lane.delta_shading());
  }
  SECTION("the histogram counts every clip's delta and marks the selected one") {
    const auto& bins = pane.histogram().shown_bins();
    int total = 0;
    for (const auto& bin : bins) total += bin.count;
    CHECK(total == 4);
    REQUIRE(pane.histogram().marked_delta().has_value());
    CHECK(*pane.histogram().marked_delta() ==
          Approx(b_metrics.at("drift") - a_metrics.at("drift")));
    pane.set_histogram_metric(2);
    CHECK(*pane.histogram().marked_delta() ==
          Approx(b_metrics.at("lead_catch") - a_metrics.at("lead_catch")));
  }
}

TEST_CASE("Keys drive playback, frames and clips") {
  CompareDatabase db;
  ShownWindow shown(db);
  ComparePane& pane = shown.pane();
  QWidget* w = &shown.window;
  pane.clip_table().setFocus();

  QTest::keyClick(w, Qt::Key_Right);
  CHECK(pane.frame() == 1);
  QTest::keyClick(w, Qt::Key_Right, Qt::ShiftModifier);
  CHECK(pane.frame() == 11);
  QTest::keyClick(w, Qt::Key_Left);
  CHECK(pane.frame() == 10);
  QTest::keyClick(w, Qt::Key_Left, Qt::ShiftModifier);
  CHECK(pane.frame() == 0);
  QTest::keyClick(w, Qt::Key_Left);
  CHECK(pane.frame() == 0);  // clamped at the first frame
  QTest::keyClick(w, Qt::Key_End);
  CHECK(pane.frame() == static_cast<int>(compare_test::kFrames) - 1);
  QTest::keyClick(w, Qt::Key_Home);
  CHECK(pane.frame() == 0);

  const std::string first = pane.selected_clip()->clip_sha;
  QTest::keyClick(w, Qt::Key_BracketRight);
  REQUIRE(pane.selected_clip() != nullptr);
  CHECK(pane.selected_clip()->clip_sha != first);
  CHECK(pane.clip_table().selectionModel()->currentIndex().row() == 1);
  QTest::keyClick(w, Qt::Key_BracketLeft);
  CHECK(pane.selected_clip()->clip_sha == first);

  SECTION("space plays at the clip's frame rate and pauses") {
    CHECK(pane.playback().interval_ms() ==
          static_cast<int>(std::lround(1000 / db.snow_clip().header.fps())));
    QTest::keyClick(w, Qt::Key_Space);
    CHECK(pane.playback().playing());
    CHECK(QTest::qWaitFor([&] { return pane.frame() >= 3; }, 5000));
    QTest::keyClick(w, Qt::Key_Space);
    CHECK_FALSE(pane.playback().playing());
    const int stopped = pane.frame();
    QTest::qWait(200);
    CHECK(pane.frame() == stopped);
  }
  SECTION("the keys are the compare view's only while it is shown") {
    shown.window.show_tab(MainWindow::kRunsTab);
    shown.window.run_table().setFocus();
    QTest::keyClick(w, Qt::Key_Right);
    QTest::keyClick(w, Qt::Key_2);
    CHECK(pane.frame() == 0);
    CHECK(pane.frame_view().mode() == FrameMode::kSideBySide);
    shown.window.show_tab(MainWindow::kCompareTab);
    QTest::keyClick(w, Qt::Key_Right);
    CHECK(pane.frame() == 1);
  }
  SECTION("typing in the filter is text, not shortcuts") {
    auto* filter = pane.findChild<QLineEdit*>("text_filter");
    REQUIRE(filter != nullptr);
    filter->setFocus();
    QTest::keyClicks(filter, "snow 2");
    CHECK(filter->text() == "snow 2");
    CHECK(pane.frame_view().mode() == FrameMode::kSideBySide);
    CHECK_FALSE(pane.playback().playing());
  }
}

TEST_CASE(
    "Exports write the frame and charts as PNG, the table and series as CSV, and copy the view") {
  CompareDatabase db;
  ShownWindow shown(db);
  ComparePane& pane = shown.pane();
  pane.set_frame(7);

  const QString frame_png = screenshot_path(db, "frame.png");
  REQUIRE_FALSE(pane.export_frame_png(frame_png).has_value());
  const QImage frame(frame_png);
  CHECK(frame.size() == pane.frame_view().size());
  // A's blue and B's orange lanes are drawn.
  CHECK(viewer_test::count_pixels(frame, hil::viewer::side_colour(Side::kA)) > 20);
  CHECK(viewer_test::count_pixels(frame, hil::viewer::side_colour(Side::kB)) > 20);

  const QString charts_png = screenshot_path(db, "charts.png");
  REQUIRE_FALSE(pane.export_charts_png(charts_png).has_value());
  CHECK_FALSE(QImage(charts_png).isNull());

  const QString table_csv = db.file_in_dir("clips.csv");
  REQUIRE_FALSE(pane.export_table_csv(table_csv).has_value());
  QFile table(table_csv);
  REQUIRE(table.open(QIODevice::ReadOnly));
  const QStringList lines = QString::fromUtf8(table.readAll()).trimmed().split('\n');
  REQUIRE(lines.size() == 5);
  CHECK(lines[0].startsWith(
      "clip,sha256,scenario,verdict,worst_metric,worst_margins,tags,eval_a,eval_b,"
      "drift_a,drift_b,drift_delta,wobble_a"));
  CHECK(lines[0].endsWith("comfort_index_a,comfort_index_b,comfort_index_delta"));
  CHECK(lines[1].contains(q(db.snow_clip().sha256)));
  CHECK(lines[1].contains(",regressed,lead_catch,"));

  const QString series_csv = db.file_in_dir("series.csv");
  REQUIRE_FALSE(pane.export_series_csv(series_csv).has_value());
  QFile series(series_csv);
  REQUIRE(series.open(QIODevice::ReadOnly));
  const QStringList rows = QString::fromUtf8(series.readAll()).trimmed().split('\n');
  CHECK(rows.size() == static_cast<int>(compare_test::kFrames) + 1);
  CHECK(rows[0].contains("out.ego.lane_offset A,out.ego.lane_offset B"));
  CHECK(rows[0].contains("truth.ego.lane_offset A,truth.ego.lane_offset B"));
  CHECK(rows[6].startsWith("5,"));

  pane.set_mode(FrameMode::kOverlay);
  pane.copy_command_line();
  const QString line = QGuiApplication::clipboard()->text();
  CHECK(line ==
        QStringLiteral("hil-viewer %1 --a %2 --b %3 --run %4 --clip %5 --frame 7 --mode overlay")
            .arg(db.qpath(), q(std::string(12, 'a')), q(std::string(12, 'b')))
            .arg(db.run)
            .arg(q(db.snow_clip().sha256)));

  SECTION("the copied command line reopens exactly this view") {
    QStringList args = QProcess::splitCommand(line);
    const auto parsed = hil::viewer::parse_command_line(args);
    REQUIRE(parsed.error.isEmpty());
    ShownWindow again(db, parsed.options.view);
    CHECK(again.problems.isEmpty());
    REQUIRE(again.pane().selected_clip() != nullptr);
    CHECK(again.pane().selected_clip()->clip_sha == db.snow_clip().sha256);
    CHECK(again.pane().frame() == 7);
    CHECK(again.pane().frame_view().mode() == FrameMode::kOverlay);
    CHECK(again.pane().comparison() == pane.comparison());
  }
}

TEST_CASE("The next start restores the layout and the last selection of the same database") {
  CompareDatabase db;
  QSettings().clear();
  {
    MainWindow window;  // restores (nothing yet) and saves on close
    window.resize(hil::viewer::kScreenshotSize);
    REQUIRE_FALSE(window.open_database(db.qpath()).has_value());
    window.show();
    REQUIRE(QTest::qWaitForWindowExposed(&window));
    REQUIRE(window.compare().select_clip(q(db.clips[2].sha256)));
    window.compare().set_frame(9);
    window.compare().set_mode(FrameMode::kFlicker);
    window.compare().set_chart_series(1, "device_ms");
    window.compare().set_camera(camera_index(db.clips[2].header, "right"));
    window.close();
  }
  MainWindow window;
  REQUIRE_FALSE(window.open_database(db.qpath()).has_value());
  REQUIRE(window.compare().selected_clip() != nullptr);
  CHECK(window.compare().selected_clip()->clip_sha == db.clips[2].sha256);
  CHECK(window.compare().frame() == 9);
  CHECK(window.compare().frame_view().mode() == FrameMode::kFlicker);
  CHECK(window.compare().chart_series(1) == "device_ms");
  CHECK(window.compare().camera() == camera_index(db.clips[2].header, "right"));
  CHECK(window.current_tab() == MainWindow::kCompareTab);

  SECTION("another database starts at its own first screen") {
    CompareDatabase other;
    REQUIRE_FALSE(window.open_database(other.qpath()).has_value());
    CHECK(window.compare().selected_clip()->clip_sha == other.snow_clip().sha256);
    CHECK(window.compare().frame() == 0);
  }
  QSettings().clear();
}

TEST_CASE("New results appear while the scheduler writes, keeping the clip and frame") {
  CompareDatabase db;
  ShownWindow shown(db);
  ComparePane& pane = shown.pane();
  // Compare over all results, so a new run's clip joins the table.
  Comparison all = run_comparison(db);
  all.run_id.reset();
  REQUIRE(pane.set_comparison(all));
  REQUIRE(pane.select_clip(q(db.clips[1].sha256)));
  pane.set_frame(6);
  hil::evals::ClipSpec spec;
  spec.seed = 160;
  spec.frames = compare_test::kFrames;
  spec.condition = "fog";
  spec.rig = "tri";
  const TestClip extra = db.add_clip(spec);
  db.add_run("while watching", {extra});
  // The window's own timer refreshes every 2 s; allow for a slow machine.
  CHECK(QTest::qWaitFor([&] { return pane.clip_model().filtered_count() == 5; }, 15000));
  CHECK(pane.selected_clip()->clip_sha == db.clips[1].sha256);
  CHECK(pane.frame() == 6);
}

TEST_CASE("A clip whose blob is missing still shows its table row, series and a reason") {
  CompareDatabase db;
  std::filesystem::remove(db.blob_dir() / db.snow_clip().sha256);
  ShownWindow shown(db);
  ComparePane& pane = shown.pane();
  REQUIRE(pane.selected_clip() != nullptr);
  CHECK(pane.clip_frames() == nullptr);
  CHECK(pane.frame_view().panels().empty());
  CHECK(pane.chart(0).shown().name == "frame.lead_catch");
  CHECK(pane.playback().frame_count() ==
        static_cast<int>(compare_test::kFrames));  // from the series
  const QImage image = pane.frame_view().render(QSize(600, 300));
  CHECK_FALSE(image.isNull());
}

TEST_CASE(
    "hil-viewer --screenshot renders the compare view asked for, or exits 5 naming what is "
    "missing") {
  CompareDatabase db;
  QProcess viewer;
  viewer.setProgram(QStringLiteral(HIL_VIEWER_EXECUTABLE));
  const QString png = screenshot_path(db, "compare-overlay.png");

  SECTION("a clip by prefix, a frame and the overlay mode") {
    viewer.setArguments({db.qpath(), "--a", "base", "--b", "snowblind", "--clip",
                         q(db.snow_clip().sha256.substr(0, 12)), "--frame", "7", "--mode",
                         "overlay", "--screenshot", png});
    viewer.start();
    REQUIRE(viewer.waitForFinished(60000));
    CHECK(viewer.exitCode() == hil::viewer::kExitOk);
    const QImage image(png);
    REQUIRE(image.size() == QSize(1200, 800));
    CHECK(viewer_test::count_pixels(image, hil::viewer::side_colour(Side::kB)) > 100);
    CHECK(viewer_test::count_pixels(
              image, hil::viewer::verdict_background(hil::viewer::VerdictKind::kFail)) > 500);
  }
  SECTION("a larger size, one camera") {
    viewer.setArguments(
        {db.qpath(), "--size", "1600x1000", "--camera", "front", "--screenshot", png});
    viewer.start();
    REQUIRE(viewer.waitForFinished(60000));
    CHECK(viewer.exitCode() == hil::viewer::kExitOk);
    CHECK(QImage(png).size() == QSize(1600, 1000));
  }
  SECTION("an unknown revision, clip or camera") {
    viewer.setArguments({db.qpath(), "--a", "nosuch", "--b", "snowblind", "--screenshot", png});
    viewer.start();
    REQUIRE(viewer.waitForFinished(60000));
    CHECK(viewer.exitCode() == hil::viewer::kExitNoSuchView);
    CHECK(viewer.readAllStandardError().contains("no revision 'nosuch'"));
    viewer.setArguments({db.qpath(), "--clip", "0123456789ab", "--screenshot", png});
    viewer.start();
    REQUIRE(viewer.waitForFinished(60000));
    CHECK(viewer.exitCode() == hil::viewer::kExitNoSuchView);
    CHECK(viewer.readAllStandardError().contains("no clip 0123456789ab"));
    viewer.setArguments({db.qpath(), "--camera", "rear", "--screenshot", png});
    viewer.start();
    REQUIRE(viewer.waitForFinished(60000));
    CHECK(viewer.exitCode() == hil::viewer::kExitNoSuchView);
    CHECK(viewer.readAllStandardError().contains("no camera 'rear'"));
  }
}

TEST_CASE(
    "The window's screenshot of the compare view shows the regression in the table, cameras and "
    "charts") {
  CompareDatabase db;
  hil::viewer::ViewRequest view;
  view.frame = 8;
  ShownWindow shown(db, view);
  const QString png = screenshot_path(db, "compare-window.png");
  REQUIRE_FALSE(
      hil::viewer::save_screenshot(shown.window, hil::viewer::kScreenshotSize, png).has_value());
  const QImage image(png);
  REQUIRE(image.size() == QSize(1200, 800));
  // The regressed verdict cell, the Worst cell and B's lanes and lines.
  CHECK(viewer_test::count_pixels(
            image, hil::viewer::verdict_background(hil::viewer::VerdictKind::kFail)) > 500);
  CHECK(viewer_test::count_pixels(image, hil::viewer::side_colour(Side::kA)) > 200);
  CHECK(viewer_test::count_pixels(image, hil::viewer::side_colour(Side::kB)) > 200);
}

}  // namespace
