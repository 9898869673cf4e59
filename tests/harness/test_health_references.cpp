// Health checks with known answers (#21, item 2): the scheduler computes the
// reference of a health check on its own host (device_agents::host_reference),
// stores it in SQLite, and checks boards against it, so a rack of wrong boards
// cannot vouch for itself and a restart forgets nothing. A board that fails a
// check after a run's verdict was given makes that run's results suspect and
// its verdict `invalid`. Real scheduler, real emulated boards, real SQLite.
#include <catch2/catch.hpp>

#include <atomic>

#include "db_probe.h"
#include "farm.h"
#include "hil/device_agents/host_reference.h"

using namespace hil;
using test::Farm;

namespace {

const std::string kQuarantinedByHost =
    "SELECT COUNT(*) FROM boards WHERE health = 'quarantined' AND quarantine_reason LIKE "
    "'%the scheduler''s host computed%'";

uint64_t submit(const harness::ClientOptions& o, const harness::RunRequest& req) {
  harness::Client c(o);
  return c.submit(harness::prepare_run(c, req)).run_id();
}

std::string run_column(const std::filesystem::path& db, const std::string& column, uint64_t run) {
  db::Database d(db, db::OpenMode::kReadOnly);
  auto st = d.prepare("SELECT COALESCE(" + column + ", '') FROM runs WHERE id = ?1");
  st.bind_all(static_cast<int64_t>(run));
  return st.step() ? st.text(0) : "";
}

// Waits (bounded) until the run is done in the database.
bool wait_done(const std::filesystem::path& db, uint64_t run) {
  return test::wait_for_count(
      db, "SELECT COUNT(*) FROM runs WHERE state = 'done' AND id = " + std::to_string(run), 1);
}

}  // namespace

TEST_CASE(
    "boards are checked against answers computed on the scheduler's host: liars agreeing "
    "with each other are quarantined",
    "[scheduler][health][trust]") {
  Farm farm(0, [](harness::SchedulerOptions& so) {
    so.reference_executor = device_agents::host_reference;
  });
  // Every board lies the same way: checked against each other they agree.
  device_agents::Rack liars(
      test::rack_options(farm.scheduler->port(), 2, farm.dir / "cache", "liar", "liar"));
  liars.start();
  farm.wait_for_boards(2);
  auto run = submit(farm.client(), test::paired_request(farm.dir, 2));

  const auto db = farm.dir / "hil.db";
  REQUIRE(test::wait_for_count(db, kQuarantinedByHost, 2, 60));
  CHECK(test::db_scalar(db, "SELECT COUNT(*) FROM health_references") >= 1);
  // No verdict stands on their results: the run is either not done (its
  // results were played again, by nobody healthy) or its verdict is invalid.
  auto verdict = run_column(db, "verdict", run);
  CHECK((verdict.empty() || verdict == "invalid"));
  liars.stop();
}

TEST_CASE("known answers survive a restart: a liar is caught without computing them again",
          "[scheduler][health][trust]") {
  test::TempDir dir;
  auto req = test::paired_request(dir, 2);
  {
    auto so = test::scheduler_options(dir);
    so.reference_executor = device_agents::host_reference;
    harness::Scheduler scheduler(so);
    scheduler.open();
    scheduler.start();
    device_agents::Rack honest(test::rack_options(scheduler.port(), 1, dir / "cache", "honest"));
    honest.start();
    REQUIRE(test::wait_for_count(dir / "hil.db",
                                 "SELECT COUNT(*) FROM boards WHERE state <> 'offline'", 1, 30));
    auto run = submit(test::client_options(scheduler.port()), req);
    REQUIRE(wait_done(dir / "hil.db", run));
    CHECK(test::db_scalar(dir / "hil.db",
                          "SELECT COUNT(*) FROM boards WHERE name = 'honest' AND health = 'ok'") ==
          1);
    honest.stop();
    scheduler.stop();
  }
  REQUIRE(test::db_scalar(dir / "hil.db", "SELECT COUNT(*) FROM health_references") == 1);

  std::atomic<int> computed{0};
  auto so = test::scheduler_options(dir);
  so.reference_executor = [&](const harness::ReferenceJob& job) {
    ++computed;
    return device_agents::host_reference(job);
  };
  harness::Scheduler scheduler(so);
  scheduler.open();
  scheduler.start();
  device_agents::Rack liar(
      test::rack_options(scheduler.port(), 1, dir / "cache-liar", "liar", "liar"));
  liar.start();
  // Its first act is a health check against the stored answer.
  CHECK(test::wait_for_count(dir / "hil.db", kQuarantinedByHost, 1, 60));
  CHECK(test::db_scalar(
            dir / "hil.db",
            "SELECT COUNT(*) FROM evals WHERE board = 'liar' AND state = 'succeeded'") == 0);
  CHECK(computed == 0);
  liar.stop();
  scheduler.stop();
}

TEST_CASE(
    "a board failing a check after a verdict makes its results suspect and the verdict "
    "invalid, and status says so",
    "[scheduler][health][trust]") {
  Farm farm(0, [](harness::SchedulerOptions& so) {
    so.reference_executor = device_agents::host_reference;
    so.evals_between_checks = 10;
  });
  const auto db = farm.dir / "hil.db";
  auto req = test::paired_request(farm.dir, 4);  // 8 evals a run
  {
    // An honest board plays a first run, so that a known answer exists.
    device_agents::Rack honest(
        test::rack_options(farm.scheduler->port(), 1, farm.dir / "cache", "honest"));
    honest.start();
    farm.wait_for_boards(1);
    REQUIRE(wait_done(db, submit(farm.client(), req)));
    honest.stop();
  }
  // A board honest for its first 4 evals (its first health check among
  // them), then lying: it passes its check and plays all of run 1, whose
  // verdict is given on its lies; 2 evals into run 2 it is checked again.
  device_agents::Rack turncoat(test::rack_options(farm.scheduler->port(), 1, farm.dir / "cache-t",
                                                  "turncoat", "liar-after:4"));
  turncoat.start();
  REQUIRE(test::wait_for_count(
      db, "SELECT COUNT(*) FROM boards WHERE name = 'turncoat' AND health = 'ok'", 1, 60));
  auto run1 = submit(farm.client(), req);
  REQUIRE(wait_done(db, run1));
  const auto verdict_given = run_column(db, "verdict", run1);
  CHECK(verdict_given != "invalid");
  CHECK_FALSE(verdict_given.empty());

  submit(farm.client(), req);
  REQUIRE(test::wait_for_count(db, kQuarantinedByHost, 1, 60));
  REQUIRE(test::wait_for_count(
      db, "SELECT COUNT(*) FROM runs WHERE verdict = 'invalid' AND id = " + std::to_string(run1), 1,
      30));
  auto summary = run_column(db, "verdict_summary", run1);
  CHECK_THAT(summary, Catch::Contains("8 of its results came from board turncoat") &&
                          Catch::Contains("failed its health check") &&
                          Catch::Contains("(the verdict was " + verdict_given));
  CHECK(test::db_scalar(db, "SELECT COUNT(*) FROM evals WHERE suspect IS NOT NULL AND run_id = " +
                                std::to_string(run1)) == 8);
  // What `hil status RUN` prints comes from here.
  harness::Client c(farm.client());
  auto status = c.status(run1);
  CHECK(status.verdict() == "invalid");
  CHECK_THAT(status.verdict_summary(), Catch::Contains("board turncoat"));
  turncoat.stop();
}
