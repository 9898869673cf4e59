#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "fixtures.h"
#include "hil/db/database.h"
#include "hil/db/store.h"

using namespace hil;

namespace {

// Two revisions over `clips` clips in one run, lane error b = a + 0.01 * clip.
struct Fixture {
  test::TempDir dir;
  db::Database d{dir / "q.db"};
  db::Store s{d};
  int64_t a = 0, b = 0, suite = 0, run = 0;

  explicit Fixture(int clips, const std::string& night = "") {
    db::Transaction tx(d);
    s.sync_metric_defs(
        {{"lane_offset_mae", "m", "lower", ""}, {"steering_mae", "rad", "lower", ""}});
    a = s.upsert_revision({0, std::string(64, 'a'), "base", "", "", "", 1});
    b = s.upsert_revision({0, std::string(64, 'b'), "cand", "", "", "", 1});
    suite = s.upsert_suite("s", "x", std::string(64, 's'));
    std::vector<db::NewEval> evals;
    for (int c = 0; c < clips; ++c) {
      auto clip =
          s.upsert_clip({0, fmt::format("{:064}", c), fmt::format("clip-{}", c), {"snow"}, 10, 36});
      evals.push_back({b, clip, "split"});
      evals.push_back({a, clip, "split"});
    }
    run = s.create_run("r", b, a, suite, night.empty() ? "gate" : "nightly", evals);
    if (!night.empty()) s.set_run_night(run, night);
    for (const auto& e : s.evals_of_run(run)) {
      db::EvalOutcome o;
      o.eval_id = e.id;
      o.board = "rack-000";
      o.succeeded = true;
      int clip_index = static_cast<int>(e.clip_id - 1);
      double lane = 0.2 + (e.revision_id == b ? 0.01 * clip_index : 0.0);
      o.metrics = {{"lane_offset_mae", lane}, {"steering_mae", 0.01}};
      o.series = {{"out.lane_offset", "zlib-f32le", 2, "blob" + std::to_string(e.id)}};
      REQUIRE(s.record_outcome(o));
    }
    tx.commit();
  }
};

}  // namespace

TEST_CASE("the diff of two revisions pairs clips and sorts by delta", "[db][queries]") {
  Fixture f(5);
  auto rows = f.s.diff_revisions(f.a, f.b, f.suite, {"lane_offset_mae"});
  REQUIRE(rows.size() == 5);
  CHECK(rows[0].clip_name == "clip-4");
  CHECK(rows[0].delta == Approx(0.04));
  CHECK(rows[4].delta == Approx(0.0));
  for (size_t i = 1; i < rows.size(); ++i) CHECK(rows[i - 1].delta >= rows[i].delta);
  CHECK(f.s.diff_revisions(f.a, f.b, std::nullopt).size() == 10);  // both metrics
  CHECK(f.s.diff_revisions(f.a, f.b, f.suite + 99).empty());
}

TEST_CASE("per-frame series, board statistics and table sizes read back", "[db][queries]") {
  Fixture f(3);
  auto evals = f.s.evals_of_run(f.run);
  auto series = f.s.frame_series(evals[0].id);
  REQUIRE(series.size() == 1);
  CHECK(series[0].data == "blob" + std::to_string(evals[0].id));
  f.s.upsert_board("rack-000", "slowed-hw3", "idle", "x");
  auto boards = f.s.board_stats();
  REQUIRE(boards.size() == 1);
  auto sizes = f.s.table_sizes();
  bool evals_sized = false;
  for (const auto& t : sizes) evals_sized |= t.table == "evals" && t.rows == 6 && t.bytes > 0;
  CHECK(evals_sized);
}

TEST_CASE("nightly trends group by night and pruning keeps the newest nights", "[db][queries]") {
  test::TempDir dir;
  auto path = dir / "n.db";
  {
    db::Database d(path);
    db::Store s(d);
    s.sync_metric_defs({{"lane_offset_mae", "m", "lower", ""}});
    auto rev = s.upsert_revision({0, std::string(64, 'a'), "base", "", "", "", 1});
    auto clip = s.upsert_clip({0, std::string(64, 'c'), "c", {}, 1, 36});
    auto suite = s.upsert_suite("nightly", "x", std::string(64, 's'));
    for (int night = 1; night <= 4; ++night) {
      auto run = s.create_run("n", rev, std::nullopt, suite, "nightly", {{rev, clip, "split"}});
      s.set_run_night(run, fmt::format("2026-11-0{}", night));
      db::EvalOutcome o;
      o.eval_id = s.evals_of_run(run)[0].id;
      o.succeeded = true;
      o.metrics = {{"lane_offset_mae", 0.1 * night}};
      s.record_outcome(o);
    }
    auto trend = s.metric_trend("lane_offset_mae", 3);
    REQUIRE(trend.size() == 3);
    CHECK(trend[0].night == "2026-11-02");
    CHECK(trend[2].mean == Approx(0.4));
    CHECK(s.prune_nights(2) == 2);
    CHECK(s.metric_trend("lane_offset_mae", 10).size() == 2);
    CHECK(d.check().empty());
  }
}

TEST_CASE("night progress counts a night's evals, busy boards and the rate of the last minute",
          "[db][queries]") {
  test::TempDir dir;
  auto path = dir / "p.db";
  db::Database d(path);
  db::Store s(d);
  s.sync_metric_defs({{"lane_offset_mae", "m", "lower", ""}});
  auto suite = s.upsert_suite("nightly", "x", std::string(64, 's'));
  std::vector<int64_t> clips;
  for (int c = 0; c < 6; ++c)
    clips.push_back(
        s.upsert_clip({0, fmt::format("{:064}", c), fmt::format("c{}", c), {"clear"}, 1, 36}));
  auto run_of = [&](char sha, int evals, const std::string& night) {
    auto rev = s.upsert_revision({0, std::string(64, sha), std::string(1, sha), "", "", "", 1});
    std::vector<db::NewEval> ev;
    for (int i = 0; i < evals; ++i) ev.push_back({rev, clips[static_cast<size_t>(i)], "split"});
    auto run =
        s.create_run(fmt::format("nightly {}", sha), rev, std::nullopt, suite, "nightly", ev);
    s.set_run_night(run, night);
    return s.evals_of_run(run);
  };
  auto one = run_of('a', 6, "2026-11-08");
  auto two = run_of('b', 4, "2026-11-08");
  auto other = run_of('c', 2, "2026-11-07");  // another night: never counted
  // Board "rack,1" holds leases of both runs: busy once for the night.
  s.mark_leased(one[0].id, "rack,1", 1, 0);
  s.mark_leased(one[1].id, "rack-2", 2, 0);
  s.mark_leased(two[0].id, "rack,1", 3, 0);
  s.mark_leased(other[0].id, "rack-9", 4, 0);
  auto finish = [&](int64_t id, bool ok, double at) {
    db::EvalOutcome o;
    o.eval_id = id;
    o.board = "rack-2";
    o.succeeded = ok;
    o.host_seconds = ok ? at / 1000 : 9;
    o.metrics = {{"lane_offset_mae", 0.1}};
    REQUIRE(s.record_outcome(o));
    d.cached("UPDATE evals SET finished_at = ?2 WHERE id = ?1").bind_all(id, at).run();
  };
  finish(one[2].id, true, 1990);
  finish(one[3].id, false, 1900);  // before the window of now = 2000
  finish(two[1].id, true, 1970);
  finish(other[1].id, true, 1995);
  d.exec("UPDATE evals SET started_at = 1000 WHERE started_at IS NOT NULL");

  auto check = [](const db::NightProgress& p) {
    CHECK(p.night == "2026-11-08");
    REQUIRE(p.runs.size() == 2);
    CHECK(p.runs[0].revision == "a");
    CHECK(p.runs[0].total == 6);
    CHECK(p.runs[0].queued == 2);
    CHECK(p.runs[0].leased == 2);
    CHECK(p.runs[0].succeeded == 1);
    CHECK(p.runs[0].failed == 1);
    CHECK(p.runs[0].boards_busy == 2);
    CHECK(p.runs[0].finished_in_window == 1);
    CHECK(p.runs[1].total == 4);
    CHECK(p.runs[1].queued == 2);
    CHECK(p.runs[1].leased == 1);
    CHECK(p.runs[1].succeeded == 1);
    CHECK(p.runs[1].boards_busy == 1);
    CHECK(p.total == 10);
    CHECK(p.queued == 4);
    CHECK(p.leased == 3);
    CHECK(p.succeeded == 2);
    CHECK(p.failed == 1);
    CHECK(p.boards_busy == 2);
    CHECK(p.window_seconds == Approx(60));
    CHECK(p.rate == Approx(2.0 / 60));
    CHECK(p.eta_seconds == Approx(7 / (2.0 / 60)));
  };
  check(s.night_progress("2026-11-08", 2000));
  // board_stats' mean is over succeeded evals only (the failed one took 9 s).
  s.upsert_board("rack-2", "slowed-hw3", "idle", "x");
  s.upsert_board("rack-idle", "slowed-hw3", "idle", "x");
  auto boards = s.board_stats();
  REQUIRE(boards.size() == 2);
  CHECK(boards[0].name == "rack-2");
  CHECK(boards[0].mean_host_seconds == Approx((1.990 + 1.970 + 1.995) / 3));
  CHECK(boards[1].mean_host_seconds == 0);
  {
    // What `hil status --night` and the viewer do: a read-only connection beside the writer.
    db::Database ro(path, db::OpenMode::kReadOnly);
    db::Store reader(ro);
    check(reader.night_progress("2026-11-08", 2000));
    // A sweep that started 10 s ago is rated over those 10 s, not a minute.
    auto young = reader.night_progress("2026-11-08", 1010, 60);
    CHECK(young.window_seconds == Approx(10));
    CHECK(young.rate == Approx(0));
    CHECK(young.eta_seconds == -1);
    CHECK(reader.night_progress("2026-12-01", 2000).runs.empty());
  }
}
