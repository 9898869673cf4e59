// The fault matrix: every fault kind, on the commander and on the extender,
// with each engine starting as commander, in split and single modes.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "fixtures.h"
#include "hil/dual_engine/runtime.h"

using namespace hil;
using namespace hil::dual_engine;

namespace {

constexpr uint32_t kFrames = 16;
constexpr uint32_t kFaultFrame = 5;

EvalRun play(CompiledRevision& rev, const evals::ClipReader& clip, const std::string& mode, int commander,
             const std::vector<std::string>& faults = {}, uint32_t rejoin = 0, std::vector<uint32_t> swaps = {}) {
  suite::Scenario sc;
  sc.set_name("matrix");
  sc.set_mode(mode);
  sc.set_commander(static_cast<uint32_t>(commander));
  sc.set_rejoin_after(rejoin);
  for (auto s : swaps) sc.add_swap_at(s);
  for (const auto& f : faults) *sc.add_faults() = parse_fault(f);
  RuntimeOptions o;
  o.host_watchdog_ms = 60;  // hangs are found by this timeout on the host
  return play_eval(rev, clip, sc, {}, {}, o);
}

struct Fixture {
  Model model = Model::load(test::tiny_revision(), "tiny");
  CompiledRevision rev{model, load_board_type("slowed-hw3")};
  evals::ClipReader clip{test::sample_clip(950, "clear", kFrames)};
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

}  // namespace

TEST_CASE("every fault on either engine is detected within a frame and leaves no frame without a command", "[failover]") {
  use_single_thread_kernels();
  auto& fx = fixture();
  auto reference = play(fx.rev, fx.clip, "single", 0);
  for (const std::string mode : {"split", "single"}) {
    for (int first_commander : {0, 1}) {
      for (const std::string role : {"commander", "extender"}) {
        for (const std::string kind : {"crash", "hang", "nan", "ecc", "slow:8"}) {
          const auto fault = fmt::format("{}:{}@{}", role, kind, kFaultFrame);
          INFO(fmt::format("mode {} first commander {} fault {}", mode, first_commander, fault));
          auto run = play(fx.rev, fx.clip, mode, first_commander, {fault});
          const int target = role == "commander" ? first_commander : 1 - first_commander;
          REQUIRE(run.frames.size() == kFrames);
          uint32_t gaps = 0;
          for (const auto& f : run.frames) gaps += !f.has_command;
          CHECK(gaps == 0);  // zero for every kind with slowed-hw3 and the sample network
          // After any failover the outputs are those of single-engine execution.
          for (size_t k = 0; k < run.frames.size(); ++k) CHECK(run.frames[k].outputs == reference.frames[k].outputs);

          const bool idle_standby = mode == "single" && role == "extender";
          if (idle_standby) {
            // A fault on the idle hot standby never touches the command stream.
            CHECK(run.failovers.empty());
            for (const auto& f : run.frames) CHECK(f.commander == first_commander);
            if (kind == "crash" || kind == "hang") {
              bool noted = false;
              for (const auto& e : run.events) noted |= e.find(fmt::format("engine {} failed", target)) != std::string::npos;
              CHECK(noted);
            }
            continue;
          }
          REQUIRE(run.failovers.size() == 1);
          const auto& ev = run.failovers[0];
          CHECK(ev.failed_engine == target);
          CHECK(ev.was_commander == (role == "commander"));
          CHECK(ev.gap_frames == 0);
          CHECK(ev.within_ftti);
          if (kind == "slow:8") {
            CHECK(ev.kind == "slow");
            CHECK(ev.detection_frames == 3);  // repeated misses are counted
            CHECK(ev.frame == kFaultFrame);
          } else {
            CHECK(ev.kind == kind);
            CHECK(ev.detection_ms <= run.period_ms);  // within one frame period
            // A fault on the extender surfaces when its work for the next frame is due.
            CHECK((ev.frame == kFaultFrame || (role == "extender" && ev.frame == kFaultFrame)));
          }
          const int final_commander = run.frames.back().commander;
          if (kind == "ecc") {
            CHECK(ev.transient);
            CHECK(final_commander == first_commander);  // one bad frame recomputed, no role change
          } else {
            CHECK((final_commander == 1 - target || role == "extender"));
            if (role == "commander") CHECK(final_commander == 1 - first_commander);
            if (role == "extender") CHECK(final_commander == first_commander);
          }
          // Frames before the fault ran in the configured mode.
          CHECK(run.frames[0].mode == (mode == "split" ? 0 : 1));
        }
      }
    }
  }
}

TEST_CASE("a recovered engine rejoins as extender and restores split mode", "[failover]") {
  auto& fx = fixture();
  auto run = play(fx.rev, fx.clip, "split", 0, {"commander:crash@4"}, /*rejoin=*/5);
  REQUIRE(run.failovers.size() == 1);
  CHECK(run.frames[6].mode == 1);   // single while engine 0 is out
  CHECK(run.frames[10].mode == 0);  // split again from frame 9 on
  CHECK(run.frames[10].commander == 1);
  bool rejoined = false;
  for (const auto& e : run.events) rejoined |= e.find("rejoined as extender") != std::string::npos;
  CHECK(rejoined);
}

TEST_CASE("roles swap at a frame boundary without a gap", "[failover]") {
  auto& fx = fixture();
  auto run = play(fx.rev, fx.clip, "split", 0, {}, 0, {4, 9});
  for (const auto& f : run.frames) CHECK(f.has_command);
  CHECK(run.frames[3].commander == 0);
  CHECK(run.frames[4].commander == 1);
  CHECK(run.frames[9].commander == 0);
  auto plain = play(fx.rev, fx.clip, "split", 0);
  for (size_t k = 0; k < run.frames.size(); ++k) CHECK(run.frames[k].outputs == plain.frames[k].outputs);
}

TEST_CASE("emulated latencies are identical run to run, faults included", "[failover]") {
  auto& fx = fixture();
  auto a = play(fx.rev, fx.clip, "split", 1, {"extender:hang@3", "commander:slow:3@9"});
  auto b = play(fx.rev, fx.clip, "split", 1, {"extender:hang@3", "commander:slow:3@9"});
  REQUIRE(a.frames.size() == b.frames.size());
  for (size_t k = 0; k < a.frames.size(); ++k) {
    CHECK(a.frames[k].device_ms == b.frames[k].device_ms);
    CHECK(a.frames[k].commander == b.frames[k].commander);
  }
}

TEST_CASE("bad fault specifications are refused by name", "[failover]") {
  CHECK_THROWS_WITH(parse_fault("commander-crash"), Catch::Contains("ENGINE:KIND@FRAME"));
  CHECK_THROWS_WITH(parse_fault("commander:crash@x"), Catch::Contains("'x'"));
  auto& fx = fixture();
  CHECK_THROWS_WITH(play(fx.rev, fx.clip, "split", 0, {"left:crash@1"}), Catch::Contains("'left'"));
  CHECK_THROWS_WITH(play(fx.rev, fx.clip, "split", 0, {"commander:melt@1"}), Catch::Contains("'melt'"));
}

namespace {

// A backend whose engine 0 faults (throws) from its 6th run on: how a real
// board's SDK reports an engine fault.
class FaultyBackend : public EngineBackend {
 public:
  std::string name() const override { return "faulty test backend"; }
  bool measures_time() const override { return false; }
  std::unique_ptr<EngineProgram> load(const PartitionPlan& plan, int engine) override {
    struct Program : EngineProgram {
      Program(std::unique_ptr<EngineProgram> inner, int engine, int* runs) : inner(std::move(inner)), engine(engine), runs(runs) {}
      EngineRun run(const TensorMap& in) override {
        if (engine == 0 && ++*runs > 5) throw std::runtime_error("engine 0: uncorrectable SRAM error");
        return inner->run(in);
      }
      double expected_device_us() const override { return inner->expected_device_us(); }
      std::unique_ptr<EngineProgram> inner;
      int engine;
      int* runs;
    };
    return std::make_unique<Program>(emulated_->load(plan, engine), engine, &runs_);
  }

 private:
  std::unique_ptr<EngineBackend> emulated_ = make_emulated_backend();
  int runs_ = 0;
};

}  // namespace

TEST_CASE("an engine whose backend throws is failed over like a crash", "[failover][backend]") {
  auto& fx = fixture();
  FaultyBackend backend;
  CompiledRevision rev(fx.model, load_board_type("slowed-hw3"), &backend);
  suite::Scenario sc;
  sc.set_name("faulty-backend");
  sc.set_mode("single");
  auto run = play_eval(rev, fx.clip, sc, {});
  REQUIRE(run.failovers.size() == 1);
  CHECK(run.failovers[0].failed_engine == 0);
  CHECK(run.failovers[0].kind == "crash");
  for (const auto& f : run.frames) CHECK(f.has_command);
  CHECK(run.frames.back().commander == 1);
  auto reference = play(fx.rev, fx.clip, "single", 0);
  for (size_t k = 0; k < run.frames.size(); ++k) CHECK(run.frames[k].outputs == reference.frames[k].outputs);
}
