#include "local_rack.h"

#include <sys/resource.h>

#include <algorithm>

#include <fmt/format.h>

#include "hil/device_agents/host_reference.h"
#include "hil/evals/sha256.h"

namespace hil::app {

LocalRack::LocalRack(const LocalRackOptions& options) : options_(options) {
  // Thousands of boards need thousands of descriptors (two per board in one process).
  // Root may raise the hard limit too (10,000 boards need over 20,000).
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  rlimit wanted{std::max<rlim_t>(lim.rlim_max, 1u << 18), std::max<rlim_t>(lim.rlim_max, 1u << 18)};
  if (setrlimit(RLIMIT_NOFILE, &wanted) != 0) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }

  std::filesystem::create_directories(options_.work_dir);
  secret_ = evals::sha256_hex(harness::random_nonce());
  harness::SchedulerOptions so;
  device_agents::RackOptions ro;
  if (options_.plaintext) {
    so.tls.plaintext_on_loopback = ro.tls.plaintext_on_loopback =
        client_tls_.plaintext_on_loopback = true;
  } else {
    auto pki = options_.work_dir / "tls";
    if (!std::filesystem::exists(pki / "ca.key")) harness::create_rack_pki({pki, {}, 30});
    so.tls = harness::scheduler_tls_from_dir(pki, /*mutual=*/true);
    ro.tls = harness::board_tls_from_dir(pki);
    client_tls_ = harness::client_tls_from_dir(pki);
  }
  so.db_path = options_.db_path;
  so.port = 0;
  so.secret = secret_;
  so.reference_executor = device_agents::host_reference;
  if (options_.many_connections) {
    so.max_pending_messages = 1u << 20;
    so.max_connections_per_host = 0;
  }
  scheduler_ = std::make_unique<harness::Scheduler>(so);
  scheduler_->open();  // continues any unfinished run in the database
  scheduler_->start();
  port_ = scheduler_->port();

  ro.port = port_;
  ro.secret = secret_;
  ro.boards = options_.boards;
  ro.slots_per_board = options_.slots_per_board;
  ro.host_threads = options_.host_threads;
  ro.name = options_.board_prefix;
  ro.cache_dir = options_.work_dir / "agent-cache";
  ro.reconnect_max_seconds = 1;
  ro.noop_hold_ms = options_.noop_hold_ms;
  if (!options_.board_type.empty()) ro.board_type = options_.board_type;
  if (options_.boards == 0) return;
  rack_ = std::make_unique<device_agents::Rack>(ro);
  rack_->start();
}

LocalRack::~LocalRack() { stop(); }

void LocalRack::stop() {
  if (rack_) rack_->stop();
  if (scheduler_) scheduler_->stop();
}

harness::ClientOptions LocalRack::client(const std::string& name) const {
  harness::ClientOptions co;
  co.port = port_;
  co.secret = secret_;
  co.tls = client_tls_;
  co.name = name;
  return co;
}

std::vector<std::string> LocalRack::agent_args() const {
  std::vector<std::string> args{"agent", "--scheduler", fmt::format("127.0.0.1:{}", port_),
                                "--secret", secret_};
  if (options_.plaintext) {
    args.push_back("--plaintext");
  } else {
    args.insert(args.end(), {"--tls", (options_.work_dir / "tls").string()});
  }
  return args;
}

std::string LocalRack::transport() const {
  return options_.plaintext ? "plaintext on loopback" : "mutual TLS";
}

}  // namespace hil::app
