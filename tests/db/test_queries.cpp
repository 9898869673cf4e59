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
    s.sync_metric_defs({{"lane_offset_mae", "m", "lower", ""}, {"steering_mae", "rad", "lower", ""}});
    a = s.upsert_revision({0, std::string(64, 'a'), "base", "", "", "", 1});
    b = s.upsert_revision({0, std::string(64, 'b'), "cand", "", "", "", 1});
    suite = s.upsert_suite("s", "x", std::string(64, 's'));
    std::vector<db::NewEval> evals;
    for (int c = 0; c < clips; ++c) {
      auto clip = s.upsert_clip({0, fmt::format("{:064}", c), fmt::format("clip-{}", c), {"snow"}, 10, 36});
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
  f.s.upsert_board("rack-000", "emulated-hw3", "idle", "x");
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
