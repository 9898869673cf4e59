#include <catch2/catch.hpp>

#include "fixtures.h"
#include "hil/db/database.h"
#include "hil/db/store.h"

using namespace hil;

TEST_CASE("a database made by every earlier schema version opens and migrates forward",
          "[db][migrations]") {
  for (int version = 0; version < db::kSchemaVersion; ++version) {
    INFO("from version " << version);
    test::TempDir dir;
    auto path = dir / "old.db";
    db::Database::create_at_version(path, version);
    {
      db::Database old_db(path, db::OpenMode::kReadWrite);
      CHECK(old_db.schema_version() == db::kSchemaVersion);
      CHECK(old_db.check().empty());
      db::Store s(old_db);
      s.upsert_board("b", "slowed-hw3", "idle", "x");
      auto stats = s.board_stats();
      REQUIRE(stats.size() == 1);
      CHECK(stats[0].consecutive_failures == 0);
    }
  }
}

TEST_CASE("rows written at version 1 are kept by the migrations to the current version",
          "[db][migrations]") {
  test::TempDir dir;
  auto path = dir / "v1.db";
  // Rows exactly as version 1 wrote them (no night column yet).
  db::Database::create_at_version(path, 1, R"sql(
    INSERT INTO revisions(id, sha256, name, created_at) VALUES (1, 'aaaa', 'base', 0);
    INSERT INTO suites(id, name, text, sha256) VALUES (1, 's', 'name: "s"', 'bbbb');
    INSERT INTO runs(id, label, candidate_id, suite_id, priority, state, submitted_at, verdict)
      VALUES (7, 'old run', 1, 1, 'gate', 'done', 0, 'pass');
    INSERT INTO boards(name, type, state) VALUES ('rack-000', 'slowed-hw3', 'idle');
  )sql");
  {
    db::Database v1(path, db::OpenMode::kReadWrite);
    CHECK(v1.schema_version() == 5);
  }
  db::Database d(path, db::OpenMode::kReadOnly);
  db::Store s(d);
  auto run = s.run(7);
  REQUIRE(run);
  CHECK(run->label == "old run");
  CHECK(run->verdict == "pass");
  auto boards = s.board_stats();
  REQUIRE(boards.size() == 1);
  CHECK(boards[0].name == "rack-000");
  CHECK(d.check().empty());
}

TEST_CASE("a read-only open of an older database asks for a read-write open", "[db][migrations]") {
  test::TempDir dir;
  db::Database::create_at_version(dir / "v1.db", 1);
  CHECK_THROWS_WITH(db::Database(dir / "v1.db", db::OpenMode::kReadOnly), Catch::Contains("older"));
}

TEST_CASE("metrics written at version 2 are listed by the eval_results view of version 3",
          "[db][migrations]") {
  test::TempDir dir;
  auto path = dir / "v2.db";
  // An eval as version 2 recorded it, with two metrics; version 3 lists
  // whatever metrics an eval has instead of fixed columns.
  db::Database::create_at_version(path, 2, R"sql(
    INSERT INTO revisions(id, sha256, name, created_at) VALUES (1, 'aaaa', 'base', 0);
    INSERT INTO clips(id, sha256, name, tags, frames, fps) VALUES (1, 'cccc', 'clip-1', 'snow', 10, 36);
    INSERT INTO suites(id, name, text, sha256) VALUES (1, 's', 'name: "s"', 'bbbb');
    INSERT INTO runs(id, label, candidate_id, suite_id, priority, state, submitted_at)
      VALUES (1, 'r', 1, 1, 'gate', 'done', 0);
    INSERT INTO evals(id, run_id, revision_id, clip_id, scenario, state, attempts)
      VALUES (5, 1, 1, 1, 'split', 'succeeded', 1);
    INSERT INTO metric_defs(id, name, unit, direction, description) VALUES
      (1, 'lane_offset_mae', 'm', 'lower', ''), (2, 'lead_recall.tp', 'count', 'higher', '');
    INSERT INTO eval_metrics(eval_id, metric_id, value) VALUES (5, 1, 0.25), (5, 2, 3);
  )sql");
  db::Database d(path, db::OpenMode::kReadWrite);
  CHECK(d.schema_version() == 5);
  auto st = d.prepare("SELECT eval, metrics FROM eval_results");
  REQUIRE(st.step());
  CHECK(st.int64(0) == 5);
  // Auxiliary counts (names with a dot) are left out of the listing.
  CHECK(st.text(1) == "lane_offset_mae=0.25");
  CHECK(d.check().empty());
}

TEST_CASE(
    "evals recorded at version 3 read as emulated device time after the migration to version 4",
    "[db][migrations]") {
  test::TempDir dir;
  auto path = dir / "v3.db";
  // A run as version 3 recorded it: every board then emulated device time.
  db::Database::create_at_version(path, 3, R"sql(
    INSERT INTO revisions(id, sha256, name, created_at) VALUES (1, 'aaaa', 'base', 0);
    INSERT INTO clips(id, sha256, name, tags, frames, fps) VALUES (1, 'cccc', 'clip-1', 'snow', 10, 36);
    INSERT INTO suites(id, name, text, sha256) VALUES (1, 's', 'name: "s"', 'bbbb');
    INSERT INTO runs(id, label, candidate_id, suite_id, priority, state, submitted_at)
      VALUES (1, 'r', 1, 1, 'gate', 'done', 0);
    INSERT INTO evals(id, run_id, revision_id, clip_id, scenario, state, attempts)
      VALUES (5, 1, 1, 1, 'split', 'succeeded', 1), (6, 1, 1, 1, 'single', 'succeeded', 1),
             (7, 1, 1, 1, 'redundant', 'failed', 1);
  )sql");
  db::Database d(path, db::OpenMode::kReadWrite);
  CHECK(d.schema_version() == 5);
  db::Store store(d);
  auto counts = store.device_time_counts(1);
  CHECK(counts.emulated == 2);  // the succeeded ones
  CHECK(counts.measured == 0);
  // New results say which; the column refuses anything else.
  d.exec("UPDATE evals SET device_time = 'measured' WHERE id = 6");
  counts = store.device_time_counts(1);
  CHECK(counts.emulated == 1);
  CHECK(counts.measured == 1);
  CHECK_THROWS(d.exec("UPDATE evals SET device_time = 'guessed' WHERE id = 5"));
  CHECK(d.check().empty());
}
