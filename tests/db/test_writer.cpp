#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "fixtures.h"
#include "hil/db/writer.h"

using namespace hil;

TEST_CASE("the writer batches jobs into few transactions", "[db][writer]") {
  test::TempDir dir;
  db::WriterOptions o;
  o.max_batch = 256;
  o.max_delay = std::chrono::milliseconds(20);
  db::Writer w(dir / "hil.db", o);
  std::atomic<int> done{0};
  for (int i = 0; i < 1000; ++i) {
    w.submit(
        [i](db::Store& s) {
          s.upsert_board("board-" + std::to_string(i), "slowed-hw3", "idle", "t");
        },
        [&](bool ok, const std::string&) { done += ok; });
  }
  w.flush();
  CHECK(done == 1000);
  CHECK(w.committed_batches() < 100);
  db::Database d(dir / "hil.db", db::OpenMode::kReadOnly);
  db::Store s(d);
  CHECK(s.table_rows()["boards"] == 1000);
}

TEST_CASE("a failing job is rolled back alone; the rest of its batch commits", "[db][writer]") {
  test::TempDir dir;
  db::Writer w(dir / "hil.db");
  std::string error;
  w.submit([](db::Store& s) { s.upsert_board("good-1", "t", "idle", ""); });
  w.submit(
      [](db::Store& s) {
        s.upsert_board("bad", "t", "idle", "");
        s.database().exec("INSERT INTO no_such_table VALUES (1)");
      },
      [&](bool ok, const std::string& e) {
        if (!ok) error = e;
      });
  w.submit([](db::Store& s) { s.upsert_board("good-2", "t", "idle", ""); });
  w.flush();
  CHECK(error.find("no_such_table") != std::string::npos);
  db::Database d(dir / "hil.db", db::OpenMode::kReadOnly);
  auto st = d.prepare("SELECT group_concat(name) FROM (SELECT name FROM boards ORDER BY name)");
  st.step();
  CHECK(st.text(0) == "good-1,good-2");
}

TEST_CASE("run_sync rethrows the job's error", "[db][writer]") {
  test::TempDir dir;
  db::Writer w(dir / "hil.db");
  CHECK_THROWS_WITH(w.run_sync([](db::Store& s) { s.database().exec("SELECT * FROM nowhere"); }),
                    Catch::Contains("nowhere"));
}

namespace {
std::string metric_name(int m) {
  std::string name = std::to_string(100 + m);
  name.insert(name.begin(), 'm');
  return name;
}
}  // namespace

TEST_CASE(
    "an eval's metrics are recorded in any order and count; a repeated one fails its job alone",
    "[db][writer]") {
  test::TempDir dir;
  db::Writer w(dir / "hil.db");
  // More metrics than one INSERT statement carries (record_outcome splits them).
  constexpr int kMetrics = 75;
  std::vector<db::EvalRow> evals;
  w.run_sync([&](db::Store& s) {
    std::vector<db::MetricDefRow> defs;
    for (int m = 0; m < kMetrics; ++m) defs.push_back({metric_name(m), "u", "lower", "d"});
    s.sync_metric_defs(defs);
    auto rev = s.upsert_revision({0, std::string(64, 'a'), "rev", "", "", "", 1});
    auto suite = s.upsert_suite("demo", "name: \"demo\"", std::string(64, 'c'));
    auto clip = s.upsert_clip({0, std::string(64, 'd'), "clip", {"snow"}, 10, 36});
    auto run = s.create_run("test", rev, std::nullopt, suite, "gate",
                            {{rev, clip, "a"}, {rev, clip, "b"}, {rev, clip, "c"}});
    evals = s.evals_of_run(run);
  });
  REQUIRE(evals.size() == 3);
  auto outcome = [](int64_t eval_id) {
    db::EvalOutcome o;
    o.eval_id = eval_id;
    o.board = "rack-000";
    o.succeeded = true;
    for (int m = kMetrics - 1; m >= 0; --m) o.metrics.emplace_back(metric_name(m), m + 0.5);
    o.metrics.emplace_back("not_defined_here", 1.0);  // a newer agent's metric: skipped
    return o;
  };
  auto repeated = outcome(evals[1].id);
  repeated.metrics.push_back(repeated.metrics[3]);
  std::vector<bool> ok(3);
  std::vector<std::string> errors(3);
  int i = 0;
  for (const auto& o : {outcome(evals[0].id), repeated, outcome(evals[2].id)}) {
    w.submit([o](db::Store& s) { s.record_outcome(o); },
             [&, i](bool done, const std::string& e) {
               ok[static_cast<size_t>(i)] = done;
               errors[static_cast<size_t>(i)] = e;
             });
    ++i;
  }
  w.flush();
  CHECK(ok[0]);
  CHECK_FALSE(ok[1]);
  CHECK(errors[1].find("UNIQUE") != std::string::npos);
  CHECK(ok[2]);
  db::Database d(dir / "hil.db", db::OpenMode::kReadOnly);
  CHECK(d.check().empty());
  auto st = d.prepare(
      "SELECT e.id, e.state, COUNT(m.metric_id), COALESCE(SUM(m.value), 0) FROM evals e "
      "LEFT JOIN eval_metrics m ON m.eval_id = e.id GROUP BY e.id ORDER BY e.id");
  double sum = 0;
  for (int m = 0; m < kMetrics; ++m) sum += m + 0.5;
  for (size_t k = 0; k < 3; ++k) {
    REQUIRE(st.step());
    CHECK(st.int64(0) == evals[k].id);
    // The failed job left nothing behind: its eval is still queued, without metrics.
    CHECK(st.text(1) == (k == 1 ? "queued" : "succeeded"));
    CHECK(st.int64(2) == (k == 1 ? 0 : kMetrics));
    CHECK(st.real(3) == Approx(k == 1 ? 0 : sum));
  }
  // Each value under its own metric.
  auto v = d.prepare(
      "SELECT COUNT(*) FROM eval_metrics m JOIN metric_defs d ON d.id = m.metric_id "
      "WHERE CAST(substr(d.name, 2) AS INTEGER) - 100 + 0.5 != m.value");
  v.step();
  CHECK(v.int64(0) == 0);
}
