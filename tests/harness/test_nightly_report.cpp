#include <catch2/catch.hpp>

#include <map>

#include <fmt/format.h>

#include "fixtures.h"
#include "hil/db/database.h"
#include "hil/db/store.h"
#include "hil/harness/nightly_report.h"

using namespace hil;

TEST_CASE("the nightly report shows tonight's values, the change and the night it moved",
          "[report]") {
  test::TempDir dir;
  db::Database d(dir / "n.db");
  db::Store s(d);
  s.sync_metric_defs({{"lane_offset_mae", "m", "lower", ""}, {"steering_mae", "rad", "lower", ""}});
  // The report takes its metrics and slices from what the night's suite
  // declares and gates: no metric name is known to the report itself.
  auto suite = s.upsert_suite(
      "nightly",
      std::string("name: \"nightly\" board_type: \"b\"\n") + test::kSampleMetrics +
          "gates { metric: \"lane_offset_mae\" max_abs_degradation: 0.02 blocking: true }\n",
      std::string(64, 's'));
  std::vector<int64_t> clips;
  for (int c = 0; c < 6; ++c) {
    clips.push_back(s.upsert_clip({0,
                                   fmt::format("{:064}", c),
                                   fmt::format("clip-{}", c),
                                   {c % 2 ? "snow" : "clear"},
                                   10,
                                   36}));
  }
  for (int night = 1; night <= 10; ++night) {
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
      double lane =
          (night >= 6 ? 0.40 : 0.20) +
          0.001 * static_cast<double>(e.clip_id);  // moved on night 6 (five nights each side)
      o.metrics = {{"lane_offset_mae", lane}, {"steering_mae", 0.01}};
      s.record_outcome(o);
    }
  }
  s.upsert_board("rack-000", "slowed-hw3", "idle", "x");
  harness::NightlyReportOptions o;
  auto md = harness::render_nightly_report(s, o);
  INFO(md);
  CHECK(md.find("2026-11-10") != std::string::npos);
  CHECK(md.find("| `base` | `lane_offset_mae` | 0.4035 | 0.4035 | +0 | 2026-11-06") !=
        std::string::npos);
  CHECK(md.find("| `base` | `steering_mae` | 0.01 | 0.01 | +0 | - |") != std::string::npos);
  CHECK(md.find("| `base` | `lane_offset_mae` | snow |") != std::string::npos);
  CHECK(md.find("rack-000") != std::string::npos);
  o.html = true;
  auto html = harness::render_nightly_report(s, o);
  CHECK(html.find("<svg") != std::string::npos);
  CHECK(html.find("<polyline") != std::string::npos);
}

TEST_CASE("object-class and traffic slices count a clip in each of its classes and nowhere else",
          "[report]") {
  test::TempDir dir;
  db::Database d(dir / "c.db");
  db::Store s(d);
  s.sync_metric_defs({{"lane_offset_mae", "m", "lower", ""}});
  auto suite = s.upsert_suite("nightly", "x", std::string(64, 's'));
  auto clip = [&](int i, std::vector<std::string> tags) {
    return s.upsert_clip(
        {0, fmt::format("{:064}", i), fmt::format("clip-{}", i), std::move(tags), 10, 36});
  };
  const auto walker = clip(
      0, {"snow", "road:straight", "traffic:cut-in", "lanes:3", "class:car", "class:pedestrian"});
  const auto cars = clip(1, {"clear", "road:straight", "traffic:free", "lanes:3", "class:car"});
  const auto truck = clip(2, {"clear", "road:straight", "traffic:free", "lanes:3", "class:truck"});
  // Lane error per clip and night: only the pedestrian clip moves (0.5 -> 0.7).
  const std::map<int64_t, std::pair<double, double>> lane{
      {walker, {0.5, 0.7}}, {cars, {0.1, 0.1}}, {truck, {0.3, 0.3}}};
  for (int night = 1; night <= 2; ++night) {
    auto rev = s.upsert_revision({0, fmt::format("{:063}{}", 0, night), "base", "", "", "", 1});
    std::vector<db::NewEval> evals{{rev, walker, "split"},
                                   {rev, cars, "split"},
                                   {rev, truck, "split"},
                                   {rev, truck, "single"}};
    auto run = s.create_run("nightly", rev, std::nullopt, suite, "nightly", evals);
    s.set_run_night(run, fmt::format("2026-11-{:02}", night));
    for (const auto& e : s.evals_of_run(run)) {
      db::EvalOutcome o;
      o.eval_id = e.id;
      o.board = "rack-000";
      // A failed eval's metrics must not reach any slice.
      o.succeeded = e.scenario == "split";
      const auto& v = lane.at(e.clip_id);
      o.metrics = {{"lane_offset_mae", o.succeeded ? (night == 1 ? v.first : v.second) : 9.0}};
      REQUIRE(s.record_outcome(o));
    }
  }
  harness::NightlyReportOptions o;
  o.metrics = {"lane_offset_mae"};
  o.slice_metrics = {"lane_offset_mae"};
  auto md = harness::render_nightly_report(s, o);
  INFO(md);
  const auto conditions = md.find("## Tonight by condition");
  const auto classes = md.find("## Tonight by object class");
  const auto traffic = md.find("## Tonight by traffic pattern");
  REQUIRE(conditions != std::string::npos);
  REQUIRE(classes != std::string::npos);
  REQUIRE(traffic != std::string::npos);
  CHECK(conditions < classes);
  CHECK(classes < traffic);
  const std::string class_table = md.substr(classes, traffic - classes);
  // The pedestrian clip alone makes the pedestrian slice; with the car-only clip it makes the car
  // slice.
  CHECK(class_table.find("| `base` | `lane_offset_mae` | pedestrian | 0.7 | 0.5 | +0.2 | 1 |") !=
        std::string::npos);
  CHECK(class_table.find("| `base` | `lane_offset_mae` | car | 0.4 | 0.3 | +0.1 | 2 |") !=
        std::string::npos);
  CHECK(class_table.find("| `base` | `lane_offset_mae` | truck | 0.3 | 0.3 | +0 | 1 |") !=
        std::string::npos);
  CHECK(class_table.find("cyclist") == std::string::npos);
  const std::string traffic_table = md.substr(traffic, md.find("## ", traffic + 3) - traffic);
  CHECK(traffic_table.find("| `base` | `lane_offset_mae` | cut-in | 0.7 | 0.5 | +0.2 | 1 |") !=
        std::string::npos);
  CHECK(traffic_table.find("| `base` | `lane_offset_mae` | free | 0.2 | 0.2 | +0 | 2 |") !=
        std::string::npos);
  const std::string condition_table = md.substr(conditions, classes - conditions);
  CHECK(condition_table.find("| `base` | `lane_offset_mae` | snow | 0.7 | 0.5 | +0.2 | 1 |") !=
        std::string::npos);
  CHECK(condition_table.find("| `base` | `lane_offset_mae` | clear | 0.2 | 0.2 | +0 | 2 |") !=
        std::string::npos);
  // Generator tags that are not slices stay out of every table.
  CHECK(md.find("straight") == std::string::npos);
  CHECK(md.find("lanes:") == std::string::npos);

  o.html = true;
  auto html = harness::render_nightly_report(s, o);
  CHECK(html.find("<th>object class</th>") != std::string::npos);
  CHECK(html.find(
            "<td>pedestrian</td><td>0.7</td><td>0.5</td><td class=\"worse\">+0.2</td><td>1</td>") !=
        std::string::npos);
}
