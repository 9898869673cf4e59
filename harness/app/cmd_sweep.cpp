// hil sweep: the nightly sweep. Expands a suite over the night's revisions
// into runs at the nightly priority, follows them, and can be stopped and
// started again: runs already done for this night are not submitted again,
// and unfinished ones continue from the database.
#include <sys/resource.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "commands.h"
#include "common.h"
#include "hil/db/database.h"
#include "hil/evals/sha256.h"
#include "hil/evals/suite.h"
#include "hil/harness/client.h"
#include "hil/harness/nightly_report.h"
#include "hil/harness/progress.h"
#include "hil/harness/submission.h"
#include "local_rack.h"

namespace hil::app {
namespace {

std::string today_utc() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  return fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

// The run of this night for a revision, if the database has one: (id, state).
std::optional<std::pair<int64_t, std::string>> existing_run(const std::filesystem::path& db,
                                                            const std::string& night,
                                                            const std::string& sha,
                                                            const std::string& suite) {
  if (!std::filesystem::exists(db)) return std::nullopt;
  db::Database d(db, db::OpenMode::kReadOnly);
  auto st = d.prepare(
      "SELECT r.id, r.state FROM runs r JOIN revisions v ON v.id = r.candidate_id JOIN suites s ON "
      "s.id = r.suite_id "
      "WHERE r.night = ?1 AND v.sha256 = ?2 AND s.name = ?3 AND r.state != 'cancelled' ORDER BY "
      "r.id DESC LIMIT 1");
  st.bind_all(night, sha, suite);
  return st.first([](db::Statement& row) {
    return std::pair<int64_t, std::string>(row.int64(0), row.text(1));
  });
}

}  // namespace

void add_sweep_command(CLI::App& app) {
  struct Sweep {
    std::string suite = "nightly", revisions, db = "sweep.db", night, clip_cache;
    SchedulerAddress at;
    uint32_t boards = 0, slots = 0;
  };
  auto o = std::make_shared<Sweep>();
  auto* cmd =
      app.add_subcommand("sweep", "run a nightly sweep: every revision over a suite, resumable");
  cmd->add_option("--suite", o->suite, "suite name or path")->capture_default_str();
  cmd->add_option("--revisions", o->revisions,
                  "comma-separated ONNX files (noop suites: optional)");
  cmd->add_option("--db", o->db, "results database (local sweeps)")->capture_default_str();
  o->at.scheduler.clear();
  add_scheduler_flags(
      cmd, o->at, "HOST:PORT of a running scheduler (default: a local one and an emulated rack)");
  cmd->add_option("--night", o->night, "the night, YYYY-MM-DD (default: today, UTC)");
  cmd->add_option("--boards", o->boards,
                  "local emulated boards (default: 64 for noop suites, else 4)");
  cmd->add_option("--slots", o->slots,
                  "evals in flight per local board (default: 8 for noop suites, else 1)");
  cmd->add_option("--clip-cache", o->clip_cache, "generated clips (default: DB.clips)");
  cmd->callback([o] {
    const auto start = std::chrono::steady_clock::now();
    auto suite = evals::load_suite(o->suite);
    bool noop = std::all_of(suite.scenarios().begin(), suite.scenarios().end(),
                            [](const suite::Scenario& s) { return s.mode() == "noop"; });
    const std::string night = o->night.empty() ? today_utc() : o->night;
    std::filesystem::path db_path = o->db;
    auto work = std::filesystem::path(o->db + ".work");
    std::filesystem::create_directories(work);

    std::vector<std::filesystem::path> revisions;
    std::stringstream ss(o->revisions);
    for (std::string item; std::getline(ss, item, ',');) {
      if (!item.empty()) revisions.emplace_back(item);
    }
    if (revisions.empty()) {
      if (!noop)
        throw std::invalid_argument(
            fmt::format("suite {} plays frames: pass --revisions A.onnx,B.onnx", suite.name()));
      // A noop sweep measures the harness alone: its "revisions" are named
      // blobs that no board loads.
      for (const char* name : {"noop-revision-1", "noop-revision-2"}) {
        auto p = work / name;
        if (!std::filesystem::exists(p)) evals::write_file_atomic(p, std::string("hil ") + name);
        revisions.push_back(p);
      }
    }

    std::unique_ptr<LocalRack> rack;
    harness::ClientOptions co;
    if (o->at.scheduler.empty()) {
      LocalRackOptions lo;
      lo.db_path = db_path;  // the scheduler continues any unfinished run of an earlier sweep
      lo.work_dir = work;
      lo.board_prefix = "night";
      lo.board_type = suite.board_type();
      lo.boards = o->boards ? o->boards : noop ? 64 : 4;
      lo.slots_per_board = o->slots ? o->slots : noop ? 8 : 1;
      lo.host_threads = noop ? 1 : 0;
      lo.plaintext = o->at.tls.plaintext;
      lo.many_connections = true;
      rack = std::make_unique<LocalRack>(lo);
      co = rack->client("hil-sweep");
      fmt::print(stderr, "local scheduler on 127.0.0.1:{} ({}) with {} emulated boards\n",
                 rack->port(), rack->transport(), lo.boards);
    } else {
      co = o->at.client_options();
      co.name = "hil-sweep";
    }
    harness::Client client(co);

    // Where the wall time goes, printed at the end.
    using Clock = std::chrono::steady_clock;
    const auto seconds_since = [](Clock::time_point t) {
      return std::chrono::duration<double>(Clock::now() - t).count();
    };
    const double rack_s = seconds_since(start);
    double prepare_s = 0, submit_s = 0;
    std::vector<uint64_t> runs;
    uint32_t skipped = 0;
    for (const auto& rev : revisions) {
      auto sha = evals::sha256_file(rev);
      if (auto prior = existing_run(db_path, night, sha, suite.name())) {
        if (prior->second == "done") {
          ++skipped;
          fmt::print(stderr, "{}: already swept on {} (run {})\n", rev.filename().string(), night,
                     prior->first);
          continue;
        }
        runs.push_back(static_cast<uint64_t>(prior->first));  // resumed by the scheduler
        fmt::print(stderr, "{}: resuming run {}\n", rev.filename().string(), prior->first);
        continue;
      }
      harness::RunRequest req;
      req.candidate = rev;
      req.suite = o->suite;
      req.priority = "nightly";
      req.night = night;
      req.label = fmt::format("nightly {} {}", night, rev.stem().string());
      req.clip_cache = o->clip_cache.empty() ? std::filesystem::path(o->db + ".clips")
                                             : std::filesystem::path(o->clip_cache);
      // A noop suite plays no frame: its revisions are named blobs no board loads.
      if (!noop) req.prepare_revision = prepare_for_upload;
      auto t_prepare = Clock::now();
      auto msg = harness::prepare_run(client, req);
      prepare_s += seconds_since(t_prepare);
      auto t_submit = Clock::now();
      for (int attempt = 0;; ++attempt) {
        try {
          auto ack = client.submit(msg);
          submit_s += seconds_since(t_submit);
          runs.push_back(ack.run_id());
          fmt::print(stderr, "{}: run {} with {} evals\n", rev.filename().string(), ack.run_id(),
                     ack.evals());
          break;
        } catch (const harness::WireError& e) {
          if (e.code() != wire::NO_CAPACITY || !rack || attempt > 600) throw;
          std::this_thread::sleep_for(std::chrono::milliseconds(50));  // local boards registering
        }
      }
    }

    // Progress over all the night's runs: evals done, rate, ETA, failures, boards busy.
    harness::ProgressBar bar(fmt::format("sweep {}", night), 0);
    const auto t0 = std::chrono::steady_clock::now();
    std::optional<double> evaluated_s;  // until the last eval was recorded
    uint64_t total = 0, done = 0, failed = 0;
    std::map<uint64_t, wire::RunStatus> finished_runs;
    for (;;) {
      total = done = failed = 0;
      uint32_t busy = 0;
      bool all_done = true;
      for (auto id : runs) {
        // A finished run's status no longer changes, and answering it reads
        // the database on the scheduler's event loop: ask once.
        auto finished = finished_runs.find(id);
        auto st = finished != finished_runs.end() ? finished->second : client.status(id);
        if (st.state() == "done" || st.state() == "cancelled") finished_runs.emplace(id, st);
        total += st.total();
        done += st.succeeded() + st.failed();
        failed += st.failed();
        if (finished == finished_runs.end()) busy = std::max(busy, st.boards_busy());
        all_done &= st.state() == "done" || st.state() == "cancelled";
      }
      if (!evaluated_s && done == total) evaluated_s = seconds_since(t0);
      bar.set_total(total);
      bar.update(done, fmt::format("failed {} boards busy {}", failed, busy));
      if (all_done) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    bar.finish();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    fmt::print("sweep {} of suite {}: {} runs ({} already done), {} evals, {} failed\n", night,
               suite.name(), runs.size(), skipped, total, failed);
    fmt::print(
        "  {:.1f} s evaluating ({:.0f} evals/s), {:.1f} s wall in all; peak memory {:.0f} MB", secs,
        secs > 0 ? static_cast<double>(total) / secs : 0.0, wall,
        static_cast<double>(ru.ru_maxrss) / 1024);
    if (std::filesystem::exists(db_path)) {
      fmt::print("; database {:.0f} MB",
                 static_cast<double>(std::filesystem::file_size(db_path)) / 1e6);
    }
    fmt::print("\n");
    fmt::print(
        "  where the wall time went: {:.1f} s starting the scheduler and boards, {:.1f} s "
        "preparing the runs (suite, clips, uploads), {:.1f} s submitting (expanding the suite, "
        "persisting the queue), {:.1f} s evaluating, {:.1f} s gating and closing the runs\n",
        rack_s, prepare_s, submit_s, evaluated_s.value_or(secs), secs - evaluated_s.value_or(secs));
    if (rack) rack->stop();
  });
}

void add_report_command(CLI::App& app) {
  auto* report = app.add_subcommand("report", "reports over the results database");
  report->require_subcommand(1);
  struct Nightly {
    std::string db = "hil.db", date, out = "report.md";
    int nights = 14;
  };
  auto o = std::make_shared<Nightly>();
  auto* nightly = report->add_subcommand(
      "nightly", "the morning report of the nightly sweep (Markdown, or HTML with plots)");
  nightly->add_option("--db", o->db)->capture_default_str();
  nightly->add_option("--date", o->date, "the night, YYYY-MM-DD (default: the latest)");
  nightly->add_option("--nights", o->nights, "nights of history")->capture_default_str();
  nightly->add_option("--out", o->out, "report.md or report.html")->capture_default_str();
  nightly->callback([o] {
    db::Database d(o->db, db::OpenMode::kReadOnly);
    db::Store store(d);
    harness::NightlyReportOptions ro;
    ro.night = o->date;
    ro.nights = o->nights;
    ro.html = std::filesystem::path(o->out).extension() == ".html";
    ro.viewer_db = o->db;
    evals::write_file_atomic(o->out, harness::render_nightly_report(store, ro));
    fmt::print("{}\n", o->out);
  });
}

}  // namespace hil::app
