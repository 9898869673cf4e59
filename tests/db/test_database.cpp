#include <catch2/catch.hpp>

#include <fstream>
#include <tuple>

#include "fixtures.h"
#include "hil/db/database.h"
#include "hil/db/store.h"

using namespace hil;

namespace {

struct Seeded {
  int64_t run = 0;
  std::vector<db::EvalRow> evals;
};

Seeded seed_run(db::Store& s, int clips = 2) {
  db::Transaction tx(s.database());
  s.sync_metric_defs(
      {{"lane_offset_mae", "m", "lower", "lane"}, {"steering_mae", "rad", "lower", "steer"}});
  auto cand = s.upsert_revision({0, std::string(64, 'a'), "better", "", "17", "ann", 10});
  auto base = s.upsert_revision({0, std::string(64, 'b'), "base", "", "", "", 10});
  auto suite = s.upsert_suite("demo", "name: \"demo\"", std::string(64, 'c'));
  std::vector<db::NewEval> evals;
  for (int i = 0; i < clips; ++i) {
    auto clip = s.upsert_clip(
        {0, std::string(63, 'd') + std::to_string(i), "clip", {"snow", "road:straight"}, 10, 36});
    evals.push_back({cand, clip, "split"});
    evals.push_back({base, clip, "split"});
  }
  Seeded out;
  out.run = s.create_run("test", cand, base, suite, "gate", evals);
  tx.commit();
  out.evals = s.evals_of_run(out.run);
  return out;
}

}  // namespace

TEST_CASE("a new database gets the current schema, WAL and foreign keys", "[db]") {
  test::TempDir dir;
  db::Database d(dir / "hil.db");
  CHECK(d.schema_version() == db::kSchemaVersion);
  auto st = d.prepare("PRAGMA journal_mode");
  st.step();
  CHECK(st.text(0) == "wal");
  auto fk = d.prepare("PRAGMA foreign_keys");
  fk.step();
  CHECK(fk.int64(0) == 1);
  CHECK(d.check().empty());
}

TEST_CASE("an outcome is recorded exactly once", "[db]") {
  test::TempDir dir;
  db::Database d(dir / "hil.db");
  db::Store s(d);
  auto seeded = seed_run(s);
  auto id = seeded.evals[0].id;
  s.mark_leased(id, "rack-000", 7, 0);
  db::EvalOutcome o;
  o.eval_id = id;
  o.lease_id = 7;
  o.board = "rack-000";
  o.succeeded = true;
  o.metrics = {{"lane_offset_mae", 0.25}};
  o.series = {{"out.lane_offset", "zlib-f32le", 3, "xyz"}};
  CHECK(s.record_outcome(o));
  o.metrics = {{"lane_offset_mae", 9.0}};
  CHECK_FALSE(s.record_outcome(o));  // duplicate: dropped
  auto rows = s.run_metrics(seeded.run);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].value == 0.25);
  CHECK(rows[0].clip_tags == "snow,road:straight");
  // A stale lease's result for a re-leased eval is dropped too.
  auto other = seeded.evals[1].id;
  s.mark_leased(other, "rack-001", 8, 0);
  s.mark_queued(other);
  s.mark_leased(other, "rack-002", 9, 0);
  o.eval_id = other;
  o.lease_id = 8;
  CHECK_FALSE(s.record_outcome(o));
  o.lease_id = 9;
  CHECK(s.record_outcome(o));
  CHECK(d.check().empty());
}

TEST_CASE("an outcome whose lease was never written records the lease with it, once", "[db]") {
  test::TempDir dir;
  db::Database d(dir / "hil.db");
  db::Store s(d);
  auto seeded = seed_run(s, 2);
  auto queued = seeded.evals[0].id;    // its lease never written
  auto released = seeded.evals[1].id;  // an earlier lease written, the answered one not
  s.mark_leased(released, "rack-001", 3, 0);
  db::EvalOutcome o;
  o.eval_id = queued;
  o.lease_id = 11;
  o.board = "rack-000";
  o.succeeded = true;
  o.lease_unwritten = true;
  o.metrics = {{"lane_offset_mae", 0.5}};
  CHECK(s.record_outcome(o));
  CHECK_FALSE(s.record_outcome(o));  // a resend: dropped
  o.eval_id = released;
  o.lease_id = 12;
  CHECK(s.record_outcome(o));
  auto st = d.prepare(
      "SELECT state, lease_id, attempts, board, started_at IS NOT NULL FROM evals WHERE id = ?1");
  for (auto [id, lease, attempts] :
       {std::tuple<int64_t, int64_t, int64_t>{queued, 11, 1}, {released, 12, 2}}) {
    INFO("eval " << id);
    st.bind_all(id);
    REQUIRE(st.step());
    CHECK(st.text(0) == "succeeded");
    CHECK(st.int64(1) == lease);
    CHECK(st.int64(2) == attempts);
    CHECK(st.text(3) == "rack-000");
    CHECK(st.int64(4) == 1);
    st.reset();
  }
  CHECK(s.run_metrics(seeded.run).size() == 2);
  CHECK(d.check().empty());
}

TEST_CASE("an outcome without a lease (lease id 0) is refused by a leased eval (#21)", "[db]") {
  test::TempDir dir;
  db::Database d(dir / "hil.db");
  db::Store s(d);
  auto seeded = seed_run(s, 2);
  auto leased = seeded.evals[0].id;
  s.mark_leased(leased, "rack-000", 7, 0);
  db::EvalOutcome forged;
  forged.eval_id = leased;
  forged.lease_id = 0;
  forged.board = "rack-001";
  forged.succeeded = true;
  forged.metrics = {{"lane_offset_mae", 9.0}};
  CHECK_FALSE(s.record_outcome(forged));
  db::EvalOutcome genuine = forged;
  genuine.lease_id = 7;
  genuine.board = "rack-000";
  genuine.metrics = {{"lane_offset_mae", 0.25}};
  CHECK(s.record_outcome(genuine));
  auto rows = s.run_metrics(seeded.run);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].value == 0.25);
  // A lease's outcome for an eval whose lease was taken back (queued again) is refused too.
  auto requeued = seeded.evals[1].id;
  s.mark_leased(requeued, "rack-000", 8, 0);
  s.mark_queued(requeued);
  genuine.eval_id = requeued;
  genuine.lease_id = 8;
  CHECK_FALSE(s.record_outcome(genuine));
  // An eval never leased takes an outcome without one (direct recording, as imports do).
  genuine.lease_id = 0;
  CHECK(s.record_outcome(genuine));
  auto st = d.prepare("SELECT board FROM evals WHERE id = ?1");
  st.bind_all(leased);
  REQUIRE(st.step());
  CHECK(st.text(0) == "rack-000");
}

TEST_CASE("gate rows and run summaries read back", "[db]") {
  test::TempDir dir;
  db::Database d(dir / "hil.db");
  db::Store s(d);
  auto seeded = seed_run(s, 3);
  s.store_gate(
      seeded.run, "fail", "fail: 1 regressed",
      {{"lane_offset_mae", "all", true, "fail", 3, 0.2, 0.3, 0.1, 0.05, 0.15, 0.02, "worse"}});
  auto run = s.run(seeded.run);
  REQUIRE(run);
  CHECK(run->verdict == "fail");
  CHECK(run->candidate == "better");
  CHECK(run->baseline == "base");
  CHECK(run->evals_total == 6);
  auto gate = s.gate_results(seeded.run);
  REQUIRE(gate.size() == 1);
  CHECK(gate[0].lo == 0.05);
  CHECK(s.table_rows()["evals"] == 6);
}

TEST_CASE("a database from a newer hil is refused with a clear message", "[db]") {
  test::TempDir dir;
  {
    db::Database d(dir / "hil.db");
    d.exec("PRAGMA user_version = 999");
  }
  CHECK_THROWS_WITH(db::Database(dir / "hil.db"),
                    Catch::Contains("hil.db") && Catch::Contains("newer"));
  CHECK_THROWS_WITH(db::Database(dir / "hil.db", db::OpenMode::kReadOnly),
                    Catch::Contains("newer"));
}

TEST_CASE("a file that is not a database is reported, never rebuilt", "[db]") {
  test::TempDir dir;
  auto path = dir / "junk.db";
  {
    std::ofstream out(path);
    out << std::string(8192, 'x');
  }
  CHECK_THROWS_WITH(db::Database(path), Catch::Contains("junk.db"));
  std::ifstream in(path);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(content == std::string(8192, 'x'));
}

TEST_CASE("the read-only connection cannot write", "[db]") {
  test::TempDir dir;
  { db::Database d(dir / "hil.db"); }
  db::Database ro(dir / "hil.db", db::OpenMode::kReadOnly);
  CHECK_THROWS(ro.exec("DELETE FROM runs"));
}
