// hil serve | agent | submit | status [--night] | watch | cancel | boards | drain
#include <cmath>
#include <ctime>

#include <fmt/format.h>

#include "commands.h"
#include "common.h"
#include "hil/db/database.h"
#include "hil/db/store.h"
#include "hil/device_agents/host_reference.h"
#include "hil/device_agents/rack.h"
#include "hil/evals/sha256.h"
#include "hil/harness/client.h"
#include "hil/harness/progress.h"
#include "hil/harness/scheduler.h"
#include "hil/harness/submission.h"
#include "service.h"
#include "signals.h"

namespace hil::app {

void print_status(const wire::RunStatus& st) {
  fmt::print(
      "run {}: {}  total {}  queued {}  leased {}  succeeded {}  failed {}  boards busy {}\n",
      st.run_id(), st.state(), st.total(), st.queued(), st.leased(), st.succeeded(), st.failed(),
      st.boards_busy());
  if (st.results_refused() > 0) {
    fmt::print("results refused: {} (not from the board and lease holding the eval)\n",
               st.results_refused());
  }
  if (!st.verdict().empty()) fmt::print("verdict: {} ({})\n", st.verdict(), st.verdict_summary());
}

namespace {

std::string duration_text(double seconds) {
  if (seconds < 0) return "-";
  const auto s = static_cast<int64_t>(std::llround(seconds));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
}

// The same figures as `hil sweep`'s progress line, from the database alone.
void print_night_progress(const db::NightProgress& p) {
  if (p.runs.empty()) {
    fmt::print("night {}: no runs\n", p.night);
    return;
  }
  const int64_t done = p.succeeded + p.failed;
  fmt::print(
      "night {}: {} run(s)  evals {}/{} done ({:.1f}%)  failed {}  queued {}  leased {}  cancelled "
      "{}\n",
      p.night, p.runs.size(), done, p.total,
      p.total ? 100.0 * static_cast<double>(done) / static_cast<double>(p.total) : 0.0, p.failed,
      p.queued, p.leased, p.cancelled);
  fmt::print("  rate {:.1f} evals/s over the last {:.0f} s  ETA {}  boards busy {}\n", p.rate,
             p.window_seconds, duration_text(p.eta_seconds), p.boards_busy);
  for (const auto& r : p.runs) {
    fmt::print(
        "  run {}: {:<9} {:<24} total {}  succeeded {}  failed {}  queued {}  leased {}  boards "
        "busy {}  {:.1f} evals/s\n",
        r.run_id, r.state, r.revision, r.total, r.succeeded, r.failed, r.queued, r.leased,
        r.boards_busy, static_cast<double>(r.finished_in_window) / p.window_seconds);
  }
}

}  // namespace

namespace {
// The boards the scheduler knows, one line each (hil boards, hil status).
void print_boards(const wire::BoardList& list) {
  fmt::print("{:<20} {:<14} {:<11} {:>6} {:>8} {:>8} {:>8}\n", "board", "type", "state", "leases",
             "done", "failed", "refused");
  for (const auto& b : list.boards()) {
    fmt::print("{:<20} {:<14} {:<11} {:>6} {:>8} {:>8} {:>8}\n", b.name(), b.type(), b.state(),
               b.leases(), b.evals_done(), b.evals_failed(), b.results_refused());
  }
  fmt::print("results refused since the scheduler started: {}\n", list.results_refused());
}
}  // namespace

void add_server_commands(CLI::App& app) {
  struct Serve {
    std::string db = "hil.db", listen = "127.0.0.1:7600", secret, blobs;
    double lease_timeout = 60;
    uint32_t max_attempts = 3, max_connections_per_host = 1024, max_uploads = 16;
    double health_tolerance = 1e-9;
    TlsFlags tls;
  };
  auto sv = std::make_shared<Serve>();
  auto* serve = app.add_subcommand("serve", "run the scheduler");
  serve->add_option("--db", sv->db, "SQLite results database")->capture_default_str();
  serve->add_option("--listen", sv->listen, "HOST:PORT (port 0 picks a free one and prints it)")
      ->capture_default_str();
  serve->add_option("--secret", sv->secret, "rack secret (or HIL_SECRET)");
  serve->add_option("--blobs", sv->blobs, "blob folder (default: DB.blobs)");
  serve
      ->add_option("--lease-timeout", sv->lease_timeout,
                   "seconds without progress before a lease is re-issued")
      ->capture_default_str();
  serve->add_option("--max-attempts", sv->max_attempts)->capture_default_str();
  serve->add_option("--max-connections-per-host", sv->max_connections_per_host, "0: no limit")
      ->capture_default_str();
  serve
      ->add_option("--max-uploads", sv->max_uploads,
                   "blob uploads in progress at once (0: no limit)")
      ->capture_default_str();
  serve
      ->add_option("--health-tolerance", sv->health_tolerance,
                   "relative difference a board may show from this host's known answers "
                   "(emulated boards: exact)")
      ->capture_default_str();
  add_tls_flags(serve, sv->tls, /*server=*/true);
  serve->callback([sv] {
    SignalWatcher signals;
    harness::SchedulerOptions o;
    o.db_path = sv->db;
    o.blob_dir = sv->blobs;
    auto colon = sv->listen.rfind(':');
    o.host = sv->listen.substr(0, colon);
    o.port = static_cast<uint16_t>(std::stoi(sv->listen.substr(colon + 1)));
    o.secret = resolve_secret(sv->secret);
    o.lease_timeout_seconds = sv->lease_timeout;
    o.max_attempts = sv->max_attempts;
    o.max_connections_per_host = sv->max_connections_per_host;
    o.max_concurrent_uploads = sv->max_uploads;
    o.tls = tls_config(sv->tls, TlsRole::kScheduler, o.host);
    // Health checks compare boards with evals played on this host.
    o.reference_executor = device_agents::host_reference;
    o.health_tolerance = sv->health_tolerance;
    harness::Scheduler scheduler(o);
    scheduler.open();
    ServiceNotifier service;
    fmt::print("hil scheduler listening on {}:{} ({})\n", o.host, scheduler.port(),
               o.tls.plaintext_on_loopback ? "plaintext"
               : o.tls.ca.empty()          ? "TLS"
                                           : "mutual TLS");
    std::fflush(stdout);
    service.ready(fmt::format("listening on {}:{}", o.host, scheduler.port()));
    signals.on_signal([&](int) {
      service.stopping("stopping: committing what boards sent");
      scheduler.stop();
    });
    scheduler.run();
    signals.release();
  });

  struct Agent {
    SchedulerAddress at;
    std::string name = "rack", board_type = "slowed-hw3", cache = "hil-agent-cache";
    uint32_t emulate = 1, threads = 0, slots = 1, faulty = 0;
    std::string profile;
    uint64_t seed = 1;
    uint32_t noop_hold_ms = 0;
    std::string latency_out;
    std::string backend, backend_options;
    std::string health_dir;
  };
  auto ag = std::make_shared<Agent>();
  auto* agent = app.add_subcommand("agent", "run a board agent, or an emulated rack of N boards");
  add_scheduler_flags(agent, ag->at);
  agent->add_option("--emulate", ag->emulate, "number of emulated boards in this process")
      ->capture_default_str();
  agent->add_option("--board-type", ag->board_type)
      ->envname("HIL_BOARD_TYPE")
      ->capture_default_str();
  agent
      ->add_option(
          "--backend", ag->backend,
          "engine backend plugin (PATH.so, docs/backends.md); default: the board type's own")
      ->envname("HIL_BACKEND");
  agent
      ->add_option("--backend-options", ag->backend_options,
                   "text passed to the backend plugin's open()")
      ->envname("HIL_BACKEND_OPTIONS");
  agent->add_option("--name", ag->name, "board name (prefix, with --emulate N > 1)")
      ->envname("HIL_AGENT_NAME")
      ->capture_default_str();
  agent->add_option("--threads", ag->threads, "host threads shared by the boards (0: all cores)")
      ->capture_default_str();
  agent->add_option("--slots", ag->slots, "evals at once per board")->capture_default_str();
  agent->add_option("--cache", ag->cache, "blob cache folder")
      ->envname("HIL_CACHE")
      ->capture_default_str();
  agent->add_option(
      "--fault-profile", ag->profile,
      "test the scheduler: flaky:P, slow:N, dies-after:K, disconnects:P, liar or malformed");
  agent->add_option("--faulty-boards", ag->faulty, "how many boards get the profile (0: all)")
      ->capture_default_str();
  agent->add_option("--seed", ag->seed, "randomness of the fault profile")->capture_default_str();
  agent->add_option("--health-dir", ag->health_dir,
                    "for probes: DIR/alive is rewritten every second while the agent's event loop "
                    "runs, DIR/ready exists while every board is registered (Kubernetes)");
  // For `hil bench dispatch --agent-processes`: noop evals hold their slot,
  // SIGUSR1 restarts the dispatch latency record, written out at exit.
  agent->add_option("--noop-hold-ms", ag->noop_hold_ms)->group("");
  agent->add_option("--latency-out", ag->latency_out)->group("");
  agent->callback([ag] {
    SignalWatcher signals({SIGUSR1});
    auto co = ag->at.client_options();
    device_agents::RackOptions o;
    o.host = co.host;
    o.port = co.port;
    o.secret = co.secret;
    o.tls = tls_config(ag->at.tls, TlsRole::kBoard, co.host);
    o.name = ag->name;
    o.boards = ag->emulate;
    o.board_type = ag->board_type;
    o.backend_plugin = ag->backend;
    o.backend_options = ag->backend_options;
    o.host_threads = ag->threads;
    o.slots_per_board = ag->slots;
    o.cache_dir = ag->cache;
    o.fault_profile = ag->profile;
    o.faulty_boards = ag->faulty;
    o.seed = ag->seed;
    o.noop_hold_ms = ag->noop_hold_ms;
    // Under systemd (Type=notify, WatchdogSec=) and Kubernetes probes.
    ServiceNotifier service(ag->health_dir);
    if (auto interval = service.watchdog_interval())
      o.heartbeat_seconds = std::min(1.0, static_cast<double>(interval->count()) / 2e6);
    o.on_health = [&service, where = ag->at.scheduler](const device_agents::RackHealth& h) {
      auto status = fmt::format("{}{}/{} boards registered with {}", h.draining ? "draining: " : "",
                                h.registered, h.boards, where);
      service.ready(status);  // the first heartbeat: the event loop runs
      service.heartbeat(!h.draining && h.registered == h.boards, status);
    };
    device_agents::Rack rack(o);
    // SIGTERM drains (finish what is in hand, take no more); a second signal stops.
    int signals_seen = 0;
    signals.on_signal([&](int sig) {
      if (sig == SIGUSR1) return rack.reset_dispatch_latencies();
      if (++signals_seen == 1) {
        service.stopping("draining: finishing the evals in hand, taking no more");
        rack.drain();
      } else {
        rack.stop();
      }
    });
    fmt::print("hil agent: {} board(s) of type {} -> {}\n", ag->emulate, ag->board_type,
               ag->at.scheduler);
    std::fflush(stdout);
    rack.run();
    signals.release();
    if (!ag->latency_out.empty()) {
      std::string text;
      for (float ms : rack.dispatch_latencies_ms()) text += fmt::format("{}\n", ms);
      evals::write_file_atomic(ag->latency_out, text);
    }
  });

  struct Submit {
    SchedulerAddress at;
    harness::RunRequest req;
  };
  auto sb = std::make_shared<Submit>();
  auto* submit = app.add_subcommand("submit", "submit a run and print its id");
  add_scheduler_flags(submit, sb->at);
  submit->add_option("--candidate", sb->req.candidate, "candidate ONNX")->required();
  submit->add_option("--baseline", sb->req.baseline, "baseline ONNX");
  submit->add_option("--suite", sb->req.suite)->capture_default_str();
  submit->add_option("--priority", sb->req.priority, "gate, interactive, nightly")
      ->capture_default_str();
  submit->add_option("--clip-cache", sb->req.clip_cache)->capture_default_str();
  submit->add_option("--label", sb->req.label);
  submit->callback([sb] {
    harness::Client client(sb->at.client_options());
    sb->req.prepare_revision = prepare_for_upload;
    auto run = harness::prepare_run(client, sb->req);
    auto ack = client.submit(run);
    fmt::print("{}\n", ack.run_id());
  });

  struct RunRef {
    SchedulerAddress at;
    uint64_t run = 0;
  };
  struct Status {
    RunRef ref;
    std::string night, db = "hil.db";
  };
  auto st = std::make_shared<Status>();
  auto* status = app.add_subcommand(
      "status",
      "a run's progress and verdict; without a run, the rack's boards; --night: a night's sweep");
  auto* run_opt = status->add_option("run", st->ref.run, "run id (asks the scheduler)");
  add_scheduler_flags(status, st->ref.at);
  auto* night_opt = status->add_option(
      "--night", st->night, "a night's sweep, YYYY-MM-DD, read from --db (no scheduler needed)");
  status
      ->add_option("--db", st->db,
                   "results database for --night (read only; fine while a sweep writes)")
      ->capture_default_str();
  run_opt->excludes(night_opt);
  status->callback([st, run_opt] {
    if (!st->night.empty()) {
      db::Database d(st->db, db::OpenMode::kReadOnly);
      db::Store store(d);
      print_night_progress(store.night_progress(st->night));
      return;
    }
    harness::Client client(st->ref.at.client_options());
    if (run_opt->count() == 0) return print_boards(client.boards());  // the rack at a glance
    print_status(client.status(st->ref.run));
  });

  auto wt = std::make_shared<RunRef>();
  auto* watch = app.add_subcommand("watch", "follow a run until it ends");
  watch->add_option("run", wt->run)->required();
  add_scheduler_flags(watch, wt->at);
  watch->callback([wt] {
    harness::Client client(wt->at.client_options());
    harness::ProgressBar bar(fmt::format("run {}", wt->run), 0);
    auto last = client.watch(wt->run, [&](const wire::RunStatus& s) {
      bar.set_total(s.total());
      bar.update(s.succeeded() + s.failed(),
                 fmt::format("failed {} busy {}", s.failed(), s.boards_busy()));
    });
    bar.finish();
    print_status(last);
  });

  auto cn = std::make_shared<RunRef>();
  auto* cancel =
      app.add_subcommand("cancel", "cancel a run: drop its queued evals, recall its leased ones");
  cancel->add_option("run", cn->run)->required();
  add_scheduler_flags(cancel, cn->at);
  cancel->callback([cn] {
    harness::Client client(cn->at.client_options());
    client.cancel(cn->run);
    fmt::print("run {} cancelled\n", cn->run);
  });

  auto bd = std::make_shared<RunRef>();
  auto* boards = app.add_subcommand("boards", "list the boards the scheduler knows");
  add_scheduler_flags(boards, bd->at);
  boards->callback([bd] {
    harness::Client client(bd->at.client_options());
    print_boards(client.boards());
  });

  struct Drain {
    SchedulerAddress at;
    std::string board;
    bool undrain = false;
  };
  auto dr = std::make_shared<Drain>();
  auto* drain = app.add_subcommand("drain", "stop giving a board work (--undrain to resume)");
  drain->add_option("board", dr->board)->required();
  drain->add_flag("--undrain", dr->undrain);
  add_scheduler_flags(drain, dr->at);
  drain->callback([dr] {
    harness::Client client(dr->at.client_options());
    client.drain(dr->board, dr->undrain);
    fmt::print("board {} {}\n", dr->board, dr->undrain ? "undrained" : "draining");
  });

  struct Certs {
    std::string dir, name;
    std::vector<std::string> hosts;
    int days = 825;
  };
  auto ce = std::make_shared<Certs>();
  auto* certs = app.add_subcommand("certs", "a rack's TLS certificates: make, enrol, revoke")
                    ->require_subcommand(1);
  auto* init = certs->add_subcommand(
      "init", "create a rack CA and scheduler, shared board and client certificates");
  init->add_option("dir", ce->dir, "folder to create (keys are written 0600)")->required();
  init->add_option("--host", ce->hosts,
                   "scheduler host names or addresses (localhost and 127.0.0.1 are always in)");
  init->add_option("--days", ce->days, "validity")->capture_default_str();
  init->callback([ce] {
    harness::create_rack_pki({ce->dir, ce->hosts, ce->days});
    fmt::print(
        "rack PKI in {0}: ca.pem, scheduler.pem/.key, board.pem/.key, client.pem/.key\n"
        "  scheduler: hil serve --tls {0} --mtls\n"
        "  emulated racks: hil agent --tls {0}   (copy ca.pem, board.pem, board.key)\n"
        "  a real board:   hil certs issue {0} BOARD   (its own certificate)\n"
        "  clients:   hil submit --tls {0}  (copy ca.pem, client.pem, client.key)\n",
        ce->dir);
  });
  auto* issue = certs->add_subcommand(
      "issue", "enrol a board: a certificate of its own, in DIR/boards/BOARD, to copy to it");
  issue->add_option("dir", ce->dir, "the rack PKI folder (hil certs init)")->required();
  issue->add_option("board", ce->name, "the board's name, as `hil agent --name` gives it")
      ->required();
  issue->add_option("--days", ce->days, "validity")->capture_default_str();
  issue->callback([ce] {
    auto issued = harness::issue_board_certificate(ce->dir, ce->name, ce->days);
    fmt::print(
        "board {} enrolled: serial {}\n"
        "  copy {} to the board (ca.pem, board.pem, board.key; the key is 0600) and run\n"
        "  hil agent --name {} --tls FOLDER --scheduler HOST:PORT\n",
        ce->name, issued.serial, issued.dir.string(), ce->name);
  });
  auto* revoke = certs->add_subcommand(
      "revoke", "revoke a board's certificates (or 'board'/'client': the shared ones)");
  revoke->add_option("dir", ce->dir, "the rack PKI folder")->required();
  revoke->add_option("name", ce->name, "board name, or board / client")->required();
  revoke->callback([ce] {
    auto serials = harness::revoke_certificates(ce->dir, ce->name);
    for (const auto& serial : serials) fmt::print("revoked {} serial {}\n", ce->name, serial);
    fmt::print(
        "{}/crl.pem rewritten: a scheduler serving with --tls {} --mtls refuses it from the next "
        "connection; copy crl.pem there if it reads another folder\n",
        ce->dir, ce->dir);
  });
  auto* list = certs->add_subcommand("list", "the certificates a rack CA issued");
  list->add_option("dir", ce->dir, "the rack PKI folder")->required();
  list->callback([ce] {
    fmt::print("{:<34} {:<20} {:<7} {:<8} {}\n", "serial", "name", "role", "state", "expires");
    for (const auto& r : harness::list_certificates(ce->dir)) {
      std::time_t t = static_cast<std::time_t>(r.not_after);
      std::tm tm{};
      gmtime_r(&t, &tm);
      fmt::print("{:<34} {:<20} {:<7} {:<8} {:04}-{:02}-{:02}\n", r.serial, r.name, r.role,
                 harness::certificate_state_name(r.state), tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday);
    }
  });
}

}  // namespace hil::app
