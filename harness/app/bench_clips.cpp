// hil bench clips: what compressed, multi-camera clips cost and save.
//
// 1. Generation: frames per second of the procedural renderer at 128x64.
// 2. Storage and decoding at a recorded camera's size (1280x960 by default):
//    bytes per frame raw, JPEG at the chosen quality and PNG; decode
//    frames/s on one core, whole and reduced in the DCT domain.
// 3. The eval: the multi-camera sample network played on tri-camera clips at
//    that size; host time decoding and preprocessing against the rest
//    (inference and scoring), as a ratio and as a share of the eval's host time.
// Every figure is the median of --repeats runs, measured in this process.
#include <algorithm>
#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "commands.h"
#include "common.h"
#include "hil/dual_engine/compiler.h"
#include "hil/dual_engine/executor.h"
#include "hil/dual_engine/model.h"
#include "hil/dual_engine/preprocess.h"
#include "hil/dual_engine/runtime.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/clip_generator.h"
#include "hil/evals/image.h"
#include "hil/evals/suite.h"

namespace hil::app {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct BenchClipsArgs {
  uint32_t frames = 120, repeats = 5;
  uint32_t width = 1280, height = 960, quality = 90, eval_frames = 8;
  std::string revision = std::string(HIL_SOURCE_DIR) + "/dual_engine/samples/tri-cam/base-s1.onnx";
  std::string suite = "tri-demo";
  std::string board = "fsd-hw3";
  bool skip_generation = false;
};

int bench_clips(const BenchClipsArgs& a) {
  dual_engine::use_single_thread_kernels();
  if (!a.skip_generation) {
    fmt::print("generation at 128x64, one core:\n{:<8} {:>14} {:>12}\n", "condition", "frames/s",
               "ms/frame");
    std::vector<double> all;
    for (const auto& cond : evals::known_conditions()) {
      std::vector<double> rates;
      for (uint32_t r = 0; r < a.repeats; ++r) {
        evals::ClipSpec spec;
        spec.seed = 77 + r;
        spec.frames = a.frames;
        spec.condition = cond;
        auto t0 = Clock::now();
        evals::generate_clip_bytes(spec);
        rates.push_back(a.frames / since(t0));
      }
      all.push_back(median_of(rates));
      fmt::print("{:<8} {:>14.0f} {:>12.3f}\n", cond, all.back(), 1000.0 / all.back());
    }
    fmt::print("median over conditions: {:.0f} frames/s/core\n\n", median_of(all));
  }

  // Tri-camera clips at the recorded size, rendered once, stored three ways.
  const auto dir = std::filesystem::temp_directory_path() / "hil-bench-clips";
  fmt::print("rendering {} tri-camera frames at {}x{} (3 cameras)...\n", a.eval_frames, a.width,
             a.height);
  std::string jpeg_clip;
  std::vector<double> raw_bytes, jpeg_bytes, png_bytes;
  std::vector<std::string> jpegs;
  for (auto encoding : {clip::ENCODING_JPEG, clip::ENCODING_PNG}) {
    evals::ClipSpec spec;
    spec.seed = 4243;
    spec.frames = a.eval_frames;
    spec.condition = "rain";
    spec.traffic = "lead-brake";
    spec.rig = "tri";
    spec.width = a.width;
    spec.height = a.height;
    spec.encoding = encoding;
    spec.quality = a.quality;
    const auto path = dir / (evals::generate_clip_file(spec, dir) + ".clip");
    evals::ClipReader reader(path);
    for (uint32_t k = 0; k < reader.frame_count(); ++k) {
      const auto frame = reader.frame(k);
      for (const auto& img : frame.images()) {
        (encoding == clip::ENCODING_JPEG ? jpeg_bytes : png_bytes)
            .push_back(static_cast<double>(img.pixels().size()));
        if (encoding == clip::ENCODING_JPEG) jpegs.push_back(img.pixels());
      }
    }
    if (encoding == clip::ENCODING_JPEG) jpeg_clip = path.string();
  }
  const double raw = 3.0 * a.width * a.height;
  const double jpeg = median_of(jpeg_bytes), png = median_of(png_bytes);
  fmt::print("\nstorage per camera frame at {}x{}:\n", a.width, a.height);
  fmt::print("  raw RGB8      {:>10.0f} bytes\n", raw);
  fmt::print("  JPEG q{:<3}     {:>10.0f} bytes  {:>6.1f}x smaller than raw\n", a.quality, jpeg,
             raw / jpeg);
  fmt::print("  PNG lossless  {:>10.0f} bytes  {:>6.1f}x smaller than raw\n", png, raw / png);

  fmt::print("\ndecode on one core (JPEG q{}, {}x{}):\n", a.quality, a.width, a.height);
  for (uint32_t reduce : {1u, 2u, 4u, 8u}) {
    std::vector<double> rates;
    for (uint32_t r = 0; r < a.repeats; ++r) {
      auto t0 = Clock::now();
      for (const auto& j : jpegs) evals::decode_image(j, 3, reduce);
      rates.push_back(static_cast<double>(jpegs.size()) / since(t0));
    }
    fmt::print(
        "  {:<24} {:>8.1f} frames/s\n",
        reduce == 1 ? std::string("whole image") : fmt::format("reduced 1/{} (DCT domain)", reduce),
        median_of(rates));
  }

  // The eval: decoding and preprocessing against everything else.
  auto prepared = dual_engine::prepare_revision(a.revision);
  auto model = dual_engine::Model::load(prepared.bytes, a.revision);
  dual_engine::CompiledRevision rev(model, dual_engine::load_board_type(a.board));
  auto suite = evals::load_suite(a.suite);
  std::vector<suite::MetricSpec> metrics(suite.metrics().begin(), suite.metrics().end());
  evals::ClipReader clip(jpeg_clip);
  suite::Scenario sc;
  sc.set_name("bench");
  sc.set_mode("split");
  std::vector<double> input_ms, other_ms, share, decode_ms, prep_ms;
  for (uint32_t r = 0; r < a.repeats; ++r) {
    auto run = dual_engine::play_eval(rev, clip, sc, metrics);
    const double input = run.decode_seconds + run.preprocess_seconds;
    const double other = run.host_seconds - input;
    input_ms.push_back(input * 1000 / run.frames.size());
    decode_ms.push_back(run.decode_seconds * 1000 / run.frames.size());
    prep_ms.push_back(run.preprocess_seconds * 1000 / run.frames.size());
    other_ms.push_back(other * 1000 / run.frames.size());
    share.push_back(input / run.host_seconds);
  }
  const auto& in0 = rev.iface().inputs(0);
  const auto& t = model.tensor(in0.input());
  const uint32_t reduce = dual_engine::decode_reduction(
      clip.header().cameras(0), in0, static_cast<uint32_t>(t.shape.back()),
      static_cast<uint32_t>(t.shape[t.shape.size() - 2]));
  fmt::print(
      "\neval of {} on {} frames of 3 cameras at {}x{} (input {}x{} per camera, JPEG decoded at "
      "1/{}), per "
      "frame:\n",
      std::filesystem::path(a.revision).filename().string(), clip.frame_count(), a.width, a.height,
      t.shape.back(), t.shape[t.shape.size() - 2], reduce);
  fmt::print("  decode + preprocess  {:>8.2f} ms  (decode {:.2f}, preprocess {:.2f})\n",
             median_of(input_ms), median_of(decode_ms), median_of(prep_ms));
  fmt::print("  inference + scoring  {:>8.2f} ms\n", median_of(other_ms));
  fmt::print("  ratio                {:>8.2f}  (decode + preprocess / inference + scoring)\n",
             median_of(input_ms) / median_of(other_ms));
  fmt::print("  share of host time   {:>7.1f} %  (goal: at most 25 %)\n", 100 * median_of(share));
  return 0;
}

}  // namespace

void add_bench_clips_command(CLI::App* bench) {
  auto a = std::make_shared<BenchClipsArgs>();
  auto* cmd =
      bench->add_subcommand("clips",
                            "clips: generation rate; bytes per frame raw, JPEG and PNG at a "
                            "recorded camera's size; decode rate; "
                            "decode + preprocess against inference for the multi-camera sample");
  cmd->add_option("--frames", a->frames, "frames per generation measurement")
      ->capture_default_str();
  cmd->add_option("--repeats", a->repeats)->capture_default_str();
  cmd->add_option("--width", a->width, "camera width")->capture_default_str();
  cmd->add_option("--height", a->height, "camera height")->capture_default_str();
  cmd->add_option("--quality", a->quality, "JPEG quality")->capture_default_str();
  cmd->add_option("--eval-frames", a->eval_frames, "frames of the tri-camera clip")
      ->capture_default_str();
  cmd->add_option("--revision", a->revision, "the multi-camera network")->capture_default_str();
  cmd->add_option("--suite", a->suite, "metrics to score with")->capture_default_str();
  cmd->add_option("--board", a->board)->capture_default_str();
  cmd->add_flag("--skip-generation", a->skip_generation, "skip the 128x64 generation rates");
  cmd->callback([a] { exit_code() = bench_clips(*a); });
}

}  // namespace hil::app
