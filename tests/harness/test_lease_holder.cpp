// Only the board and lease holding an eval record its result (#21): boards
// played by hand on a real scheduler over mutual TLS, speaking the wire
// protocol, forge, replay and omit leases; each refused result is counted
// and the stored result is the genuine one, read back from the SQLite file.
#include <catch2/catch.hpp>

#include <fstream>
#include <thread>

#include "farm.h"
#include "hil/db/database.h"

using namespace hil;
using test::Farm;

namespace {

// A board agent played by hand: registers one board, asks for work and
// reports whatever result the test makes up.
struct HandBoard {
  std::string name;
  harness::Client conn;

  HandBoard(uint16_t port, const std::string& board) : name(board), conn(options(port, board)) {}

  static harness::ClientOptions options(uint16_t port, const std::string& board) {
    auto o = test::client_options(port);
    o.role = wire::AGENT;
    o.name = board;
    o.tls = harness::board_tls_from_dir(test::rack_pki());
    wire::BoardInfo info;
    info.set_name(board);
    info.set_type("slowed-hw3");
    info.set_engines(2);
    info.set_slots(1);
    info.set_backend("by hand");
    o.boards.push_back(info);
    return o;
  }

  // Asks for one eval and waits for its lease.
  wire::Lease take_lease() {
    wire::Envelope ask;
    ask.mutable_work_request()->set_board(name);
    ask.mutable_work_request()->set_credits(1);
    conn.send(ask);
    for (;;) {
      auto e = conn.receive();
      if (e.body_case() == wire::Envelope::kLease) return e.lease();
    }
  }

  // Reports a succeeded result with `frames` as its only metric, naming `board`.
  wire::ResultAck report(uint64_t eval_id, uint64_t lease_id, const std::string& board,
                         double frames) {
    wire::Envelope e;
    auto* r = e.mutable_result();
    r->set_eval_id(eval_id);
    r->set_lease_id(lease_id);
    r->set_board(board);
    r->set_succeeded(true);
    auto* m = r->add_metrics();
    m->set_name("frames");
    m->set_value(frames);
    return conn.call(e).result_ack();
  }
};

// One noop eval (one clip, one scenario, no baseline) submitted by a client.
uint64_t submit_one_eval(Farm& farm, harness::Client& c) {
  auto suite = farm.dir / "one.textproto";
  std::ofstream(suite) << "name: \"one\"\nboard_type: \"slowed-hw3\"\n"
                       << "clips { generated { count: 1 frames: 2 seed: 7 } }\n"
                       << "scenarios { name: \"noop\" mode: \"noop\" }\n";
  harness::RunRequest req;
  req.candidate = test::write_revision(farm.dir, "cand", 1);
  req.suite = suite.string();
  req.clip_cache = farm.dir / "clips";
  auto ack = c.submit(harness::prepare_run(c, req));
  REQUIRE(ack.evals() == 1);
  return ack.run_id();
}

struct Stored {
  std::string state, board;
  int64_t lease_id = 0;
  double frames = -1;
};

Stored stored_eval(const Farm& farm, uint64_t eval_id) {
  db::Database d(farm.dir / "hil.db", db::OpenMode::kReadOnly);
  auto st = d.prepare(
      "SELECT e.state, COALESCE(e.board, ''), COALESCE(e.lease_id, 0), COALESCE(m.value, -1) "
      "FROM evals e LEFT JOIN eval_metrics m ON m.eval_id = e.id AND m.metric_id = "
      "(SELECT id FROM metric_defs WHERE name = 'frames') WHERE e.id = ?1");
  st.bind_all(static_cast<int64_t>(eval_id));
  REQUIRE(st.step());
  return {st.text(0), st.text(1), st.int64(2), st.real(3)};
}

// The run finished with the genuine result stored: the holder's board,
// lease and metric (7; every refused result said 999).
void check_genuine_result_stored(const Farm& farm, harness::Client& c, uint64_t run,
                                 const wire::Lease& lease, const std::string& board) {
  auto final = c.watch(run, {});
  CHECK(final.succeeded() == 1);
  auto e = stored_eval(farm, lease.eval_id());
  CHECK(e.state == "succeeded");
  CHECK(e.board == board);
  CHECK(e.lease_id == static_cast<int64_t>(lease.lease_id()));
  CHECK(e.frames == 7);
}

uint64_t refused_by(harness::Client& c, const std::string& board) {
  const auto list = c.boards();
  for (const auto& b : list.boards()) {
    if (b.name() == board) return b.results_refused();
  }
  FAIL("no board " << board);
  return 0;
}

}  // namespace

TEST_CASE("a board that forges another board's result is refused, counted, and changes nothing",
          "[scheduler][leases][trust]") {
  Farm farm(0);
  HandBoard honest(farm.scheduler->port(), "honest");
  HandBoard forger(farm.scheduler->port(), "forger");
  harness::Client c(farm.client());
  const auto run = submit_one_eval(farm, c);
  const auto lease = honest.take_lease();

  // The forger names itself but presents the honest board's lease.
  CHECK_FALSE(forger.report(lease.eval_id(), lease.lease_id(), "forger", 999).recorded());
  CHECK(refused_by(c, "forger") == 1);
  CHECK(refused_by(c, "honest") == 0);
  CHECK(c.status(run).results_refused() == 1);
  CHECK(c.boards().results_refused() == 1);

  CHECK(honest.report(lease.eval_id(), lease.lease_id(), "honest", 7).recorded());
  // The forger claims to be the honest board: it is cut off, and counted too.
  CHECK_THROWS_AS(forger.report(lease.eval_id(), lease.lease_id(), "honest", 999),
                  harness::WireError);
  CHECK(c.boards().results_refused() == 2);

  check_genuine_result_stored(farm, c, run, lease, "honest");
}

TEST_CASE("a stale lease's result is refused once the eval was re-leased after its expiry",
          "[scheduler][leases][trust]") {
  Farm farm(0, [](harness::SchedulerOptions& so) { so.lease_timeout_seconds = 2; });
  HandBoard first(farm.scheduler->port(), "first");
  HandBoard second(farm.scheduler->port(), "second");
  harness::Client c(farm.client());
  const auto run = submit_one_eval(farm, c);
  const auto stale = first.take_lease();
  CHECK(stale.attempt() == 1);
  // `first` sits on it past its deadline; the eval is re-issued to `second`.
  const auto current = second.take_lease();
  REQUIRE(current.eval_id() == stale.eval_id());
  CHECK(current.lease_id() != stale.lease_id());
  CHECK(current.attempt() == 2);

  CHECK_FALSE(first.report(stale.eval_id(), stale.lease_id(), "first", 999).recorded());
  CHECK(refused_by(c, "first") == 1);
  CHECK(c.status(run).results_refused() == 1);
  CHECK(second.report(current.eval_id(), current.lease_id(), "second", 7).recorded());
  // Sent again after the genuine one, the stale result is not recorded
  // either (refused, or dropped unseen once the finished run has left the
  // scheduler's memory: the genuine result's acknowledgement waits for its
  // commit, so which one depends on timing, and only the first is counted).
  CHECK_FALSE(first.report(stale.eval_id(), stale.lease_id(), "first", 999).recorded());

  check_genuine_result_stored(farm, c, run, current, "second");
}

TEST_CASE("a result without a lease (lease id 0) is refused, even from the eval's board",
          "[scheduler][leases][trust]") {
  Farm farm(0);
  HandBoard board(farm.scheduler->port(), "holder");
  harness::Client c(farm.client());
  const auto run = submit_one_eval(farm, c);
  const auto lease = board.take_lease();

  CHECK_FALSE(board.report(lease.eval_id(), 0, "holder", 999).recorded());
  CHECK(refused_by(c, "holder") == 1);
  CHECK(c.status(run).results_refused() == 1);
  CHECK(c.status(run).succeeded() == 0);
  CHECK(board.report(lease.eval_id(), lease.lease_id(), "holder", 7).recorded());
  CHECK_FALSE(board.report(lease.eval_id(), 0, "holder", 999).recorded());
  CHECK(refused_by(c, "holder") == 2);

  check_genuine_result_stored(farm, c, run, lease, "holder");
}
