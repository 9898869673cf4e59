// The metric catalogue, scored through EvalScorer on hand-built frames: every
// expected value is worked out by hand in the comment beside it.
#include <catch2/catch.hpp>

#include <cmath>

#include "hil/evals/metrics.h"
#include "hil/evals/model_interface.h"
#include "hil/evals/suite.h"

#include <google/protobuf/text_format.h>

using namespace hil;

namespace {

model::ModelInterface sample_interface(bool with_control = true) {
  std::string text = R"pb(
    inputs { input: "image" cameras: "front" }
    outputs {
      output: "out"
      head: "ego"
      tensor { fields: [ "lane_offset", "lane_heading" ] }
    }
    outputs {
      output: "out"
      head: "lead"
      lead { score: 2 distance: 3 }
    }
    outputs {
      output: "boxes"
      head: "objects"
      objects {
        form: TOP_K
        camera: "front"
        classes: [ "car", "pedestrian" ]
      }
    }
    outputs {
      output: "lines"
      head: "lanes"
      lanes {
        lines: 3
        x: [ 10, 20, 40 ]
      }
    }
  )pb";
  if (with_control)
    text += R"pb(outputs {
                   output: "out"
                   head: "control"
                   control { steering: 4 acceleration: 5 }
                 })pb";
  return evals::parse_interface(text, "test interface");
}

suite::MetricSpec spec(const std::string& text) {
  suite::MetricSpec m;
  REQUIRE(google::protobuf::TextFormat::ParseFromString(text, &m));
  return m;
}

outputs::HeadOutput* head(evals::FrameRecord& r, const std::string& name) {
  auto* h = r.outputs.add_heads();
  h->set_head(name);
  return h;
}

evals::FrameRecord record() {
  evals::FrameRecord r;
  r.outputs.set_has_outputs(true);
  return r;
}

void add_box(outputs::HeadOutput* h, clip::ObjectClass cls, float score, float x0, float y0,
             float x1, float y1) {
  auto* d = h->add_objects();
  d->set_cls(cls);
  d->set_score(score);
  d->set_camera("front");
  d->set_x0(x0), d->set_y0(y0), d->set_x1(x1), d->set_y1(y1);
}

void add_truth_box(clip::Frame& f, clip::ObjectClass cls, double x0, double y0, double x1,
                   double y1) {
  auto* o = f.mutable_labels()->add_objects();
  o->set_cls(cls);
  o->set_visibility(clip::VISIBLE);
  auto* b = o->add_boxes();
  b->set_camera("front");
  b->set_x0(x0), b->set_y0(y0), b->set_x1(x1), b->set_y1(y1);
}

void add_line(clip::Frame& f, double y) {
  auto* l = f.mutable_labels()->add_lanes();
  for (double x = 3; x <= 60; x += 3) {
    auto* p = l->add_points();
    p->set_x(x);
    p->set_y(y);
  }
}

}  // namespace

TEST_CASE("regression metrics take MAE, RMSE and P95 over frames with outputs that pass the filter",
          "[metrics]") {
  std::vector<suite::MetricSpec> specs{
      spec(R"pb(name: "mae"
                regression { head: "ego" field: "lane_offset" truth: "ego.lane_offset" })pb"),
      spec(R"pb(name: "rmse"
                regression {
                  head: "ego"
                  field: "lane_offset"
                  truth: "ego.lane_offset"
                  statistic: RMSE
                })pb"),
      spec(R"pb(name: "p95"
                regression {
                  head: "ego"
                  field: "lane_offset"
                  truth: "ego.lane_offset"
                  statistic: P95
                })pb"),
      spec(R"pb(name: "mae_lead"
                regression {
                  head: "ego"
                  field: "lane_offset"
                  truth: "ego.lane_offset"
                  filter: LEAD_PRESENT
                })pb")};
  evals::EvalScorer scorer(specs, sample_interface());
  // Truth 0.5 everywhere; outputs 0.3, 0.5, 0.9, 1.5, and a fifth frame with no outputs (a gap).
  const float outs[] = {0.3f, 0.5f, 0.9f, 1.5f};
  for (int k = 0; k < 5; ++k) {
    clip::Frame f;
    f.mutable_labels()->mutable_ego()->set_lane_offset(0.5);
    f.mutable_labels()->mutable_ego()->set_lead_present(k < 2);
    auto r = record();
    if (k < 4) {
      head(r, "ego")->add_values(outs[k]);
      r.outputs.mutable_heads(0)->add_values(0);
    } else {
      r.outputs.Clear();
      r.has_command = false;
    }
    scorer.add_frame(f, r);
  }
  auto m = scorer.summary();
  // |errors| = 0.2, 0, 0.4, 1.0 (the gap frame is not scored).
  CHECK(m.at("mae") == Approx((0.2 + 0 + 0.4 + 1.0) / 4));                // 0.4
  CHECK(m.at("rmse") == Approx(std::sqrt((0.04 + 0 + 0.16 + 1.0) / 4)));  // sqrt(0.3)
  CHECK(m.at("p95") == Approx(1.0));                 // nearest rank ceil(3.8) = 4th of 4
  CHECK(m.at("mae_lead") == Approx((0.2 + 0) / 2));  // frames 0 and 1 have a lead
  CHECK(m.at("command_gaps") == 1);
  CHECK(m.at("output_gaps") == 1);
  // The truth series the viewer draws beside the output.
  bool has_truth = false;
  for (const auto& s : scorer.series())
    has_truth |= s.name == "truth.ego.lane_offset" && s.values.size() == 5;
  CHECK(has_truth);
}

TEST_CASE("lead metrics count frames: recall, precision and distance error", "[metrics]") {
  std::vector<suite::MetricSpec> specs{
      spec(R"pb(name: "recall"
                lead { head: "lead" })pb"),
      spec(R"pb(name: "precision"
                lead { head: "lead" output: LEAD_PRECISION })pb"),
      spec(R"pb(name: "distance"
                lead { head: "lead" output: LEAD_DISTANCE_MAE })pb")};
  evals::EvalScorer scorer(specs, sample_interface());
  // Truth lead: yes, yes, no, no. Predicted: yes, no, yes, no.
  const bool truth[] = {true, true, false, false}, said[] = {true, false, true, false};
  for (int k = 0; k < 4; ++k) {
    clip::Frame f;
    f.mutable_labels()->mutable_ego()->set_lead_present(truth[k]);
    f.mutable_labels()->mutable_ego()->set_lead_distance(20);
    auto r = record();
    auto* h = head(r, "lead");
    h->set_lead_present(said[k]);
    h->set_lead_distance(22);
    scorer.add_frame(f, r);
  }
  auto m = scorer.summary();
  CHECK(m.at("recall.tp") == 1);
  CHECK(m.at("recall.fn") == 1);
  CHECK(m.at("recall") == Approx(0.5));  // 1 / (1 + 1)
  CHECK(m.at("precision.fp") == 1);
  CHECK(m.at("precision") == Approx(0.5));  // 1 / (1 + 1)
  CHECK(m.at("distance") == Approx(2.0));   // frame 0 only: |22 - 20|
}

TEST_CASE("detection AP, precision and recall per clip, with classes and ignore regions",
          "[metrics][detection]") {
  auto ap = spec(R"pb(name: "ap"
                      detection { head: "objects" interpolation: VOC_ALL_POINTS })pb");
  auto precision = spec(R"pb(name: "p"
                             detection { head: "objects" output: PRECISION })pb");
  auto recall = spec(R"pb(name: "r"
                          detection { head: "objects" output: RECALL })pb");
  auto peds = spec(R"pb(name: "ap_ped"
                        detection {
                          head: "objects"
                          classes: [ "pedestrian" ]
                        })pb");
  auto run = [&](bool ignore_region) {
    evals::EvalScorer scorer({ap, precision, recall, peds}, sample_interface());
    // Frame 0: cars at [0,0,10,10] and [50,50,60,60]; detections: the first (0.9), one at
    // [80,80,90,90] matching nothing (0.8), the second (0.7). Frame 1: a car nobody sees.
    clip::Frame f0, f1;
    add_truth_box(f0, clip::CLASS_CAR, 0, 0, 10, 10);
    add_truth_box(f0, clip::CLASS_CAR, 50, 50, 60, 60);
    add_truth_box(f1, clip::CLASS_CAR, 20, 20, 30, 30);
    if (ignore_region) {
      auto* r = f0.mutable_labels()->add_ignore_regions();
      r->set_camera("front");
      r->set_x0(75), r->set_y0(75), r->set_x1(95), r->set_y1(95);
    }
    auto r0 = record();
    auto* h = head(r0, "objects");
    add_box(h, clip::CLASS_CAR, 0.9f, 0, 0, 10, 10);
    add_box(h, clip::CLASS_CAR, 0.8f, 80, 80, 90, 90);
    add_box(h, clip::CLASS_CAR, 0.7f, 50, 50, 60, 60);
    scorer.add_frame(f0, r0);
    auto r1 = record();
    head(r1, "objects");
    scorer.add_frame(f1, r1);
    return std::make_pair(scorer.summary(), scorer.series());
  };
  SECTION("without an ignore region") {
    auto [m, series] = run(false);
    // Ranked: TP, FP, TP of 3 truths: recall 1/3, 1/3, 2/3; precision 1, 1/2, 2/3.
    // VOC all-point: 1/3 * 1 + (2/3 - 1/3) * 2/3 = 5/9.
    CHECK(m.at("ap") == Approx(5.0 / 9.0));
    CHECK(m.at("p") == Approx(2.0 / 3.0));  // at score 0.5: 2 TP, 1 FP
    CHECK(m.at("r") == Approx(2.0 / 3.0));  // 2 of 3 cars
    CHECK(m.at("r.fn") == 1);
    // No pedestrian anywhere: AP undefined on this clip, so not reported (not paired by the gate).
    CHECK(m.count("ap_ped") == 0);
    for (const auto& s : series) {
      if (s.name == "frame.ap")
        CHECK(s.values == std::vector<float>{1, 1});  // frame 0: 1 FP; frame 1: 1 miss
    }
  }
  SECTION("a detection inside a DontCare region is neither true nor false") {
    auto [m, series] = run(true);
    // Ranked: TP, TP of 3 truths: recall 1/3, 2/3 at precision 1: AP = 2/3.
    CHECK(m.at("ap") == Approx(2.0 / 3.0));
    CHECK(m.at("p") == Approx(1.0));
  }
}

TEST_CASE("lane metrics match lines by mean lateral distance, then score the matched ones",
          "[metrics]") {
  std::vector<suite::MetricSpec> specs{spec(R"pb(name: "f1"
                                                 lane { head: "lanes" output: LANE_F1 })pb"),
                                       spec(R"pb(name: "err20"
                                                 lane { head: "lanes" x: 20 })pb")};
  evals::EvalScorer scorer(specs, sample_interface());
  clip::Frame f;
  add_line(f, 1.8);
  add_line(f, -1.8);
  add_line(f, 5.4);
  auto r = record();
  auto* h = head(r, "lanes");
  // Predicted: 1.9 (0.1 m from 1.8: a match), -1.0 (0.8 m from -1.8: beyond 0.5 m), 8.0 (none
  // near).
  for (float y : {1.9f, -1.0f, 8.0f}) {
    auto* l = h->add_lanes();
    for (float x : {10.0f, 20.0f, 40.0f}) {
      l->add_x(x);
      l->add_y(y);
    }
  }
  scorer.add_frame(f, r);
  auto m = scorer.summary();
  // 1 matched, 2 predicted unmatched, 2 labelled unmatched: F1 = 2 / (2 + 2 + 2).
  CHECK(m.at("f1") == Approx(1.0 / 3.0));
  CHECK(m.at("f1.tp2") == 2);
  CHECK(m.at("f1.errors") == 4);
  CHECK(m.at("err20") == Approx(0.1));
}

TEST_CASE("command gaps are counted only for a network with a control head", "[metrics]") {
  for (bool control : {true, false}) {
    evals::EvalScorer scorer({}, sample_interface(control));
    auto r = record();
    r.has_command = false;
    r.outputs.set_has_outputs(false);
    scorer.add_frame(clip::Frame(), r);
    auto m = scorer.summary();
    CHECK(m.count("command_gaps") == (control ? 1u : 0u));
    CHECK(m.at("output_gaps") == 1);
  }
}

TEST_CASE("declared metrics define their unit, direction and the counts behind ratios",
          "[metrics]") {
  auto defs = evals::metric_defs(spec(R"pb(name: "r"
                                           detection {
                                             head: "objects"
                                             output: RECALL
                                             classes: [ "car" ]
                                           })pb"));
  REQUIRE(defs.size() == 3);
  CHECK(defs[0].direction == suite::HIGHER_IS_BETTER);
  CHECK(defs[0].ratio_numerator == "r.tp");
  CHECK(defs[0].ratio_other == "r.fn");
  CHECK(defs[0].description.find("2D IoU") != std::string::npos);
  CHECK(defs[1].auxiliary);
  auto reg = evals::metric_defs(
      spec(R"pb(name: "s"
                regression { head: "c" field: "steering" truth: "control.steering" })pb"));
  CHECK(reg[0].unit == "rad");
  CHECK(reg[0].direction == suite::LOWER_IS_BETTER);
  CHECK(reg[0].series == "out.c.steering");
  CHECK(evals::metric_spec_error(
            spec(R"pb(name: "x"
                      regression { head: "c" field: "f" truth: "ego.speed" })pb"))
            .find("unknown truth field 'ego.speed'") != std::string::npos);
  CHECK(evals::metric_spec_error(spec(R"pb(name: "x")pb")).find("has no kind") !=
        std::string::npos);
  CHECK(evals::metric_spec_error(spec(R"pb(name: "frames"
                                           lead { head: "l" })pb"))
            .find("system metric") != std::string::npos);
}

TEST_CASE("a suite is checked against the model's heads and the clips' cameras and truth",
          "[metrics][suite]") {
  auto suite = evals::parse_suite(
      R"pb(
        name: "s"
        board_type: "b"
        clips { sha256: "0000000000000000000000000000000000000000000000000000000000000000" }
        scenarios { name: "split" }
        metrics {
          name: "ap"
          detection { head: "objects" }
        }
        metrics {
          name: "steer"
          regression { head: "control" field: "steering" truth: "control.steering" }
        }
        gates { metric: "ap" max_abs_degradation: 0.05 }
        gates { metric: "command_gaps" max_abs_degradation: 0 }
      )pb",
      "s.textproto");
  clip::ClipHeader header;
  header.set_format_version(2);
  header.add_cameras()->set_name("front");
  header.add_truth("objects.2d");
  header.add_truth("control");
  const std::vector<std::pair<std::string, clip::ClipHeader>> clips{{"drive-1", header}};
  CHECK_NOTHROW(evals::check_suite_fit(suite, sample_interface(), "cand", clips));
  // A model without a control head: the regression metric reads a head it lacks.
  CHECK_THROWS_WITH(
      evals::check_suite_fit(suite, sample_interface(false), "cand", clips),
      Catch::Contains("metric 'steer' reads head 'control', which the model does not have"));
  // A clip without 2D boxes.
  auto no_boxes = header;
  no_boxes.clear_truth();
  no_boxes.add_truth("control");
  CHECK_THROWS_WITH(
      evals::check_suite_fit(suite, sample_interface(), "cand", {{"drive-2", no_boxes}}),
      Catch::Contains(
          "metric 'ap' needs ground truth 'objects.2d', which clip drive-2 does not carry"));
  // A clip without the camera the model reads.
  auto other_camera = header;
  other_camera.mutable_cameras(0)->set_name("left");
  CHECK_THROWS_WITH(
      evals::check_suite_fit(suite, sample_interface(), "cand", {{"drive-3", other_camera}}),
      Catch::Contains("camera 'front', which clip drive-3 does not have"));
  // A gate on a metric nobody declared names the declared ones.
  CHECK_THROWS_WITH(
      evals::parse_suite(
          R"pb(
            name: "s"
            board_type: "b"
            clips { sha256: "0000000000000000000000000000000000000000000000000000000000000000" }
            scenarios { name: "split" }
            metrics {
              name: "ap"
              detection { head: "objects" }
            }
            gates { metric: "map" max_abs_degradation: 0.05 }
          )pb",
          "t.textproto"),
      Catch::Contains(
          "t.textproto:10: field 'gates.metric': unknown metric 'map': declare it under "
          "metrics (declared: ap)"));
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

TEST_CASE("decoded outputs round-trip through their codec, and garbage is refused", "[metrics]") {
  outputs::EvalOutputs out;
  auto* f = out.add_frames();
  f->set_has_outputs(true);
  auto* h = f->add_heads();
  h->set_head("objects");
  h->add_objects()->set_score(0.75f);
  auto back = evals::decode_outputs(evals::encode_outputs(out));
  REQUIRE(back.frames_size() == 1);
  CHECK(back.frames(0).heads(0).objects(0).score() == 0.75f);
  CHECK_THROWS(evals::decode_outputs("garbage"));
  CHECK_THROWS(evals::decode_outputs(evals::encode_outputs(out), "zlib-f32le"));
}

TEST_CASE("percentiles use the nearest rank", "[metrics]") {
  CHECK(evals::percentile({5, 1, 3, 2, 4}, 0.5) == 3);
  CHECK(evals::percentile({5, 1, 3, 2, 4}, 0.99) == 5);
  CHECK(evals::percentile({}, 0.5) == 0);
}
