// hil gate calibrate | power: the gate's error rates, measured.
//
// Both evaluate a pool of clips of the suite's kind (the suite's own clips
// and more rendered the same way) once per revision, on the host with the
// emulated engines, and keep each clip's summary metrics and decoded frames.
// Then, at the suite's real size (its clip count), they resample the pool
// many times and run the suite's gate on each sample:
//
//   calibrate  A/A: revisions of the same recipe with different training
//              seeds against each other, and one revision evaluated twice
//              (separate evals). Every fail is a false fail. Per blocking
//              metric: pass / inconclusive / fail rates, the false-fail rate's
//              Clopper-Pearson 95 % upper bound, and the margins that would
//              hold false fails at the target and give 80 % passes.
//   power      a known regression injected into a seed's decoded outputs
//              (detections dropped, lanes shifted, a control bias), of
//              several sizes, on every clip or on one condition's clips only;
//              the share of runs whose blocking metric fails, and the smallest
//              size caught 80 % of the time.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "commands.h"
#include "hil/dual_engine/model.h"
#include "hil/dual_engine/runtime.h"
#include "hil/dual_engine/sample_models.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/clip_generator.h"
#include "hil/evals/gate.h"
#include "hil/evals/metrics.h"
#include "hil/evals/model_interface.h"
#include "hil/evals/splitmix.h"
#include "hil/evals/suite.h"

namespace hil::app {
namespace {

struct CalibrationArgs {
  std::string suite = "tri-demo";
  std::vector<std::string> revisions;  // ONNX files of one recipe, different seeds
  std::string recipe;                  // or: train the small sample recipe with this many seeds
  uint32_t seeds = 4;
  uint32_t pool_scale = 3;  // the pool holds this many times the suite's clips
  uint32_t pool_start = 0;  // skip this many suite-sized clip sets (0: the suite's own clips first)
  uint32_t runs = 200;      // resampled runs per revision pair (calibrate) or per size (power)
  double target = 0.02;     // false-fail rate to hold
  uint32_t threads = 0;     // 0: every core
  std::filesystem::path clip_cache = "hil-clips";
};

// One clip's results for one revision.
struct ClipResult {
  std::map<std::string, double> summary;
  std::vector<evals::FrameRecord> frames;
};

struct Pool {
  std::vector<std::string> clip_sha;
  std::vector<std::vector<std::string>> tags;
  std::vector<std::vector<clip::Frame>> truth;   // labels, control, odometry (images dropped)
  std::vector<std::vector<ClipResult>> results;  // [revision][clip]
  model::ModelInterface iface;
};

std::vector<std::string> default_revisions(const suite::Suite& suite) {
  const auto specs = evals::generated_clip_specs(suite);
  if (!specs.empty() && specs[0].rig == "tri") {
    std::vector<std::string> out;
    for (int s = 1; s <= 3; ++s) {
      out.push_back((std::filesystem::path(HIL_SOURCE_DIR) / "dual_engine/samples/tri-cam" /
                     fmt::format("base-s{}.onnx", s))
                        .string());
    }
    return out;
  }
  return {};
}

std::vector<dual_engine::Model> load_revisions(const CalibrationArgs& a,
                                               const suite::Suite& suite) {
  std::vector<dual_engine::Model> models;
  auto files = a.revisions.empty() && a.recipe.empty() ? default_revisions(suite) : a.revisions;
  for (const auto& f : files) models.push_back(dual_engine::Model::load_file(f));
  if (models.empty()) {
    const std::string recipe_name = a.recipe.empty() ? "base" : a.recipe;
    for (uint32_t s = 1; s <= a.seeds; ++s) {
      auto recipe = dual_engine::recipe_by_name(recipe_name);
      recipe.seed = s;
      fmt::print(stderr, "training {} seed {}\n", recipe_name, s);
      models.push_back(dual_engine::Model::load(dual_engine::train_revision(recipe, a.clip_cache),
                                                fmt::format("{}-s{}", recipe_name, s)));
    }
  }
  if (models.size() < 2)
    throw std::invalid_argument("calibration needs at least two revisions of one recipe");
  return models;
}

// Where the pool's clips come from, for the report's first line.
std::string pool_origin(const CalibrationArgs& a) {
  if (a.pool_start == 0) return " (the suite's own clips first)";
  return fmt::format(" held out from the suite's clips (clip sets {} to {})", a.pool_start,
                     a.pool_start + a.pool_scale - 1);
}

const suite::Scenario& playing_scenario(const suite::Suite& suite) {
  for (const auto& sc : suite.scenarios()) {
    if (sc.mode() != "noop") return sc;
  }
  throw std::invalid_argument(
      fmt::format("suite {} plays no frame: nothing to calibrate", suite.name()));
}

// Evaluates every revision on every pool clip (revision 0 twice: the second
// copy is the same revision's separate evals), one worker per core.
Pool evaluate_pool(const CalibrationArgs& a, const suite::Suite& suite,
                   const std::vector<dual_engine::Model>& models) {
  dual_engine::use_single_thread_kernels();
  const auto specs = evals::generated_clip_specs(suite, a.pool_scale, a.pool_start);
  if (specs.empty())
    throw std::invalid_argument(
        fmt::format("suite {} has no generated clips to pool", suite.name()));
  Pool pool;
  std::filesystem::create_directories(a.clip_cache);
  const uint32_t threads =
      a.threads ? a.threads : std::max(1u, std::thread::hardware_concurrency());
  pool.clip_sha.resize(specs.size());
  pool.tags.resize(specs.size());
  pool.truth.resize(specs.size());
  const size_t n_runs = models.size() + 1;  // revision 0 twice
  pool.results.assign(n_runs, std::vector<ClipResult>(specs.size()));
  const auto board = dual_engine::load_board_type(suite.board_type());
  const auto& scenario = playing_scenario(suite);
  const std::vector<suite::MetricSpec> metrics(suite.metrics().begin(), suite.metrics().end());
  pool.iface = dual_engine::revision_interface(models[0]);
  fmt::print(stderr, "evaluating {} revisions (one twice) on {} clips of {} ({} threads)\n",
             models.size(), specs.size(), suite.name(), threads);
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::exception_ptr error;
  auto work = [&] {
    try {
      std::vector<std::unique_ptr<dual_engine::CompiledRevision>> compiled;
      // The board type's own backend: a measuring board (host) gives A/A runs
      // of measured latency, whose spread sets a latency margin.
      const auto backend = dual_engine::make_board_backend(board);
      for (const auto& m : models) {
        compiled.push_back(
            std::make_unique<dual_engine::CompiledRevision>(m, board, backend.get()));
      }
      for (size_t i; (i = next++) < specs.size();) {
        const auto sha = evals::generate_clip_file(specs[i], a.clip_cache);
        evals::ClipReader clip(a.clip_cache / (sha + ".clip"));
        pool.clip_sha[i] = sha;
        pool.tags[i].assign(clip.header().tags().begin(), clip.header().tags().end());
        for (uint32_t f = 0; f < clip.frame_count(); ++f) {
          const auto full = clip.frame(f);
          clip::Frame t;
          t.set_index(full.index());
          t.set_timestamp(full.timestamp());
          *t.mutable_labels() = full.labels();
          *t.mutable_control() = full.control();
          *t.mutable_odometry() = full.odometry();
          pool.truth[i].push_back(std::move(t));
        }
        for (size_t r = 0; r < n_runs; ++r) {
          auto run = dual_engine::play_eval(*compiled[r == models.size() ? 0 : r], clip, scenario,
                                            metrics);
          pool.results[r][i] = {run.scorer.summary(), std::move(run.frames)};
        }
      }
    } catch (...) {
      std::lock_guard lock(mu);
      if (!error) error = std::current_exception();
      next = specs.size();
    }
  };
  std::vector<std::thread> workers;
  for (uint32_t w = 1; w < threads; ++w) workers.emplace_back(work);
  work();
  for (auto& t : workers) t.join();
  if (error) std::rethrow_exception(error);
  return pool;
}

uint32_t suite_clip_count(const suite::Suite& suite) {
  return static_cast<uint32_t>(evals::generated_clip_specs(suite).size());
}

// k distinct clip indices out of n (partial Fisher-Yates), from a seed.
std::vector<size_t> sample_clips(size_t n, size_t k, uint64_t seed) {
  std::vector<size_t> idx(n);
  for (size_t i = 0; i < n; ++i) idx[i] = i;
  evals::SplitMix rng{seed};
  for (size_t i = 0; i < k && i < n; ++i) std::swap(idx[i], idx[i + rng.next() % (n - i)]);
  idx.resize(std::min(k, n));
  return idx;
}

std::vector<evals::PairedClip> paired(const Pool& pool, const std::vector<size_t>& clips,
                                      const std::vector<std::map<std::string, double>>& baseline,
                                      const std::vector<std::map<std::string, double>>& candidate) {
  std::vector<evals::PairedClip> out;
  for (size_t i : clips) {
    evals::PairedClip p;
    p.clip = pool.clip_sha[i];
    p.cluster = pool.clip_sha[i];
    p.tags = pool.tags[i];
    p.baseline = baseline[i];
    p.candidate = candidate[i];
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<std::map<std::string, double>> summaries(const std::vector<ClipResult>& results) {
  std::vector<std::map<std::string, double>> out;
  for (const auto& r : results) out.push_back(r.summary);
  return out;
}

// The value at quantile q of sorted values (nearest rank).
double quantile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

struct Outcome {
  uint32_t runs = 0, pass = 0, fail = 0, inconclusive = 0;
  std::vector<double> lo, hi;
  double margin = 0;
};

void calibrate(const CalibrationArgs& a) {
  const auto suite = evals::load_suite(a.suite);
  const auto models = load_revisions(a, suite);
  const auto pool = evaluate_pool(a, suite, models);
  const uint32_t size = suite_clip_count(suite);
  std::vector<std::string> blocking;
  for (const auto& g : suite.gates()) {
    if (g.blocking()) blocking.push_back(g.metric());
  }
  // [kind][metric]: kind 0 = different seeds, 1 = the same revision twice.
  std::map<std::string, Outcome> seeds, same;
  // Only the blocking metrics decide a gate: each run gates those alone
  // (slices are advisory and cost most of the time).
  const auto defs = evals::suite_metrics(suite);
  auto gate_blocking = [&](std::map<std::string, Outcome>& into,
                           const std::vector<evals::PairedClip>& clips,
                           const evals::GateOptions& options) {
    for (const auto& rule : suite.gates()) {
      if (!rule.blocking()) continue;
      const auto m =
          evals::gate_metric(rule, *evals::find_metric(defs, rule.metric()), clips, options);
      auto& o = into[m.metric];
      ++o.runs;
      o.pass += m.verdict == evals::Verdict::kPass;
      o.fail += m.verdict == evals::Verdict::kFail;
      o.inconclusive += m.verdict == evals::Verdict::kInconclusive;
      o.lo.push_back(m.lo);
      o.hi.push_back(m.hi);
      o.margin = m.margin;
    }
  };
  const size_t n_rev = models.size();
  uint64_t run_seed = 1;
  evals::GateOptions options;
  options.resamples = suite.bootstrap_resamples() ? suite.bootstrap_resamples() : 2000;
  for (size_t i = 0; i < n_rev; ++i) {
    for (size_t j = 0; j < n_rev; ++j) {
      if (i == j) continue;
      const auto base = summaries(pool.results[i]), cand = summaries(pool.results[j]);
      for (uint32_t r = 0; r < a.runs; ++r, ++run_seed) {
        const auto clips = sample_clips(pool.clip_sha.size(), size,
                                        evals::fnv1a64(fmt::format("aa/{}/{}/{}", i, j, r)));
        options.seed = suite.bootstrap_seed() ^ run_seed;
        gate_blocking(seeds, paired(pool, clips, base, cand), options);
      }
    }
  }
  {
    const auto first = summaries(pool.results[0]), second = summaries(pool.results[n_rev]);
    for (uint32_t r = 0; r < a.runs; ++r, ++run_seed) {
      const auto clips =
          sample_clips(pool.clip_sha.size(), size, evals::fnv1a64(fmt::format("same/{}", r)));
      options.seed = suite.bootstrap_seed() ^ run_seed;
      gate_blocking(same, paired(pool, clips, first, second), options);
    }
  }
  fmt::print(
      "A/A calibration of suite {}: {} revisions of one recipe ({} ordered seed pairs) and one "
      "revision "
      "evaluated twice; {} runs each of {} clips drawn from a pool of {}{}\n",
      suite.name(), n_rev, n_rev * (n_rev - 1), a.runs, size, pool.clip_sha.size(), pool_origin(a));
  fmt::print("{:<24} {:<10} {:>5} {:>7} {:>7} {:>8} {:>10} {:>9} {:>14} {:>14}\n", "metric",
             "pairs", "runs", "pass", "incon.", "fail", "fail UB95", "margin",
             "m for <=" + fmt::format("{:g}%", a.target * 100), "m for 80% pass");
  for (const auto& [label, table] : {std::pair{"seeds", &seeds}, std::pair{"same rev", &same}}) {
    for (const auto& metric : blocking) {
      auto it = table->find(metric);
      if (it == table->end()) continue;
      const auto& o = it->second;
      const double n = o.runs;
      fmt::print(
          "{:<24} {:<10} {:>5} {:>6.1f}% {:>6.1f}% {:>7.1f}% {:>9.1f}% {:>9.4g} {:>14.4g} "
          "{:>14.4g}\n",
          metric, label, o.runs, 100 * o.pass / n, 100 * o.inconclusive / n, 100 * o.fail / n,
          100 * evals::clopper_pearson_upper(o.fail, o.runs, 0.95), o.margin,
          quantile(o.lo, 1 - a.target), quantile(o.hi, 0.8));
    }
  }
  fmt::print(
      "fail UB95: one-sided 95 % Clopper-Pearson upper bound of the false-fail rate. m for <= "
      "target: the "
      "smallest margin with at most that share of runs whose interval lies wholly beyond it; m for "
      "80% pass: "
      "the margin that 80 % of intervals fit within. Runs overlap in clips (drawn from one pool), "
      "so the "
      "bounds are for this pool.\n");
}

// Degrades one revision's decoded outputs by `size` for the head a metric
// scores: detections dropped (size: the fraction dropped), lanes shifted
// sideways (size: metres), the lead missed (size: the fraction of frames),
// a regression field pushed away from the truth (size: the field's unit).
enum class Injection { kDropDetections, kShiftLanes, kDropLead, kPushField, kNone };

Injection injection_for(const suite::MetricSpec& spec) {
  if (spec.has_detection()) return Injection::kDropDetections;
  if (spec.has_lane()) return Injection::kShiftLanes;
  if (spec.has_lead() && spec.lead().output() == suite::LEAD_RECALL) return Injection::kDropLead;
  if (spec.has_regression()) return Injection::kPushField;
  return Injection::kNone;
}

const char* injection_name(Injection kind) {
  switch (kind) {
    case Injection::kDropDetections:
      return "drop detections (frac)";
    case Injection::kShiftLanes:
      return "shift lanes (m)";
    case Injection::kDropLead:
      return "miss the lead (frac)";
    case Injection::kPushField:
      return "error + size";
    case Injection::kNone:
      break;
  }
  return "-";
}

std::string head_of(const suite::MetricSpec& spec) {
  if (spec.has_detection()) return spec.detection().head();
  if (spec.has_lane()) return spec.lane().head();
  if (spec.has_lead()) return spec.lead().head();
  if (spec.has_regression()) return spec.regression().head();
  return "";
}

std::vector<evals::FrameRecord> degrade(const std::vector<evals::FrameRecord>& frames,
                                        const std::vector<clip::Frame>& truth,
                                        const suite::MetricSpec& spec,
                                        const model::OutputBinding& binding, double size,
                                        uint64_t clip_seed) {
  auto out = frames;
  const auto kind = injection_for(spec);
  evals::SplitMix rng{clip_seed};
  auto uniform = [&] { return static_cast<double>(rng.next() >> 11) * 0x1.0p-53; };
  for (size_t k = 0; k < out.size(); ++k) {
    for (auto& h : *out[k].outputs.mutable_heads()) {
      if (h.head() != binding.head()) continue;
      if (kind == Injection::kDropDetections) {
        google::protobuf::RepeatedPtrField<outputs::Detection> kept;
        for (const auto& d : h.objects()) {
          if (uniform() >= size) *kept.Add() = d;
        }
        h.mutable_objects()->Swap(&kept);
      } else if (kind == Injection::kShiftLanes) {
        for (auto& lane : *h.mutable_lanes()) {
          for (auto& y : *lane.mutable_y()) y += static_cast<float>(size);
        }
      } else if (kind == Injection::kDropLead) {
        if (uniform() < size) h.set_lead_present(false);
      } else if (kind == Injection::kPushField) {
        const float sign = (rng.next() & 1) ? 1.0f : -1.0f;
        evals::push_away_from_truth(h, binding, spec.regression(), truth[k],
                                    static_cast<float>(size), sign);
      }
    }
  }
  return out;
}

void power(const CalibrationArgs& a) {
  const auto suite = evals::load_suite(a.suite);
  const auto models = load_revisions(a, suite);
  const auto pool = evaluate_pool(a, suite, models);
  const uint32_t size = suite_clip_count(suite);
  const std::vector<suite::MetricSpec> metrics(suite.metrics().begin(), suite.metrics().end());
  // The condition degraded alone: the pool's rarest tag among conditions, so
  // that a regression there is diluted in the whole.
  std::map<std::string, uint32_t> tag_count;
  for (const auto& tags : pool.tags) {
    for (const auto& t : tags) ++tag_count[t];
  }
  std::string condition = tag_count.count("night") ? "night"
                          : tag_count.empty()      ? ""
                                                   : tag_count.begin()->first;
  const auto base = summaries(pool.results[0]);
  const auto defs = evals::suite_metrics(suite);
  fmt::print(
      "power of suite {}: baseline {} against {} with an injected regression; {} runs of {} clips "
      "from a pool "
      "of {}{} per size\n",
      suite.name(), models[0].name(), models[1].name(), a.runs, size, pool.clip_sha.size(),
      pool_origin(a));
  fmt::print("{:<18} {:<22} {:<14} {:>10} {:>10}\n", "metric", "injection", "scope", "size",
             "caught");
  evals::GateOptions options;
  options.resamples = suite.bootstrap_resamples() ? suite.bootstrap_resamples() : 2000;
  for (const auto& rule : suite.gates()) {
    if (!rule.blocking()) continue;
    const auto* spec = [&]() -> const suite::MetricSpec* {
      for (const auto& m : metrics) {
        if (m.name() == rule.metric()) return &m;
      }
      return nullptr;
    }();
    const auto* binding = spec ? evals::find_head(pool.iface, head_of(*spec)) : nullptr;
    if (!spec || !binding) {
      fmt::print("{:<18} {:<22} (a system metric: no output to degrade)\n", rule.metric(), "-");
      continue;
    }
    if (injection_for(*spec) == Injection::kNone) {
      fmt::print("{:<18} {:<22} (no injection for this kind of metric)\n", rule.metric(), "-");
      continue;
    }
    const auto kind = injection_for(*spec);
    const auto* def = evals::find_metric(defs, rule.metric());
    const double unit = std::max(rule.max_abs_degradation(), 1e-3);
    const std::vector<double> sizes =
        kind == Injection::kDropDetections || kind == Injection::kDropLead
            ? std::vector<double>{0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9}
            : std::vector<double>{0.5 * unit, unit, 2 * unit, 4 * unit, 8 * unit, 16 * unit};
    const char* what = injection_name(kind);
    for (const std::string& scope : std::vector<std::string>{"all clips", condition}) {
      if (scope.empty()) continue;
      double smallest = NAN;
      for (double s : sizes) {
        // The candidate: the second seed, degraded where the scope says.
        std::vector<std::map<std::string, double>> cand(pool.clip_sha.size());
        for (size_t i = 0; i < pool.clip_sha.size(); ++i) {
          const bool hit =
              scope == "all clips" ||
              std::find(pool.tags[i].begin(), pool.tags[i].end(), scope) != pool.tags[i].end();
          if (!hit) {
            cand[i] = pool.results[1][i].summary;
            continue;
          }
          evals::EvalScorer scorer(metrics, pool.iface);
          const auto frames = degrade(pool.results[1][i].frames, pool.truth[i], *spec, *binding, s,
                                      evals::fnv1a64(pool.clip_sha[i]));
          for (size_t f = 0; f < frames.size(); ++f) scorer.add_frame(pool.truth[i][f], frames[f]);
          cand[i] = scorer.summary();
        }
        uint32_t caught = 0;
        for (uint32_t r = 0; r < a.runs; ++r) {
          const auto clips =
              sample_clips(pool.clip_sha.size(), size,
                           evals::fnv1a64(fmt::format("power/{}/{}", rule.metric(), r)));
          options.seed = suite.bootstrap_seed() ^ (r + 1);
          const auto v = evals::gate_metric(rule, *def, paired(pool, clips, base, cand), options);
          caught += v.verdict == evals::Verdict::kFail;
        }
        const double rate = static_cast<double>(caught) / a.runs;
        if (std::isnan(smallest) && rate >= 0.8) smallest = s;
        fmt::print("{:<18} {:<22} {:<14} {:>10.4g} {:>9.1f}%\n", rule.metric(), what, scope, s,
                   100 * rate);
      }
      fmt::print("{:<18} {:<22} {:<14} smallest caught 80 % of the time: {}\n", rule.metric(), what,
                 scope,
                 std::isnan(smallest) ? std::string("none of these sizes")
                                      : fmt::format("{:.4g}", smallest));
    }
  }
}

void add_calibration_options(CLI::App* cmd, CalibrationArgs& a) {
  cmd->add_option("--suite", a.suite, "suite name or textproto path")->capture_default_str();
  cmd->add_option(
      "--revision", a.revisions,
      "ONNX files of one recipe trained with different seeds (default: the suite's sample seeds)");
  cmd->add_option("--recipe", a.recipe,
                  "instead: train this small sample recipe with --seeds seeds");
  cmd->add_option("--seeds", a.seeds)->capture_default_str();
  cmd->add_option("--pool-scale", a.pool_scale, "the pool holds this many times the suite's clips")
      ->capture_default_str();
  cmd->add_option("--pool-start", a.pool_start,
                  "skip this many suite-sized sets of clips: a pool held out from the suite's "
                  "own clips (to check margins calibrated on another pool)")
      ->capture_default_str();
  cmd->add_option("--runs", a.runs, "resampled runs per pair (calibrate) or per size (power)")
      ->capture_default_str();
  cmd->add_option("--target", a.target, "false-fail rate to hold")->capture_default_str();
  cmd->add_option("--threads", a.threads, "workers (0: every core)")->capture_default_str();
  cmd->add_option("--clip-cache", a.clip_cache)->capture_default_str();
}

}  // namespace

void add_calibration_commands(CLI::App* gate) {
  auto cal = std::make_shared<CalibrationArgs>();
  auto* c = gate->add_subcommand(
      "calibrate", "A/A runs: the gate's false-fail rate per blocking metric, and margins");
  add_calibration_options(c, *cal);
  c->callback([cal] { calibrate(*cal); });
  auto pw = std::make_shared<CalibrationArgs>();
  auto* p =
      gate->add_subcommand("power", "injected regressions: the share the gate catches per size");
  add_calibration_options(p, *pw);
  p->callback([pw] { power(*pw); });
}

}  // namespace hil::app
