// hil gate | demo
#include <chrono>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "commands.h"
#include "common.h"
#include "hil/dual_engine/sample_models.h"
#include "hil/evals/log.h"
#include "hil/evals/metrics.h"
#include "hil/evals/sha256.h"
#include "hil/evals/suite.h"
#include "hil/harness/client.h"
#include "hil/harness/gating.h"
#include "hil/harness/progress.h"
#include "hil/harness/submission.h"
#include "local_rack.h"

namespace hil::app {
namespace {

struct GateArgs {
  harness::RunRequest req;
  SchedulerAddress at;  // at.scheduler empty with local_boards > 0
  uint32_t local_boards = 0;
  std::filesystem::path local_dir = "hil-local";
  std::string json, junit, markdown;
  std::string
      viewer_db;  // for the viewer commands in reports (default: the local database, else hil.db)
};

int exit_code_for(const std::string& verdict) {
  if (verdict == "pass") return kExitPass;
  if (verdict == "fail") return kExitRegression;
  if (verdict == "invalid") return kExitInvalid;
  return kExitInconclusive;
}

// Submits the run (waiting for boards to register when the rack is local),
// follows it with a progress bar, prints the verdict table.
int gate(const GateArgs& args) {
  std::unique_ptr<LocalRack> rack;
  harness::ClientOptions co;
  if (args.local_boards > 0) {
    LocalRackOptions lo;
    lo.db_path = args.local_dir / "hil.db";
    lo.work_dir = args.local_dir;
    lo.boards = args.local_boards;
    lo.plaintext = args.at.tls.plaintext;
    lo.board_type =
        evals::load_suite(args.req.suite).board_type();  // boards of the type the suite runs on
    rack = std::make_unique<LocalRack>(lo);
    co = rack->client("hil-gate");
    fmt::print(stderr,
               "local scheduler on 127.0.0.1:{} ({}) with {} emulated boards, database {}\n",
               rack->port(), rack->transport(), args.local_boards, lo.db_path.string());
  } else {
    co = args.at.client_options();
    co.name = "hil-gate";
  }
  harness::Client client(co);
  harness::RunRequest req = args.req;
  req.prepare_revision = prepare_for_upload;
  auto run =
      harness::prepare_run(client, req, [](const std::string& s) { log::info("gate", "{}", s); });
  wire::SubmitAck ack;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    try {
      ack = client.submit(run);
      break;
    } catch (const harness::WireError& e) {
      // A local rack may still be registering its boards.
      if (e.code() != wire::NO_CAPACITY || !rack || std::chrono::steady_clock::now() > deadline)
        throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  fmt::print(stderr, "run {} submitted: {} evals\n", ack.run_id(), ack.evals());
  harness::ProgressBar bar(fmt::format("run {}", ack.run_id()), ack.evals());
  auto last = client.watch(ack.run_id(), [&](const wire::RunStatus& s) {
    bar.update(s.succeeded() + s.failed(), fmt::format("failed {}", s.failed()));
  });
  bar.finish();

  harness::VerdictView view;
  view.run_id = static_cast<int64_t>(last.run_id());
  view.candidate = run.candidate().name();
  view.baseline = run.baseline().name();
  view.candidate_sha = last.candidate_sha();
  view.baseline_sha = last.baseline_sha();
  view.suite = run.suite_name();
  view.verdict = last.verdict();
  view.summary = last.verdict_summary();
  view.evals_total = last.total();
  view.evals_succeeded = last.succeeded();
  view.evals_failed = last.failed();
  view.device_time_measured = last.device_time_measured();
  view.device_time_emulated = last.device_time_emulated();
  for (const auto& def : evals::suite_metrics(evals::load_suite(args.req.suite))) {
    view.definitions[def.name] =
        def.unit.empty() ? def.description : fmt::format("{} [{}]", def.description, def.unit);
  }
  view.viewer_db = !args.viewer_db.empty() ? args.viewer_db
                   : args.local_boards > 0 ? (args.local_dir / "hil.db").string()
                                           : "hil.db";
  for (const auto& g : last.gate()) {
    db::GateRow row{g.metric(), g.slice(),    g.blocking(),  g.verdict(),
                    g.clips(),  g.baseline(), g.candidate(), g.degradation(),
                    g.lo(),     g.hi(),       g.margin(),    g.reason()};
    row.flips_to_worse = g.flips_to_worse();
    row.flips_to_better = g.flips_to_better();
    row.flips_p = g.flips_p();
    view.rows.push_back(std::move(row));
  }
  for (const auto& c : last.worst_clips()) {
    view.worst_clips.push_back({c.metric(), c.rank(), c.clip_sha(), c.clip_name(), c.scenario(),
                                c.baseline(), c.candidate(), c.degradation(), c.frame(),
                                c.divergence(), c.series(), 0, 0});
  }
  fmt::print("{}", harness::render_verdict_table(view));
  auto write = [](const std::string& path, const std::string& text) {
    if (!path.empty()) evals::write_file_atomic(path, text);
  };
  write(args.json, harness::render_json(view));
  write(args.junit, harness::render_junit(view));
  write(args.markdown, harness::render_markdown(view));
  if (rack) rack->stop();
  return exit_code_for(view.verdict);
}

void add_gate_options(CLI::App* cmd, GateArgs& a) {
  cmd->add_option("--suite", a.req.suite, "suite name or textproto path")->capture_default_str();
  a.at.scheduler.clear();
  add_scheduler_flags(cmd, a.at, "HOST:PORT of a running scheduler");
  cmd->add_option("--local", a.local_boards,
                  "start an embedded scheduler and N emulated boards instead");
  cmd->add_option("--local-dir", a.local_dir, "database and caches of --local")
      ->capture_default_str();
  cmd->add_option("--clip-cache", a.req.clip_cache)->capture_default_str();
  cmd->add_option("--json", a.json, "write the verdict as JSON");
  cmd->add_option("--junit", a.junit,
                  "write JUnit XML (one test case per gating metric and slice)");
  cmd->add_option("--markdown", a.markdown,
                  "write a Markdown summary for a PR comment or job summary");
  cmd->add_option("--viewer-db", a.viewer_db, "database path to print in viewer commands");
  cmd->add_option("--pr", a.req.pr);
  cmd->add_option("--git-sha", a.req.git_sha);
  cmd->add_option("--author", a.req.author);
}

}  // namespace

void add_gate_commands(CLI::App& app) {
  auto g = std::make_shared<GateArgs>();
  auto* cmd =
      app.add_subcommand("gate",
                         "gate a candidate revision against a baseline (exit 0 pass, 1 regression, "
                         "2 inconclusive, 3 error, 4 invalid: the run cannot be judged)");
  cmd->add_option("--candidate", g->req.candidate, "candidate ONNX");
  cmd->add_option("--baseline", g->req.baseline, "baseline ONNX");
  add_gate_options(cmd, *g);
  add_calibration_commands(cmd);
  cmd->callback([g, cmd] {
    if (!cmd->get_subcommands().empty()) return;  // hil gate calibrate | power
    if (g->req.candidate.empty() || g->req.baseline.empty()) {
      throw std::invalid_argument("pass --candidate and --baseline (ONNX files)");
    }
    if (g->at.scheduler.empty() && g->local_boards == 0)
      throw std::invalid_argument("pass --scheduler HOST:PORT or --local N");
    exit_code() = gate(*g);
  });

  auto d = std::make_shared<GateArgs>();
  d->req.suite = "tri-demo";
  d->local_boards = 4;
  d->local_dir = "hil-demo";
  auto* demo = app.add_subcommand(
      "demo",
      "gate the multi-camera sample's 'better' revision against 'base' on a local emulated rack");
  demo->add_option("--dir", d->local_dir, "working folder")->capture_default_str();
  demo->add_option("--boards", d->local_boards, "emulated boards")->capture_default_str();
  demo->add_option("--suite", d->req.suite)->capture_default_str();
  demo->add_option("--candidate", d->req.candidate_name,
                   "candidate: a committed sample revision (dual_engine/samples/tri-cam/NAME.onnx) "
                   "or an ONNX path")
      ->default_val("better-s1");
  demo->add_option("--baseline", d->req.baseline_name, "baseline, as --candidate")
      ->default_val("base-s1");
  demo->add_option("--junit", d->junit, "write JUnit XML");
  demo->add_option("--markdown", d->markdown, "write a Markdown summary");
  demo->add_option("--json", d->json, "write the verdict as JSON");
  demo->add_flag("--plaintext", d->at.tls.plaintext,
                 "no TLS between the embedded scheduler and boards");
  demo->callback([d] {
    // The committed revisions: trained by dual_engine/samples/tri-cam/train.py
    // (PyTorch), so the demo needs no training and no PyTorch.
    auto resolve = [](const std::string& name) {
      std::filesystem::path p = name;
      if (p.extension() == ".onnx" || std::filesystem::exists(p)) return p;
      return std::filesystem::path(HIL_SOURCE_DIR) / "dual_engine/samples/tri-cam" /
             (name + ".onnx");
    };
    GateArgs args = *d;
    args.req.candidate = resolve(d->req.candidate_name);
    args.req.baseline = resolve(d->req.baseline_name);
    args.req.clip_cache = d->local_dir / "clips";
    args.req.label = fmt::format("demo: {} vs {}", d->req.candidate_name, d->req.baseline_name);
    exit_code() = gate(args);
    fmt::print("\nresults: sqlite3 {}/hil.db 'SELECT * FROM runs'   viewer: hil-viewer {}/hil.db\n",
               d->local_dir.string(), d->local_dir.string());
  });
}

}  // namespace hil::app
