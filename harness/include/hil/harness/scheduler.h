// The scheduler: accepts agents and clients on TCP, expands runs into evals
// (persisted before the submit is acknowledged), leases evals to boards by
// priority class and fair share, records every result exactly once through
// the batched writer, and gates each finished run. Queue and lease state live
// in SQLite, so a restarted scheduler continues where it stopped.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "evals/proto/suite.pb.h"
#include "hil/harness/tls.h"

namespace hil::harness {

// An eval for the reference executor: files in the scheduler's blob store.
struct ReferenceJob {
  std::filesystem::path revision, clip;
  suite::Scenario scenario;
  std::vector<suite::MetricSpec> metrics;
  std::string board_type;
};

struct SchedulerOptions {
  std::filesystem::path db_path = "hil.db";
  std::filesystem::path blob_dir;  // default: <db_path>.blobs
  std::string host = "127.0.0.1";
  uint16_t port = 7600;  // 0: any free port (read it back with port())
  std::string secret;    // the rack secret; required
  // A lease's deadline: this fixed part (fetching blobs, loading the
  // revision), plus the frames still to play times the slower of the board's
  // pace and the clip's frame period, times lease_slack. Progress reports
  // move it forward as frames are played.
  double lease_timeout_seconds = 60;
  double lease_slack = 3;
  uint32_t max_attempts = 3;
  uint32_t max_frame_bytes = 16u << 20;
  uint32_t max_pending_messages = 4096;  // queued replies per connection before it is cut
  // Limits that keep one misbehaving host from hurting the others (0: none).
  uint32_t max_connections_per_host = 1024;  // an emulated rack opens one per board
  uint32_t max_concurrent_uploads = 16;      // blob uploads in progress, over all clients
  double handshake_timeout_seconds = 10;     // TLS handshake + hello + proof
  TlsConfig tls;                             // TLS, or plaintext on loopback when asked

  // Health checks with known answers. The executor plays an eval on the
  // scheduler's host as an emulated board of that type would (the composition
  // root gives device_agents::host_reference); the scheduler calls it on a
  // worker thread for one eval of each run it has no reference for, stores
  // the metrics in SQLite (they survive restarts) and checks boards against
  // them. Without an executor, health checks compare boards with each other
  // (a rack of wrong boards then agrees with itself).
  std::function<std::vector<std::pair<std::string, double>>(const ReferenceJob&)>
      reference_executor;
  // A board is healthy when every deterministic metric is within this
  // relative tolerance of the reference (emulated boards reproduce them
  // exactly; real engines may differ in the last bits).
  double health_tolerance = 1e-9;
  uint32_t evals_between_checks = 20;  // a healthy board is checked again after this many
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerOptions options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Binds the listener (so port() is known), loads unfinished work.
  void open();
  uint16_t port() const;
  // Serves on the calling thread until stop().
  void run();
  // Serves on a background thread.
  void start();
  // Thread-safe.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hil::harness
