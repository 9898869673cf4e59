// hil bench clips | engine | runtime: figures, never pass/fail. Each bench
// runs its baseline in the same process and reports medians of repeats.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bench_raw_limits.h"
#include "commands.h"
#include "common.h"
#include "hil/dual_engine/compiler.h"
#include "hil/dual_engine/executor.h"
#include "hil/dual_engine/preprocess.h"
#include "hil/dual_engine/runtime.h"
#include "hil/dual_engine/sample_models.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/clip_generator.h"

#include <fstream>
#include <thread>

#include "hil/db/database.h"
#include "hil/db/store.h"
#include "hil/db/writer.h"
#include "hil/device_agents/rack.h"
#include "hil/evals/metrics.h"
#include "hil/evals/sha256.h"
#include "hil/harness/client.h"
#include "hil/harness/scheduler.h"
#include "hil/harness/submission.h"
#include "local_rack.h"

namespace hil::app {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

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

// A realistic eval result: ~12 summary metrics and 8 per-frame series.
db::EvalOutcome sample_outcome(int64_t eval_id, uint32_t series, uint32_t frames) {
  static const char* kMetrics[] = {"lane_offset_mae",
                                   "lane_heading_mae",
                                   "steering_mae",
                                   "accel_mae",
                                   "lead_tp",
                                   "lead_fp",
                                   "lead_fn",
                                   "lead_precision",
                                   "lead_recall",
                                   "lead_distance_mae",
                                   "device_latency_p99_ms",
                                   "command_gaps"};
  db::EvalOutcome o;
  o.eval_id = eval_id;
  o.board = "bench-000";
  o.succeeded = true;
  o.host_seconds = 1.5;
  for (size_t i = 0; i < 12; ++i)
    o.metrics.emplace_back(kMetrics[i], 0.001 * static_cast<double>(eval_id % 997) + i);
  for (uint32_t k = 0; k < series; ++k) {
    std::vector<float> v(frames);
    // Smooth signals with a little noise, like network outputs: compressible, not trivially.
    for (uint32_t f = 0; f < frames; ++f) {
      v[f] = std::sin(0.05f * static_cast<float>(f + k * 7 + eval_id)) +
             0.001f * static_cast<float>((f * 7919 + eval_id) % 97);
    }
    o.series.push_back(
        {fmt::format("series.{}", k), evals::kSeriesCodec, frames, evals::encode_series(v)});
  }
  return o;
}

// Creates a run with n queued evals over `clips` clips and 2 revisions; returns the eval ids.
std::vector<int64_t> seed_evals(db::Database& d, int64_t n, int64_t clips, int64_t revisions = 2) {
  db::Store s(d);
  std::vector<db::MetricDefRow> defs;
  for (const auto& m : evals::system_metrics()) {
    defs.push_back({m.name, m.unit, m.direction == suite::HIGHER_IS_BETTER ? "higher" : "lower",
                    m.description});
  }
  for (const char* name :
       {"lane_offset_mae", "lane_heading_mae", "steering_mae", "accel_mae", "lead_tp", "lead_fp",
        "lead_fn", "lead_precision", "lead_recall", "lead_distance_mae"}) {
    defs.push_back({name, "", "lower", "a metric a suite might declare (benchmark)"});
  }
  db::Transaction tx(d);
  s.sync_metric_defs(defs);
  std::vector<int64_t> revs;
  for (int64_t r = 0; r < revisions; ++r)
    revs.push_back(
        s.upsert_revision({0, fmt::format("{:064}", r), fmt::format("rev-{}", r), "", "", "", 1}));
  auto a = revs[0], b = revs[1];
  auto suite = s.upsert_suite("bench", "name: \"bench\"", std::string(64, 's'));
  std::vector<int64_t> clip_ids;
  for (int64_t c = 0; c < clips; ++c)
    clip_ids.push_back(
        s.upsert_clip({0, fmt::format("{:064}", c), fmt::format("clip-{}", c), {"snow"}, 360, 36}));
  std::vector<db::NewEval> evals;
  for (int64_t i = 0; i < n; ++i) {
    auto clip = clip_ids[static_cast<size_t>((i / revisions) % clips)];
    evals.push_back({revs[static_cast<size_t>(i % revisions)], clip,
                     fmt::format("sc{}", i / (revisions * clips))});
  }
  auto run = s.create_run("bench", b, a, suite, "nightly", evals);
  tx.commit();
  std::vector<int64_t> ids;
  auto st = d.prepare("SELECT id FROM evals WHERE run_id = ?1 ORDER BY id");
  st.bind_all(run);
  while (st.step()) ids.push_back(st.int64(0));
  return ids;
}

double resident_mb() {
  std::ifstream statm("/proc/self/statm");
  double pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1e6;
}

// `hil agent` children: emulated racks in processes of their own, so that
// 10,000 boards fit in each process's descriptor limit (one per connection).
class AgentProcesses {
 public:
  AgentProcesses(const LocalRack& rack, uint32_t processes, uint32_t boards, uint32_t slots,
                 uint32_t hold_ms, const std::filesystem::path& dir) {
    for (uint32_t i = 0; i < processes; ++i) {
      uint32_t share = boards / processes + (i < boards % processes ? 1 : 0);
      auto args = rack.agent_args();
      latency_files_.push_back(dir / fmt::format("latency-{}.txt", i));
      for (const auto& a : {std::string("--emulate"), std::to_string(share), std::string("--name"),
                            fmt::format("bench{}", i), std::string("--slots"),
                            std::to_string(slots), std::string("--threads"), std::string("1"),
                            std::string("--cache"), (dir / fmt::format("cache-{}", i)).string(),
                            std::string("--noop-hold-ms"), std::to_string(hold_ms),
                            std::string("--latency-out"), latency_files_.back().string()}) {
        args.push_back(a);
      }
      pid_t pid = fork();
      if (pid < 0) throw std::runtime_error("fork failed");
      if (pid == 0) {
        std::vector<char*> argv{const_cast<char*>("hil")};
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        int quiet = ::open("/dev/null", O_WRONLY);
        dup2(quiet, STDOUT_FILENO);
        dup2(quiet, STDERR_FILENO);
        execv("/proc/self/exe", argv.data());
        _exit(127);
      }
      pids_.push_back(pid);
    }
  }
  ~AgentProcesses() {
    for (pid_t pid : pids_) {
      ::kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  double resident_mb() const {
    double total = 0;
    for (pid_t pid : pids_) {
      std::ifstream statm(fmt::format("/proc/{}/statm", pid));
      double pages = 0, resident = 0;
      statm >> pages >> resident;
      total += resident * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1e6;
    }
    return total;
  }
  void signal(int sig) const {
    for (pid_t pid : pids_) ::kill(pid, sig);
  }
  // Drains the agents (SIGTERM), waits for them, and gathers their latencies.
  std::vector<float> stop_and_collect() {
    signal(SIGTERM);
    for (pid_t pid : pids_) waitpid(pid, nullptr, 0);
    pids_.clear();
    std::vector<float> all;
    for (const auto& f : latency_files_) {
      std::ifstream in(f);
      for (float ms; in >> ms;) all.push_back(ms);
    }
    return all;
  }

 private:
  std::vector<pid_t> pids_;
  std::vector<std::filesystem::path> latency_files_;
};

}  // namespace

void add_bench_commands(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "benchmarks that print figures (medians of repeats)");
  bench->require_subcommand(1);

  add_bench_clips_command(bench);
  add_bench_failover_command(bench);
  add_bench_change_points_command(bench);

  struct Engine {
    std::vector<std::string> revisions;
    std::string board = "slowed-hw3";
    uint32_t frames = 200;
    int repeats = 7;
  };
  auto eng = std::make_shared<Engine>();
  auto* engine = bench->add_subcommand("engine",
                                       "host time per frame: hil's partitioned execution vs the "
                                       "whole model in OpenCV DNN, and compile time");
  engine->add_option("revisions", eng->revisions, "ONNX files")->required();
  engine->add_option("--board", eng->board)->capture_default_str();
  engine->add_option("--frames", eng->frames)->capture_default_str();
  engine->add_option("--repeats", eng->repeats)->capture_default_str();
  engine->callback([eng] {
    dual_engine::use_single_thread_kernels();
    auto board = dual_engine::load_board_type(eng->board);
    evals::ClipReader clip(bench_clip(eng->frames));
    fmt::print("{:<24} {:>12} {:>14} {:>16} {:>9} {:>12}\n", "revision", "compile ms",
               "whole ms/frame", "partitioned ms/fr", "ratio", "bit-equal");
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
      dual_engine::PartitionExecutor whole(plan->standby[0]), first(plan->first),
          second(plan->second);
      // The revision's inputs, as its interface builds them from the clip.
      std::vector<dual_engine::TensorMap> inputs;
      {
        dual_engine::InputBuilder builder(dual_engine::revision_interface(model), model.inputs(),
                                          clip);
        std::vector<hil::clip::Frame> frames;
        for (uint32_t k = 0; k < clip.frame_count(); ++k) frames.push_back(clip.frame(k));
        for (uint32_t k = 0; k < clip.frame_count(); ++k) {
          inputs.push_back(
              builder.build(k, [&](uint32_t i) -> const hil::clip::Frame& { return frames[i]; }));
        }
      }
      // Outputs the commander's partition emits (the rest pass through the cut).
      std::vector<std::string> compared;
      for (const auto& o : plan->second.outputs) compared.push_back(o.name);
      std::vector<double> whole_ms, split_ms;
      bool equal = true;
      for (int r = 0; r < eng->repeats; ++r) {
        // Interleave the two in each repeat so drift affects both alike.
        auto t0 = Clock::now();
        std::vector<dual_engine::TensorMap> w;
        for (const auto& in : inputs) w.push_back(whole.run(in));
        whole_ms.push_back(seconds_since(t0) * 1000 / inputs.size());
        t0 = Clock::now();
        size_t i = 0;
        for (const auto& in : inputs) {
          auto mid = first.run(in);
          for (const auto& [name, t] : in) mid.emplace(name, t);
          auto out = second.run(mid);
          for (const auto& name : compared) equal &= out.at(name).data == w[i].at(name).data;
          ++i;
        }
        split_ms.push_back(seconds_since(t0) * 1000 / inputs.size());
      }
      double wm = median(whole_ms), sm = median(split_ms);
      fmt::print("{:<24} {:>12.2f} {:>14.4f} {:>16.4f} {:>9.3f} {:>12}\n",
                 std::filesystem::path(path).filename().string(), median(compile_ms), wm, sm,
                 sm / wm, equal ? "yes" : "NO");
    }
  });

  struct Db {
    int64_t evals = 20000;
    int64_t query_evals = 1000000;
    int64_t query_clips = 10000;
    uint32_t frames = 360;
    int repeats = 3;
    std::string dir = "";
  };
  auto dbo = std::make_shared<Db>();
  auto* dbb = bench->add_subcommand(
      "db", "results database: ingest vs plain batched inserts, size, query times");
  dbb->add_option("--evals", dbo->evals, "evals per ingest measurement")->capture_default_str();
  dbb->add_option("--frames", dbo->frames, "frames per series")->capture_default_str();
  dbb->add_option("--query-evals", dbo->query_evals,
                  "evals in the file for the query measurements (0: skip)")
      ->capture_default_str();
  dbb->add_option("--query-clips", dbo->query_clips)->capture_default_str();
  dbb->add_option("--repeats", dbo->repeats)->capture_default_str();
  dbb->add_option("--dir", dbo->dir, "work folder (default: a temp folder)");
  dbb->callback([dbo] {
    auto dir = dbo->dir.empty() ? std::filesystem::temp_directory_path() / "hil-bench-db"
                                : std::filesystem::path(dbo->dir);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    // What the two sides do, so that the ratio reads right.
    fmt::print(
        "raw: one INSERT per row (per eval an (id, state) row, its metric and series rows)\n"
        "     into bare tables: no foreign keys, no guard, 1024 evals per transaction.\n"
        "hil: per eval the guarded UPDATE of its queued evals row (state, board, times; it enters\n"
        "     the partial diff index) instead of an INSERT, then its metrics as one multi-row\n"
        "     INSERT; foreign keys checked on every metric and series row; a savepoint per job\n"
        "     of 256 evals; group commit.\n");
    // Pre-build the outcomes so that encoding is not measured.
    for (const bool with_series : {true, false}) {
      const uint32_t series = with_series ? 8 : 0;
      std::vector<db::EvalOutcome> outcomes;
      for (int64_t i = 0; i < dbo->evals; ++i)
        outcomes.push_back(sample_outcome(i + 1, series, dbo->frames));
      std::vector<double> raw_rate, hil_rate, bytes_per_eval;
      for (int r = 0; r < dbo->repeats; ++r) {
        // Raw limit: the same rows as plain batched INSERTs into bare tables.
        auto raw_path = dir / fmt::format("raw-{}-{}.db", series, r);
        {
          db::Database d(raw_path);
          d.exec(
              "CREATE TABLE m(eval_id INTEGER, metric_id INTEGER, value REAL, PRIMARY KEY "
              "(eval_id, metric_id)) WITHOUT ROWID;"
              "CREATE TABLE s(id INTEGER PRIMARY KEY, eval_id INTEGER, name TEXT, codec TEXT, "
              "frames INTEGER, data BLOB, UNIQUE (eval_id, name));"
              "CREATE TABLE e(id INTEGER PRIMARY KEY, state TEXT)");
          auto t0 = Clock::now();
          auto& ins_e = d.cached("INSERT INTO e(id, state) VALUES (?1, 'succeeded')");
          auto& ins_m = d.cached("INSERT INTO m VALUES (?1, ?2, ?3)");
          auto& ins_s = d.cached(
              "INSERT INTO s(eval_id, name, codec, frames, data) VALUES (?1, ?2, ?3, ?4, ?5)");
          for (size_t i = 0; i < outcomes.size(); i += 1024) {
            db::Transaction tx(d);
            for (size_t j = i; j < std::min(outcomes.size(), i + 1024); ++j) {
              const auto& o = outcomes[j];
              ins_e.bind_all(o.eval_id).run();
              int64_t k = 0;
              for (const auto& [name, v] : o.metrics) ins_m.bind_all(o.eval_id, ++k, v).run();
              for (const auto& sb : o.series)
                ins_s.bind_all(o.eval_id, sb.name, sb.codec, sb.frames, db::Blob{sb.data}).run();
            }
            tx.commit();
          }
          raw_rate.push_back(static_cast<double>(outcomes.size()) / seconds_since(t0));
        }
        // hil: the writer thread, exactly-once guard, group commit.
        auto hil_path = dir / fmt::format("hil-{}-{}.db", series, r);
        {
          db::Database d(hil_path);
          auto ids = seed_evals(d, dbo->evals, std::max<int64_t>(1, dbo->evals / 2));
          for (size_t i = 0; i < outcomes.size(); ++i) outcomes[i].eval_id = ids[i];
        }
        {
          db::Writer w(hil_path);
          auto t0 = Clock::now();
          // As the scheduler submits them: the outcomes of one I/O turn per job.
          for (size_t i = 0; i < outcomes.size(); i += 256) {
            w.submit([&outcomes, i](db::Store& s) {
              for (size_t j = i; j < std::min(outcomes.size(), i + 256); ++j)
                s.record_outcome(outcomes[j]);
            });
          }
          w.flush();
          hil_rate.push_back(static_cast<double>(outcomes.size()) / seconds_since(t0));
        }
        {
          db::Database d(hil_path);
          d.exec("PRAGMA wal_checkpoint(TRUNCATE)");
        }
        bytes_per_eval.push_back(static_cast<double>(std::filesystem::file_size(hil_path)) /
                                 static_cast<double>(dbo->evals));
      }
      double raw = median(raw_rate), hil = median(hil_rate), size = median(bytes_per_eval);
      fmt::print(
          "ingest {:<28} hil {:>9.0f} evals/s   raw batched INSERTs {:>9.0f} evals/s   ratio "
          "{:.2f}   "
          "{:.0f} bytes/eval -> {:.2f} GB per 1 M evals\n",
          with_series ? "(12 metrics + 8x360 series)" : "(12 metrics, summary only)", hil, raw,
          hil / raw, size, size * 1e6 / 1e9);
      fmt::print("       rows/s: hil {:.0f}, raw {:.0f}\n", hil * (13 + series),
                 raw * (13 + series));
    }
    if (dbo->query_evals > 0) {
      auto qpath = dir / "query.db";
      fmt::print("building a {}-eval database over {} clips for the queries...\n", dbo->query_evals,
                 dbo->query_clips);
      std::fflush(stdout);
      {
        db::Database d(qpath);
        // Many revisions, as in a nightly history: 2 scenarios per clip.
        auto ids = seed_evals(d, dbo->query_evals, dbo->query_clips,
                              std::max<int64_t>(2, dbo->query_evals / (2 * dbo->query_clips)));
        db::Store s(d);
        for (size_t i = 0; i < ids.size(); i += 4096) {
          db::Transaction tx(d);
          for (size_t j = i; j < std::min(ids.size(), i + 4096); ++j)
            s.record_outcome(sample_outcome(ids[j], 0, 0));
          tx.commit();
        }
      }
      db::Database d(qpath, db::OpenMode::kReadOnly);
      db::Store s(d);
      std::vector<double> diff_ms, first_ms;
      size_t diff_rows = 0;
      for (int r = 0; r < dbo->repeats; ++r) {
        auto t0 = Clock::now();
        diff_rows = s.diff_revisions(1, 2, std::nullopt, {"lane_offset_mae"}).size();
        if (r == 0) {
          auto t1 = Clock::now();
          s.diff_revisions(1, 2, 1, {"lane_offset_mae"});
          fmt::print("query: the same diff within one suite: {:.0f} ms\n",
                     seconds_since(t1) * 1000);
        }
        diff_ms.push_back(seconds_since(t0) * 1000);
        t0 = Clock::now();
        db::Database viewer(qpath, db::OpenMode::kReadOnly);
        db::Store vs(viewer);
        auto runs = vs.runs(500);
        if (!runs.empty()) vs.gate_results(runs[0].id);
        first_ms.push_back(seconds_since(t0) * 1000);
      }
      fmt::print(
          "query: diff of 2 revisions over {} clip/scenario pairs of a {}-eval file: {:.0f} ms "
          "(median of {})\n",
          diff_rows, dbo->query_evals, median(diff_ms), dbo->repeats);
      fmt::print("query: the viewer's first screen (open, runs, gate rows): {:.0f} ms\n",
                 median(first_ms));
      fmt::print("file: {:.0f} MB\n", static_cast<double>(std::filesystem::file_size(qpath)) / 1e6);
    }
    std::filesystem::remove_all(dir);
  });

  struct Dispatch {
    uint32_t boards = 64;
    uint32_t clips = 100;
    uint32_t scenarios = 100;
    uint32_t slots = 4;
    std::string dir;
    bool plaintext = false;
    uint32_t hold_ms = 0;
    uint32_t agent_processes = 0;
  };
  auto dp = std::make_shared<Dispatch>();
  auto* dispatch = bench->add_subcommand("dispatch",
                                         "the harness's own overhead: noop evals through client, "
                                         "scheduler, agents on loopback and SQLite");
  dispatch->add_option("--boards", dp->boards, "emulated boards (each its own TCP connection)")
      ->capture_default_str();
  dispatch->add_option("--clips", dp->clips)->capture_default_str();
  dispatch
      ->add_option("--scenarios", dp->scenarios,
                   "noop scenarios per clip (evals = 2 x clips x scenarios)")
      ->capture_default_str();
  dispatch->add_option("--slots", dp->slots, "evals in flight per board")->capture_default_str();
  dispatch->add_option("--dir", dp->dir, "work folder (default: a temp folder)");
  dispatch->add_flag("--plaintext", dp->plaintext,
                     "plaintext TCP instead of mutual TLS (loopback)");
  dispatch
      ->add_option("--hold-ms", dp->hold_ms,
                   "each noop eval holds its board's slot this long (latency below saturation)")
      ->capture_default_str();
  dispatch
      ->add_option("--agent-processes", dp->agent_processes,
                   "run the boards in N `hil agent` processes (0: in this process); needed past "
                   "the descriptor limit")
      ->capture_default_str();
  dispatch->callback([dp] {
    auto dir = dp->dir.empty() ? std::filesystem::temp_directory_path() / "hil-bench-dispatch"
                               : std::filesystem::path(dp->dir);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const double rss_start = resident_mb();
    const double rss_before_rack = resident_mb();
    auto t_connect = Clock::now();
    LocalRackOptions lo;
    lo.db_path = dir / "dispatch.db";
    lo.work_dir = dir;
    lo.board_prefix = "bench";
    lo.boards = dp->agent_processes ? 0 : dp->boards;
    lo.slots_per_board = dp->slots;
    lo.host_threads = 1;
    lo.plaintext = dp->plaintext;
    lo.many_connections = true;
    lo.noop_hold_ms = dp->hold_ms;
    LocalRack rack(lo);
    // The scheduler (and this bench's client) before any board connects: with
    // the agents in processes of their own, what it grows by until they are
    // registered is the scheduler's side of the connections alone.
    const double rss_scheduler_before = resident_mb();
    std::unique_ptr<AgentProcesses> agents;
    if (dp->agent_processes) {
      agents = std::make_unique<AgentProcesses>(rack, dp->agent_processes, dp->boards, dp->slots,
                                                dp->hold_ms, dir);
    }
    harness::Client client(rack.client("hil-bench"));
    fmt::print("transport: {}\n", rack.transport());
    size_t up = 0;
    while (up < dp->boards && seconds_since(t_connect) < 300) {
      auto list = client.boards();
      up = 0;
      for (const auto& b : list.boards()) up += b.state() != "offline";
      if (up < dp->boards) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const double connect_s = seconds_since(t_connect);
    const double rss_boards = resident_mb() + (agents ? agents->resident_mb() : 0.0);
    fmt::print(
        "boards: {} of {} registered in {:.2f} s; memory {:.1f} MB for the boards and the "
        "scheduler's side of "
        "them ({:.1f} KB per board{})\n",
        up, dp->boards, connect_s, rss_boards - rss_before_rack,
        (rss_boards - rss_before_rack) * 1000 / std::max<size_t>(up, 1),
        agents ? fmt::format(", {} agent processes included whole", dp->agent_processes) : "");
    if (agents) {
      const double grown = resident_mb() - rss_scheduler_before;
      fmt::print(
          "scheduler: its process grew by {:.1f} MB while the boards registered: {:.1f} KB per "
          "board connection ({})\n",
          grown, grown * 1000 / std::max<size_t>(up, 1), rack.transport());
    }
    // A noop suite: its clips are tiny and never fetched; the revisions are
    // named blobs the boards never load.
    auto suite_path = dir / "bench-noop.textproto";
    {
      std::ofstream suite(suite_path);
      suite << "name: \"bench-noop\"\nboard_type: \"slowed-hw3\"\n"
            << "clips { generated { count: " << dp->clips
            << " frames: 1 seed: 77 conditions: [\"clear\"] } }\n";
      for (uint32_t s = 0; s < dp->scenarios; ++s)
        suite << "scenarios { name: \"noop-" << s << "\" mode: \"noop\" }\n";
      suite << "gates { metric: \"frames\" max_abs_degradation: 0 min_clips: 2 blocking: true "
               "}\nbootstrap_resamples: 100\n";
    }
    for (const char* name : {"noop-a", "noop-b"})
      evals::write_file_atomic(dir / name, std::string("noop revision ") + name);
    harness::RunRequest req;
    req.candidate = dir / "noop-b";
    req.baseline = dir / "noop-a";
    req.suite = suite_path.string();
    req.clip_cache = dir / "clips";
    req.priority = "nightly";
    req.prepare_revision = prepare_for_upload;
    auto run = harness::prepare_run(client, req);
    const double rss_before_submit = resident_mb();
    auto t_submit = Clock::now();
    auto ack = client.submit(run);
    const double submit_s = seconds_since(t_submit);
    // The queue as the scheduler holds it, read before many evals are done
    // (an upper bound: it includes what the submission's transient rows left
    // in the allocator). Separable only when the boards are other processes.
    const double rss_queue = resident_mb() - rss_before_submit;
    if (agents) {
      agents->signal(SIGUSR1);  // their latency records start now
    } else {
      rack.rack().reset_dispatch_latencies();
    }
    auto t_run = Clock::now();
    const double t_run_unix = db::unix_now();
    auto last = client.watch(ack.run_id(), {});
    const double run_s = seconds_since(t_run);
    // When the last result was recorded in SQLite (the writer stamps it), so
    // that dispatch and the run's gate, which follows it, are told apart.
    double last_recorded = t_run_unix;
    {
      db::Database d(lo.db_path, db::OpenMode::kReadOnly);
      auto st = d.prepare("SELECT MAX(finished_at) FROM evals WHERE run_id = ?1");
      st.bind_all(static_cast<int64_t>(ack.run_id()));
      if (st.step()) last_recorded = st.real(0);
    }
    const double dispatch_s = std::clamp(last_recorded - t_run_unix, 1e-3, run_s);
    fmt::print("submit: {} evals expanded and persisted in {:.2f} s ({:.0f} evals/s)\n",
               ack.evals(), submit_s, ack.evals() / submit_s);
    if (agents) {
      fmt::print(
          "queue: {:.1f} MB more resident in the scheduler's process once submitted: {:.0f} B "
          "per queued eval\n",
          rss_queue, rss_queue * 1e6 / std::max<uint32_t>(ack.evals(), 1));
    }
    fmt::print(
        "dispatch: {} noop evals on {} boards ({} slots each): every result recorded in SQLite "
        "after {:.2f} s: "
        "{:.0f} evals/s (lease, result, exactly-once record); {} succeeded, {} failed\n",
        ack.evals(), up, dp->slots, dispatch_s, ack.evals() / dispatch_s, last.succeeded(),
        last.failed());
    fmt::print(
        "gate: the run's verdict over {} evals {:.2f} s later; {:.0f} evals/s including it\n",
        ack.evals(), run_s - dispatch_s, ack.evals() / run_s);
    auto lat = agents ? agents->stop_and_collect() : rack.rack().dispatch_latencies_ms();
    std::vector<double> latencies(lat.begin(), lat.end());
    fmt::print(
        "dispatch latency (a board's slot free and asked for -> its next lease): p50 {:.2f} ms, "
        "p99 {:.2f} ms, "
        "max {:.1f} ms over {} leases\n",
        evals::percentile(latencies, 0.5), evals::percentile(latencies, 0.99),
        latencies.empty() ? 0.0 : *std::max_element(latencies.begin(), latencies.end()),
        latencies.size());
    fmt::print("memory: {:.1f} MB resident at the end (started at {:.1f} MB)\n", resident_mb(),
               rss_start);
    rack.stop();
    if (dp->hold_ms > 0) return;  // boards idle by design: no limit to compare with
    // The limits dispatch is bounded by, measured now on the same machine:
    // an absolute rate does not compare between machines, a fraction does.
    const double evals_per_s = ack.evals() / dispatch_s;
    const auto wire =
        measure_loopback_messages(dir / "tls", dp->plaintext, std::min<uint32_t>(dp->boards, 512),
                                  std::max<uint32_t>(dp->slots, 1), 2.0);
    const double updates = measure_sqlite_guarded_updates(dir, 200000);
    fmt::print(
        "raw limits, same run: loopback {}: {:.0f} messages/s ({} connections, {} 64-byte "
        "requests in flight each; requests and replies counted); SQLite: {:.0f} guarded "
        "UPDATEs/s (WAL, synchronous=FULL, 512 per transaction)\n",
        rack.transport(), wire.messages_per_second, wire.connections, wire.depth, updates);
    fmt::print(
        "dispatch as a fraction of them: {:.3f} of the loopback message rate (4 messages per "
        "eval: work request, lease, result, acknowledgement), {:.3f} of SQLite's update rate (2 "
        "guarded UPDATEs per eval: lease, result)\n",
        4 * evals_per_s / wire.messages_per_second, 2 * evals_per_s / updates);
  });

  auto rt = std::make_shared<Engine>();
  auto* runtime = bench->add_subcommand(
      "runtime", "dual-engine runtime: split vs single mode, host and emulated time");
  runtime->add_option("revisions", rt->revisions, "ONNX files")->required();
  runtime->add_option("--board", rt->board)->capture_default_str();
  runtime->add_option("--frames", rt->frames)->capture_default_str();
  runtime->add_option("--repeats", rt->repeats)->capture_default_str();
  runtime->callback([rt] {
    dual_engine::use_single_thread_kernels();
    auto board = dual_engine::load_board_type(rt->board);
    evals::ClipReader clip(bench_clip(rt->frames));
    fmt::print("{:<18} {:<7} {:>11} {:>11} {:>11} {:>13} {:>13} {:>13}\n", "revision", "mode",
               "host fps", "host p50", "host p99", "emulated fps", "emul. lat p50",
               "emul. lat p99");
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
          auto run = dual_engine::play_eval(rev, clip, sc, {});
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
        double period_ms = mode == "split" ? rev.plan().split_period_us() / 1000
                                           : rev.plan().standby[0].device_us / 1000;
        emulated_fps[mode == "split"] = 1000.0 / period_ms;
        fmt::print(
            "{:<18} {:<7} {:>11.0f} {:>9.3f}ms {:>9.3f}ms {:>13.1f} {:>11.3f}ms {:>11.3f}ms\n",
            std::filesystem::path(path).filename().string(), mode, median(fps), median(p50),
            median(p99), 1000.0 / period_ms, evals::percentile(device, 0.5),
            evals::percentile(device, 0.99));
      }
      fmt::print("{:<18} split/single emulated throughput: {:.2f}x\n", "",
                 emulated_fps[1] / emulated_fps[0]);
    }
  });
}

}  // namespace hil::app
