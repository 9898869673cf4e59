// An embedded scheduler and emulated rack on loopback, for the commands that
// bring their own (`hil gate --local`, `hil demo`, `hil sweep`, `hil bench
// dispatch`). They speak mutual TLS with a rack PKI kept in the work folder,
// as a real rack would, unless plaintext is asked for.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "hil/device_agents/rack.h"
#include "hil/harness/client.h"
#include "hil/harness/scheduler.h"

namespace hil::app {

struct LocalRackOptions {
  std::filesystem::path db_path;
  std::filesystem::path work_dir;  // agent cache and TLS files
  std::string board_prefix = "local";
  uint32_t boards = 4;  // 0: boards come from agent processes (agent_args())
  uint32_t slots_per_board = 1;
  uint32_t host_threads = 0;  // 0: all cores
  bool plaintext = false;
  bool many_connections = false;  // thousands of boards: no per-host or pending-message caps
  uint32_t noop_hold_ms = 0;      // see device_agents::RackOptions
  std::string board_type;         // the suite's; empty: the rack's default
};

class LocalRack {
 public:
  explicit LocalRack(const LocalRackOptions& options);
  ~LocalRack();
  // Options for a client of this rack (named `name`).
  harness::ClientOptions client(const std::string& name) const;
  uint16_t port() const { return port_; }
  std::string transport() const;
  device_agents::Rack& rack() { return *rack_; }
  bool has_rack() const { return rack_ != nullptr; }
  // `hil agent` arguments that join this scheduler (address, secret, transport).
  std::vector<std::string> agent_args() const;
  void stop();

 private:
  LocalRackOptions options_;
  std::string secret_;
  harness::TlsConfig client_tls_;
  uint16_t port_ = 0;
  std::unique_ptr<harness::Scheduler> scheduler_;
  std::unique_ptr<device_agents::Rack> rack_;
};

}  // namespace hil::app
