// Running under a service supervisor: systemd's notification protocol
// (sd_notify: READY, STATUS, WATCHDOG, STOPPING over the datagram socket in
// $NOTIFY_SOCKET) and, for supervisors that probe files (Kubernetes), a
// health folder with `alive` (touched at every heartbeat of the event loop)
// and `ready` (present while every board is registered). The protocol is a
// few datagrams, so hil speaks it itself instead of linking libsystemd.
#pragma once

#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

namespace hil::app {

class ServiceNotifier {
 public:
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID; `health_dir` may be
  // empty. Throws std::invalid_argument when `health_dir` cannot be made.
  explicit ServiceNotifier(std::filesystem::path health_dir = {});
  ~ServiceNotifier();  // removes `ready` and `alive`
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  // The watchdog interval systemd asked for (WatchdogSec=), if any: pings
  // must come at least this often.
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

  // Sends "READY=1" once, with a status line.
  void ready(const std::string& status);
  // One heartbeat: WATCHDOG=1, STATUS when it changed, `alive` touched and
  // `ready` present or absent as `serving` says.
  void heartbeat(bool serving, const std::string& status);
  // Sends "STOPPING=1" with a status line; removes `ready`.
  void stopping(const std::string& status);

 private:
  void send(const std::string& message);
  void set_ready_file(bool present);

  std::mutex mu_;  // the rack's event loop and the signal thread both call in
  int fd_ = -1;
  std::string socket_path_;  // '\0'-led for the abstract namespace
  std::optional<std::chrono::microseconds> watchdog_;
  std::filesystem::path health_dir_;
  std::string last_status_;
  bool sent_ready_ = false, ready_file_ = false;
};

}  // namespace hil::app
