#include <catch2/catch.hpp>

#include <cmath>

#include "hil/evals/metrics.h"

using namespace hil;

TEST_CASE("the scorer computes errors against ground truth", "[metrics]") {
  evals::EvalScorer scorer;
  for (int k = 0; k < 4; ++k) {
    clip::Frame f;
    f.mutable_labels()->mutable_ego()->set_lane_offset(0.5);
    f.mutable_labels()->mutable_ego()->set_lead_present(k < 2);
    f.mutable_labels()->mutable_ego()->set_lead_distance(20);
    f.mutable_control()->set_steering(0.01);
    evals::FrameRecord r;
    r.outputs = {0.3f, 0.0f, k == 0 ? 0.9f : 0.1f, 22.0f, 0.02f, 0.0f};
    r.device_ms = 10 + k;
    r.deadline_missed = k == 3;
    scorer.add_frame(f, r);
  }
  auto m = scorer.summary();
  CHECK(m["lane_offset_mae"] == Approx(0.2));
  CHECK(m["steering_mae"] == Approx(0.01));
  CHECK(m["lead_tp"] == 1);
  CHECK(m["lead_fn"] == 1);
  CHECK(m["lead_recall"] == Approx(0.5));
  CHECK(m["lead_distance_mae"] == Approx(2.0));
  CHECK(m["device_latency_max_ms"] == Approx(13));
  CHECK(m["deadline_misses"] == 1);
  for (const auto& [name, value] : m) CHECK(evals::find_metric(name) != nullptr);
}

TEST_CASE("per-frame series round-trip through the compressed codec", "[metrics]") {
  std::vector<float> v{1.5f, -2.25f, NAN, 0.0f, 1e-7f};
  auto blob = evals::encode_series(v);
  auto back = evals::decode_series(blob, 5);
  REQUIRE(back.size() == 5);
  CHECK(back[0] == 1.5f);
  CHECK(back[1] == -2.25f);
  CHECK(std::isnan(back[2]));
  CHECK(back[4] == 1e-7f);
  CHECK_THROWS(evals::decode_series(blob, 6));
  CHECK_THROWS(evals::decode_series("garbage", 5));
}

TEST_CASE("percentiles use the nearest rank", "[metrics]") {
  CHECK(evals::percentile({5, 1, 3, 2, 4}, 0.5) == 3);
  CHECK(evals::percentile({5, 1, 3, 2, 4}, 0.99) == 5);
  CHECK(evals::percentile({}, 0.5) == 0);
}
