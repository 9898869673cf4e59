#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "fixtures.h"
#include "hil/evals/gate.h"
#include "hil/evals/sha256.h"
#include "hil/harness/gating.h"

using namespace hil;

namespace {

harness::VerdictView sample_view() {
  harness::VerdictView v;
  v.run_id = 42;
  v.candidate = "snow<blind>&\"co\"";
  v.baseline = "base";
  v.candidate_sha = std::string(64, 'b');
  v.baseline_sha = std::string(64, 'a');
  v.suite = "low-visibility";
  v.verdict = "fail";
  v.summary = "fail: 90 paired clips, 1 blocking metric(s) regressed";
  v.evals_total = 180;
  v.evals_succeeded = 180;
  db::GateRow fail{"lane_offset_mae", "all", true, "fail", 90, 0.31, 0.51, 0.2, 0.14, 0.25, 0.02,
                   "worse <by> 0.2"};
  db::GateRow pass{"steering_mae", "all",  true,   "pass", 90,    0.013,
                   0.012,          -0.001, -0.002, 0.0005, 0.001, "within"};
  db::GateRow unsure{"lead_recall", "all", true,  "inconclusive", 90,   0.7,
                     0.69,          0.01,  -0.03, 0.05,           0.03, "straddles"};
  unsure.flips_to_worse = 12;
  unsure.flips_to_better = 3;
  unsure.flips_p = 0.035;
  db::GateRow slice{
      "lane_offset_mae", "snow", false, "fail", 30, 0.33, 0.73, 0.4, 0.28, 0.53, 0.02, "snow"};
  v.rows = {fail, pass, unsure, slice};
  v.worst_clips.push_back({"lane_offset_mae", 1, std::string(64, 'c'), "gen-snow-1", "split", 0.28,
                           1.2, 0.92, 36, 1.8, "out.lane_offset", 1, 2});
  return v;
}

}  // namespace

TEST_CASE("the JUnit report validates against the Jenkins JUnit schema and carries the numbers",
          "[reports]") {
  test::TempDir dir;
  auto v = sample_view();
  auto xml = harness::render_junit(v);
  auto path = dir / "junit.xml";
  evals::write_file_atomic(path, xml);
  std::string xsd = std::string(HIL_TEST_DATA) + "/junit-10.xsd";
  std::string cmd = "xmllint --noout --schema '" + xsd + "' '" + path.string() + "' 2>" +
                    (dir / "xmllint.log").string();
  int rc = std::system(cmd.c_str());
  INFO(evals::read_file(dir / "xmllint.log"));
  CHECK(rc == 0);
  CHECK(xml.find("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\"") != std::string::npos);
  CHECK(xml.find("type=\"regression\"") != std::string::npos);
  CHECK(xml.find("worse by 0.2") != std::string::npos);
  CHECK(xml.find("snow&lt;blind&gt;&amp;&quot;co&quot;") != std::string::npos);
  CHECK(xml.find("--frame 36") != std::string::npos);

  SECTION("a schema-breaking document is caught (the check can fail)") {
    evals::write_file_atomic(
        path, "<testsuites><testsuite tests=\"1\"><testcase/></testsuite></testsuites>");
    CHECK(std::system(cmd.c_str()) != 0);
  }
}

TEST_CASE("the Markdown summary is a table with the regression, the flips and where to look",
          "[reports]") {
  auto md = harness::render_markdown(sample_view());
  CHECK(md.find("**FAIL**") != std::string::npos);
  CHECK(md.find("| metric | verdict |") != std::string::npos);
  CHECK(md.find("| `lane_offset_mae` | ❌ **fail** |") != std::string::npos);
  CHECK(md.find("McNemar over clips p=0.035") != std::string::npos);
  CHECK(md.find("hil-viewer hil.db --a aaaaaaaaaaaa --b bbbbbbbbbbbb --clip cccc") !=
        std::string::npos);
  CHECK(md.find("Regressed slices") != std::string::npos);
  // Every table row has the same number of cells as its header.
  std::istringstream in(md);
  std::string line;
  size_t header_cells = 0;
  while (std::getline(in, line)) {
    if (line.rfind("|", 0) != 0) {
      header_cells = 0;
      continue;
    }
    size_t cells = static_cast<size_t>(std::count(line.begin(), line.end(), '|'));
    if (header_cells == 0) header_cells = cells;
    CHECK(cells == header_cells);
  }
}

TEST_CASE("the terminal table names the verdict and the worst clip with its viewer command",
          "[reports]") {
  auto text = harness::render_verdict_table(sample_view());
  CHECK(text.find("VERDICT: FAIL") != std::string::npos);
  CHECK(text.find("worst clips for lane_offset_mae") != std::string::npos);
  CHECK(text.find("12 clips flipped more frames right->wrong, 3 more wrong->right") !=
        std::string::npos);
  auto json = harness::render_json(sample_view());
  CHECK(json.find("\"verdict\": \"fail\"") != std::string::npos);
  CHECK(json.find("snow<blind>&\\\"co\\\"") != std::string::npos);
}

TEST_CASE("an invalid run is reported as an error of the run with what to do next, in every form",
          "[reports]") {
  test::TempDir dir;
  auto v = sample_view();
  v.verdict = "invalid";
  v.summary = evals::summary_with_next_steps(
      "invalid: 90 paired clips, 1 blocking metric(s) regressed, 3 evals missing or failed; 3 of "
      "180 evals missing or "
      "failed; the suite allows 0",
      {"rerun the gate", "rerun on healthy boards"});
  const auto text = harness::render_verdict_table(v);
  CHECK(text.find("VERDICT: INVALID") != std::string::npos);
  CHECK(text.find("cannot be judged") != std::string::npos);
  CHECK(text.find("next: rerun the gate\nnext: rerun on healthy boards\n") != std::string::npos);
  CHECK(text.find(" | next: ") == std::string::npos);  // the marker never shows

  const auto md = harness::render_markdown(v);
  CHECK(md.find("🚫 hil gate: **INVALID**") != std::string::npos);
  CHECK(md.find("**What to do next:**\n\n- rerun the gate\n- rerun on healthy boards\n") !=
        std::string::npos);

  const auto xml = harness::render_junit(v);
  CHECK(xml.find("hil.gate.low-visibility.validity\" tests=\"1\" failures=\"0\" errors=\"1\"") !=
        std::string::npos);
  CHECK(xml.find("type=\"invalid\"") != std::string::npos);
  auto path = dir / "junit.xml";
  evals::write_file_atomic(path, xml);
  std::string cmd = "xmllint --noout --schema '" + std::string(HIL_TEST_DATA) + "/junit-10.xsd' '" +
                    path.string() + "' 2>/dev/null";
  CHECK(std::system(cmd.c_str()) == 0);

  const auto json = harness::render_json(v);
  CHECK(json.find("\"verdict\": \"invalid\"") != std::string::npos);
  CHECK(json.find("\"next_steps\": [\"rerun the gate\", \"rerun on healthy boards\"]") !=
        std::string::npos);
}

TEST_CASE("the reports say where device latency came from: emulated, measured, or a mix of both",
          "[reports]") {
  auto v = sample_view();
  SECTION("emulated") {
    v.device_time_emulated = 180;
    CHECK(harness::latency_source(v) == harness::LatencySource::kEmulated);
    CHECK_THAT(harness::render_verdict_table(v),
               Catch::Contains("device latency emulated by the cost model (identical run to run)"));
    CHECK_THAT(harness::render_json(v), Catch::Contains("\"device_latency\": \"emulated\""));
  }
  SECTION("measured") {
    v.device_time_measured = 180;
    CHECK_THAT(harness::render_markdown(v),
               Catch::Contains(
                   "Device latency measured on the boards (180 evals; it varies run to run)."));
  }
  SECTION("mixed") {
    v.device_time_measured = 100;
    v.device_time_emulated = 80;
    CHECK(harness::latency_source(v) == harness::LatencySource::kMixed);
    CHECK_THAT(harness::render_verdict_table(v),
               Catch::Contains(
                   "device latency mixed: measured in 100 evals, emulated in 80 (latency metrics "
                   "compare unlike figures)"));
    CHECK_THAT(harness::render_json(v), Catch::Contains("\"device_latency\": \"mixed\""));
  }
  SECTION("no succeeded evals: nothing said") {
    CHECK(harness::latency_source(v) == harness::LatencySource::kNone);
    CHECK_THAT(harness::render_markdown(v), !Catch::Contains("atency"));
  }
}
