// Durability with real processes on loopback: the scheduler killed with
// SIGKILL mid-run and started again on the same database and port, and an
// agent killed mid-run and started again. Every eval is recorded exactly once.
#include <catch2/catch.hpp>

#include <fstream>
#include <thread>

#include "db_probe.h"
#include "fixtures.h"
#include "hil/db/database.h"
#include "hil/evals/sha256.h"
#include "process.h"

using namespace hil;
using test::Process;

namespace {

constexpr const char* kSecret = "restart-secret";

int64_t count(const std::filesystem::path& db, const std::string& sql) {
  return test::db_scalar(db, sql);
}
bool wait_for(const std::filesystem::path& db, const std::string& sql, int64_t n) {
  return test::wait_for_count(db, sql, n);
}

struct Lab {
  test::TempDir dir;
  std::string hil = test::hil_binary().string();
  std::filesystem::path db = dir / "hil.db";
  std::string port;

  std::unique_ptr<Process> serve(const std::string& listen_port = "0") {
    auto p = std::make_unique<Process>(std::vector<std::string>{
        hil, "serve", "--db", db.string(), "--listen", "127.0.0.1:" + listen_port, "--secret",
        kSecret, "--plaintext", "--lease-timeout", "2"});
    auto line = p->read_line();
    port = std::to_string(std::stoi(line.substr(line.rfind(':') + 1)));
    return p;
  }
  std::unique_ptr<Process> agent(const std::string& name, int boards,
                                 const std::string& profile = "slow:25") {
    // Slowed down so that the run is still going when something is killed.
    return std::make_unique<Process>(std::vector<std::string>{
        hil, "agent", "--scheduler", "127.0.0.1:" + port, "--secret", kSecret, "--plaintext",
        "--emulate", std::to_string(boards), "--name", name, "--threads", "2", "--cache",
        (dir / ("cache-" + name)).string(), "--fault-profile", profile});
  }
  int64_t submit(int clips) {
    {
      std::ofstream suite(dir / "restart.textproto");
      suite << "name: \"restart\"\nboard_type: \"slowed-hw3\"\n"
            << "clips { generated { count: " << clips
            << " frames: 12 seed: 900 conditions: [\"clear\", \"rain\"] } }\n"
            << "scenarios { name: \"split\" mode: \"split\" }\n"
            << test::kSampleMetrics
            << "gates { metric: \"lane_offset_mae\" max_abs_degradation: 0.05 min_clips: 2 "
               "blocking: true }\n";
    }
    evals::write_file_atomic(dir / "a.onnx", test::tiny_revision("base", 1));
    evals::write_file_atomic(dir / "b.onnx", test::tiny_revision("base", 2));
    for (int attempt = 0; attempt < 100; ++attempt) {
      Process submit({hil, "submit", "--scheduler", "127.0.0.1:" + port, "--secret", kSecret,
                      "--plaintext", "--candidate", (dir / "b.onnx").string(), "--baseline",
                      (dir / "a.onnx").string(), "--suite", (dir / "restart.textproto").string(),
                      "--clip-cache", (dir / "clips").string()});
      auto out = submit.read_all();
      if (submit.wait() == 0) return std::stoll(out);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // boards still registering
    }
    return -1;
  }
  void check_exactly_once(int64_t run, int64_t evals) {
    db::Database d(db, db::OpenMode::kReadOnly);
    auto st = d.prepare("SELECT COUNT(*), SUM(state = 'succeeded') FROM evals WHERE run_id = ?1");
    st.bind_all(run);
    REQUIRE(st.step());
    CHECK(st.int64(0) == evals);
    CHECK(st.int64(1) == evals);
    // One metric row per eval and metric (the primary key would refuse a
    // second), and every succeeded eval has its metrics.
    auto m = d.prepare(
        "SELECT COUNT(*) FROM evals e WHERE e.run_id = ?1 AND NOT EXISTS "
        "(SELECT 1 FROM eval_metrics m WHERE m.eval_id = e.id)");
    m.bind_all(run);
    m.step();
    CHECK(m.int64(0) == 0);
    auto v = d.prepare("SELECT state, COALESCE(verdict, '') FROM runs WHERE id = ?1");
    v.bind_all(run);
    REQUIRE(v.step());
    CHECK(v.text(0) == "done");
    CHECK(!v.text(1).empty());
    CHECK(d.check().empty());
  }
};

}  // namespace

TEST_CASE("a scheduler killed with SIGKILL mid-run restarts and the run completes exactly once",
          "[restarts]") {
  Lab lab;
  auto serve = lab.serve();
  auto rack = lab.agent("rack", 4);
  const int clips = 30;
  auto run = lab.submit(clips);
  REQUIRE(run > 0);
  const std::string done = "SELECT COUNT(*) FROM evals WHERE state = 'succeeded'";
  REQUIRE(wait_for(lab.db, done, 8));
  REQUIRE(count(lab.db, done) < 2 * clips);  // killed mid-run
  serve->kill_and_wait();
  // Same database, same port: the agents reconnect by themselves.
  auto again = lab.serve(lab.port);
  REQUIRE(wait_for(lab.db, "SELECT COUNT(*) FROM runs WHERE state = 'done'", 1));
  lab.check_exactly_once(run, 2 * clips);
}

TEST_CASE("an agent killed with SIGKILL mid-run loses only its evals in hand, which are re-issued",
          "[restarts]") {
  Lab lab;
  auto serve = lab.serve();
  auto doomed = lab.agent("doomed", 2);
  auto steady = lab.agent("steady", 2);
  const int clips = 24;
  auto run = lab.submit(clips);
  REQUIRE(run > 0);
  REQUIRE(wait_for(
      lab.db, "SELECT COUNT(*) FROM evals WHERE state = 'succeeded' AND board LIKE 'doomed%'", 2));
  doomed->kill_and_wait();
  // Leases held by the dead boards expire (2 s) and go to the others; the
  // agent also comes back, as a restarted machine would.
  auto back = lab.agent("doomed", 2);
  REQUIRE(wait_for(lab.db, "SELECT COUNT(*) FROM runs WHERE state = 'done'", 1));
  lab.check_exactly_once(run, 2 * clips);
}

TEST_CASE("SIGTERM drains an agent: it finishes the evals in hand, takes no more, and exits",
          "[restarts]") {
  Lab lab;
  auto serve = lab.serve();
  auto draining = lab.agent("draining", 2);
  auto steady = lab.agent("steady", 2);
  const int clips = 24;
  auto run = lab.submit(clips);
  REQUIRE(run > 0);
  REQUIRE(wait_for(
      lab.db, "SELECT COUNT(*) FROM evals WHERE state = 'succeeded' AND board LIKE 'draining%'",
      2));
  draining->signal(SIGTERM);
  CHECK(draining->wait() == 0);
  REQUIRE(wait_for(lab.db, "SELECT COUNT(*) FROM runs WHERE state = 'done'", 1));
  lab.check_exactly_once(run, 2 * clips);
  // Nothing it held was lost: no eval needed a second lease.
  CHECK(count(lab.db, "SELECT COUNT(*) FROM evals WHERE attempts > 1") == 0);
}

TEST_CASE(
    "a whole rack stopped past its leases: late results are refused, every eval is recorded once "
    "and the run is not cut short",
    "[restarts]") {
  // Regression (found by the chaos suite): a late result for an eval that had
  // been re-queued was recorded, but the eval stayed queued, was leased again
  // and counted twice, so the run finished early with evals missing. Since
  // #21 a late result of an expired lease is refused outright (only the lease
  // holder records); the re-issued lease's board plays the eval.
  Lab lab;
  auto serve = lab.serve();
  auto a = lab.agent("a", 2, "slow:60");
  auto b = lab.agent("b", 2, "slow:60");
  const int clips = 8;
  auto run = lab.submit(clips);
  REQUIRE(run > 0);
  REQUIRE(wait_for(lab.db, "SELECT COUNT(*) FROM evals WHERE state = 'leased'", 2));
  a->signal(SIGSTOP);
  b->signal(SIGSTOP);
  // Longer than a lease (2 s + 12 frames at 1/36 s x 3): every lease expires and is re-queued.
  std::this_thread::sleep_for(std::chrono::milliseconds(5000));
  a->signal(SIGCONT);
  b->signal(SIGCONT);
  REQUIRE(wait_for(lab.db, "SELECT COUNT(*) FROM runs WHERE state = 'done'", 1));
  lab.check_exactly_once(run, 2 * clips);
  CHECK(count(lab.db, "SELECT COUNT(*) FROM evals WHERE state = 'leased'") == 0);
}

TEST_CASE(
    "results received but not committed when the scheduler is killed are resent by their boards "
    "and recorded once, and committed ones are not recorded again",
    "[restarts][durability]") {
  // #21: a result is acknowledged only once its transaction is durable, and
  // a board keeps every unacknowledged result and resends it after a
  // reconnect. The test holds the database's write lock, so the scheduler
  // receives results it cannot commit, kills it, and starts it again.
  Lab lab;
  auto serve = lab.serve();
  auto rack = lab.agent("rack", 2);
  const int clips = 12;
  auto run = lab.submit(clips);
  REQUIRE(run > 0);
  REQUIRE(wait_for(lab.db, "SELECT COUNT(*) FROM evals WHERE state = 'succeeded'", 2));
  REQUIRE(wait_for(lab.db, "SELECT COUNT(*) FROM evals WHERE state = 'leased'", 2));

  std::map<int64_t, int64_t> committed, leased;  // eval id -> lease id
  std::map<int64_t, double> finished_at;
  {
    db::Database lock(lab.db);
    lock.exec("BEGIN IMMEDIATE");  // the scheduler's writer waits from here on
    auto st = lock.prepare(
        "SELECT id, state, lease_id, COALESCE(finished_at, 0) FROM evals WHERE run_id = ?1 AND "
        "state IN ('succeeded', 'leased')");
    st.bind_all(run);
    while (st.step()) {
      (st.text(1) == "succeeded" ? committed : leased)[st.int64(0)] = st.int64(2);
      finished_at[st.int64(0)] = st.real(3);
    }
    // Long enough for the boards to finish their evals in hand: the
    // scheduler receives those results and cannot commit them.
    std::this_thread::sleep_for(std::chrono::seconds(4));
    serve->kill_and_wait();
    lock.exec("ROLLBACK");
  }
  REQUIRE(!leased.empty());
  auto again = lab.serve(lab.port);
  REQUIRE(wait_for(lab.db, "SELECT COUNT(*) FROM runs WHERE state = 'done'", 1));
  lab.check_exactly_once(run, 2 * clips);

  db::Database d(lab.db, db::OpenMode::kReadOnly);
  auto st = d.prepare("SELECT state, lease_id, finished_at FROM evals WHERE id = ?1");
  // Leased when the scheduler died: recorded from the lease the board held
  // then (its result resent, or delivered after the restart), never re-issued.
  for (const auto& [id, lease] : leased) {
    INFO("eval " << id << " leased as " << lease << " when the scheduler died");
    st.bind_all(id);
    REQUIRE(st.step());
    CHECK(st.text(0) == "succeeded");
    CHECK(st.int64(1) == lease);
    st.reset();
  }
  // Committed before it died: untouched (a resend of those is dropped).
  for (const auto& [id, lease] : committed) {
    INFO("eval " << id << " committed as " << lease);
    st.bind_all(id);
    REQUIRE(st.step());
    CHECK(st.text(0) == "succeeded");
    CHECK(st.int64(1) == lease);
    CHECK(st.real(2) == finished_at[id]);
    st.reset();
  }
}
