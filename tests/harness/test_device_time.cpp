// Where device latency came from travels with every result (EvalResult
// .device_time), is stored per eval, comes back with a finished run's status,
// and the gate's reports say it: host boards measure it, emulated boards
// compute it. Real scheduler and boards on loopback.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>

#include "farm.h"
#include "hil/db/database.h"
#include "hil/db/store.h"
#include "hil/evals/metrics.h"
#include "hil/harness/gating.h"

using namespace hil;
using namespace hil::test;

namespace {

std::filesystem::path suite_for(const TempDir& dir, const std::string& board_type) {
  auto path = dir / "latency.textproto";
  std::ofstream out(path);
  out << "name: \"latency\"\nboard_type: \"" << board_type << "\"\n"
      << "clips { generated { count: 4 frames: 8 seed: 520 conditions: [\"clear\", \"fog\"] } }\n"
      << "scenarios { name: \"split\" mode: \"split\" }\n"
      << kSampleMetrics
      << "gates { metric: \"lane_offset_mae\" max_abs_degradation: 0.05 min_clips: 2 blocking: "
         "true }\n";
  return path;
}

harness::VerdictView view_of(const wire::RunStatus& status) {
  harness::VerdictView v;
  v.run_id = static_cast<int64_t>(status.run_id());
  v.verdict = status.verdict();
  v.summary = status.verdict_summary();
  v.evals_total = status.total();
  v.evals_succeeded = status.succeeded();
  v.device_time_measured = status.device_time_measured();
  v.device_time_emulated = status.device_time_emulated();
  return v;
}

}  // namespace

TEST_CASE(
    "a run on host boards records measured device time per eval, their health checks pass, and "
    "the gate says latency was measured",
    "[scheduler][device_time]") {
  Farm farm(0, [](harness::SchedulerOptions& so) { so.lease_timeout_seconds = 60; });
  auto ro = rack_options(farm.scheduler->port(), 2, farm.dir / "cache", "host");
  ro.board_type = "host";
  device_agents::Rack rack(ro);
  rack.start();
  farm.wait_for_boards(2);
  harness::Client c(farm.client());
  auto req = paired_request(farm.dir, 4);
  req.suite = suite_for(farm.dir, "host").string();
  auto ack = c.submit(harness::prepare_run(c, req));
  auto status = c.watch(ack.run_id(), {});
  REQUIRE(status.state() == "done");
  REQUIRE(status.succeeded() == 8);
  CHECK(!status.verdict().empty());
  CHECK(status.device_time_measured() == 8);
  CHECK(status.device_time_emulated() == 0);

  db::Database d(farm.dir / "hil.db", db::OpenMode::kReadOnly);
  db::Store store(d);
  auto st = d.prepare("SELECT id, device_time FROM evals WHERE run_id = ?1");
  st.bind_all(ack.run_id());
  std::set<float> device_ms;
  while (st.step()) {
    CHECK(st.text(1) == "measured");
    for (const auto& s : store.frame_series(st.int64(0))) {
      if (s.name != "device_ms") continue;
      for (float ms : evals::decode_series(s.data, s.frames, s.codec)) {
        CHECK(ms > 0);
        device_ms.insert(ms);
      }
    }
  }
  CHECK(device_ms.size() > 8);  // measured: figures differ across frames and evals
  // Boards that measure time still prove themselves on everything else: a
  // health check compared them (health 'ok' only after one passed), and
  // varying latency quarantined neither.
  auto health = d.prepare("SELECT SUM(health = 'ok'), SUM(health = 'quarantined') FROM boards");
  health.step();
  CHECK(health.int64(0) >= 1);
  CHECK(health.int64(1) == 0);

  const auto view = view_of(status);
  CHECK(harness::latency_source(view) == harness::LatencySource::kMeasured);
  CHECK_THAT(
      harness::render_markdown(view),
      Catch::Contains("Device latency measured on the boards (8 evals; it varies run to run)."));
  CHECK_THAT(
      harness::render_verdict_table(view),
      Catch::Contains("device latency measured on the boards (8 evals; it varies run to run)"));
  CHECK_THAT(harness::render_json(view), Catch::Contains("\"device_latency\": \"measured\""));
  rack.stop();
}

TEST_CASE("a run on emulated boards records emulated device time, and the gate says so",
          "[scheduler][device_time]") {
  Farm farm(2);
  farm.wait_for_boards(2);
  harness::Client c(farm.client());
  auto ack = c.submit(harness::prepare_run(c, paired_request(farm.dir, 2)));
  auto status = c.watch(ack.run_id(), {});
  REQUIRE(status.state() == "done");
  CHECK(status.device_time_emulated() == 4);
  CHECK(status.device_time_measured() == 0);
  db::Database d(farm.dir / "hil.db", db::OpenMode::kReadOnly);
  auto st = d.prepare("SELECT COUNT(*) FROM evals WHERE device_time = 'emulated'");
  st.step();
  CHECK(st.int64(0) == 4);
  CHECK_THAT(harness::render_markdown(view_of(status)),
             Catch::Contains("Device latency emulated by the cost model (identical run to run)."));
}
