// A gate whose boards run their engines through a backend plugin, with real
// processes on loopback: `hil serve`, `hil agent --backend
// libhil_backend_opencv_measured.so`, `hil gate`. The plugin measures device
// time, so latency differs frame to frame and the report says it was
// measured; its outputs are checked against the emulated engines', replayed
// here in-process on the same revisions and clips (another path through the
// code).
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <fstream>
#include <set>
#include <thread>

#include "fixtures.h"
#include "hil/db/database.h"
#include "hil/db/store.h"
#include "hil/dual_engine/backend.h"
#include "hil/dual_engine/runtime.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/metrics.h"
#include "hil/evals/sha256.h"
#include "hil/evals/suite.h"
#include "process.h"

using namespace hil;
using test::Process;

namespace {

const std::string kPlugin = std::string(HIL_PLUGIN_DIR) + "/libhil_backend_opencv_measured.so";

bool same_or_close(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::abs(a - b) <= 1e-5f + 1e-5f * std::abs(b);
}

}  // namespace

TEST_CASE(
    "a gate on boards whose engines are a backend plugin: a verdict, measured latency, the "
    "emulated outputs",
    "[integration][plugins]") {
  test::TempDir dir;
  const std::string hil = test::hil_binary().string();
  REQUIRE(std::filesystem::exists(hil));
  REQUIRE(std::filesystem::exists(kPlugin));
  const std::string secret = "plugin-secret";
  auto cand = dir / "candidate.onnx", base = dir / "baseline.onnx";
  evals::write_file_atomic(cand, test::tiny_revision("better", 1));
  evals::write_file_atomic(base, test::tiny_revision("base", 1));
  const auto suite_path = dir / "plugin.textproto";
  {
    std::ofstream suite(suite_path);
    suite << "name: \"plugin\"\nboard_type: \"slowed-hw3\"\n"
          << "clips { generated { count: 3 frames: 8 seed: 730 conditions: [\"clear\", \"night\", "
             "\"fog\"] } }\n"
          << "scenarios { name: \"split\" mode: \"split\" }\n"
          << test::kSampleMetrics
          << "gates { metric: \"lane_offset_mae\" max_abs_degradation: 0.02 min_clips: 3 blocking: "
             "true }\n";
  }
  const auto db_path = (dir / "hil.db").string();
  const auto cache = dir / "cache";
  Process serve({hil, "serve", "--db", db_path, "--listen", "127.0.0.1:0", "--secret", secret,
                 "--plaintext"});
  auto line = serve.read_line();
  auto colon = line.rfind(':');
  REQUIRE(colon != std::string::npos);
  const auto address = "127.0.0.1:" + std::to_string(std::stoi(line.substr(colon + 1)));
  Process agent(
      {hil, "--log", "info", "agent", "--scheduler", address, "--secret", secret, "--plaintext",
       "--emulate", "2", "--threads", "2", "--cache", cache.string(), "--backend", kPlugin},
      dir / "agent.log");
  REQUIRE(agent.read_line().find("2 board(s)") != std::string::npos);

  int rc = -1;
  std::string output;
  for (int attempt = 0; attempt < 50; ++attempt) {  // until the boards registered
    Process gate({hil, "gate", "--scheduler", address, "--secret", secret, "--plaintext",
                  "--candidate", cand.string(), "--baseline", base.string(), "--suite",
                  suite_path.string(), "--clip-cache", (dir / "clips").string(), "--markdown",
                  (dir / "summary.md").string()});
    output = gate.read_all();
    rc = gate.wait();
    if (rc != 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO(output);
  INFO(evals::read_file(dir / "agent.log"));
  REQUIRE((rc == 0 || rc == 1 || rc == 2));
  CHECK_THAT(output, Catch::Contains("VERDICT:"));
  CHECK_THAT(output, Catch::Contains(
                         "device latency measured on the boards (6 evals; it varies run to run)"));
  CHECK_THAT(evals::read_file(dir / "summary.md"),
             Catch::Contains("Device latency measured on the boards"));
  CHECK_THAT(evals::read_file(dir / "agent.log"), Catch::Contains("run on opencv-measured"));

  db::Database d(db_path, db::OpenMode::kReadOnly);
  db::Store store(d);
  auto runs = store.runs();
  REQUIRE(runs.size() == 1);
  CHECK((runs[0].verdict == "pass" || runs[0].verdict == "fail" ||
         runs[0].verdict == "inconclusive"));
  CHECK(runs[0].evals_succeeded == 6);
  CHECK(store.gate_results(runs[0].id).size() >= 1);

  // Each eval replayed on the emulated engines: the same revision and clip
  // bytes (from the agent's cache), the suite's metrics.
  const auto suite = evals::load_suite(suite_path.string());
  const std::vector<suite::MetricSpec> metrics(suite.metrics().begin(), suite.metrics().end());
  const auto board = dual_engine::load_board_type("slowed-hw3");
  dual_engine::use_single_thread_kernels();
  auto st = d.prepare(
      "SELECT e.id, r.sha256, c.sha256, e.device_time FROM evals e JOIN revisions r ON r.id = "
      "e.revision_id "
      "JOIN clips c ON c.id = e.clip_id WHERE e.run_id = ?1 ORDER BY e.id");
  st.bind_all(runs[0].id);
  std::set<float> all_device_ms;
  int evals = 0, compared_values = 0;
  while (st.step()) {
    ++evals;
    INFO("eval " << st.int64(0));
    CHECK(st.text(3) == "measured");
    std::map<std::string, std::vector<float>> stored;
    for (const auto& s : store.frame_series(st.int64(0))) {
      stored[s.name] = evals::decode_series(s.data, s.frames, s.codec);
    }
    const auto& device_ms = stored["device_ms"];
    REQUIRE(device_ms.size() == 8);
    // Measured: the figure changes from frame to frame.
    CHECK(std::set<float>(device_ms.begin(), device_ms.end()).size() > 1);
    all_device_ms.insert(device_ms.begin(), device_ms.end());

    auto model = dual_engine::Model::load(evals::read_file(cache / st.text(1)), "revision");
    dual_engine::CompiledRevision emulated(model, board);
    evals::ClipReader clip(cache / st.text(2));
    suite::Scenario scenario;
    scenario.set_name("split");
    scenario.set_mode("split");
    auto replay = dual_engine::play_eval(emulated, clip, scenario, metrics);
    for (const auto& series : replay.scorer.series()) {
      if (series.name.rfind("out.", 0) != 0) continue;
      INFO("series " << series.name);
      auto it = stored.find(series.name);
      REQUIRE(it != stored.end());
      REQUIRE(it->second.size() == series.values.size());
      for (size_t k = 0; k < series.values.size(); ++k) {
        CHECK(same_or_close(it->second[k], series.values[k]));
        ++compared_values;
      }
    }
  }
  CHECK(evals == 6);
  CHECK(compared_values >= 6 * 8 * 3);  // at least three output fields per frame were compared
  CHECK(all_device_ms.size() > 8);      // and across evals
}
