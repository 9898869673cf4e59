// hil serve | agent | submit | status | watch | cancel | boards | drain
#include <fmt/format.h>

#include "commands.h"
#include "common.h"
#include "hil/device_agents/rack.h"
#include "hil/harness/client.h"
#include "hil/harness/progress.h"
#include "hil/harness/scheduler.h"
#include "hil/harness/submission.h"
#include "signals.h"

namespace hil::app {

void print_status(const wire::RunStatus& st) {
  fmt::print("run {}: {}  total {}  queued {}  leased {}  succeeded {}  failed {}  boards busy {}\n", st.run_id(),
             st.state(), st.total(), st.queued(), st.leased(), st.succeeded(), st.failed(), st.boards_busy());
  if (!st.verdict().empty()) fmt::print("verdict: {} ({})\n", st.verdict(), st.verdict_summary());
}

void add_server_commands(CLI::App& app) {
  struct Serve {
    std::string db = "hil.db", listen = "127.0.0.1:7600", secret, blobs;
    double lease_timeout = 60;
    uint32_t max_attempts = 3;
  };
  auto sv = std::make_shared<Serve>();
  auto* serve = app.add_subcommand("serve", "run the scheduler");
  serve->add_option("--db", sv->db, "SQLite results database")->capture_default_str();
  serve->add_option("--listen", sv->listen, "HOST:PORT (port 0 picks a free one and prints it)")->capture_default_str();
  serve->add_option("--secret", sv->secret, "rack secret (or HIL_SECRET)");
  serve->add_option("--blobs", sv->blobs, "blob folder (default: DB.blobs)");
  serve->add_option("--lease-timeout", sv->lease_timeout, "seconds without progress before a lease is re-issued")->capture_default_str();
  serve->add_option("--max-attempts", sv->max_attempts)->capture_default_str();
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
    harness::Scheduler scheduler(o);
    scheduler.open();
    fmt::print("hil scheduler listening on {}:{}\n", o.host, scheduler.port());
    std::fflush(stdout);
    signals.on_signal([&](int) { scheduler.stop(); });
    scheduler.run();
    signals.release();
  });

  struct Agent {
    std::string scheduler = "127.0.0.1:7600", secret, name = "rack", board_type = "emulated-hw3", cache = "hil-agent-cache";
    uint32_t emulate = 1, threads = 0, slots = 1, faulty = 0;
    std::string profile;
    uint64_t seed = 1;
  };
  auto ag = std::make_shared<Agent>();
  auto* agent = app.add_subcommand("agent", "run a board agent, or an emulated rack of N boards");
  agent->add_option("--scheduler", ag->scheduler, "HOST:PORT")->capture_default_str();
  agent->add_option("--secret", ag->secret, "rack secret (or HIL_SECRET)");
  agent->add_option("--emulate", ag->emulate, "number of emulated boards in this process")->capture_default_str();
  agent->add_option("--board-type", ag->board_type)->capture_default_str();
  agent->add_option("--name", ag->name, "board name prefix")->capture_default_str();
  agent->add_option("--threads", ag->threads, "host threads shared by the boards (0: all cores)")->capture_default_str();
  agent->add_option("--slots", ag->slots, "evals at once per board")->capture_default_str();
  agent->add_option("--cache", ag->cache, "blob cache folder")->capture_default_str();
  agent->add_option("--fault-profile", ag->profile,
                    "test the scheduler: flaky:P, slow:N, dies-after:K, disconnects:P or liar");
  agent->add_option("--faulty-boards", ag->faulty, "how many boards get the profile (0: all)")->capture_default_str();
  agent->add_option("--seed", ag->seed, "randomness of the fault profile")->capture_default_str();
  agent->callback([ag] {
    SignalWatcher signals;
    auto co = client_options(ag->scheduler, ag->secret);
    device_agents::RackOptions o;
    o.host = co.host;
    o.port = co.port;
    o.secret = co.secret;
    o.name = ag->name;
    o.boards = ag->emulate;
    o.board_type = ag->board_type;
    o.host_threads = ag->threads;
    o.slots_per_board = ag->slots;
    o.cache_dir = ag->cache;
    o.fault_profile = ag->profile;
    o.faulty_boards = ag->faulty;
    o.seed = ag->seed;
    device_agents::Rack rack(o);
    // SIGTERM drains (finish what is in hand, take no more); a second signal stops.
    int signals_seen = 0;
    signals.on_signal([&](int) { ++signals_seen == 1 ? rack.drain() : rack.stop(); });
    fmt::print("hil agent: {} board(s) of type {} -> {}\n", ag->emulate, ag->board_type, ag->scheduler);
    std::fflush(stdout);
    rack.run();
    signals.release();
  });

  struct Submit {
    std::string scheduler = "127.0.0.1:7600", secret;
    harness::RunRequest req;
  };
  auto sb = std::make_shared<Submit>();
  auto* submit = app.add_subcommand("submit", "submit a run and print its id");
  submit->add_option("--scheduler", sb->scheduler)->capture_default_str();
  submit->add_option("--secret", sb->secret);
  submit->add_option("--candidate", sb->req.candidate, "candidate ONNX")->required();
  submit->add_option("--baseline", sb->req.baseline, "baseline ONNX");
  submit->add_option("--suite", sb->req.suite)->capture_default_str();
  submit->add_option("--priority", sb->req.priority, "gate, interactive, nightly")->capture_default_str();
  submit->add_option("--clip-cache", sb->req.clip_cache)->capture_default_str();
  submit->add_option("--label", sb->req.label);
  submit->callback([sb] {
    harness::Client client(client_options(sb->scheduler, sb->secret));
    auto run = harness::prepare_run(client, sb->req);
    auto ack = client.submit(run);
    fmt::print("{}\n", ack.run_id());
  });

  struct RunRef {
    std::string scheduler = "127.0.0.1:7600", secret;
    uint64_t run = 0;
  };
  auto st = std::make_shared<RunRef>();
  auto* status = app.add_subcommand("status", "print a run's progress and verdict");
  status->add_option("run", st->run)->required();
  status->add_option("--scheduler", st->scheduler)->capture_default_str();
  status->add_option("--secret", st->secret);
  status->callback([st] {
    harness::Client client(client_options(st->scheduler, st->secret));
    print_status(client.status(st->run));
  });

  auto wt = std::make_shared<RunRef>();
  auto* watch = app.add_subcommand("watch", "follow a run until it ends");
  watch->add_option("run", wt->run)->required();
  watch->add_option("--scheduler", wt->scheduler)->capture_default_str();
  watch->add_option("--secret", wt->secret);
  watch->callback([wt] {
    harness::Client client(client_options(wt->scheduler, wt->secret));
    harness::ProgressBar bar(fmt::format("run {}", wt->run), 0);
    auto last = client.watch(wt->run, [&](const wire::RunStatus& s) {
      bar.set_total(s.total());
      bar.update(s.succeeded() + s.failed(), fmt::format("failed {} busy {}", s.failed(), s.boards_busy()));
    });
    bar.finish();
    print_status(last);
  });

  auto cn = std::make_shared<RunRef>();
  auto* cancel = app.add_subcommand("cancel", "cancel a run: drop its queued evals, recall its leased ones");
  cancel->add_option("run", cn->run)->required();
  cancel->add_option("--scheduler", cn->scheduler)->capture_default_str();
  cancel->add_option("--secret", cn->secret);
  cancel->callback([cn] {
    harness::Client client(client_options(cn->scheduler, cn->secret));
    client.cancel(cn->run);
    fmt::print("run {} cancelled\n", cn->run);
  });

  auto bd = std::make_shared<RunRef>();
  auto* boards = app.add_subcommand("boards", "list the boards the scheduler knows");
  boards->add_option("--scheduler", bd->scheduler)->capture_default_str();
  boards->add_option("--secret", bd->secret);
  boards->callback([bd] {
    harness::Client client(client_options(bd->scheduler, bd->secret));
    auto list = client.boards();
    fmt::print("{:<20} {:<14} {:<11} {:>6} {:>8} {:>8}\n", "board", "type", "state", "leases", "done", "failed");
    for (const auto& b : list.boards()) {
      fmt::print("{:<20} {:<14} {:<11} {:>6} {:>8} {:>8}\n", b.name(), b.type(), b.state(), b.leases(), b.evals_done(),
                 b.evals_failed());
    }
  });

  struct Drain {
    std::string scheduler = "127.0.0.1:7600", secret, board;
    bool undrain = false;
  };
  auto dr = std::make_shared<Drain>();
  auto* drain = app.add_subcommand("drain", "stop giving a board work (--undrain to resume)");
  drain->add_option("board", dr->board)->required();
  drain->add_flag("--undrain", dr->undrain);
  drain->add_option("--scheduler", dr->scheduler)->capture_default_str();
  drain->add_option("--secret", dr->secret);
  drain->callback([dr] {
    harness::Client client(client_options(dr->scheduler, dr->secret));
    client.drain(dr->board, dr->undrain);
    fmt::print("board {} {}\n", dr->board, dr->undrain ? "undrained" : "draining");
  });
}

}  // namespace hil::app
