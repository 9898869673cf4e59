// A real scheduler on loopback with a rack of emulated boards, speaking
// mutual TLS with a rack PKI made once per test process, for the scheduler
// and security tests.
#pragma once

#include <catch2/catch.hpp>

#include <fstream>
#include <functional>
#include <thread>

#include "fixtures.h"
#include "hil/device_agents/rack.h"
#include "hil/evals/sha256.h"
#include "hil/harness/client.h"
#include "hil/harness/scheduler.h"
#include "hil/harness/submission.h"
#include "hil/harness/tls.h"

namespace hil::test {

inline constexpr const char* kSecret = "test-secret";

// The rack PKI of this test process (made on first use).
inline const std::filesystem::path& rack_pki() {
  static TempDir dir;
  static bool made = [] {
    harness::create_rack_pki({dir / "pki", {}, 2});
    return true;
  }();
  (void)made;
  static const std::filesystem::path path = dir / "pki";
  return path;
}

// A rack of emulated boards for the scheduler on `port`.
inline device_agents::RackOptions rack_options(uint16_t port, uint32_t boards,
                                               const std::filesystem::path& cache,
                                               const std::string& name = "rack",
                                               const std::string& profile = "") {
  device_agents::RackOptions ro;
  ro.port = port;
  ro.secret = kSecret;
  ro.tls = harness::board_tls_from_dir(rack_pki());
  ro.boards = boards;
  ro.host_threads = 2;
  ro.name = name;
  ro.fault_profile = profile;
  ro.cache_dir = cache;
  return ro;
}

inline harness::SchedulerOptions scheduler_options(const TempDir& dir) {
  harness::SchedulerOptions so;
  so.db_path = dir / "hil.db";
  so.port = 0;
  so.secret = kSecret;
  so.lease_timeout_seconds = 3;  // boards that vanish are noticed quickly
  so.tls = harness::scheduler_tls_from_dir(rack_pki(), /*mutual=*/true);
  return so;
}

inline harness::ClientOptions client_options(uint16_t port, const std::string& secret = kSecret) {
  harness::ClientOptions o;
  o.port = port;
  o.secret = secret;
  o.tls = harness::client_tls_from_dir(rack_pki());
  return o;
}

struct Farm {
  TempDir dir;
  std::unique_ptr<harness::Scheduler> scheduler;
  std::unique_ptr<device_agents::Rack> rack;

  explicit Farm(uint32_t boards,
                const std::function<void(harness::SchedulerOptions&)>& adjust = {}) {
    auto so = scheduler_options(dir);
    if (adjust) adjust(so);
    scheduler = std::make_unique<harness::Scheduler>(so);
    scheduler->open();
    scheduler->start();
    if (boards > 0) {
      rack = std::make_unique<device_agents::Rack>(
          rack_options(scheduler->port(), boards, dir / "cache"));
      rack->start();
    }
  }
  ~Farm() {
    if (rack) rack->stop();
    rack.reset();
    if (scheduler) scheduler->stop();
    scheduler.reset();
  }
  harness::ClientOptions client(const std::string& secret = kSecret) const {
    return client_options(scheduler->port(), secret);
  }
  // Waits (bounded) until the rack's boards registered.
  void wait_for_boards(size_t n) {
    harness::Client c(client());
    for (int i = 0; i < 400; ++i) {
      size_t up = 0;
      auto list = c.boards();
      for (const auto& b : list.boards()) up += b.state() != "offline";
      if (up >= n) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    FAIL("boards did not register");
  }
};

inline std::filesystem::path write_suite(const TempDir& dir, uint32_t clips) {
  auto path = dir / "small.textproto";
  std::ofstream out(path);
  out << "name: \"small\"\nboard_type: \"slowed-hw3\"\n"
      << "clips { generated { count: " << clips
      << " frames: 6 seed: 500 conditions: [\"clear\", \"snow\"] } }\n"
      << "scenarios { name: \"split\" mode: \"split\" }\n"
      << test::kSampleMetrics
      << "gates { metric: \"lane_offset_mae\" max_abs_degradation: 0.05 min_clips: 2 blocking: "
         "true }\n";
  return path;
}

inline std::filesystem::path write_revision(const TempDir& dir, const std::string& name,
                                            uint64_t seed) {
  auto path = dir / (name + ".onnx");
  evals::write_file_atomic(path, tiny_revision("base", seed));
  return path;
}

// A candidate-against-baseline request over a small generated suite.
inline harness::RunRequest paired_request(const TempDir& dir, uint32_t clips) {
  harness::RunRequest req;
  req.candidate = write_revision(dir, "cand", 1);
  req.baseline = write_revision(dir, "base", 2);
  req.suite = write_suite(dir, clips).string();
  req.clip_cache = dir / "clips";
  return req;
}

}  // namespace hil::test
