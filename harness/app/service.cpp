#include "service.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

#include "hil/evals/log.h"

namespace hil::app {

namespace fs = std::filesystem;

ServiceNotifier::ServiceNotifier(fs::path health_dir) : health_dir_(std::move(health_dir)) {
  if (const char* path = std::getenv("NOTIFY_SOCKET"); path && *path) {
    socket_path_ = path;
    if (socket_path_[0] == '@') socket_path_[0] = '\0';  // abstract namespace
    if (socket_path_.size() < sizeof(sockaddr_un{}.sun_path))
      fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) log::warn("service", "cannot use NOTIFY_SOCKET '{}'", path);
  }
  // WATCHDOG_PID names the process the watchdog is for; without it, this one.
  const char* pid = std::getenv("WATCHDOG_PID");
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (usec && (!pid || std::atol(pid) == static_cast<long>(::getpid()))) {
    long long value = std::atoll(usec);
    if (value > 0) watchdog_ = std::chrono::microseconds(value);
  }
  if (!health_dir_.empty()) {
    std::error_code ec;
    fs::create_directories(health_dir_, ec);
    if (ec || !fs::is_directory(health_dir_)) {
      throw std::invalid_argument(fmt::format("--health-dir '{}': {}", health_dir_.string(),
                                              ec ? ec.message() : "not a folder"));
    }
    set_ready_file(false);
  }
}

ServiceNotifier::~ServiceNotifier() {
  if (!health_dir_.empty()) {
    std::error_code ec;
    fs::remove(health_dir_ / "ready", ec);
    fs::remove(health_dir_ / "alive", ec);
  }
  if (fd_ >= 0) ::close(fd_);
}

void ServiceNotifier::send(const std::string& message) {
  if (fd_ < 0) return;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, socket_path_.data(), socket_path_.size());
  auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path_.size());
  // A supervisor that went away must not stop the agent: errors are ignored.
  (void)::sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr*>(&address), length);
}

void ServiceNotifier::set_ready_file(bool present) {
  if (health_dir_.empty()) return;
  std::error_code ec;
  if (present && !ready_file_) {
    std::ofstream(health_dir_ / "ready") << "registered\n";
  } else if (!present) {
    fs::remove(health_dir_ / "ready", ec);
  }
  ready_file_ = present;
}

void ServiceNotifier::ready(const std::string& status) {
  std::lock_guard lock(mu_);
  if (sent_ready_) return;
  sent_ready_ = true;
  last_status_ = status;
  send(fmt::format("READY=1\nSTATUS={}", status));
}

void ServiceNotifier::heartbeat(bool serving, const std::string& status) {
  std::lock_guard lock(mu_);
  // Files first: whoever reads the status may look at them next.
  if (!health_dir_.empty()) {
    // A fresh write moves the modification time that a liveness probe reads.
    std::ofstream(health_dir_ / "alive", std::ios::trunc) << status << "\n";
    set_ready_file(serving);
  }
  std::string message;
  if (watchdog_) message = "WATCHDOG=1";
  if (status != last_status_) {
    message += fmt::format("{}STATUS={}", message.empty() ? "" : "\n", status);
    last_status_ = status;
  }
  if (!message.empty()) send(message);
}

void ServiceNotifier::stopping(const std::string& status) {
  std::lock_guard lock(mu_);
  last_status_ = status;
  send(fmt::format("STOPPING=1\nSTATUS={}", status));
  set_ready_file(false);
}

}  // namespace hil::app
