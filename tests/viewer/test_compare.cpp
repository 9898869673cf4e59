// The compare view (revision A against revision B) against real results
// databases: clips generated into the blob folder, evals scored by
// evals::EvalScorer, series encoded as the boards encode them (see
// compare_fixture.h). Run under the offscreen platform.
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
using compare_test::TestClip;
using hil::viewer::ClipDiff;
using hil::viewer::ClipTableModel;
using hil::viewer::ClipVerdict;
using hil::viewer::ComparePane;
using hil::viewer::Comparison;
using hil::viewer::FrameMode;
using hil::viewer::MainWindow;
using hil::viewer::MarkerKind;
using hil::viewer::OverlayKind;
using hil::viewer::Side;
using viewer_test::cell;
using viewer_test::CheckedModel;

QString q(const std::string& s) { return QString::fromStdString(s); }

Comparison run_comparison(const CompareDatabase& db) {
  Comparison c;
  c.revision_a = db.base;
  c.revision_b = db.snowblind;
  c.run_id = db.run;
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

// The y of a ground-truth lane line at x (linear between its points).
double line_y_at(const hil::clip::LaneLine& line, double x) {
  for (int i = 1; i < line.points_size(); ++i) {
    const auto &a = line.points(i - 1), &b = line.points(i);
    if (a.x() <= x && x <= b.x()) return a.y() + (b.y() - a.y()) * (x - a.x()) / (b.x() - a.x());
  }
  return NAN;
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

TEST_CASE("The scoped diff pairs each clip's evals of A and B and reads every gating metric") {
  CompareDatabase db;
  hil::viewer::ResultsSource source(db.path());

  const auto rows = db.store().diff_revisions_scoped(db.base, db.snowblind, std::nullopt, db.run,
                                                     {"lane_offset_mae", "lead_recall"});
  REQUIRE(rows.size() == 8);  // 4 clips x 2 metrics
  for (const auto& row : rows) {
    const auto clip = std::find_if(db.clips.begin(), db.clips.end(),
                                   [&](const TestClip& c) { return c.sha256 == row.clip_sha; });
    REQUIRE(clip != db.clips.end());
    const auto a = CompareDatabase::expected_metrics(*clip, false);
    const auto b = CompareDatabase::expected_metrics(*clip, true);
    CHECK(row.a == Approx(a.at(row.metric)));
    CHECK(row.b == Approx(b.at(row.metric)));
    CHECK(row.delta == Approx(row.b - row.a));
    CHECK(row.scenario == "split");
  }

  SECTION("a later run of the same pair replaces the earlier evals in the unscoped diff") {
    const int64_t again = db.add_run("again", {db.clips[1]});
    const auto all = db.store().diff_revisions_scoped(db.base, db.snowblind, std::nullopt,
                                                      std::nullopt, {"lane_offset_mae"});
    REQUIRE(all.size() == 4);
    const auto evals = db.store().evals_of_run(again);
    for (const auto& row : all) {
      if (row.clip_sha != db.clips[1].sha256) continue;
      CHECK((row.eval_a == evals[0].id || row.eval_a == evals[1].id));
    }
    // Within the first run, its own evals.
    CHECK(
        db.store()
            .diff_revisions_scoped(db.base, db.snowblind, std::nullopt, db.run, {"lane_offset_mae"})
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
    "The diff table uses the suite's gates, scores clips in margins and puts the worst first") {
  CompareDatabase db;
  hil::viewer::ResultsSource source(db.path());
  const hil::viewer::DiffTable table = source.diff_table(run_comparison(db));

  // Blocking gates first in suite order, then the advisory one.
  REQUIRE(table.metrics.size() == 4);
  CHECK(table.metrics[0].name == "lane_offset_mae");
  CHECK(table.metrics[1].name == "steering_mae");
  CHECK(table.metrics[2].name == "lead_recall");
  CHECK(table.metrics[3].name == "device_latency_p99_ms");
  CHECK_FALSE(table.metrics[3].blocking);
  CHECK(table.metrics[2].direction == hil::viewer::Direction::kHigherIsBetter);
  CHECK(table.metrics[0].scale == Approx(0.02));  // the gate's margin
  CHECK(table.metrics[0].scale_is_margin);

  REQUIRE(table.clips.size() == 4);
  const ClipDiff& worst = table.clips[0];
  CHECK(worst.clip_sha == db.snow_clip().sha256);
  CHECK(worst.verdict == ClipVerdict::kRegressed);
  // Lead recall fell from 1 to 0 (33 margins of 0.03); steering is off by
  // 0.04 rad on every commanded frame (20 margins of 0.002).
  CHECK(table.metrics[static_cast<size_t>(worst.worst_metric)].name == "lead_recall");
  CHECK(worst.worst == Approx(1 / 0.03));
  for (size_t i = 1; i < table.clips.size(); ++i) {
    CHECK(table.clips[i].worst <= table.clips[i - 1].worst);
    CHECK(table.clips[i].verdict != ClipVerdict::kRegressed);
  }
  CHECK(std::find(table.tags.begin(), table.tags.end(), "snow") != table.tags.end());
  CHECK(std::find(table.tags.begin(), table.tags.end(), "road:straight") != table.tags.end());

  SECTION("without gates, a default set of metrics measured in RMS deltas") {
    const auto metrics = hil::viewer::gating_metrics({"name: \"no gates\""}, {});
    REQUIRE_FALSE(metrics.empty());
    CHECK(metrics[0].name == "lane_offset_mae");
    auto rows = db.store().diff_revisions_scoped(db.base, db.snowblind, std::nullopt, db.run, {});
    const auto plain = hil::viewer::build_diff_table(rows, metrics);
    CHECK_FALSE(plain.metrics[0].scale_is_margin);
    CHECK(plain.metrics[0].scale > 0);
    CHECK(plain.clips[0].clip_sha == db.snow_clip().sha256);
  }
}

// ------------------------------------------------------------------ clip table model

TEST_CASE("The clip table shows A, B and the delta of each gating metric, coloured by direction") {
  CompareDatabase db;
  hil::viewer::ResultsSource source(db.path());
  ClipTableModel model;
  CheckedModel checked(&model);
  model.show(&source, run_comparison(db));

  REQUIRE(model.rowCount() == 4);
  REQUIRE(model.columnCount() == 3 + 3 * 4 + 2);
  CHECK(model.headerData(ClipTableModel::metric_column(0, ClipTableModel::kA), Qt::Horizontal)
            .toString() == "lane_offset_mae A");
  CHECK(model.headerData(ClipTableModel::metric_column(0, ClipTableModel::kDelta), Qt::Horizontal)
            .toString() == "lane_offset_mae Δ");
  CHECK(model.headerData(model.tags_column(), Qt::Horizontal).toString() == "Tags");

  const auto a = CompareDatabase::expected_metrics(db.snow_clip(), false);
  const auto b = CompareDatabase::expected_metrics(db.snow_clip(), true);
  CHECK(cell(model, 0, ClipTableModel::kClip) == q(db.snow_clip().header.name()));
  CHECK(cell(model, 0, ClipTableModel::kVerdict) == "regressed");
  CHECK(cell(model, 0, ClipTableModel::kWorst) == "lead_recall 33.33×");
  CHECK(cell(model, 0, ClipTableModel::metric_column(0, ClipTableModel::kA)) ==
        QString::number(a.at("lane_offset_mae"), 'g', 4));
  CHECK(cell(model, 0, ClipTableModel::metric_column(0, ClipTableModel::kB)) ==
        QString::number(b.at("lane_offset_mae"), 'g', 4));
  CHECK(cell(model, 0, ClipTableModel::metric_column(0, ClipTableModel::kDelta)).startsWith("+"));
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
    // lead_recall is higher-better and dropped to 0 on the snow clip: red too.
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
      outcome.metrics = {{"lane_offset_mae", v},
                         {"steering_mae", v / 10},
                         {"lead_recall", 1 - v},
                         {"device_latency_p99_ms", 10 + v}};
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

TEST_CASE("Timeline markers are deadline misses, command gaps and failovers") {
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

TEST_CASE("A view is a command line: revisions by name or hash prefix, clip, frame and mode") {
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

TEST_CASE(
    "Overlays project the predicted lane onto the ground-truth lane when the prediction is right") {
  CompareDatabase db(/*with_run=*/false);
  const TestClip& clip = db.snow_clip();  // a straight road
  REQUIRE(clip.road == "straight");
  const auto& camera = clip.header.cameras(0);
  for (int k : {0, 10, 20}) {
    const hil::clip::Frame& frame = clip.frames[static_cast<size_t>(k)];
    const auto& ego = frame.labels().ego();
    hil::viewer::Prediction truth;
    truth.valid = true;
    truth.lane_offset = static_cast<float>(ego.lane_offset());
    truth.lane_heading = static_cast<float>(ego.lane_heading());
    const auto shapes = hil::viewer::prediction_overlay(camera, truth, Side::kA, {});
    std::vector<QPolygonF> boundaries;
    for (const auto& s : shapes) {
      if (s.kind == OverlayKind::kPredictedLane) boundaries.push_back(s.points);
    }
    REQUIRE(boundaries.size() == 2);
    // The ground-truth ego lane lines are the ones 1.8 m either side of the
    // lane centre; at 10 m ahead the predicted ones must land on them.
    for (double side : {1.8, -1.8}) {
      const double centre_y = -ego.lane_offset() - std::tan(ego.lane_heading()) * 10;
      const hil::clip::LaneLine* best = nullptr;
      for (const auto& line : frame.labels().lanes()) {
        if (best == nullptr || std::abs(line_y_at(line, 10) - (centre_y + side)) <
                                   std::abs(line_y_at(*best, 10) - (centre_y + side))) {
          best = &line;
        }
      }
      REQUIRE(best != nullptr);
      double u_truth = 0, v_truth = 0;
      REQUIRE(hil::evals::project_point(camera, 10, line_y_at(*best, 10), 0, &u_truth, &v_truth));
      const QPolygonF predicted = hil::viewer::project_ground_line(
          camera, -truth.lane_offset + side, -std::tan(truth.lane_heading), 10, 10, 1);
      REQUIRE(predicted.size() >= 1);
      CHECK(std::abs(predicted[0].x() - u_truth) < 1.0);  // pixels of a 128-pixel frame
      CHECK(std::abs(predicted[0].y() - v_truth) < 1.0);
    }
  }

  SECTION("a lane predicted 0.6 m too far left lands visibly right of the truth") {
    const auto& ego = clip.frames[0].labels().ego();
    hil::viewer::Prediction off;
    off.valid = true;
    off.lane_offset = static_cast<float>(ego.lane_offset() + 0.6);
    off.lane_heading = static_cast<float>(ego.lane_heading());
    const QPolygonF right = hil::viewer::project_ground_line(camera, -off.lane_offset, 0, 8, 8, 1);
    const QPolygonF truth =
        hil::viewer::project_ground_line(camera, -ego.lane_offset(), 0, 8, 8, 1);
    CHECK(right[0].x() - truth[0].x() > 5);  // y smaller (to the right) is u larger
  }

  SECTION("the lead marker stands at the predicted distance, only when the score says present") {
    hil::viewer::Prediction lead;
    lead.valid = true;
    lead.lead_score = 0.9f;
    lead.lead_distance = 20;
    const auto shapes = hil::viewer::prediction_overlay(camera, lead, Side::kB, {});
    const auto marker = std::find_if(shapes.begin(), shapes.end(), [](const auto& s) {
      return s.kind == OverlayKind::kLeadMarker;
    });
    REQUIRE(marker != shapes.end());
    CHECK(marker->side == Side::kB);
    CHECK(marker->closed);
    CHECK(marker->label == "lead 20.0 m");
    double u = 0, v = 0;
    hil::evals::project_point(camera, 20, 0.9, 0, &u, &v);
    CHECK(marker->points[0].x() == Approx(u));
    CHECK(marker->points[0].y() == Approx(v));
    lead.lead_score = 0.2f;
    const auto none = hil::viewer::prediction_overlay(camera, lead, Side::kB, {});
    CHECK(std::none_of(none.begin(), none.end(),
                       [](const auto& s) { return s.kind == OverlayKind::kLeadMarker; }));
  }

  SECTION("a frame without a command draws no prediction; toggles remove their shapes") {
    hil::viewer::Prediction gap;
    CHECK(hil::viewer::prediction_overlay(camera, gap, Side::kA, {}).empty());
    hil::viewer::OverlayOptions none;
    none.truth_lanes = none.objects = none.predicted_lanes = none.lead = none.steering = false;
    CHECK(hil::viewer::truth_overlay(clip.header, clip.frames[0], none).empty());
    const auto all = hil::viewer::truth_overlay(clip.header, clip.frames[0], {});
    CHECK(std::count_if(all.begin(), all.end(), [](const auto& s) {
            return s.kind == OverlayKind::kTruthLane;
          }) == clip.frames[0].labels().lanes_size());
    CHECK(std::any_of(all.begin(), all.end(),
                      [](const auto& s) { return s.kind == OverlayKind::kObject; }));
  }
}

// ------------------------------------------------------------------ the pane

TEST_CASE(
    "Opening a database shows the newest run's pair with its worst clip, frame and overlays") {
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

  hil::viewer::FrameView& view = pane.frame_view();
  SECTION("side by side: A's panel draws A's prediction, B's panel B's, both the ground truth") {
    const auto panels = view.panels();
    REQUIRE(panels.size() == 2);
    CHECK(panels[0].title.startsWith("A: base"));
    CHECK(panels[1].title.startsWith("B: snowblind"));
    CHECK(panels[0].has_image);
    CHECK(panels[0].target.width() > 200);
    CHECK(panels[0].target.width() / panels[0].target.height() == Approx(2.0));  // 128 x 64 frames
    for (int i = 0; i < 2; ++i) {
      const Side side = i == 0 ? Side::kA : Side::kB;
      for (const auto& shape : panels[static_cast<size_t>(i)].shapes) {
        if (!shape.truth) CHECK(shape.side == side);
      }
      CHECK(std::any_of(panels[static_cast<size_t>(i)].shapes.begin(),
                        panels[static_cast<size_t>(i)].shapes.end(),
                        [](const auto& s) { return s.kind == OverlayKind::kTruthLane; }));
      CHECK(std::count_if(panels[static_cast<size_t>(i)].shapes.begin(),
                          panels[static_cast<size_t>(i)].shapes.end(), [](const auto& s) {
                            return s.kind == OverlayKind::kPredictedLane;
                          }) == 2);
    }
    CHECK(panels[1].captions[0].startsWith("B offset"));
    // B believes the ego 0.6 m further left: near the car its lane is drawn
    // right of A's (far ahead B's heading error turns it back left).
    auto left_boundary = [](const hil::viewer::FrameView::Panel& p) {
      for (const auto& s : p.shapes) {
        if (s.kind == OverlayKind::kPredictedLane) return s.points.first();
      }
      return QPointF();
    };
    CHECK(left_boundary(panels[1]).x() - left_boundary(panels[0]).x() > 2);
  }
  SECTION("overlay: one panel with both; flicker: one revision, F flips it") {
    QTest::keyClick(&shown.window, Qt::Key_2);
    CHECK(view.mode() == FrameMode::kOverlay);
    auto panels = view.panels();
    REQUIRE(panels.size() == 1);
    CHECK(panels[0].captions.size() == 4);
    bool a = false, b = false;
    for (const auto& s : panels[0].shapes) {
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
  SECTION("a command gap shows as a gap: no prediction, and says so") {
    pane.set_frame(5);
    const auto panels = view.panels();
    CHECK(panels[1].captions[0].contains("no command on frame 5"));
    CHECK(std::none_of(panels[1].shapes.begin(), panels[1].shapes.end(), [](const auto& s) {
      return !s.truth && s.kind == OverlayKind::kPredictedLane;
    }));
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
         << ": " << per_frame << " ms per frame (period " << period_ms << " ms)");
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
  const auto a = source.eval_series(table.clips[0].eval_a);
  const auto b = source.eval_series(table.clips[0].eval_b);

  hil::viewer::SeriesChart& lane = pane.chart(0);
  REQUIRE(lane.shown().name == "out.lane_offset");
  CHECK(lane.shown().a == a.series("out.lane_offset"));
  CHECK(lane.shown().truth == a.series("truth.lane_offset"));
  CHECK(lane.shown().unit == "m");
  // B's line: the gap frames split it into two drawn segments, every point exact.
  const auto drawn = lane.drawn(Side::kB);
  REQUIRE(drawn.size() == 2);
  CHECK(drawn[0].back().x() == 4);
  CHECK(drawn[1].front().x() == 7);
  CHECK(drawn[1].front().y() == Approx(b.at("out.lane_offset", 7)));
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

  SECTION("the readout shows exact values at the cursor") {
    pane.set_frame(8);
    const QString readout = pane.chart_readout(0).text();
    CHECK(readout.contains("frame 8"));
    CHECK(readout.contains(QString::number(b.at("out.lane_offset", 8), 'g', 4)));
    CHECK(readout.contains("truth"));
  }
  SECTION("zooming one chart zooms them all; a new series picked keeps the others") {
    qt->zoom_at(12, 0.5);
    const auto range = lane.frame_range();
    CHECK(range.second - range.first == Approx(11.5));
    for (int i = 1; i < ComparePane::kCharts; ++i) {
      CHECK(pane.chart(i).frame_range().first == Approx(range.first));
      CHECK(pane.chart(i).frame_range().second == Approx(range.second));
    }
    pane.set_chart_series(2, "err.steering");
    CHECK(pane.chart(2).shown().name == "err.steering");
    CHECK(pane.chart(2).shown().b[0] ==
          Approx(std::abs(b.at("out.steering", 0) - b.at("truth.steering", 0))));
    CHECK(pane.chart_series(0) == "out.lane_offset");
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
    CHECK(*pane.histogram().marked_delta() == Approx(table.clips[0].metrics[0].delta));
    pane.set_histogram_metric(2);
    CHECK(*pane.histogram().marked_delta() == Approx(table.clips[0].metrics[2].delta));
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
      "lane_offset_mae_a,lane_offset_mae_b,lane_offset_mae_delta"));
  CHECK(lines[1].contains(q(db.snow_clip().sha256)));
  CHECK(lines[1].contains(",regressed,"));

  const QString series_csv = db.file_in_dir("series.csv");
  REQUIRE_FALSE(pane.export_series_csv(series_csv).has_value());
  QFile series(series_csv);
  REQUIRE(series.open(QIODevice::ReadOnly));
  const QStringList rows = QString::fromUtf8(series.readAll()).trimmed().split('\n');
  CHECK(rows.size() == static_cast<int>(compare_test::kFrames) + 1);
  CHECK(rows[0].contains("out.lane_offset A,out.lane_offset B"));
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
    window.close();
  }
  MainWindow window;
  REQUIRE_FALSE(window.open_database(db.qpath()).has_value());
  REQUIRE(window.compare().selected_clip() != nullptr);
  CHECK(window.compare().selected_clip()->clip_sha == db.clips[2].sha256);
  CHECK(window.compare().frame() == 9);
  CHECK(window.compare().frame_view().mode() == FrameMode::kFlicker);
  CHECK(window.compare().chart_series(1) == "device_ms");
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
  CHECK(pane.chart(0).shown().name == "out.lane_offset");
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
  SECTION("a larger size") {
    viewer.setArguments({db.qpath(), "--size", "1600x1000", "--screenshot", png});
    viewer.start();
    REQUIRE(viewer.waitForFinished(60000));
    CHECK(viewer.exitCode() == hil::viewer::kExitOk);
    CHECK(QImage(png).size() == QSize(1600, 1000));
  }
  SECTION("an unknown revision or clip") {
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
  }
}

TEST_CASE(
    "The window's screenshot of the compare view shows the regression in the table, frame and "
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
  // The regressed verdict cell, the Worst cell and B's lane and lines.
  CHECK(viewer_test::count_pixels(
            image, hil::viewer::verdict_background(hil::viewer::VerdictKind::kFail)) > 500);
  CHECK(viewer_test::count_pixels(image, hil::viewer::side_colour(Side::kA)) > 200);
  CHECK(viewer_test::count_pixels(image, hil::viewer::side_colour(Side::kB)) > 200);
}

}  // namespace
