// hil models train | inspect ; hil eval
#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "commands.h"
#include "hil/dual_engine/backend.h"
#include "hil/dual_engine/compiler.h"
#include "hil/dual_engine/conformance.h"
#include "hil/dual_engine/executor.h"
#include "hil/dual_engine/model.h"
#include "hil/dual_engine/runtime.h"
#include "hil/dual_engine/sample_models.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/model_interface.h"
#include "hil/evals/sha256.h"
#include "hil/evals/suite.h"

#include <google/protobuf/util/json_util.h>

namespace hil::app {

namespace {

// The decoded heads of a frame as JSON (protobuf's mapping: lowerCamelCase keys).
std::string outputs_json(const outputs::FrameOutputs& frame) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  if (!google::protobuf::util::MessageToJsonString(frame, &out, options).ok()) return "null";
  return out;
}

struct CheckArgs {
  std::string file, interface_file, suite, board = "slowed-hw3";
  std::vector<std::string> clips;
};

// hil models check: the revision's interface against its graph (and, with
// --suite and --clip, the suite's metrics and the clips' cameras and truth),
// the same checks a submission makes, before any board is used.
int check_model(const CheckArgs& a) {
  auto prepared = dual_engine::prepare_revision(
      a.file, a.interface_file.empty() ? std::nullopt
                                       : std::optional<std::filesystem::path>(a.interface_file));
  auto model = dual_engine::Model::load(prepared.bytes, a.file);
  fmt::print("{}: interface from {}, fits the graph\n", a.file, prepared.interface_source);
  fmt::print("revision as uploaded: sha256 {} ({} bytes)\n", evals::sha256_hex(prepared.bytes),
             prepared.bytes.size());
  for (const auto& in : prepared.iface.inputs()) {
    const auto& t = model.tensor(in.input());
    fmt::print("  input  {:<20} [{}] <- camera(s) {}{}, {} {}\n", in.input(),
               fmt::join(t.shape, "x"), fmt::join(in.cameras(), ", "),
               in.history() > 1 ? fmt::format(" x {} frames", in.history()) : "",
               model::ColorOrder_Name(in.preprocess().color()),
               model::Layout_Name(in.preprocess().layout()));
  }
  for (const auto& out : prepared.iface.outputs()) {
    const auto& t = model.tensor(out.output());
    fmt::print("  output {:<20} [{}] -> head '{}' ({})\n", out.output(), fmt::join(t.shape, "x"),
               out.head(), evals::head_kind_name(evals::head_kind(out)));
  }
  for (const auto& o : prepared.iface.ignored_outputs()) fmt::print("  output {:<20} ignored\n", o);
  if (!evals::has_control_head(prepared.iface)) {
    fmt::print("  no control head: the network commands nothing, so no command gaps are counted\n");
  }
  if (!a.suite.empty()) {
    auto suite = evals::load_suite(a.suite);
    std::vector<std::pair<std::string, clip::ClipHeader>> headers;
    for (const auto& c : a.clips) headers.emplace_back(c, evals::ClipReader(c).header());
    evals::check_suite_fit(suite, prepared.iface, a.file, headers);
    fmt::print("suite {}: its {} metric(s) read heads the model has{}\n", suite.name(),
               suite.metrics_size(),
               headers.empty()
                   ? ""
                   : fmt::format("; the {} clip(s) carry the cameras and ground truth they need",
                                 headers.size()));
  }
  dual_engine::compile(model, dual_engine::load_board_type(a.board));
  fmt::print("compiles for board type {}\n", a.board);
  return 0;
}

}  // namespace

void add_models_commands(CLI::App& app) {
  auto* models = app.add_subcommand("models", "train, check and inspect network revisions");
  models->require_subcommand(1);

  struct Train {
    std::string out = "revisions", clips = "";
    std::vector<std::string> recipes{"base", "better", "snowblind", "wide"};
    uint64_t seed = 1;
  };
  auto t = std::make_shared<Train>();
  auto* train = models->add_subcommand("train", "train the sample revisions on generated clips");
  train->add_option("--out", t->out, "output directory for REVISION.onnx")->capture_default_str();
  train->add_option("--clips", t->clips,
                    "cache directory for training clips (default: OUT/train-clips)");
  train->add_option("--recipe", t->recipes, "recipes: base, better, snowblind, wide")
      ->capture_default_str();
  train
      ->add_option(
          "--seed", t->seed,
          "training seed (feature initialisation); another seed gives a same-quality sibling")
      ->capture_default_str();
  train->callback([t] {
    std::filesystem::create_directories(t->out);
    std::filesystem::path cache = t->clips.empty() ? std::filesystem::path(t->out) / "train-clips"
                                                   : std::filesystem::path(t->clips);
    for (const auto& name : t->recipes) {
      auto recipe = dual_engine::recipe_by_name(name);
      recipe.seed = t->seed;
      dual_engine::TrainingReport rep;
      auto bytes = dual_engine::train_revision(recipe, cache, &rep);
      std::string file = t->seed == 1 ? name : fmt::format("{}-seed{}", name, t->seed);
      auto path = std::filesystem::path(t->out) / (file + ".onnx");
      evals::write_file_atomic(path, bytes);
      fmt::print(
          "{:<28} {} frames, {} features, train lane MAE {:.3f} m, steering MAE {:.4f} rad, {:.1f} "
          "s  sha256 {}\n",
          path.string(), rep.frames, rep.features, rep.train_lane_offset_mae,
          rep.train_steering_mae, rep.seconds, evals::sha256_hex(bytes).substr(0, 12));
    }
  });

  struct Inspect {
    std::string file, board = "slowed-hw3";
  };
  auto in = std::make_shared<Inspect>();
  auto* inspect =
      models->add_subcommand("inspect", "check a revision and print its dual-engine plan");
  inspect->add_option("file", in->file, "ONNX file")->required();
  inspect->add_option("--board", in->board, "board type")->capture_default_str();
  inspect->callback([in] {
    auto model = dual_engine::Model::load_file(in->file);
    auto plan = dual_engine::compile(model, dual_engine::load_board_type(in->board));
    fmt::print("{}", dual_engine::describe_plan(model, plan));
  });

  auto ck = std::make_shared<CheckArgs>();
  auto* check = models->add_subcommand("check",
                                       "check a revision's model interface against its graph (and "
                                       "a suite's metrics and clips against both)");
  check->add_option("file", ck->file, "ONNX file")->required();
  check->add_option("--interface", ck->interface_file,
                    "interface file (default: FILE.interface.textproto beside it, "
                    "else the one the ONNX metadata carries)");
  check->add_option("--suite", ck->suite, "also check this suite's metrics against the heads");
  check->add_option("--clip", ck->clips, "and these clips' cameras and ground truth (repeatable)");
  check->add_option("--board", ck->board, "board type to compile for")->capture_default_str();
  check->callback([ck] { exit_code() = check_model(*ck); });
  add_dataset_command(models);

  struct Conformance {
    std::vector<std::string> dirs;
    std::string board = "slowed-hw3";
    bool verbose = false;
  };
  auto conf = std::make_shared<Conformance>();
  auto* conformance = models->add_subcommand(
      "conformance",
      "run ONNX backend-test cases (model.onnx + test_data_set_*) through load, compile and "
      "partitioned execution, beside OpenCV DNN alone");
  conformance
      ->add_option("dirs", conf->dirs, "case directories, or directories of case directories")
      ->required()
      ->check(CLI::ExistingDirectory);
  conformance->add_option("--board", conf->board, "board type")->capture_default_str();
  conformance->add_flag("--verbose", conf->verbose, "one line per case, with its compile time");
  conformance->callback([conf] {
    dual_engine::use_single_thread_kernels();  // deterministic, and the numbers hil runs with
    const auto board = dual_engine::load_board_type(conf->board);
    auto one_line = [](std::string text, size_t width) {
      for (auto& c : text) c = c == '\n' ? ' ' : c;  // OpenCV messages span lines
      return text.size() <= width ? text : text.substr(0, width - 3) + "...";
    };
    fmt::print("conformance on board {} (tolerance: |error| <= {} + {} * |expected|)\n",
               conf->board, dual_engine::kConformanceAtol, dual_engine::kConformanceRtol);
    auto print_case = [&](const dual_engine::ConformanceResult& r) {
      const bool failed = r.outcome == dual_engine::ConformanceOutcome::kMismatch ||
                          r.outcome == dual_engine::ConformanceOutcome::kError;
      if (!conf->verbose && !failed) return;
      fmt::print(
          "  {:<52} {:<8} max err {:<9} compile {:>7} opencv-alone {:<4} {}\n", r.name,
          dual_engine::outcome_name(r.outcome),
          std::isnan(r.max_abs_error) ? std::string("-") : fmt::format("{:.3g}", r.max_abs_error),
          r.compile_ms < 0 ? std::string("-") : fmt::format("{:.2f}ms", r.compile_ms),
          r.opencv_whole_pass ? "pass" : "fail", one_line(r.message, 140));
    };
    std::vector<std::filesystem::path> dirs(conf->dirs.begin(), conf->dirs.end());
    auto report = dual_engine::run_conformance(dirs, board, print_case);

    auto set_name = [](const std::filesystem::path& dir) {
      auto p = dir.lexically_normal();
      return (p.filename().empty() ? p.parent_path() : p).filename().string();
    };
    auto row = [](const std::string& name, const dual_engine::ConformanceTotals& t) {
      fmt::print("{:<28} {:>6} {:>6} {:>9} {:>8} {:>6} {:>19}\n", name, t.cases, t.pass, t.mismatch,
                 t.refused, t.error, t.opencv_whole_pass);
    };
    fmt::print("\n{:<28} {:>6} {:>6} {:>9} {:>8} {:>6} {:>19}\n", "set", "cases", "pass",
               "mismatch", "refused", "error", "OpenCV-alone pass");
    // Cases whose test data are not all float tensors are refused by design;
    // the float-data row is the part of a set hil can be judged on.
    auto rows = [&](const std::string& name, const dual_engine::ConformanceTotals& all,
                    const dual_engine::ConformanceTotals& float_only) {
      row(name, all);
      if (float_only.cases != all.cases) row("  float data only", float_only);
    };
    for (const auto& set : report.sets) rows(set_name(set.dir), set.totals, set.float_totals);
    if (report.sets.size() > 1) rows("total", report.totals, report.float_totals);
    fmt::print("\nhil partitioned: {} pass, {} mismatch, {} refused, {} error of {} cases\n",
               report.totals.pass, report.totals.mismatch, report.totals.refused,
               report.totals.error, report.totals.cases);
    fmt::print(
        "  {} of the passes cut the graph in two; the others (one node, or nothing worth a "
        "cut) run the whole graph as each partition\n",
        report.totals.split_pass);
    fmt::print("OpenCV DNN whole-graph alone: {} pass\n", report.totals.opencv_whole_pass);
    if (const auto* largest = report.largest_compiled()) {
      fmt::print("largest compiled model: {} ({} nodes, {} bytes), compile {:.2f} ms\n",
                 largest->name, largest->nodes, largest->model_bytes, largest->compile_ms);
    }
  });
}

void add_eval_command(CLI::App& app) {
  struct Eval {
    std::string revision, clip, board = "slowed-hw3", mode = "split", json, suite, backend;
    int commander = 0;
    double fps = 0;
    std::vector<std::string> faults;
    std::vector<uint32_t> swaps;
    uint32_t rejoin_after = 0;
  };
  auto e = std::make_shared<Eval>();
  auto* cmd = app.add_subcommand(
      "eval", "play one eval on a local board (emulated, host or plugin), without a scheduler");
  cmd->add_option("revision", e->revision, "ONNX file")->required();
  cmd->add_option("clip", e->clip, "clip file")->required();
  cmd->add_option("--board-type", e->board)->capture_default_str();
  cmd->add_option("--backend", e->backend,
                  "engine backend plugin (PATH.so); default: the board type's own");
  cmd->add_option("--mode", e->mode, "split, single or redundant")->capture_default_str();
  cmd->add_option("--commander", e->commander, "engine that starts as commander (0 or 1)")
      ->capture_default_str();
  cmd->add_option("--fps", e->fps, "frame rate (default: the clip's)");
  cmd->add_option("--json", e->json, "write every per-frame record to this JSON file");
  cmd->add_option("--fault", e->faults,
                  "ENGINE:KIND@FRAME, e.g. commander:crash@12, extender:slow:4@30 (repeatable)");
  cmd->add_option("--swap-at", e->swaps, "swap roles at these frames");
  cmd->add_option("--rejoin-after", e->rejoin_after,
                  "frames before a failed engine rejoins (0: never)");
  cmd->add_option("--suite", e->suite,
                  "score with this suite's metrics (default: system metrics only)");
  cmd->callback([e] {
    dual_engine::use_single_thread_kernels();
    auto prepared = dual_engine::prepare_revision(e->revision);
    auto model = dual_engine::Model::load(prepared.bytes, e->revision);
    const auto board = dual_engine::load_board_type(e->board);
    auto backend = e->backend.empty() ? dual_engine::make_board_backend(board)
                                      : dual_engine::make_plugin_backend(e->backend);
    dual_engine::CompiledRevision rev(model, board, backend.get());
    std::vector<suite::MetricSpec> metrics;
    if (!e->suite.empty()) {
      auto s = evals::load_suite(e->suite);
      metrics.assign(s.metrics().begin(), s.metrics().end());
    }
    evals::ClipReader clip(e->clip);
    suite::Scenario sc;
    sc.set_name("cli");
    sc.set_mode(e->mode);
    sc.set_commander(static_cast<uint32_t>(e->commander));
    sc.set_fps(e->fps);
    for (const auto& f : e->faults) *sc.add_faults() = dual_engine::parse_fault(f);
    for (auto k : e->swaps) sc.add_swap_at(k);
    sc.set_rejoin_after(e->rejoin_after);
    auto run = dual_engine::play_eval(rev, clip, sc, metrics);
    fmt::print("eval {} on {} ({} frames, mode {}, board {}, backend {}: device time {})\n",
               model.name(), clip.name(), run.frames.size(), run.mode, e->board, backend->name(),
               backend->measures_time() ? "measured" : "emulated");
    for (const auto& [name, value] : run.scorer.summary())
      fmt::print("  {:<24} {:>12.5g}\n", name, value);
    for (const auto& ev : run.events) fmt::print("  event: {}\n", ev);
    for (const auto& f : run.failovers) {
      fmt::print(
          "  failover: frame {} engine {} ({}) {}: detected in {:.2f} ms ({} frames), {}, {} "
          "frame(s) without "
          "{}, {} the FTTI of {:.0f} ms\n",
          f.frame, f.failed_engine, f.was_commander ? "commander" : "extender",
          dual_engine::fault_kind_name(f.kind), f.detection_ms, f.detection_frames,
          f.recovered ? fmt::format("survivor commanded {:.2f} ms later (warm-up {:.2f} ms)",
                                    f.switchover_ms, f.warmup_ms)
                      : std::string("no survivor"),
          f.gap_frames, "command", f.within_ftti ? "within" : "BEYOND", run.ftti_ms);
    }
    fmt::print("  emulated: frame period {:.2f} ms, split-mode period {:.2f} ms\n", run.period_ms,
               run.split_period_ms);
    if (!e->json.empty()) {
      std::ofstream out(e->json);
      out << "{\"frames\": [\n";
      for (size_t i = 0; i < run.frames.size(); ++i) {
        const auto& f = run.frames[i];
        out << fmt::format(
            "  {{\"frame\": {}, \"commander\": {}, \"has_command\": {}, \"host_ms\": {:.4f}, "
            "\"device_ms\": {:.4f}, "
            "\"deadline_missed\": {}, \"mode\": \"{}\", \"failover\": {}, \"mismatch\": {}, "
            "\"outputs\": {}}}{}\n",
            i, f.commander, f.has_command, f.host_ms, f.device_ms, f.deadline_missed,
            f.mode == 0   ? "split"
            : f.mode == 1 ? "single"
                          : "redundant",
            f.failover, f.mismatch, outputs_json(f.outputs), i + 1 < run.frames.size() ? "," : "");
      }
      out << "]}\n";
    }
  });
}

}  // namespace hil::app
