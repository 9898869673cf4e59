// A TCP relay on loopback that the chaos test puts between the agents and the
// scheduler, so that it can cut live connections at random: the peers see a
// real reset in the middle of a stream, with whatever was in flight lost.
#pragma once

#include <atomic>
#include <cstdint>
#include <future>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace hil::test {

class TcpProxy {
 public:
  // Listens on 127.0.0.1 (a free port) and relays each connection to
  // 127.0.0.1:upstream_port. `seed` picks which connections are cut.
  TcpProxy(uint16_t upstream_port, uint64_t seed);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  uint16_t port() const { return port_; }
  // Cuts up to `n` random live connections (both sides closed, buffered bytes
  // dropped); returns how many were cut. Bounded: gives up after 5 s.
  int cut_random(int n);
  int live() const { return live_.load(); }
  int64_t accepted() const { return accepted_.load(); }
  // Connections closed at once because the scheduler was not listening.
  int64_t refused() const { return refused_.load(); }

 private:
  struct Pipe;
  struct CutRequest {
    int n;
    std::promise<int> done;
  };
  void loop();
  void wake();

  uint16_t upstream_port_;
  uint16_t port_ = 0;
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};
  std::mt19937_64 rng_;  // loop thread only
  std::mutex mu_;
  std::vector<CutRequest> requests_;  // guarded by mu_
  std::atomic<bool> stop_{false};
  std::atomic<int> live_{0};
  std::atomic<int64_t> accepted_{0}, refused_{0};
  std::thread thread_;
};

}  // namespace hil::test
