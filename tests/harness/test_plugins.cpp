// Metric plugins (evals/include/hil/evals/metric_plugin.h) run by a real
// scheduler over real evals: the example plugin libsteering_jerk.so, built
// by this tree, scores each eval from the decoded outputs the board sent;
// the test recomputes the value from the per-frame steering series the same
// board stored (another path through the system).
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include "farm.h"
#include "hil/db/database.h"
#include "hil/db/store.h"
#include "hil/dual_engine/model.h"
#include "hil/evals/metrics.h"
#include "hil/evals/model_interface.h"

using namespace hil;
using namespace hil::test;

namespace {

const std::string kPlugin = std::string(HIL_PLUGIN_DIR) + "/libsteering_jerk.so";
const std::string kFailing = std::string(HIL_PLUGIN_DIR) + "/libhil_test_failing_metric.so";

std::filesystem::path plugin_suite(const TempDir& dir, const std::string& plugin_block) {
  auto path = dir / "plugin.textproto";
  std::ofstream out(path);
  out << "name: \"plugin\"\nboard_type: \"slowed-hw3\"\n"
      << "clips { generated { count: 3 frames: 8 seed: 900 conditions: [\"clear\", \"snow\"] } }\n"
      << "scenarios { name: \"split\" mode: \"split\" }\n"
      << kSampleMetrics << "metrics { name: \"jerk\" plugin { " << plugin_block << " } }\n"
      << "gates { metric: \"jerk\" max_abs_degradation: 0.01 min_clips: 2 blocking: true }\n";
  return path;
}

}  // namespace

TEST_CASE(
    "a suite's metric plugin scores every eval on the scheduler, from the board's decoded outputs",
    "[scheduler][plugins]") {
  Farm farm(2);
  farm.wait_for_boards(2);
  harness::Client c(farm.client());
  auto req = paired_request(farm.dir, 3);
  req.suite = plugin_suite(farm.dir, "library: \"" + kPlugin +
                                         "\" direction: LOWER_IS_BETTER unit: \"rad/frame\"")
                  .string();
  auto ack = c.submit(harness::prepare_run(c, req));
  auto status = c.watch(ack.run_id(), {});
  REQUIRE(status.state() == "done");
  db::Database d(farm.dir / "hil.db", db::OpenMode::kReadOnly);
  db::Store store(d);
  auto st = d.prepare(
      "SELECT e.id, m.value FROM evals e JOIN eval_metrics m ON m.eval_id = e.id JOIN metric_defs "
      "md ON "
      "md.id = m.metric_id WHERE e.run_id = ?1 AND md.name = 'jerk' ORDER BY e.id");
  st.bind_all(ack.run_id());
  int evals = 0;
  while (st.step()) {
    ++evals;
    // Mean |steering(t) - steering(t-1)| from the stored output series.
    std::vector<float> steering;
    for (const auto& s : store.frame_series(st.int64(0))) {
      if (s.name == "out.control.steering")
        steering = evals::decode_series(s.data, s.frames, s.codec);
    }
    REQUIRE(steering.size() == 8);
    double sum = 0;
    for (size_t k = 1; k < steering.size(); ++k)
      sum += std::abs(static_cast<double>(steering[k]) - steering[k - 1]);
    CHECK(st.real(1) == Approx(sum / 7).epsilon(1e-5));
    CHECK(st.real(1) > 0);
  }
  CHECK(evals == 6);  // 3 clips x 2 revisions, every one scored
  // The gate used the plugin's metric like any other.
  bool gated = false;
  for (const auto& g : status.gate()) gated |= g.metric() == "jerk";
  CHECK(gated);
}

TEST_CASE(
    "a plugin that cannot be found, or that disagrees with its declaration, is refused at "
    "submission",
    "[scheduler][plugins]") {
  Farm farm(1);
  farm.wait_for_boards(1);
  harness::Client c(farm.client());
  auto submit = [&](const std::string& block) {
    auto req = paired_request(farm.dir, 2);
    req.suite = plugin_suite(farm.dir, block).string();
    c.submit(harness::prepare_run(c, req));
  };
  CHECK_THROWS_WITH(submit("library: \"/nonexistent/libnope.so\" direction: LOWER_IS_BETTER"),
                    Catch::Contains("metric plugin /nonexistent/libnope.so: cannot load"));
  CHECK_THROWS_WITH(submit("library: \"no_such_plugin\" direction: LOWER_IS_BETTER"),
                    Catch::Contains("metric plugin 'no_such_plugin' not found"));
  CHECK_THROWS_WITH(submit("library: \"" + kPlugin + "\" direction: HIGHER_IS_BETTER"),
                    Catch::Contains("metric 'jerk': the suite says higher is better") &&
                        Catch::Contains("says lower"));
  CHECK_THROWS_WITH(submit("library: \"" + kPlugin + "\" direction: LOWER_IS_BETTER unit: \"m\""),
                    Catch::Contains("the suite gives unit 'm'"));
  CHECK_THROWS_WITH(
      submit("library: \"" + kPlugin + "\" params: \"bogus\" direction: LOWER_IS_BETTER"),
      Catch::Contains("refuses params 'bogus': params: expected head=NAME"));
  // Nothing was stored for the refused runs.
  db::Database d(farm.dir / "hil.db", db::OpenMode::kReadOnly);
  auto st = d.prepare("SELECT COUNT(*) FROM runs");
  st.step();
  CHECK(st.int64(0) == 0);
}

TEST_CASE("a plugin that fails on an eval fails that eval with its message, not the board",
          "[scheduler][plugins]") {
  Farm farm(2);
  farm.wait_for_boards(2);
  harness::Client c(farm.client());
  auto req = paired_request(farm.dir, 2);
  req.suite =
      plugin_suite(farm.dir, "library: \"" + kFailing + "\" direction: LOWER_IS_BETTER").string();
  auto ack = c.submit(harness::prepare_run(c, req));
  REQUIRE(c.watch(ack.run_id(), {}).state() == "done");
  db::Database d(farm.dir / "hil.db", db::OpenMode::kReadOnly);
  auto st = d.prepare("SELECT state, failure, attempts FROM evals WHERE run_id = ?1");
  st.bind_all(ack.run_id());
  int n = 0;
  while (st.step()) {
    ++n;
    CHECK(st.text(0) == "failed");
    CHECK_THAT(st.text(1), Catch::Contains("metric 'jerk'") &&
                               Catch::Contains("this test plugin fails on every eval"));
    CHECK(st.int64(2) == 1);  // not retried elsewhere: the suite's fault
  }
  CHECK(n == 6);  // 3 clips x 2 revisions
  auto boards = d.prepare("SELECT COUNT(*) FROM boards WHERE health = 'quarantined'");
  boards.step();
  CHECK(boards.int64(0) == 0);
}

TEST_CASE(
    "the scheduler itself refuses a revision without an interface, or one lacking a head the suite "
    "reads",
    "[scheduler][interface]") {
  Farm farm(1);
  farm.wait_for_boards(1);
  harness::Client c(farm.client());
  // A well-formed run, then its candidate swapped for blobs the client-side
  // checks would have refused: the scheduler must not rely on the client.
  auto run = harness::prepare_run(c, paired_request(farm.dir, 2));
  const std::string junk = "not an ONNX model at all";
  run.mutable_candidate()->set_sha256(c.upload_bytes(junk, "junk"));
  run.mutable_candidate()->set_name("junk");
  CHECK_THROWS_WITH(c.submit(run), Catch::Contains("revision junk carries no model interface"));
  // A real network whose interface calls its lead head "lead2": the suite's lead_recall reads
  // "lead".
  auto bytes = evals::read_file(write_revision(farm.dir, "renamed", 3));
  auto text = *evals::onnx_interface_text(bytes);
  auto pos = text.find("head: \"lead\"");
  REQUIRE(pos != std::string::npos);
  text.replace(pos, 12, "head: \"lead2\"");
  const auto renamed = dual_engine::embed_interface(bytes, text);
  run.mutable_candidate()->set_sha256(c.upload_bytes(renamed, "renamed"));
  run.mutable_candidate()->set_name("renamed");
  CHECK_THROWS_WITH(
      c.submit(run),
      Catch::Contains("revision renamed") &&
          Catch::Contains("metric 'lead_recall' reads head 'lead', which the model does "
                          "not have (its heads: control, lead2, ego)"));
  db::Database d(farm.dir / "hil.db", db::OpenMode::kReadOnly);
  auto st = d.prepare("SELECT COUNT(*) FROM runs");
  st.step();
  CHECK(st.int64(0) == 0);  // nothing stored for either
}
