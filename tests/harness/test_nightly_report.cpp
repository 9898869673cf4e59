#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "fixtures.h"
#include "hil/db/database.h"
#include "hil/db/store.h"
#include "hil/harness/nightly_report.h"

using namespace hil;

TEST_CASE("a change point is found where the nightly level moves, not in noise", "[report]") {
  std::vector<double> step{1.0, 1.01, 0.99, 1.0, 1.02, 1.5, 1.49, 1.51, 1.5};
  auto cp = harness::find_change_point(step, 1);
  CHECK(cp.index == 5);
  CHECK(cp.shift == Approx(0.5).margin(0.03));
  CHECK(cp.p_value < 0.05);
  std::vector<double> flat{1.0, 1.02, 0.98, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0};
  CHECK(harness::find_change_point(flat, 1).p_value > 0.05);
}

TEST_CASE("the nightly report shows tonight's values, the change and the night it moved", "[report]") {
  test::TempDir dir;
  db::Database d(dir / "n.db");
  db::Store s(d);
  s.sync_metric_defs({{"lane_offset_mae", "m", "lower", ""}, {"steering_mae", "rad", "lower", ""}});
  auto suite = s.upsert_suite("nightly", "x", std::string(64, 's'));
  std::vector<int64_t> clips;
  for (int c = 0; c < 6; ++c) {
    clips.push_back(s.upsert_clip({0, fmt::format("{:064}", c), fmt::format("clip-{}", c), {c % 2 ? "snow" : "clear"}, 10, 36}));
  }
  for (int night = 1; night <= 8; ++night) {
    auto rev = s.upsert_revision({0, fmt::format("{:063}{}", 0, night), "base", "", "", "", 1});
    std::vector<db::NewEval> evals;
    for (auto c : clips) evals.push_back({rev, c, "split"});
    auto run = s.create_run("nightly", rev, std::nullopt, suite, "nightly", evals);
    s.set_run_night(run, fmt::format("2026-11-{:02}", night));
    for (const auto& e : s.evals_of_run(run)) {
      db::EvalOutcome o;
      o.eval_id = e.id;
      o.board = "rack-000";
      o.succeeded = true;
      double lane = (night >= 6 ? 0.40 : 0.20) + 0.001 * static_cast<double>(e.clip_id);  // moved on night 6
      o.metrics = {{"lane_offset_mae", lane}, {"steering_mae", 0.01}};
      s.record_outcome(o);
    }
  }
  s.upsert_board("rack-000", "emulated-hw3", "idle", "x");
  harness::NightlyReportOptions o;
  o.metrics = {"lane_offset_mae", "steering_mae"};
  auto md = harness::render_nightly_report(s, o);
  INFO(md);
  CHECK(md.find("2026-11-08") != std::string::npos);
  CHECK(md.find("| `base` | `lane_offset_mae` | 0.4035 | 0.4035 | +0 | 2026-11-06") != std::string::npos);
  CHECK(md.find("| `base` | `steering_mae` | 0.01 | 0.01 | +0 | - |") != std::string::npos);
  CHECK(md.find("| `base` | `lane_offset_mae` | snow |") != std::string::npos);
  CHECK(md.find("rack-000") != std::string::npos);
  o.html = true;
  auto html = harness::render_nightly_report(s, o);
  CHECK(html.find("<svg") != std::string::npos);
  CHECK(html.find("<polyline") != std::string::npos);
}
