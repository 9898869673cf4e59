// Input errors are the submitter's, faults are the board's (#21): a suite
// with a misspelt field is refused at submission naming the field and value,
// and an eval a board cannot play as submitted fails once with the reason,
// without a retry, a quarantine or a failure counted against the board. Real
// scheduler, real emulated boards, real SQLite.
#include <catch2/catch.hpp>

#include <fstream>

#include "farm.h"
#include "hil/db/database.h"
#include "hil/evals/suite.h"

using namespace hil;
using test::Farm;

namespace {

std::filesystem::path write_faulty_suite(const test::TempDir& dir, const std::string& kind) {
  auto path = dir / ("faulty-" + kind + ".textproto");
  std::ofstream(path) << "name: \"faulty\"\nboard_type: \"slowed-hw3\"\n"
                      << "clips { generated { count: 2 frames: 6 seed: 500 } }\n"
                      << "scenarios {\n  name: \"crash\"\n  mode: \"split\"\n"
                      << "  faults { engine: \"commander\" kind: \"" << kind << "\" frame: 2 }\n}\n"
                      << test::kSampleMetrics;
  return path;
}

// A request for the candidate alone; the test gives the suite.
harness::RunRequest candidate_only(const Farm& farm) {
  harness::RunRequest req;
  req.candidate = test::write_revision(farm.dir, "cand", 1);
  req.clip_cache = farm.dir / "clips";
  return req;
}

int64_t count(const test::TempDir& dir, const std::string& sql) {
  db::Database d(dir / "hil.db", db::OpenMode::kReadOnly);
  auto st = d.prepare(sql);
  REQUIRE(st.step());
  return st.int64(0);
}

// A refused submission left no run, and every board idle and uncharged.
void check_no_run_and_boards_untouched(const Farm& farm, harness::Client& c) {
  CHECK(count(farm.dir, "SELECT COUNT(*) FROM runs") == 0);
  const auto boards = c.boards();
  for (const auto& b : boards.boards()) {
    CHECK(b.state() == "idle");
    CHECK(b.evals_failed() == 0);
  }
}

}  // namespace

TEST_CASE("a suite with a misspelt fault kind is refused at submission, naming the field and value",
          "[scheduler][submission][trust]") {
  Farm farm(2);
  farm.wait_for_boards(2);
  harness::Client c(farm.client());
  auto req = candidate_only(farm);

  SECTION("by the client, before anything is uploaded") {
    req.suite = write_faulty_suite(farm.dir, "crsh").string();
    try {
      harness::prepare_run(c, req);
      FAIL("a misspelt fault kind must be refused");
    } catch (const evals::SuiteError& e) {
      CHECK_THAT(e.what(), Catch::Contains("field 'scenarios.faults.kind'"));
      CHECK_THAT(e.what(), Catch::Contains("'crsh'"));
      CHECK_THAT(e.what(), Catch::Contains(":7:"));  // the fault's line
    }
  }
  SECTION("by the scheduler, whatever the client checked") {
    req.suite = write_faulty_suite(farm.dir, "crash").string();
    auto run = harness::prepare_run(c, req);
    std::string text = run.suite_text();
    text.replace(text.find("\"crash\" frame"), 7, "\"crsh\"");
    run.set_suite_text(text);
    try {
      c.submit(run);
      FAIL("a misspelt fault kind must be refused");
    } catch (const harness::WireError& e) {
      CHECK(e.code() == wire::INVALID_ARGUMENT);
      CHECK_THAT(e.what(), Catch::Contains("field 'scenarios.faults.kind'"));
      CHECK_THAT(e.what(), Catch::Contains("'crsh'"));
    }
  }
  // Nothing reached a board: no run, no eval, no retry, no quarantine.
  check_no_run_and_boards_untouched(farm, c);
  CHECK(count(farm.dir, "SELECT COUNT(*) FROM evals") == 0);
  CHECK(count(farm.dir, "SELECT COUNT(*) FROM boards WHERE health = 'quarantined'") == 0);
}

TEST_CASE(
    "an eval the boards cannot play as submitted fails once with the reason, and blames no board",
    "[scheduler][health][trust]") {
  // A revision whose embedded interface is fine (the scheduler checks it
  // without ONNX) but whose graph names an operator ONNX does not have: only
  // a board, compiling it, can tell.
  Farm farm(2);
  farm.wait_for_boards(2);
  harness::Client c(farm.client());
  std::string bytes = test::tiny_revision("base", 1);
  const std::string conv(
      "\x22\x04"
      "Conv",
      6);
  const auto at = bytes.find(conv);
  REQUIRE(at != std::string::npos);
  bytes.replace(at, conv.size(),
                std::string("\x22\x04"
                            "Cnvo",
                            6));
  auto broken = farm.dir / "broken.onnx";
  evals::write_file_atomic(broken, bytes);
  auto req = test::paired_request(farm.dir, 3);
  req.candidate = broken;
  req.baseline.clear();
  auto ack = c.submit(harness::prepare_run(c, req));
  REQUIRE(ack.evals() == 3);
  auto final = c.watch(ack.run_id(), {});
  CHECK(final.state() == "done");
  CHECK(final.succeeded() == 0);
  CHECK(final.failed() == 3);

  // Each eval failed on its first lease, with the board's reason.
  CHECK(count(farm.dir,
              "SELECT COUNT(*) FROM evals WHERE state = 'failed' AND attempts = 1 AND "
              "failure LIKE 'bad eval (reported by board %' AND failure LIKE '%Cnvo%'") == 3);
  // No board was charged with a failure or quarantined.
  CHECK(count(farm.dir, "SELECT COALESCE(SUM(evals_failed), 0) FROM boards") == 0);
  CHECK(count(farm.dir, "SELECT COUNT(*) FROM boards WHERE health = 'quarantined'") == 0);
  const auto boards = c.boards();
  for (const auto& b : boards.boards()) {
    CHECK(b.state() != "quarantined");
    CHECK(b.evals_failed() == 0);
  }
  // The same boards still play a good eval.
  auto good = c.submit(harness::prepare_run(c, test::paired_request(farm.dir, 1)));
  CHECK(c.watch(good.run_id(), {}).succeeded() == 2);
}

TEST_CASE("a suite naming a misspelt board type is refused at submission with the types there are",
          "[scheduler][submission][trust]") {
  Farm farm(2);
  farm.wait_for_boards(2);
  harness::Client c(farm.client());
  auto req = candidate_only(farm);
  auto suite = farm.dir / "misspelt.textproto";
  std::ofstream(suite) << "name: \"misspelt\"\nboard_type: \"slowed-hw33\"\n"
                       << "clips { generated { count: 2 frames: 6 seed: 500 } }\n"
                       << "scenarios { name: \"split\" mode: \"split\" }\n"
                       << test::kSampleMetrics;
  req.suite = suite.string();
  try {
    c.submit(harness::prepare_run(c, req));
    FAIL("a misspelt board type must be refused");
  } catch (const harness::WireError& e) {
    CHECK(e.code() == wire::NO_CAPACITY);
    CHECK_THAT(e.what(), Catch::Contains("suite field 'board_type'") &&
                             Catch::Contains("'slowed-hw33'") &&
                             Catch::Contains("connected types: slowed-hw3"));
  }
  check_no_run_and_boards_untouched(farm, c);
}
