// A child process for tests: argv, stdout on a pipe, killed on destruction.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace hil::test {

// A child process with its stdout on a pipe; killed on destruction.
class Process {
 public:
  explicit Process(std::vector<std::string> args)
      : Process(std::move(args), std::filesystem::path()) {}
  // As above, with the child's stderr appended to `stderr_file` (when not
  // empty), so that a test can count what the child logged.
  Process(std::vector<std::string> args, const std::filesystem::path& stderr_file) {
    int err_fd = -1;
    if (!stderr_file.empty()) {
      err_fd = ::open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (err_fd < 0) throw std::runtime_error("cannot open " + stderr_file.string());
    }
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      if (err_fd >= 0) dup2(err_fd, STDERR_FILENO);
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fds[1]);
    if (err_fd >= 0) close(err_fd);
    out_ = fdopen(fds[0], "r");
  }
  ~Process() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_) fclose(out_);
  }
  std::string read_line() {
    char buf[512];
    return fgets(buf, sizeof buf, out_) ? std::string(buf) : std::string();
  }
  std::string read_all() {
    std::string s;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, out_)) > 0) s.append(buf, n);
    return s;
  }
  int wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // One line of stdout, or "" when none comes within `timeout` (or at EOF).
  std::string read_line_for(std::chrono::milliseconds timeout) {
    pollfd p{fileno(out_), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
    return read_line();
  }
  // The exit code once the child has exited (-1 if killed by a signal, or
  // already reaped by wait()), without blocking; nullopt while it runs.
  std::optional<int> try_wait() {
    if (pid_ <= 0) return exit_code_ ? exit_code_ : std::optional<int>(-1);
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return exit_code_;
  }
  // Waits at most `timeout` for the child to exit; nullopt if it is still running.
  std::optional<int> wait_for(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto code = try_wait()) return code;
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  pid_t pid() const { return pid_; }

  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // SIGKILL, then reap.
  void kill_and_wait() {
    signal(SIGKILL);
    if (pid_ > 0) wait();
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  std::optional<int> exit_code_;
};

}  // namespace hil::test
