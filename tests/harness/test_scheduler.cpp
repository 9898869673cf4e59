#include <catch2/catch.hpp>

#include <fstream>
#include <thread>

#include "farm.h"
#include "fixtures.h"
#include "hil/db/database.h"
#include "hil/db/store.h"
#include "hil/device_agents/rack.h"
#include "hil/evals/sha256.h"
#include "hil/harness/client.h"
#include "hil/harness/gating.h"
#include "hil/harness/scheduler.h"
#include "hil/harness/submission.h"

using namespace hil;
using test::Farm;
using test::kSecret;
using test::paired_request;
using test::rack_options;
using test::write_revision;
using test::write_suite;

TEST_CASE("a wrong rack secret is refused after the handshake", "[scheduler]") {
  Farm farm(0);
  try {
    harness::Client c(farm.client("wrong"));
    FAIL("must not authenticate");
  } catch (const harness::WireError& e) {
    CHECK(e.code() == wire::AUTH_FAILED);
  }
}

TEST_CASE("a protocol version the scheduler does not speak gets a clear refusal", "[scheduler]") {
  Farm farm(0);
  auto o = farm.client();
  o.protocol_version = 99;
  try {
    harness::Client c(o);
    FAIL("must refuse");
  } catch (const harness::WireError& e) {
    CHECK(e.code() == wire::VERSION_UNSUPPORTED);
    CHECK(std::string(e.what()).find("99") != std::string::npos);
  }
}

TEST_CASE("roles are enforced: a client cannot take leases", "[scheduler]") {
  Farm farm(0);
  harness::Client c(farm.client());
  wire::Envelope e;
  e.mutable_work_request()->set_board("sneaky");
  e.mutable_work_request()->set_credits(4);
  try {
    c.call(e);
    FAIL("must refuse");
  } catch (const harness::WireError& err) {
    CHECK(err.code() == wire::FORBIDDEN);
  }
}

TEST_CASE("a run with no board of its type is refused at once", "[scheduler]") {
  Farm farm(0);
  harness::Client c(farm.client());
  harness::RunRequest req;
  req.candidate = write_revision(farm.dir, "cand", 1);
  req.suite = write_suite(farm.dir, 2).string();
  req.clip_cache = farm.dir / "clips";
  auto run = harness::prepare_run(c, req);
  try {
    c.submit(run);
    FAIL("must refuse");
  } catch (const harness::WireError& e) {
    CHECK(e.code() == wire::NO_CAPACITY);
    CHECK(std::string(e.what()).find("slowed-hw3") != std::string::npos);
  }
}

TEST_CASE("a run on a rack of emulated boards records every eval exactly once and is gated",
          "[scheduler]") {
  Farm farm(3);
  farm.wait_for_boards(3);
  harness::Client c(farm.client());
  auto req = paired_request(farm.dir, 4);
  auto ack = c.submit(harness::prepare_run(c, req));
  CHECK(ack.evals() == 8);
  auto final = c.watch(ack.run_id(), {});
  CHECK(final.state() == "done");
  CHECK(final.succeeded() == 8);
  CHECK(!final.verdict().empty());
  REQUIRE(final.gate_size() >= 1);
  CHECK(final.gate(0).metric() == "lane_offset_mae");
  CHECK(final.gate(0).clips() == 4);

  db::Database d(farm.dir / "hil.db", db::OpenMode::kReadOnly);
  auto st = d.prepare(
      "SELECT COUNT(*), COUNT(DISTINCT board), SUM(attempts) FROM evals WHERE state = 'succeeded'");
  st.step();
  CHECK(st.int64(0) == 8);
  CHECK(st.int64(2) == 8);  // each leased once
  auto series = d.prepare("SELECT COUNT(*) FROM frame_series");
  series.step();
  CHECK(series.int64(0) > 8 * 6);
  CHECK(d.check().empty());
}

TEST_CASE(
    "a lease's deadline grows with the clip's length at the board's pace; a noop eval's does not",
    "[scheduler][leases]") {
  Farm farm(2);  // lease_timeout_seconds = 3, lease_slack = 3
  farm.wait_for_boards(2);
  harness::Client c(farm.client());
  auto suite = farm.dir / "lengths.textproto";
  {
    std::ofstream out(suite);
    out << "name: \"lengths\"\nboard_type: \"slowed-hw3\"\n"
        << "clips { generated { count: 2 frames: 60 seed: 81 conditions: [\"clear\"] } }\n"
        << "scenarios { name: \"split\" mode: \"split\" }\nscenarios { name: \"noop\" mode: "
           "\"noop\" }\n"
        << test::kSampleMetrics
        << "gates { metric: \"lane_offset_mae\" max_abs_degradation: 0.05 min_clips: 2 blocking: "
           "true }\n";
  }
  auto req = paired_request(farm.dir, 2);
  req.suite = suite.string();
  auto ack = c.submit(harness::prepare_run(c, req));
  REQUIRE(c.watch(ack.run_id(), {}).state() == "done");
  db::Database d(farm.dir / "hil.db", db::OpenMode::kReadOnly);
  auto st = d.prepare(
      "SELECT scenario, MIN(lease_deadline - started_at), MAX(lease_deadline - started_at) FROM "
      "evals "
      "WHERE run_id = ?1 GROUP BY scenario ORDER BY scenario");
  st.bind_all(ack.run_id());
  REQUIRE(st.step());
  CHECK(st.text(0) == "noop");
  CHECK(st.real(1) == Approx(3).margin(0.3));
  CHECK(st.real(2) == Approx(3).margin(0.3));
  REQUIRE(st.step());
  // 3 s + 60 frames x max(1/36 s per frame of the clip, 1/36 s of the board) x 3.
  CHECK(st.text(0) == "split");
  CHECK(st.real(1) == Approx(3 + 60.0 / 36 * 3).margin(0.3));
  CHECK(st.real(2) == Approx(3 + 60.0 / 36 * 3).margin(0.3));
}

TEST_CASE("a restarted scheduler finishes a run from the database", "[scheduler]") {
  test::TempDir dir;
  auto so = test::scheduler_options(dir);
  wire::SubmitAck ack;
  {
    // First life: accept the run while no board takes work (drained at once).
    harness::Scheduler s1(so);
    s1.open();
    s1.start();
    device_agents::Rack idle(rack_options(s1.port(), 1, dir / "cache"));
    idle.start();
    harness::Client c(test::client_options(s1.port()));
    wire::BoardList list;
    for (int i = 0; i < 400 && list.boards_size() == 0; ++i) {
      list = c.boards();
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    REQUIRE(list.boards_size() == 1);
    c.drain(list.boards(0).name());
    harness::RunRequest req;
    req.candidate = write_revision(dir, "cand", 1);
    req.baseline = write_revision(dir, "base", 2);
    req.suite = write_suite(dir, 2).string();
    req.clip_cache = dir / "clips";
    ack = c.submit(harness::prepare_run(c, req));
    idle.stop();
    s1.stop();
  }
  // Second life on the same database: the queued evals are still there.
  harness::Scheduler s2(so);
  s2.open();
  s2.start();
  device_agents::Rack rack(rack_options(s2.port(), 2, dir / "cache2"));
  rack.start();
  harness::Client c(test::client_options(s2.port()));
  auto final = c.watch(ack.run_id(), {});
  CHECK(final.state() == "done");
  CHECK(final.succeeded() == 4);
  rack.stop();
  s2.stop();
}

TEST_CASE(
    "a liar board is quarantined by its health check and the run completes on the healthy ones",
    "[scheduler][health]") {
  Farm farm(3);
  farm.wait_for_boards(3);
  harness::Client c(farm.client());
  auto req = paired_request(farm.dir, 4);
  // A first run on healthy boards gives the fleet results to check against.
  auto warmup = c.submit(harness::prepare_run(c, req));
  REQUIRE(c.watch(warmup.run_id(), {}).state() == "done");

  device_agents::Rack liar(
      rack_options(farm.scheduler->port(), 1, farm.dir / "liar-cache", "liar", "liar"));
  liar.start();
  // The liar registers, re-runs a known eval, disagrees, and is quarantined.
  std::string state;
  for (int i = 0; i < 400 && state != "quarantined"; ++i) {
    auto list = c.boards();
    for (const auto& b : list.boards()) {
      if (b.name() == "liar") state = b.state();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  REQUIRE(state == "quarantined");

  auto run = c.submit(harness::prepare_run(c, req));
  auto final = c.watch(run.run_id(), {});
  CHECK(final.state() == "done");
  CHECK(final.succeeded() == 8);
  liar.stop();

  db::Database d(farm.dir / "hil.db", db::OpenMode::kReadOnly);
  auto st = d.prepare("SELECT COUNT(*) FROM evals WHERE board = 'liar'");
  st.step();
  CHECK(st.int64(0) == 0);  // nothing the liar computed was recorded
  auto h = d.prepare("SELECT health, quarantine_reason FROM boards WHERE name = 'liar'");
  REQUIRE(h.step());
  CHECK(h.text(0) == "quarantined");
  CHECK(h.text(1).find("health check") != std::string::npos);
}

TEST_CASE("a flaky board's infrastructure errors are retried elsewhere and quarantine it",
          "[scheduler][health]") {
  Farm farm(2);
  device_agents::Rack flaky(
      rack_options(farm.scheduler->port(), 1, farm.dir / "flaky-cache", "flaky", "flaky:1"));
  flaky.start();
  farm.wait_for_boards(3);
  harness::Client c(farm.client());
  auto req = paired_request(farm.dir, 6);
  auto run = c.submit(harness::prepare_run(c, req));
  auto final = c.watch(run.run_id(), {});
  CHECK(final.state() == "done");
  CHECK(final.succeeded() == 12);  // infra errors never count against the network
  CHECK(final.failed() == 0);
  flaky.stop();
  db::Database d(farm.dir / "hil.db", db::OpenMode::kReadOnly);
  auto st = d.prepare("SELECT COUNT(*) FROM evals WHERE board = 'flaky' AND state = 'succeeded'");
  st.step();
  CHECK(st.int64(0) == 0);
}

TEST_CASE(
    "a gate over results from a board quarantined since is invalid, and says to rerun on healthy "
    "boards",
    "[scheduler][health][gate]") {
  std::string board;
  int64_t run_id = 0;
  Farm farm(2);
  farm.wait_for_boards(2);
  {
    harness::Client c(farm.client());
    auto ack = c.submit(harness::prepare_run(c, paired_request(farm.dir, 4)));
    auto final = c.watch(ack.run_id(), {});
    REQUIRE(final.state() == "done");
    REQUIRE(final.verdict() != "invalid");
    run_id = static_cast<int64_t>(ack.run_id());
  }
  farm.rack->stop();
  farm.rack.reset();
  // stop() only asks; the database is ours alone once the scheduler is gone
  // (its writer flushes what the closing sessions queued, such as boards
  // going offline, before it closes).
  farm.scheduler->stop();
  farm.scheduler.reset();
  // One of the boards that produced results fails a later health check.
  db::Database d(farm.dir / "hil.db");
  db::Store store(d);
  auto pick =
      d.prepare("SELECT board FROM evals WHERE run_id = ?1 AND state = 'succeeded' LIMIT 1");
  pick.bind_all(run_id);
  REQUIRE(pick.step());
  board = pick.text(0);
  store.set_board_health(board, "quarantined", "health check: outputs differ from the reference",
                         1);
  auto report = harness::gate_run(store, run_id);
  CHECK(report.overall == evals::Verdict::kInvalid);
  REQUIRE_FALSE(report.invalid.empty());
  CHECK(report.invalid[0].reason == evals::InvalidReason::kQuarantinedBoard);
  CHECK(report.invalid[0].detail.find(board) != std::string::npos);
  auto row = store.run(run_id);
  REQUIRE(row);
  CHECK(row->verdict == "invalid");
  CHECK(row->verdict_summary.find("rerun on healthy boards") != std::string::npos);
}

TEST_CASE(
    "a board whose results cannot be recorded (a metric twice) is retried elsewhere and "
    "quarantined",
    "[scheduler][health]") {
  // One good board beside the bad one, and enough evals that the bad board
  // takes three leases in a row however fast the good one is (with two good
  // boards and 12 evals it sometimes got fewer, and was never quarantined).
  Farm farm(1);
  device_agents::Rack bad(
      rack_options(farm.scheduler->port(), 1, farm.dir / "bad-cache", "malformed", "malformed"));
  bad.start();
  farm.wait_for_boards(2);
  harness::Client c(farm.client());
  auto run = c.submit(harness::prepare_run(c, paired_request(farm.dir, 10)));
  auto final = c.watch(run.run_id(), {});
  CHECK(final.state() == "done");
  CHECK(final.succeeded() == 20);  // nothing lost, nothing recorded from the bad board
  CHECK(final.failed() == 0);
  std::string state;
  auto list = c.boards();
  for (const auto& b : list.boards()) {
    if (b.name() == "malformed") state = b.state();
  }
  CHECK(state == "quarantined");
  bad.stop();
  db::Database d(farm.dir / "hil.db", db::OpenMode::kReadOnly);
  auto st = d.prepare("SELECT COUNT(*) FROM evals WHERE board = 'malformed'");
  st.step();
  CHECK(st.int64(0) == 0);
  auto m = d.prepare(
      "SELECT COUNT(*) FROM eval_metrics m JOIN evals e ON e.id = m.eval_id WHERE e.run_id = ?1");
  m.bind_all(static_cast<int64_t>(run.run_id()));
  m.step();
  CHECK(m.int64(0) > 0);
}

TEST_CASE("a corrupt blob in an agent's cache is detected and fetched again",
          "[scheduler][cache]") {
  Farm farm(0);
  auto cache = farm.dir / "shared-cache";
  auto start_rack = [&] {
    return std::make_unique<device_agents::Rack>(
        rack_options(farm.scheduler->port(), 1, cache, "cachey"));
  };
  auto req = paired_request(farm.dir, 2);
  {
    auto rack = start_rack();
    rack->start();
    farm.wait_for_boards(1);
    harness::Client c(farm.client());
    auto run = c.submit(harness::prepare_run(c, req));
    REQUIRE(c.watch(run.run_id(), {}).succeeded() == 4);
    rack->stop();
  }
  // Flip a byte in every cached blob, as a failing disk would.
  size_t corrupted = 0;
  for (const auto& e : std::filesystem::directory_iterator(cache)) {
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(100);
    char byte = 0;
    f.get(byte);
    f.seekp(100);
    f.put(static_cast<char>(byte ^ 0x5a));
    ++corrupted;
  }
  REQUIRE(corrupted >= 3);   // two revisions and the clips
  auto rack = start_rack();  // a restarted agent: nothing verified yet
  rack->start();
  for (int i = 0; i < 400; ++i) {
    harness::Client probe(farm.client());
    auto list = probe.boards();
    if (list.boards_size() == 1 && list.boards(0).state() != "offline") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  harness::Client c(farm.client());
  auto run = c.submit(harness::prepare_run(c, req));
  auto final = c.watch(run.run_id(), {});
  CHECK(final.succeeded() == 4);
  CHECK(final.failed() == 0);
  rack->stop();
  // Every cached file is whole again: named by the hash of its bytes.
  for (const auto& e : std::filesystem::directory_iterator(cache)) {
    if (evals::is_sha256_hex(e.path().filename().string()))
      CHECK(evals::sha256_file(e.path()) == e.path().filename().string());
  }
}

TEST_CASE("boards that drop connections or die mid-run cost nothing but time",
          "[scheduler][profiles]") {
  for (const std::string profile : {"disconnects:0.3", "dies-after:2"}) {
    INFO(profile);
    Farm farm(2);
    auto ro = rack_options(farm.scheduler->port(), 2, farm.dir / "faulty-cache", "faulty", profile);
    ro.reconnect_max_seconds = 0.5;
    device_agents::Rack faulty(ro);
    faulty.start();
    farm.wait_for_boards(4);
    harness::Client c(farm.client());
    auto req = paired_request(farm.dir, 8);
    auto run = c.submit(harness::prepare_run(c, req));
    auto final = c.watch(run.run_id(), {});
    CHECK(final.state() == "done");
    CHECK(final.succeeded() == 16);
    faulty.stop();
    db::Database d(farm.dir / "hil.db", db::OpenMode::kReadOnly);
    auto st = d.prepare("SELECT COUNT(*), COUNT(DISTINCT id) FROM evals WHERE state = 'succeeded'");
    st.step();
    CHECK(st.int64(0) == 16);
    CHECK(d.check().empty());
  }
}

TEST_CASE("a gate run submitted during a nightly sweep runs first", "[scheduler][priority]") {
  Farm farm(0);
  auto ro = rack_options(farm.scheduler->port(), 2, farm.dir / "cache", "rack", "slow:20");
  device_agents::Rack rack(ro);
  rack.start();
  farm.wait_for_boards(2);
  harness::Client c(farm.client());
  harness::RunRequest nightly;
  nightly.candidate = write_revision(farm.dir, "cand", 1);
  nightly.suite = write_suite(farm.dir, 30).string();
  nightly.clip_cache = farm.dir / "clips";
  nightly.priority = "nightly";
  nightly.night = "2026-11-24";
  auto night = c.submit(harness::prepare_run(c, nightly));
  harness::RunRequest gate = nightly;
  gate.priority = "gate";
  gate.night = "";
  gate.baseline = write_revision(farm.dir, "base", 2);
  gate.suite = write_suite(farm.dir, 3).string();
  auto pr = c.submit(harness::prepare_run(c, gate));
  CHECK(c.watch(pr.run_id(), {}).state() == "done");
  // The gate finished while most of the sweep was still waiting.
  auto status = c.status(night.run_id());
  CHECK(status.state() != "done");
  CHECK(status.succeeded() < 30);
  CHECK(c.watch(night.run_id(), {}).succeeded() == 30);
  rack.stop();
}
