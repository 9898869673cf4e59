// hil bench clips | engine | runtime: figures, never pass/fail. Each bench
// runs its baseline in the same process and reports medians of repeats.
#include <algorithm>
#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "commands.h"
#include "hil/dual_engine/compiler.h"
#include "hil/dual_engine/executor.h"
#include "hil/dual_engine/runtime.h"
#include "hil/dual_engine/sample_models.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/clip_generator.h"
#include "hil/evals/metrics.h"

namespace hil::app {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::filesystem::path bench_clip(uint32_t frames) {
  auto dir = std::filesystem::temp_directory_path() / "hil-bench-clips";
  evals::ClipSpec spec;
  spec.seed = 4242;
  spec.frames = frames;
  spec.condition = "rain";
  spec.traffic = "lead-brake";
  return dir / (evals::generate_clip_file(spec, dir) + ".clip");
}

}  // namespace

void add_bench_commands(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "benchmarks that print figures (medians of repeats)");
  bench->require_subcommand(1);

  auto clips_frames = std::make_shared<uint32_t>(120);
  auto clips_repeats = std::make_shared<int>(5);
  auto* clips = bench->add_subcommand("clips", "procedural clip generation: frames per second on one core");
  clips->add_option("--frames", *clips_frames)->capture_default_str();
  clips->add_option("--repeats", *clips_repeats)->capture_default_str();
  clips->callback([clips_frames, clips_repeats] {
    fmt::print("{:<8} {:>14} {:>12}\n", "condition", "frames/s", "ms/frame");
    std::vector<double> all;
    for (const auto& cond : evals::known_conditions()) {
      std::vector<double> rates;
      for (int r = 0; r < *clips_repeats; ++r) {
        evals::ClipSpec spec;
        spec.seed = 77 + static_cast<uint64_t>(r);
        spec.frames = *clips_frames;
        spec.condition = cond;
        auto t0 = Clock::now();
        auto bytes = evals::generate_clip_bytes(spec);
        rates.push_back(*clips_frames / seconds_since(t0));
      }
      double m = median(rates);
      all.push_back(m);
      fmt::print("{:<8} {:>14.0f} {:>12.3f}\n", cond, m, 1000.0 / m);
    }
    double m = median(all);
    fmt::print("median over conditions: {:.0f} frames/s/core at 128x64; a 1,000-clip x 300-frame nightly set: {:.1f} min on one core\n",
               m, 1000.0 * 300 / m / 60);
  });

  struct Engine {
    std::vector<std::string> revisions;
    std::string board = "emulated-hw3";
    uint32_t frames = 200;
    int repeats = 7;
  };
  auto eng = std::make_shared<Engine>();
  auto* engine = bench->add_subcommand("engine", "host time per frame: hil's partitioned execution vs the whole model in OpenCV DNN, and compile time");
  engine->add_option("revisions", eng->revisions, "ONNX files")->required();
  engine->add_option("--board", eng->board)->capture_default_str();
  engine->add_option("--frames", eng->frames)->capture_default_str();
  engine->add_option("--repeats", eng->repeats)->capture_default_str();
  engine->callback([eng] {
    dual_engine::use_single_thread_kernels();
    auto board = dual_engine::load_board_type(eng->board);
    evals::ClipReader clip(bench_clip(eng->frames));
    const auto& cam = clip.header().cameras(0);
    std::vector<dual_engine::TensorMap> inputs;
    for (uint32_t k = 0; k < clip.frame_count(); ++k) {
      auto f = clip.frame(k);
      const auto& px = f.images(0).pixels();
      inputs.push_back({{"image", {{1, 3, cam.height(), cam.width()},
                                   dual_engine::image_to_input(reinterpret_cast<const uint8_t*>(px.data()), cam.width(), cam.height())}}});
    }
    fmt::print("{:<24} {:>12} {:>14} {:>16} {:>9} {:>12}\n", "revision", "compile ms", "whole ms/frame",
               "partitioned ms/fr", "ratio", "bit-equal");
    for (const auto& path : eng->revisions) {
      std::vector<double> compile_ms;
      std::unique_ptr<dual_engine::CompiledModel> plan;
      auto model = dual_engine::Model::load_file(path);
      for (int r = 0; r < eng->repeats; ++r) {
        auto t0 = Clock::now();
        auto m = dual_engine::Model::load_file(path);
        plan = std::make_unique<dual_engine::CompiledModel>(dual_engine::compile(m, board));
        compile_ms.push_back(seconds_since(t0) * 1000);
      }
      dual_engine::PartitionExecutor whole(plan->standby[0]), first(plan->first), second(plan->second);
      auto input_name = plan->graph_inputs[0].name;
      auto output_name = plan->graph_outputs[0].name;
      std::vector<double> whole_ms, split_ms;
      bool equal = true;
      for (int r = 0; r < eng->repeats; ++r) {
        // Interleave the two in each repeat so drift affects both alike.
        auto t0 = Clock::now();
        std::vector<std::vector<float>> w;
        for (const auto& in : inputs) w.push_back(whole.run(in).at(output_name).data);
        whole_ms.push_back(seconds_since(t0) * 1000 / inputs.size());
        t0 = Clock::now();
        size_t i = 0;
        for (const auto& in : inputs) {
          auto mid = first.run(in);
          mid.emplace(input_name, in.at(input_name));
          auto out = second.run(mid).at(output_name).data;
          equal &= out == w[i++];
        }
        split_ms.push_back(seconds_since(t0) * 1000 / inputs.size());
      }
      double wm = median(whole_ms), sm = median(split_ms);
      fmt::print("{:<24} {:>12.2f} {:>14.4f} {:>16.4f} {:>9.3f} {:>12}\n", std::filesystem::path(path).filename().string(),
                 median(compile_ms), wm, sm, sm / wm, equal ? "yes" : "NO");
    }
  });

  auto rt = std::make_shared<Engine>();
  auto* runtime = bench->add_subcommand("runtime", "dual-engine runtime: split vs single mode, host and emulated time");
  runtime->add_option("revisions", rt->revisions, "ONNX files")->required();
  runtime->add_option("--board", rt->board)->capture_default_str();
  runtime->add_option("--frames", rt->frames)->capture_default_str();
  runtime->add_option("--repeats", rt->repeats)->capture_default_str();
  runtime->callback([rt] {
    dual_engine::use_single_thread_kernels();
    auto board = dual_engine::load_board_type(rt->board);
    evals::ClipReader clip(bench_clip(rt->frames));
    fmt::print("{:<18} {:<7} {:>11} {:>11} {:>11} {:>13} {:>13} {:>13}\n", "revision", "mode", "host fps", "host p50",
               "host p99", "emulated fps", "emul. lat p50", "emul. lat p99");
    for (const auto& path : rt->revisions) {
      auto model = dual_engine::Model::load_file(path);
      dual_engine::CompiledRevision rev(model, board);
      double emulated_fps[2] = {0, 0};
      for (const std::string mode : {"single", "split"}) {
        suite::Scenario sc;
        sc.set_name("bench");
        sc.set_mode(mode);
        std::vector<double> fps, p50, p99;
        std::vector<double> device;
        for (int r = 0; r < rt->repeats; ++r) {
          auto run = dual_engine::play_eval(rev, clip, sc);
          std::vector<double> host;
          device.clear();
          for (const auto& f : run.frames) {
            host.push_back(f.host_ms);
            device.push_back(f.device_ms);
          }
          fps.push_back(run.frames.size() / run.host_seconds);
          p50.push_back(evals::percentile(host, 0.5));
          p99.push_back(evals::percentile(host, 0.99));
        }
        // Emulated throughput: the steady-state period of the mode (the
        // busiest engine's time per frame), from the cost model.
        double period_ms = mode == "split" ? rev.plan().split_period_us() / 1000 : rev.plan().standby[0].device_us / 1000;
        emulated_fps[mode == "split"] = 1000.0 / period_ms;
        fmt::print("{:<18} {:<7} {:>11.0f} {:>9.3f}ms {:>9.3f}ms {:>13.1f} {:>11.3f}ms {:>11.3f}ms\n",
                   std::filesystem::path(path).filename().string(), mode, median(fps), median(p50), median(p99),
                   1000.0 / period_ms, evals::percentile(device, 0.5), evals::percentile(device, 0.99));
      }
      fmt::print("{:<18} split/single emulated throughput: {:.2f}x\n", "", emulated_fps[1] / emulated_fps[0]);
    }
  });
}

}  // namespace hil::app
