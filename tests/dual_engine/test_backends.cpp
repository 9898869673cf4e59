// Engine backends other than the emulated one: the `host` board type (OpenCV
// DNN, device time measured per run) and backend plugins (backend_plugin.h),
// the example plugin built by this tree and plugins the host must refuse.
#include <catch2/catch.hpp>

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "fixtures.h"
#include "hil/dual_engine/backend.h"
#include "hil/dual_engine/runtime.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/sha256.h"
#include "hil/evals/suite.h"

using namespace hil;
using namespace hil::dual_engine;

namespace {

const std::string kPluginDir = HIL_PLUGIN_DIR;
const std::string kOpenCvPlugin = kPluginDir + "/libhil_backend_opencv_measured.so";

const std::vector<suite::MetricSpec>& demo_metrics() {
  static const auto suite = evals::load_suite("demo");
  static const std::vector<suite::MetricSpec> metrics(suite.metrics().begin(),
                                                      suite.metrics().end());
  return metrics;
}

EvalRun play(CompiledRevision& revision, const evals::ClipReader& clip, const std::string& mode) {
  suite::Scenario scenario;
  scenario.set_name(mode);
  scenario.set_mode(mode);
  return play_eval(revision, clip, scenario, demo_metrics());
}

std::set<double> distinct_device_ms(const EvalRun& run) {
  std::set<double> values;
  for (const auto& f : run.frames) values.insert(f.device_ms);
  return values;
}

// Decoded outputs equal within a relative tolerance on every float.
bool outputs_close(const outputs::FrameOutputs& a, const outputs::FrameOutputs& b) {
  google::protobuf::util::MessageDifferencer differ;
  google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_float_comparison(google::protobuf::util::DefaultFieldComparator::APPROXIMATE);
  comparator.SetDefaultFractionAndMargin(1e-5, 1e-6);
  differ.set_field_comparator(&comparator);
  return differ.Compare(a, b);
}

}  // namespace

TEST_CASE(
    "the host board type measures each run: device time varies frame to frame, outputs are the "
    "emulated ones",
    "[backends]") {
  use_single_thread_kernels();
  const auto host = load_board_type("host");
  CHECK(host.backend() == board::BoardType::HOST_MEASURED);
  auto measured = make_board_backend(host);
  auto emulated = make_emulated_backend();
  CHECK(measured->measures_time());
  CHECK_FALSE(emulated->measures_time());
  auto model = Model::load(test::tiny_revision(), "tiny");
  CompiledRevision on_host(model, host, measured.get());
  CompiledRevision on_emulator(model, host, emulated.get());
  evals::ClipReader clip(test::sample_clip(911, "clear", 10));
  for (const std::string mode : {"split", "single"}) {
    INFO("mode " << mode);
    auto a = play(on_host, clip, mode);
    auto b = play(on_host, clip, mode);
    auto reference = play(on_emulator, clip, mode);
    auto reference_again = play(on_emulator, clip, mode);
    REQUIRE(a.frames.size() == 10);
    CHECK(distinct_device_ms(a).size() > 1);
    int differ_between_runs = 0;
    for (size_t k = 0; k < a.frames.size(); ++k) {
      CHECK(a.frames[k].device_ms > 0);
      CHECK(a.frames[k].device_ms != reference.frames[k].device_ms);
      // Emulated: the same figure on every run; measured: a clock's.
      CHECK(reference.frames[k].device_ms == reference_again.frames[k].device_ms);
      differ_between_runs += a.frames[k].device_ms != b.frames[k].device_ms;
      // The same OpenCV networks on the same inputs: the same outputs, bit for bit.
      CHECK(a.frames[k].outputs == reference.frames[k].outputs);
    }
    CHECK(differ_between_runs >= 5);
  }
}

TEST_CASE(
    "the example plugin runs a revision as the emulated engines do, with its own measured device "
    "time",
    "[backends][plugins]") {
  use_single_thread_kernels();
  auto plugin = make_plugin_backend(kOpenCvPlugin);
  CHECK(plugin->name() == "opencv-measured");
  CHECK(plugin->measures_time());
  auto emulated = make_emulated_backend();
  const auto board = load_board_type("slowed-hw3");
  auto model = Model::load(test::tiny_revision(), "tiny");
  CompiledRevision through_plugin(model, board, plugin.get());
  CompiledRevision on_emulator(model, board, emulated.get());
  evals::ClipReader clip(test::sample_clip(912, "night", 10));
  for (const std::string mode : {"split", "redundant"}) {
    INFO("mode " << mode);
    auto run = play(through_plugin, clip, mode);
    auto reference = play(on_emulator, clip, mode);
    REQUIRE(run.frames.size() == 10);
    CHECK(distinct_device_ms(run).size() > 1);
    for (size_t k = 0; k < run.frames.size(); ++k) {
      INFO("frame " << k);
      CHECK(run.frames[k].device_ms > 0);
      CHECK(run.frames[k].outputs.has_outputs());
      CHECK(outputs_close(run.frames[k].outputs, reference.frames[k].outputs));
    }
    CHECK(run.failovers.empty());
    CHECK(run.scorer.summary()["lane_offset_mae"] ==
          Approx(reference.scorer.summary()["lane_offset_mae"]).epsilon(1e-5));
  }
}

TEST_CASE("a backend plugin that cannot be used is refused, naming the file and why",
          "[backends][plugins]") {
  const auto plugin = [](const std::string& name) {
    return kPluginDir + "/libhil_test_backend_" + name + ".so";
  };
  SECTION("a missing file") {
    CHECK_THROWS_AS(make_plugin_backend("/nonexistent/libnpu.so"), BackendError);
    CHECK_THROWS_WITH(make_plugin_backend("/nonexistent/libnpu.so"),
                      "backend plugin /nonexistent/libnpu.so: no such file");
  }
  SECTION("a file that is not a shared library") {
    test::TempDir dir;
    evals::write_file_atomic(dir / "libjunk.so", "not an ELF file");
    CHECK_THROWS_WITH(
        make_plugin_backend(dir / "libjunk.so"),
        Catch::StartsWith("backend plugin " + (dir / "libjunk.so").string() + ": cannot load: "));
  }
  SECTION("a library without the entry symbol") {
    CHECK_THROWS_WITH(
        make_plugin_backend(plugin("no_entry")),
        "backend plugin " + plugin("no_entry") +
            ": no symbol hil_backend_plugin_v1: not a backend plugin (see backend_plugin.h)");
  }
  SECTION("a plugin built against another ABI version") {
    CHECK_THROWS_WITH(
        make_plugin_backend(plugin("wrong_abi")),
        "backend plugin " + plugin("wrong_abi") +
            ": ABI version 2, this hil speaks 1: rebuild it against this hil's backend_plugin.h");
  }
  SECTION("a plugin with a function missing") {
    CHECK_THROWS_WITH(
        make_plugin_backend(plugin("missing_run")),
        "backend plugin " + plugin("missing_run") + ": function 'run' is missing (NULL)");
  }
  SECTION("a plugin whose device does not open") {
    CHECK_THROWS_WITH(make_plugin_backend(plugin("refuses_open"), "device=/dev/npu0"),
                      "backend plugin " + plugin("refuses_open") +
                          ": cannot open with options 'device=/dev/npu0': no device at /dev/npu0");
  }
  SECTION(
      "a plan the plugin's engine refuses fails as the network's fault, naming engine and plan") {
    auto backend = make_plugin_backend(plugin("refuses_load"));
    CHECK(backend->name() == "bad-test-backend");
    CHECK_FALSE(backend->measures_time());
    auto model = Model::load(test::tiny_revision(), "tiny");
    CHECK_THROWS_WITH(CompiledRevision(model, load_board_type("slowed-hw3"), backend.get()),
                      "backend bad-test-backend (" + plugin("refuses_load") +
                          "): engine 0 refuses the extender plan: this test plugin runs nothing");
  }
}

TEST_CASE("faults a plugin reports through its status fail the engine over, as on a board",
          "[backends][plugins]") {
  use_single_thread_kernels();
  auto model = Model::load(test::tiny_revision(), "tiny");
  const auto board = load_board_type("slowed-hw3");
  evals::ClipReader clip(test::sample_clip(913, "clear", 10));
  auto frames_with_outputs = [](const EvalRun& run) {
    return std::count_if(run.frames.begin(), run.frames.end(),
                         [](const evals::FrameRecord& f) { return f.outputs.has_outputs(); });
  };
  SECTION("the extender's engine crashes: the commander carries on alone") {
    auto plugin = make_plugin_backend(kOpenCvPlugin, "fail=1:crashed@3");
    CompiledRevision revision(model, board, plugin.get());
    auto run = play(revision, clip, "split");
    REQUIRE(run.failovers.size() == 1);
    CHECK(run.failovers[0].failed_engine == 1);
    CHECK(run.failovers[0].kind == FaultKind::kCrash);
    CHECK_FALSE(run.failovers[0].transient);
    CHECK(frames_with_outputs(run) == 10);
  }
  SECTION("the extender's engine reports a hang: failed over as a hang") {
    auto plugin = make_plugin_backend(kOpenCvPlugin, "fail=1:hung@2");
    CompiledRevision revision(model, board, plugin.get());
    auto run = play(revision, clip, "split");
    REQUIRE(run.failovers.size() == 1);
    CHECK(run.failovers[0].failed_engine == 1);
    CHECK(run.failovers[0].kind == FaultKind::kHang);
  }
  SECTION("the commander's engine reports an SRAM error: that frame is recomputed, roles stay") {
    auto plugin = make_plugin_backend(kOpenCvPlugin, "fail=0:sram@4");
    CompiledRevision revision(model, board, plugin.get());
    auto run = play(revision, clip, "split");
    REQUIRE(run.failovers.size() == 1);
    CHECK(run.failovers[0].failed_engine == 0);
    CHECK(run.failovers[0].kind == FaultKind::kEcc);
    CHECK(run.failovers[0].transient);
    CHECK(frames_with_outputs(run) == 10);
  }
  SECTION("options the plugin does not understand keep it from opening") {
    CHECK_THROWS_WITH(
        make_plugin_backend(kOpenCvPlugin, "fail=2:crashed@1"),
        Catch::StartsWith(
            "backend plugin " + kOpenCvPlugin +
            ": cannot open with options 'fail=2:crashed@1': options 'fail=2:crashed@1': "
            "expected fail=ENGINE:STATUS@RUN"));
  }
}

TEST_CASE(
    "a plugin run that returns none of the plan's outputs counts as a crash of that engine, never "
    "as outputs",
    "[backends][plugins]") {
  auto backend = make_plugin_backend(kPluginDir + "/libhil_test_backend_empty_outputs.so");
  auto model = Model::load(test::tiny_revision(), "tiny");
  CompiledRevision revision(model, load_board_type("slowed-hw3"), backend.get());
  evals::ClipReader clip(test::sample_clip(914, "clear", 6));
  auto run = play(revision, clip, "split");
  REQUIRE(run.frames.size() == 6);
  // Both engines fail in turn: no frame has outputs, every failure is a crash.
  REQUIRE(!run.failovers.empty());
  for (const auto& f : run.failovers) CHECK(f.kind == FaultKind::kCrash);
  for (const auto& f : run.frames) CHECK_FALSE(f.outputs.has_outputs());
}
