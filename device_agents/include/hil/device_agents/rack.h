// Board agents: each board keeps one authenticated connection to the
// scheduler, advertises credits (free slots), takes leases, fetches the
// revision and clip by SHA-256 into a verified on-disk cache, plays the eval
// through the dual-engine runtime on a bounded pool of host threads, and
// reports progress and results. A Rack runs N such boards in one process:
// one real board per agent in a lab, or many emulated boards for CI and scale.
// Each board runs its engines through its own backend (the board type's, or
// a plugin), and each of its slots through compiled revisions of its own
// (revision_pool.h): slots share no executors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hil/harness/tls.h"

namespace hil::device_agents {

// What a service supervisor needs to know of a rack: how many of its boards
// hold a registered connection to the scheduler, and whether it is leaving.
struct RackHealth {
  uint32_t boards = 0, registered = 0;
  bool draining = false;
};

struct RackOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 7600;
  std::string secret;
  harness::TlsConfig tls;     // TLS, or plaintext on loopback when asked
  std::string name = "rack";  // board names: <name>-000, <name>-001, ...
  uint32_t boards = 1;
  std::string board_type = "slowed-hw3";
  // Evals a board plays at once; each has compiled revisions of its own.
  uint32_t slots_per_board = 1;
  // Runs every board's engines through this backend plugin
  // (dual_engine/backend_plugin.h), opened once per board with
  // `backend_options`. Empty: the board type's own backend (emulated, or
  // host-measured for the `host` type).
  std::filesystem::path backend_plugin;
  std::string backend_options;
  uint32_t host_threads = 0;  // 0: the machine's cores
  std::filesystem::path cache_dir = "hil-agent-cache";
  uint64_t cache_max_bytes = uint64_t{2} << 30;
  double reconnect_min_seconds = 0.1;
  double reconnect_max_seconds = 5.0;
  // Fault profile for testing the scheduler and the gate, applied to the first
  // `faulty_boards` boards (0: all): flaky:P (fails a fraction P of evals as
  // infra errors), slow:N (takes N times as long), dies-after:K (disappears
  // after K evals), disconnects:P (drops the connection after a fraction P of
  // evals), liar (reports wrong outputs), liar-after:K (honest for K evals,
  // then a liar), malformed (reports a metric twice).
  std::string fault_profile;
  uint32_t faulty_boards = 0;
  uint64_t seed = 1;  // the profiles' randomness
  // Noop evals hold their slot this long, as a board's work would, so that
  // dispatch latency can be measured at scale below saturation (benchmarks).
  uint32_t noop_hold_ms = 0;
  // Called on the rack's event loop every `heartbeat_seconds`, and at once
  // when a board registers or loses its connection: the agent's readiness and
  // watchdog (hil agent --health-dir, systemd's sd_notify). Being called from
  // the event loop is the point: a rack whose loop is stuck stops calling it.
  std::function<void(const RackHealth&)> on_health;
  double heartbeat_seconds = 1.0;
};

// Parses a fault profile; throws std::invalid_argument naming what is wrong.
struct FaultProfile {
  enum class Kind {
    kNone,
    kFlaky,
    kSlow,
    kDiesAfter,
    kDisconnects,
    kLiar,
    kLiarAfter,
    kMalformed
  } kind = Kind::kNone;
  double value = 0;
};
FaultProfile parse_fault_profile(const std::string& text);

class Rack {
 public:
  // Throws std::invalid_argument on bad options, dual_engine::BackendError
  // when the backend plugin cannot be loaded or opened.
  explicit Rack(RackOptions options);
  ~Rack();
  Rack(const Rack&) = delete;
  Rack& operator=(const Rack&) = delete;

  // Runs on the calling thread until stop() or drain() completes.
  void run();
  void start();  // on a background thread
  // Thread-safe. drain(): finish the evals in hand, take no more, say bye.
  void drain();
  void stop();
  uint64_t evals_completed() const;
  // Dispatch latency of each lease since the last reset: from a board's slot
  // falling free (and the board asking for work) to the lease arriving, ms.
  void reset_dispatch_latencies();
  std::vector<float> dispatch_latencies_ms() const;

  struct Impl;  // shared with the boards (rack.cpp)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace hil::device_agents
