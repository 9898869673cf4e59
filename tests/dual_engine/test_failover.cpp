// The fault matrix: every fault kind, on the commander and on the extender,
// with each engine starting as commander, in split and single modes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "fixtures.h"
#include "hil/dual_engine/runtime.h"

using namespace hil;
using namespace hil::dual_engine;

namespace {

constexpr uint32_t kFrames = 16;
constexpr uint32_t kFaultFrame = 5;

EvalRun play(CompiledRevision& rev, const evals::ClipReader& clip, const std::string& mode,
             int commander, const std::vector<std::string>& faults = {}, uint32_t rejoin = 0,
             std::vector<uint32_t> swaps = {}) {
  suite::Scenario sc;
  sc.set_name("matrix");
  sc.set_mode(mode);
  sc.set_commander(static_cast<uint32_t>(commander));
  sc.set_rejoin_after(rejoin);
  for (auto s : swaps) sc.add_swap_at(s);
  for (const auto& f : faults) *sc.add_faults() = parse_fault(f);
  RuntimeOptions o;
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

TEST_CASE(
    "on slowed-hw3 every fault on either engine is detected and leaves no frame without a command",
    "[failover]") {
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
          for (size_t k = 0; k < run.frames.size(); ++k)
            CHECK(run.frames[k].outputs == reference.frames[k].outputs);

          const bool idle_standby = mode == "single" && role == "extender";
          if (idle_standby) {
            // A fault on the idle hot standby never touches the command stream.
            CHECK(run.failovers.empty());
            for (const auto& f : run.frames) CHECK(f.commander == first_commander);
            if (kind == "crash" || kind == "hang") {
              bool noted = false;
              for (const auto& e : run.events)
                noted |= e.find(fmt::format("engine {} failed", target)) != std::string::npos;
              CHECK(noted);
            }
            continue;
          }
          REQUIRE(run.failovers.size() == 1);
          const auto& ev = run.failovers[0];
          CHECK(ev.failed_engine == target);
          CHECK(ev.was_commander == (role == "commander"));
          CHECK(ev.gap_frames == 0);
          if (kind == "slow:8") {
            CHECK(ev.kind == FaultKind::kSlow);
            CHECK(ev.detection_frames == 3);  // repeated misses are counted
            // Three missed deadlines at 36 fps are 83.3 ms from the onset frame's start.
            CHECK(ev.detection_ms == Approx(3 * 1000.0 / 36));
            CHECK(ev.frame == kFaultFrame);
          } else {
            CHECK(fault_kind_name(ev.kind) == kind);
            // slowed-hw3 beats every 1 ms and declares a hang after 3 missed
            // beats; a crash surfaces in 0.1 ms; bad outputs when they come out.
            CHECK(ev.detection_ms <= run.period_ms);
            if (kind == "crash") CHECK(ev.detection_ms == Approx(0.1));
            if (kind == "hang") CHECK((ev.detection_ms > 2.0 && ev.detection_ms <= 3.0));
            CHECK(ev.within_ftti);
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
  for (size_t k = 0; k < run.frames.size(); ++k)
    CHECK(run.frames[k].outputs == plain.frames[k].outputs);
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
  CHECK_THROWS_WITH(play(fx.rev, fx.clip, "split", 0, {"commander:melt@1"}),
                    Catch::Contains("'melt'"));
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
      Program(std::unique_ptr<EngineProgram> inner, int engine, int* runs)
          : inner(std::move(inner)), engine(engine), runs(runs) {}
      EngineRun run(const TensorMap& in) override {
        if (engine == 0 && ++*runs > 5)
          throw std::runtime_error("engine 0: uncorrectable SRAM error");
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
  CHECK(run.failovers[0].kind == FaultKind::kCrash);
  for (const auto& f : run.frames) CHECK(f.has_command);
  CHECK(run.frames.back().commander == 1);
  auto reference = play(fx.rev, fx.clip, "single", 0);
  for (size_t k = 0; k < run.frames.size(); ++k)
    CHECK(run.frames[k].outputs == reference.frames[k].outputs);
}

// Failover timing derived from the board's supervision. Every scenario runs
// at 25 fps, so frame k starts at 40 k ms and a fault at frame 5 hits a stage
// that starts at 200 ms (the engines are idle by then). The expectations are
// worked by hand from the board parameters each case sets.
namespace {

constexpr double kPeriodMs = 40;  // 25 fps

board::BoardType supervised(double heartbeat_ms, uint32_t missed_beats, double crash_detect_ms,
                            double warmup_ms) {
  auto board = load_board_type("slowed-hw3");
  auto* s = board.mutable_supervision();
  s->set_heartbeat_period_ms(heartbeat_ms);
  s->set_missed_beats(missed_beats);
  s->set_crash_detect_ms(crash_detect_ms);
  s->set_standby_warmup_ms(warmup_ms);
  s->set_ftti_ms(100);
  return board;
}

suite::Scenario at_25_fps(const std::string& mode, const std::vector<std::string>& faults) {
  suite::Scenario sc;
  sc.set_name("timing");
  sc.set_mode(mode);
  sc.set_fps(25);
  for (const auto& f : faults) *sc.add_faults() = parse_fault(f);
  return sc;
}

EvalRun play_on(const board::BoardType& board, const suite::Scenario& sc,
                const RuntimeOptions& options = {}) {
  auto& fx = fixture();
  CompiledRevision rev(fx.model, board);
  return play_eval(rev, fx.clip, sc, {}, {}, options);
}

uint32_t frames_without_command(const EvalRun& run) {
  uint32_t n = 0;
  for (const auto& f : run.frames) n += f.has_command ? 0 : 1;
  return n;
}

double standby_ms(const board::BoardType& board) {
  CompiledRevision rev(fixture().model, board);
  return rev.plan().standby[0].device_us / 1000;  // the compiler's cost, the same on both engines
}

}  // namespace

TEST_CASE("a crash is detected in the board's crash-detection time", "[failover][timing]") {
  SECTION("0.1 ms: within the FTTI, no gap") {
    auto run = play_on(supervised(1, 3, 0.1, 1), at_25_fps("single", {"commander:crash@5"}));
    REQUIRE(run.failovers.size() == 1);
    CHECK(run.failovers[0].detection_ms == Approx(0.1));
    CHECK(run.failovers[0].within_ftti);
    CHECK(frames_without_command(run) == 0);
  }
  SECTION("150 ms: beyond a 100 ms FTTI, and frames 5 and 6 have no command") {
    auto run = play_on(supervised(1, 3, 150, 1), at_25_fps("single", {"commander:crash@5"}));
    REQUIRE(run.failovers.size() == 1);
    const auto& ev = run.failovers[0];
    CHECK(ev.detection_ms == Approx(150));
    CHECK_FALSE(ev.within_ftti);
    CHECK(ev.recovered);
    // Detected at 350 ms; frame 5's outputs are useful until 280 ms, frame 6's until 320 ms.
    CHECK_FALSE(run.frames[5].has_command);
    CHECK_FALSE(run.frames[6].has_command);
    CHECK(ev.gap_frames >= 2);
    CHECK(run.frames.back().has_command);  // the survivor commands again
    CHECK(run.scorer.summary().at("ftti_misses") == 1);
  }
  SECTION("the 500 ms preset (unintended acceleration, ASIL B) holds the same failover within") {
    auto sc = at_25_fps("single", {"commander:crash@5"});
    sc.set_ftti_preset(suite::FTTI_ACCELERATION_ASIL_B);
    auto run = play_on(supervised(1, 3, 150, 1), sc);
    CHECK(run.ftti_ms == 500);
    REQUIRE(run.failovers.size() == 1);
    CHECK(run.failovers[0].within_ftti);
  }
}

TEST_CASE("a hang is detected when the board's missed heartbeats say so", "[failover][timing]") {
  SECTION("10 ms beats, 3 missed: the beat at 200 ms came, the one at 230 ms declares it") {
    auto run = play_on(supervised(10, 3, 0.1, 1), at_25_fps("single", {"commander:hang@5"}));
    REQUIRE(run.failovers.size() == 1);
    CHECK(run.failovers[0].detection_ms == Approx(30));
    CHECK(run.failovers[0].within_ftti);
    CHECK(frames_without_command(run) == 0);
  }
  SECTION("7 ms beats: the last beat was at 196 ms, the hang is declared at 217 ms") {
    auto run = play_on(supervised(7, 3, 0.1, 1), at_25_fps("single", {"commander:hang@5"}));
    REQUIRE(run.failovers.size() == 1);
    CHECK(run.failovers[0].detection_ms == Approx(17));
  }
  SECTION("a slow heartbeat, 40 ms: declared at 320 ms, beyond the FTTI, with frames lost") {
    auto run = play_on(supervised(40, 3, 0.1, 1), at_25_fps("single", {"commander:hang@5"}));
    REQUIRE(run.failovers.size() == 1);
    const auto& ev = run.failovers[0];
    CHECK(ev.detection_ms == Approx(120));
    CHECK_FALSE(ev.within_ftti);
    CHECK_FALSE(run.frames[5].has_command);  // useful until 280 ms
    CHECK_FALSE(run.frames[6].has_command);  // useful until 320 ms
    CHECK(ev.gap_frames >= 2);
  }
  SECTION("the scenario can set the heartbeat period") {
    auto sc = at_25_fps("single", {"commander:hang@5"});
    sc.set_heartbeat_period_ms(40);
    auto run = play_on(supervised(10, 3, 0.1, 1), sc);
    REQUIRE(run.failovers.size() == 1);
    CHECK(run.failovers[0].detection_ms == Approx(120));
  }
}

TEST_CASE("wrong outputs are detected as they come out, and the standby's warm-up is charged",
          "[failover][timing]") {
  const auto quick = supervised(1, 3, 0.1, 1);
  const double standby = standby_ms(quick);
  SECTION(
      "single mode: detected at the end of the commander's run; the hot standby needs no warm-up") {
    auto run = play_on(quick, at_25_fps("single", {"commander:nan@5"}));
    REQUIRE(run.failovers.size() == 1);
    const auto& ev = run.failovers[0];
    CHECK(ev.detection_ms == Approx(standby));
    CHECK(ev.warmup_ms == 0);
    CHECK(ev.switchover_ms ==
          Approx(standby));  // the survivor reruns the frame on its standby plan
    CHECK(ev.within_ftti);
    CHECK(frames_without_command(run) == 0);
  }
  SECTION(
      "split mode: slowed-hw3's SRAM cannot hold a partition and the standby plan, so the survivor "
      "warms up") {
    auto fast = play_on(quick, at_25_fps("split", {"commander:nan@5"}));
    auto slow_warmup = play_on(supervised(1, 3, 0.1, 150), at_25_fps("split", {"commander:nan@5"}));
    REQUIRE(fast.failovers.size() == 1);
    REQUIRE(slow_warmup.failovers.size() == 1);
    CHECK(fast.failovers[0].within_ftti);
    // The warm-up is the board's fixed 150 ms (against 1 ms) plus the same weight load.
    CHECK(slow_warmup.failovers[0].warmup_ms - fast.failovers[0].warmup_ms == Approx(149));
    CHECK(slow_warmup.failovers[0].switchover_ms - fast.failovers[0].switchover_ms == Approx(149));
    CHECK_FALSE(slow_warmup.failovers[0].within_ftti);
    CHECK(slow_warmup.failovers[0].gap_frames >=
          3);  // commands resume after 350 ms at the earliest
    CHECK(frames_without_command(fast) == 0);
  }
}

TEST_CASE("an SRAM error costs one recomputed frame, late when the standby must warm up",
          "[failover][timing]") {
  auto quick = play_on(supervised(1, 3, 0.1, 1), at_25_fps("split", {"commander:ecc@5"}));
  auto slow_warmup = play_on(supervised(1, 3, 0.1, 150), at_25_fps("split", {"commander:ecc@5"}));
  REQUIRE(quick.failovers.size() == 1);
  REQUIRE(slow_warmup.failovers.size() == 1);
  CHECK(quick.failovers[0].transient);
  CHECK(quick.failovers[0].within_ftti);
  CHECK(frames_without_command(quick) == 0);
  CHECK_FALSE(slow_warmup.failovers[0].within_ftti);
  CHECK_FALSE(slow_warmup.frames[5].has_command);
  // A transient error changes no role: the first commander commands at the end.
  CHECK(quick.frames.back().commander == 0);
  CHECK(slow_warmup.frames.back().commander == 0);
}

TEST_CASE("a slow engine is declared after the scenario's number of missed deadlines",
          "[failover][timing]") {
  // slow:8 makes every run of the commander 8 times longer: its standby plan
  // then takes far more than the 40 ms period, so every frame misses.
  SECTION("3 misses: declared at the third deadline, 120 ms after the onset, beyond the FTTI") {
    auto run = play_on(supervised(1, 3, 0.1, 1), at_25_fps("single", {"commander:slow:8@5"}));
    REQUIRE(run.failovers.size() == 1);
    CHECK(run.failovers[0].kind == FaultKind::kSlow);
    CHECK(run.failovers[0].detection_ms == Approx(3 * kPeriodMs));
    CHECK_FALSE(run.failovers[0].within_ftti);
    CHECK(frames_without_command(run) == 0);  // late frames are recomputed on the standby meanwhile
  }
  SECTION("1 miss: declared at the first deadline, within the FTTI") {
    auto sc = at_25_fps("single", {"commander:slow:8@5"});
    sc.set_miss_limit(1);
    auto run = play_on(supervised(1, 3, 0.1, 1), sc);
    REQUIRE(run.failovers.size() == 1);
    CHECK(run.failovers[0].detection_ms == Approx(kPeriodMs));
    CHECK(run.failovers[0].within_ftti);
  }
}

TEST_CASE("when both engines fault nothing commands, and the failover never meets the FTTI",
          "[failover][timing]") {
  SECTION("single mode: the hot standby dies with the commander") {
    auto run = play_on(supervised(1, 3, 0.1, 1),
                       at_25_fps("single", {"commander:crash@5", "extender:crash@5"}));
    REQUIRE_FALSE(run.failovers.empty());
    const auto& ev = run.failovers.back();
    CHECK_FALSE(ev.recovered);
    CHECK_FALSE(ev.within_ftti);
    for (size_t k = 0; k < run.frames.size(); ++k) CHECK(run.frames[k].has_command == (k < 5));
    CHECK(run.scorer.summary().at("ftti_misses") >= 1);
  }
  SECTION("split mode: the survivor faults while its standby plan warms up") {
    auto run = play_on(supervised(1, 3, 0.1, 20),
                       at_25_fps("split", {"commander:crash@5", "extender:hang@5"}));
    REQUIRE_FALSE(run.failovers.empty());
    CHECK_FALSE(run.failovers.back().recovered);
    for (size_t k = 5; k < run.frames.size(); ++k) CHECK_FALSE(run.frames[k].has_command);
  }
  SECTION("an engine that rejoins commands again") {
    auto sc = at_25_fps("single", {"commander:crash@5", "extender:crash@5"});
    sc.set_rejoin_after(4);
    auto run = play_on(supervised(1, 3, 0.1, 1), sc);
    CHECK_FALSE(run.frames[8].has_command);
    CHECK(run.frames[9].has_command);
    CHECK(run.frames.back().has_command);
  }
}

TEST_CASE("a throttled host never turns into an engine fault", "[failover][host]") {
  // Every engine run takes 20 times its host time: device time, outputs and
  // roles must be what the unthrottled run gives, with no failover.
  auto sc = at_25_fps("split", {});
  RuntimeOptions throttled;
  throttled.host_slowdown = 20;
  auto fast = play_on(load_board_type("slowed-hw3"), sc);
  auto slow = play_on(load_board_type("slowed-hw3"), sc, throttled);
  CHECK(slow.failovers.empty());
  REQUIRE(slow.frames.size() == fast.frames.size());
  for (size_t k = 0; k < fast.frames.size(); ++k) {
    CHECK(slow.frames[k].device_ms == fast.frames[k].device_ms);
    CHECK(slow.frames[k].outputs == fast.frames[k].outputs);
    CHECK(slow.frames[k].has_command);
  }
  CHECK(slow.host_seconds > fast.host_seconds);
}

namespace {

// A backend whose engine 0 stops on its 6th run, without reporting anything:
// the host, not the board, is stuck. It stops for `stall_ms` of host time,
// or for 100 times its slowest run so far if that is longer, so that the
// stall stays far beyond the measured run time on a slow host (a sanitizer
// build, a loaded machine), where runs of a millisecond take tens.
class StallingBackend : public EngineBackend {
 public:
  explicit StallingBackend(int stall_ms) : stall_ms_(stall_ms) {}
  std::string name() const override { return "stalling test backend"; }
  bool measures_time() const override { return false; }
  std::unique_ptr<EngineProgram> load(const PartitionPlan& plan, int engine) override {
    struct Program : EngineProgram {
      Program(std::unique_ptr<EngineProgram> inner, int engine, int* runs, double* slowest_ms,
              int stall_ms)
          : inner(std::move(inner)),
            engine(engine),
            runs(runs),
            slowest_ms(slowest_ms),
            stall_ms(stall_ms) {}
      EngineRun run(const TensorMap& in) override {
        if (engine == 0 && ++*runs == 6) {
          std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(
              std::max<double>(stall_ms, 100 * *slowest_ms)));
        }
        const auto start = std::chrono::steady_clock::now();
        auto r = inner->run(in);
        if (engine == 0) {
          *slowest_ms = std::max(*slowest_ms, std::chrono::duration<double, std::milli>(
                                                  std::chrono::steady_clock::now() - start)
                                                  .count());
        }
        return r;
      }
      double expected_device_us() const override { return inner->expected_device_us(); }
      std::unique_ptr<EngineProgram> inner;
      int engine;
      int* runs;
      double* slowest_ms;
      int stall_ms;
    };
    return std::make_unique<Program>(emulated_->load(plan, engine), engine, &runs_, &slowest_ms_,
                                     stall_ms_);
  }

 private:
  std::unique_ptr<EngineBackend> emulated_ = make_emulated_backend();
  int runs_ = 0;
  double slowest_ms_ = 0;
  int stall_ms_;
};

}  // namespace

TEST_CASE("a host stall far beyond the measured run time is the host's failure, not the engine's",
          "[failover][host]") {
  auto& fx = fixture();
  StallingBackend backend(1500);
  CompiledRevision rev(fx.model, load_board_type("slowed-hw3"), &backend);
  RuntimeOptions options;
  options.host_stall_floor_ms = 200;  // a tiny network's runs take about a millisecond here
  options.host_stall_factor = 50;
  CHECK_THROWS_AS(play_eval(rev, fx.clip, at_25_fps("single", {}), {}, {}, options),
                  HostStallError);
}

namespace {

// A measuring backend whose second play of the clip is eleven times slower
// (a loaded host for a while): the run count tells the play apart.
class OutlierPlayBackend : public EngineBackend {
 public:
  explicit OutlierPlayBackend(int runs_per_play) : runs_per_play_(runs_per_play) {}
  std::string name() const override { return "outlier-play test backend"; }
  bool measures_time() const override { return true; }
  std::unique_ptr<EngineProgram> load(const PartitionPlan& plan, int engine) override {
    struct Program : EngineProgram {
      Program(std::unique_ptr<EngineProgram> inner, int* runs, int per_play)
          : inner(std::move(inner)), runs(runs), per_play(per_play) {}
      EngineRun run(const TensorMap& in) override {
        auto r = inner->run(in);
        if ((*runs)++ / per_play == 1) r.device_us *= 11;
        return r;
      }
      double expected_device_us() const override { return inner->expected_device_us(); }
      std::unique_ptr<EngineProgram> inner;
      int* runs;
      int per_play;
    };
    return std::make_unique<Program>(emulated_->load(plan, engine), &runs_, runs_per_play_);
  }

 private:
  std::unique_ptr<EngineBackend> emulated_ = make_emulated_backend();
  int runs_ = 0;
  int runs_per_play_;
};

}  // namespace

TEST_CASE(
    "a measuring board plays the clip several times and keeps each frame's median device time",
    "[failover][measured]") {
  auto& fx = fixture();
  OutlierPlayBackend backend(static_cast<int>(kFrames));  // single mode: one run per frame
  CompiledRevision rev(fx.model, load_board_type("slowed-hw3"), &backend);
  REQUIRE(rev.measures_time());
  suite::Scenario sc;
  sc.set_name("measured");
  sc.set_mode("single");
  sc.set_latency_repeats(3);
  auto run = play_eval(rev, fx.clip, sc, {});
  REQUIRE(run.frames.size() == kFrames);
  // Plays 1 and 3 take the standby plan's cost per frame, play 2 eleven
  // times that: the median is the cost, on every frame.
  const double cost_ms = rev.plan().standby[0].device_us / 1000;
  for (const auto& f : run.frames) CHECK(f.device_ms == Approx(cost_ms));
  CHECK(run.scorer.summary().at("device_latency_max_ms") == Approx(cost_ms));
  bool noted = false;
  for (const auto& e : run.events) noted |= e.find("median of 3 plays") != std::string::npos;
  CHECK(noted);
}
