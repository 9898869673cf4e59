// A board with two slots plays two evals at once, each through compiled
// revisions of its own (revision_pool.h): a real scheduler on loopback, a
// rack of one emulated board, evals of one revision so that the two slots
// want the same one at the same time. Part of the tsan preset: it must be
// clean under ThreadSanitizer, and its results must be those of a board
// with one slot (emulated boards are deterministic, so any sharing that
// corrupted a network's state would show).
#include <catch2/catch.hpp>

#include <fstream>
#include <map>

#include "farm.h"
#include "hil/db/database.h"
#include "hil/db/store.h"

using namespace hil;
using namespace hil::test;

namespace {

struct BoardRun {
  // metric values by "clip/scenario", then metric name (host time left out)
  std::map<std::string, std::map<std::string, double>> metrics;
  int evals_in_hand_together = 0;  // pairs of evals the board held at the same time
};

std::filesystem::path one_revision_suite(const TempDir& dir) {
  auto path = dir / "slots.textproto";
  std::ofstream out(path);
  out << "name: \"slots\"\nboard_type: \"slowed-hw3\"\n"
      << "clips { generated { count: 2 frames: 6 seed: 610 conditions: [\"clear\", \"rain\"] } }\n"
      << "scenarios { name: \"split\" mode: \"split\" }\n"
      << "scenarios { name: \"single\" mode: \"single\" }\n"
      << "scenarios { name: \"redundant\" mode: \"redundant\" }\n"
      << kSampleMetrics;
  return path;
}

// Plays the suite's 6 evals of one revision (no baseline) on one board with `slots` slots.
BoardRun run_on_board(uint32_t slots) {
  // Leases long enough for a ThreadSanitizer build's pace.
  Farm farm(0, [](harness::SchedulerOptions& so) { so.lease_timeout_seconds = 120; });
  auto ro = rack_options(farm.scheduler->port(), 1, farm.dir / "cache", "slots");
  ro.slots_per_board = slots;
  ro.host_threads = 2;
  device_agents::Rack rack(ro);
  rack.start();
  farm.wait_for_boards(1);
  harness::Client client(farm.client());
  harness::RunRequest request;
  request.candidate = write_revision(farm.dir, "net", 1);
  request.suite = one_revision_suite(farm.dir).string();
  request.clip_cache = farm.dir / "clips";
  auto ack = client.submit(harness::prepare_run(client, request));
  REQUIRE(ack.evals() == 6);
  auto status = client.watch(ack.run_id(), {});
  REQUIRE(status.state() == "done");
  REQUIRE(status.succeeded() == 6);

  BoardRun out;
  db::Database d(farm.dir / "hil.db", db::OpenMode::kReadOnly);
  auto st = d.prepare(
      "SELECT c.sha256, e.scenario, md.name, m.value FROM evals e JOIN clips c ON c.id = e.clip_id "
      "JOIN eval_metrics m ON m.eval_id = e.id JOIN metric_defs md ON md.id = m.metric_id "
      "WHERE e.run_id = ?1 AND md.name NOT LIKE 'host_%'");
  st.bind_all(ack.run_id());
  while (st.step()) out.metrics[st.text(0) + "/" + st.text(1)][st.text(2)] = st.real(3);
  auto overlap = d.prepare(
      "SELECT COUNT(*) FROM evals a JOIN evals b ON a.id < b.id AND a.run_id = b.run_id "
      "WHERE a.run_id = ?1 AND a.started_at < b.finished_at AND b.started_at < a.finished_at");
  overlap.bind_all(ack.run_id());
  overlap.step();
  out.evals_in_hand_together = static_cast<int>(overlap.int64(0));
  rack.stop();
  return out;
}

}  // namespace

TEST_CASE(
    "a board with two slots plays evals of one revision at once, each on executors of its own, "
    "with the results of a one-slot board",
    "[device_agents][slots][tsan]") {
  const auto two = run_on_board(2);
  const auto one = run_on_board(1);
  CHECK(two.evals_in_hand_together > 0);  // the two slots were busy at once
  CHECK(one.evals_in_hand_together == 0);
  REQUIRE(two.metrics.size() == 6);
  REQUIRE(one.metrics.size() == 6);
  for (const auto& [eval, values] : one.metrics) {
    INFO("eval " << eval);
    auto it = two.metrics.find(eval);
    REQUIRE(it != two.metrics.end());
    CHECK(values.at("frames") == 6);
    CHECK(values.count("lane_offset_mae") == 1);
    // Emulated boards are deterministic: every metric but host time, exactly.
    for (const auto& [name, value] : values) {
      INFO("metric " << name);
      CHECK(it->second.count(name) == 1);
      CHECK(it->second.at(name) == value);
    }
  }
}
