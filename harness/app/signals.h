// Turns SIGINT/SIGTERM (and any extra signals asked for) into a call on a
// normal thread (sigwait), so that stopping or draining can use ordinary
// thread-safe calls.
#pragma once

#include <csignal>
#include <functional>
#include <initializer_list>
#include <thread>

namespace hil::app {

class SignalWatcher {
 public:
  // Call before any other thread starts, so every thread inherits the mask.
  explicit SignalWatcher(std::initializer_list<int> extra = {}) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    for (int sig : extra) sigaddset(&set_, sig);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }
  ~SignalWatcher() {
    if (thread_.joinable()) {
      pthread_kill(thread_.native_handle(), SIGTERM);
      thread_.join();
    }
  }
  void on_signal(std::function<void(int)> handler) {
    thread_ = std::thread([this, handler = std::move(handler)] {
      int sig = 0;
      while (sigwait(&set_, &sig) == 0) {
        if (stopping_) return;
        handler(sig);
      }
    });
  }
  void release() { stopping_ = true; }

 private:
  sigset_t set_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
};

}  // namespace hil::app
