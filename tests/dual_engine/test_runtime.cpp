#include <catch2/catch.hpp>

#include "fixtures.h"
#include "hil/dual_engine/runtime.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/clip_generator.h"
#include "hil/evals/suite.h"

#include <cmath>

using namespace hil;
using namespace hil::dual_engine;

namespace {
// The demo suite's metrics: the sample networks' lane, control and lead heads.
const std::vector<suite::MetricSpec>& demo_metrics() {
  static const auto suite = evals::load_suite("demo");
  static const std::vector<suite::MetricSpec> metrics(suite.metrics().begin(),
                                                      suite.metrics().end());
  return metrics;
}

EvalRun play(CompiledRevision& rev, const evals::ClipReader& clip, const std::string& mode,
             int commander = 0) {
  suite::Scenario sc;
  sc.set_name(mode);
  sc.set_mode(mode);
  sc.set_commander(static_cast<uint32_t>(commander));
  return play_eval(rev, clip, sc, demo_metrics());
}
}  // namespace

TEST_CASE("without faults, split, single and redundant modes give bit-identical outputs",
          "[runtime]") {
  use_single_thread_kernels();
  auto model = Model::load(test::tiny_revision(), "tiny");
  CompiledRevision rev(model, load_board_type("slowed-hw3"));
  evals::ClipReader clip(test::sample_clip(901, "fog", 10));
  auto split = play(rev, clip, "split");
  auto single = play(rev, clip, "single");
  auto single1 = play(rev, clip, "single", 1);
  auto redundant = play(rev, clip, "redundant");
  REQUIRE(split.frames.size() == 10);
  for (size_t k = 0; k < split.frames.size(); ++k) {
    CHECK(split.frames[k].outputs == single.frames[k].outputs);
    CHECK(split.frames[k].outputs == single1.frames[k].outputs);
    CHECK(split.frames[k].outputs == redundant.frames[k].outputs);
  }
  CHECK(redundant.events.empty());
  CHECK(single1.frames[0].commander == 1);
}

TEST_CASE("emulated device time is deterministic and split is faster per frame than single",
          "[runtime]") {
  auto model = Model::load(test::tiny_revision(), "tiny");
  CompiledRevision rev(model, load_board_type("slowed-hw3"));
  evals::ClipReader clip(test::sample_clip(902, "clear", 6));
  auto a = play(rev, clip, "split");
  auto b = play(rev, clip, "split");
  for (size_t k = 0; k < a.frames.size(); ++k)
    CHECK(a.frames[k].device_ms == b.frames[k].device_ms);
  CHECK(rev.plan().split_period_us() < rev.plan().standby[0].device_us);
  auto summary = a.scorer.summary();
  CHECK(summary["frames"] == 6);
  CHECK(summary["lane_offset_mae"] > 0);
  CHECK(summary["lane_offset_mae"] < 2.0);
}

TEST_CASE("a camera at another size is resized to the network's input, as its interface says",
          "[runtime]") {
  auto model = Model::load(test::tiny_revision(), "tiny");
  CompiledRevision rev(model, load_board_type("slowed-hw3"));
  evals::ClipSpec spec;
  spec.seed = 5;
  spec.frames = 3;
  spec.width = 256;  // twice the network's 128x64
  spec.height = 128;
  evals::ClipReader large(evals::generate_clip_bytes(spec), "large.clip");
  auto run = play(rev, large, "split");
  REQUIRE(run.frames.size() == 3);
  // The same scene at the network's size gives outputs close to, not equal to, the resized one.
  spec.width = 128;
  spec.height = 64;
  evals::ClipReader native(evals::generate_clip_bytes(spec), "native.clip");
  auto same_size = play(rev, native, "split");
  const auto &a = run.frames[0].outputs.heads(2), &b = same_size.frames[0].outputs.heads(2);
  REQUIRE(a.head() == "ego");
  CHECK(std::abs(a.values(0) - b.values(0)) < 0.5);  // lane offset, metres
}

TEST_CASE("a clip without a camera the interface reads fails clearly, naming both", "[runtime]") {
  auto model = Model::load(test::tiny_revision(), "tiny");
  CompiledRevision rev(model, load_board_type("slowed-hw3"));
  evals::ClipSpec spec;
  spec.seed = 5;
  spec.frames = 2;
  evals::ClipReader good(evals::generate_clip_bytes(spec), "renamed.clip");
  auto header = good.header();
  header.mutable_cameras(0)->set_name("rear");
  evals::ClipReader renamed(evals::encode_clip(header, {}), "renamed.clip");
  CHECK_THROWS_WITH(
      play(rev, renamed, "split"),
      Catch::Contains("input 'image' reads camera 'front', which clip renamed.clip does not have"));
}

TEST_CASE(
    "a clip whose frames lack the camera's image or labels fails clearly, never reads out of "
    "bounds",
    "[runtime]") {
  auto model = Model::load(test::tiny_revision(), "tiny");
  CompiledRevision rev(model, load_board_type("slowed-hw3"));
  evals::ClipSpec spec;
  spec.seed = 6;
  spec.frames = 2;
  evals::ClipReader good(evals::generate_clip_bytes(spec), "good.clip");
  std::vector<hil::clip::Frame> frames{good.frame(0), good.frame(1)};
  frames[1].clear_images();  // the reader accepts it; the runtime must not index into nothing
  evals::ClipReader bad(evals::encode_clip(good.header(), frames), "bad.clip");
  CHECK_THROWS_WITH(play(rev, bad, "split"),
                    Catch::Contains("bad.clip") && Catch::Contains("no image from camera"));
  std::vector<hil::clip::Frame> unlabelled{good.frame(0), good.frame(1)};
  unlabelled[1].clear_labels();
  evals::ClipReader no_truth(evals::encode_clip(good.header(), unlabelled), "unlabelled.clip");
  CHECK_THROWS_WITH(play(rev, no_truth, "split"), Catch::Contains("unlabelled.clip") &&
                                                      Catch::Contains("frame 1") &&
                                                      Catch::Contains("no ground truth 'ego'"));
  auto header = good.header();
  header.mutable_cameras(0)->set_channels(1);
  evals::ClipReader gray(evals::encode_clip(header, {}), "gray.clip");
  CHECK_THROWS_WITH(play(rev, gray, "split"), Catch::Contains("1 channels"));
}
