// hil bench failover: the failover table. For each board type, mode and
// fault kind, one eval of a sample network with the fault injected, and what
// the board's supervision made of it: detection time, warm-up, switchover,
// frames without outputs, and the FTTI met or missed. Every figure is derived
// on the emulated clock from the board type's parameters and the plans'
// costs, so a board with a lax supervisor shows rows that miss.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "commands.h"
#include "hil/dual_engine/compiler.h"
#include "hil/dual_engine/model.h"
#include "hil/dual_engine/runtime.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/clip_generator.h"

namespace hil::app {
namespace {

struct FailoverBench {
  std::string revision =
      (std::filesystem::path(HIL_SOURCE_DIR) / "dual_engine/samples/tri-cam/base-s1.onnx").string();
  std::vector<std::string> boards;  // empty: every shipped board type
  std::vector<std::string> modes = {"split", "single"};
  uint32_t frames = 30;
  uint32_t fault_frame = 12;
  double ftti_ms = 0;  // 0: each board type's
};

// One row per fault: the engine that commands when it hits, or both.
struct FaultCase {
  std::string label;
  std::vector<std::string> faults;
};

std::vector<FaultCase> fault_cases(uint32_t frame) {
  std::vector<FaultCase> cases;
  // slow:1000: a thousand times the device time, enough to miss the
  // deadline even for a network that uses a small share of the frame.
  for (const std::string kind : {"crash", "hang", "nan", "ecc", "slow:1000"}) {
    cases.push_back({kind, {fmt::format("commander:{}@{}", kind, frame)}});
  }
  cases.push_back(
      {"crash, both",
       {fmt::format("commander:crash@{}", frame), fmt::format("extender:crash@{}", frame)}});
  return cases;
}

std::filesystem::path tri_clip(uint32_t frames) {
  auto dir = std::filesystem::temp_directory_path() / "hil-bench-clips";
  evals::ClipSpec spec;
  spec.seed = 4243;
  spec.frames = frames;
  spec.rig = "tri";
  spec.width = 256;
  spec.height = 128;
  spec.condition = "clear";
  spec.traffic = "lead-brake";
  return dir / (evals::generate_clip_file(spec, dir) + ".clip");
}

void run_failover_bench(const FailoverBench& b) {
  dual_engine::use_single_thread_kernels();
  const auto model = dual_engine::Model::load_file(b.revision);
  evals::ClipReader clip(tri_clip(b.frames));
  const auto boards = b.boards.empty() ? dual_engine::list_board_types() : b.boards;
  fmt::print(
      "failover table: {} on {} ({} frames at {:.0f} fps, fault at frame {}, on the commander)\n",
      std::filesystem::path(b.revision).filename().string(), clip.name(), clip.frame_count(),
      clip.header().fps(), b.fault_frame);
  fmt::print("{:<11} {:<7} {:<12} {:>10} {:>8} {:>11} {:>6} {:>6}  {}\n", "board", "mode", "fault",
             "detect ms", "warm ms", "switch ms", "gaps", "FTTI", "verdict");
  uint32_t rows = 0, missed = 0;
  for (const auto& name : boards) {
    const auto board = dual_engine::load_board_type(name);
    dual_engine::CompiledRevision rev(model, board);
    const double standby_ms = rev.plan().standby[0].device_us / 1000;
    const double period_ms = 1000 / clip.header().fps();
    if (standby_ms > period_ms) {
      // Such a board cannot run this network at this frame rate even without
      // a fault: every row would only say so.
      fmt::print(
          "{:<11} skipped: one engine takes {:.1f} ms per frame, more than the {:.1f} ms period (a "
          "board "
          "type for smaller networks)\n",
          name, standby_ms, period_ms);
      continue;
    }
    for (const auto& mode : b.modes) {
      for (const auto& c : fault_cases(b.fault_frame)) {
        suite::Scenario sc;
        sc.set_name("failover-table");
        sc.set_mode(mode);
        if (b.ftti_ms > 0) sc.set_ftti_ms(b.ftti_ms);
        for (const auto& f : c.faults) *sc.add_faults() = dual_engine::parse_fault(f);
        const auto run = dual_engine::play_eval(rev, clip, sc, {});
        uint32_t gaps = 0;
        for (const auto& f : run.frames) gaps += f.outputs.has_outputs() ? 0 : 1;
        ++rows;
        if (run.failovers.empty()) {
          fmt::print("{:<11} {:<7} {:<12} {:>10} {:>8} {:>11} {:>6} {:>6.0f}  no failover\n", name,
                     mode, c.label, "-", "-", "-", gaps, run.ftti_ms);
          continue;
        }
        // The first event is the fault the row injects; a second engine's
        // fault in the "both" row shows as not recovered.
        const auto& ev = run.failovers.front();
        bool met = true;
        for (const auto& e : run.failovers) met &= e.within_ftti;
        missed += met ? 0 : 1;
        const std::string verdict = !run.failovers.back().recovered ? "MISSED (no survivor)"
                                    : met ? (ev.transient ? "met (transient)" : "met")
                                          : "MISSED";
        fmt::print("{:<11} {:<7} {:<12} {:>10.2f} {:>8.2f} {:>11} {:>6} {:>6.0f}  {}\n", name, mode,
                   c.label, ev.detection_ms, ev.warmup_ms,
                   ev.recovered ? fmt::format("{:.2f}", ev.switchover_ms) : "-", gaps, run.ftti_ms,
                   verdict);
      }
    }
  }
  fmt::print(
      "{} rows, {} miss the FTTI. detect: fault onset to detection; warm: starting the survivor's "
      "standby "
      "plan; switch: detection to the survivor's outputs; gaps: frames without outputs in the "
      "eval\n",
      rows, missed);
}

}  // namespace

void add_bench_failover_command(CLI::App* bench) {
  auto b = std::make_shared<FailoverBench>();
  auto* cmd = bench->add_subcommand("failover",
                                    "the failover table: detection, switchover, gap frames and "
                                    "FTTI per board type and fault kind");
  cmd->add_option("--revision", b->revision, "ONNX file (default: the tri-cam sample)")
      ->capture_default_str();
  cmd->add_option("--board", b->boards, "board types (default: every shipped one)");
  cmd->add_option("--mode", b->modes, "modes")->capture_default_str();
  cmd->add_option("--frames", b->frames)->capture_default_str();
  cmd->add_option("--fault-frame", b->fault_frame)->capture_default_str();
  cmd->add_option("--ftti-ms", b->ftti_ms, "FTTI for every row (default: each board type's)");
  cmd->callback([b] { run_failover_bench(*b); });
}

}  // namespace hil::app
