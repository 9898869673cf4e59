// Real boards as services (issue #23, items 3 and 4): `hil serve` and `hil
// agent` started the way the systemd units in harness/deploy/systemd start
// them (the ExecStart line and the environment file are read from the repo),
// speaking systemd's notification protocol to a socket of the test's, with a
// board enrolled with a certificate of its own, then revoked.
#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "fixtures.h"
#include "process.h"

using namespace hil;
using test::Process;

namespace {

namespace fs = std::filesystem;
const fs::path kUnits = fs::path(HIL_SOURCE_DIR) / "harness" / "deploy" / "systemd";
constexpr const char* kSecret = "service-test-secret";

// The socket systemd would give a service as $NOTIFY_SOCKET.
class NotifySocket {
 public:
  explicit NotifySocket(fs::path path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path_.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  }
  ~NotifySocket() { ::close(fd_); }
  const fs::path& path() const { return path_; }
  // The next datagram within `timeout`, or "".
  std::string receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return "";
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }
  // Reads datagrams until one contains `needle` (returned) or `timeout` ends ("").
  // Every datagram read is appended to `seen`.
  std::string wait_for(const std::string& needle, std::chrono::seconds timeout,
                       std::vector<std::string>& seen) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto message = receive(std::chrono::milliseconds(200));
      if (message.empty()) continue;
      seen.push_back(message);
      if (message.find(needle) != std::string::npos) return message;
    }
    return "";
  }

 private:
  fs::path path_;
  int fd_ = -1;
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The words of a unit's ExecStart line, with the install paths replaced by the test's.
std::vector<std::string> exec_start(const fs::path& unit,
                                    const std::map<std::string, std::string>& replace) {
  std::smatch m;
  std::string text = read_text(unit);
  REQUIRE(std::regex_search(text, m, std::regex("\nExecStart=([^\n]*)")));
  std::vector<std::string> words;
  std::istringstream in(m[1].str());
  for (std::string w; in >> w;) {
    for (const auto& [from, to] : replace) {
      for (size_t at; (at = w.find(from)) != std::string::npos;) w.replace(at, from.size(), to);
    }
    words.push_back(w);
  }
  return words;
}

// KEY=VALUE lines of an environment file (comments and blanks skipped).
std::map<std::string, std::string> environment_file(const fs::path& path) {
  std::map<std::string, std::string> env;
  std::istringstream in(read_text(path));
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto eq = line.find('=');
    REQUIRE(eq != std::string::npos);
    env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

// The child processes inherit the environment set here.
void set_environment(const std::map<std::string, std::string>& env) {
  for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
}

std::string run(std::vector<std::string> args) {
  Process p(std::move(args));
  std::string out = p.read_all();
  CHECK(p.wait() == 0);
  return out;
}

size_t count(const std::vector<std::string>& messages, const std::string& needle) {
  size_t n = 0;
  for (const auto& m : messages) n += m.find(needle) != std::string::npos;
  return n;
}

}  // namespace

TEST_CASE("an enrolled board runs as a systemd service: ready, watchdog, drain, revocation",
          "[integration][service]") {
  test::TempDir dir;
  const std::string hil = test::hil_binary().string();
  const fs::path pki = dir / "pki";

  // Enrolment with the commands a lab uses.
  run({hil, "certs", "init", pki.string()});
  CHECK_THAT(run({hil, "certs", "issue", pki.string(), "lab-07"}),
             Catch::Contains("board lab-07 enrolled") &&
                 Catch::Contains((pki / "boards" / "lab-07").string()));
  CHECK_THAT(run({hil, "certs", "list", pki.string()}),
             Catch::Contains("lab-07") && Catch::Contains("valid"));

  // The scheduler, as hil-serve.service starts it (loopback and a free port here).
  NotifySocket serve_notify(dir / "serve.sock");
  ::setenv("NOTIFY_SOCKET", serve_notify.path().c_str(), 1);
  ::setenv("HIL_SECRET", kSecret, 1);
  auto serve_cmd =
      exec_start(kUnits / "hil-serve.service", {{"/usr/local/bin/hil", hil},
                                                {"${STATE_DIRECTORY}", dir.path().string()},
                                                {"0.0.0.0:7600", "127.0.0.1:0"},
                                                {"/etc/hil/tls", pki.string()}});
  REQUIRE(serve_cmd.at(1) == "serve");
  Process serve(serve_cmd, dir / "serve.log");
  std::smatch port_match;
  std::string banner = serve.read_line_for(std::chrono::seconds(20));
  REQUIRE(
      std::regex_search(banner, port_match, std::regex("127\\.0\\.0\\.1:(\\d+) \\(mutual TLS\\)")));
  const std::string address = "127.0.0.1:" + port_match[1].str();
  std::vector<std::string> serve_messages;
  CHECK_THAT(serve_notify.wait_for("READY=1", std::chrono::seconds(10), serve_messages),
             Catch::Contains("STATUS=listening on 127.0.0.1:" + port_match[1].str()));

  // The board's agent, as hil-agent.service starts it, with the board's own
  // folder as /etc/hil/tls, the environment file's settings (the scheduler's
  // address and the secret replaced) and a 400 ms watchdog.
  NotifySocket agent_notify(dir / "agent.sock");
  auto env = environment_file(kUnits / "agent.env");
  CHECK(env.at("HIL_AGENT_NAME") == "lab-07");
  env["HIL_SCHEDULER"] = address;
  env["HIL_SECRET"] = kSecret;
  env["HIL_BOARD_TYPE"] = "slowed-hw3";
  env["NOTIFY_SOCKET"] = agent_notify.path().string();
  env["WATCHDOG_USEC"] = "400000";
  set_environment(env);
  auto agent_cmd = exec_start(kUnits / "hil-agent.service",
                              {{"/usr/local/bin/hil", hil},
                               {"/etc/hil/tls", (pki / "boards" / "lab-07").string()},
                               {"${CACHE_DIRECTORY}", (dir / "cache").string()}});
  REQUIRE(agent_cmd.at(1) == "agent");
  agent_cmd.insert(agent_cmd.end(), {"--health-dir", (dir / "health").string()});
  const fs::path ready_file = dir / "health" / "ready";
  const fs::path alive_file = dir / "health" / "alive";

  {
    Process agent(agent_cmd, dir / "agent.log");
    std::vector<std::string> seen;
    CHECK_FALSE(agent_notify.wait_for("READY=1", std::chrono::seconds(20), seen).empty());
    CHECK_FALSE(agent_notify
                    .wait_for("STATUS=1/1 boards registered with " + address,
                              std::chrono::seconds(20), seen)
                    .empty());
    CHECK(fs::exists(ready_file));
    CHECK(fs::exists(alive_file));
    // Watchdog pings keep coming while the loop runs (every 200 ms here; 3 s
    // leaves room for a loaded machine).
    std::vector<std::string> pings;
    agent_notify.wait_for("never sent", std::chrono::seconds(3), pings);
    CHECK(count(pings, "WATCHDOG=1") >= 4);
    // `hil status` without a run: the rack, as the enrolment walkthrough shows it.
    CHECK_THAT(run({hil, "status", "--scheduler", address, "--tls", pki.string()}),
               Catch::Matches("[\\s\\S]*\\nlab-07 +slowed-hw3 +idle[\\s\\S]*"));

    // systemctl stop: SIGTERM drains, says STOPPING, exits 0, leaves no ready file.
    agent.signal(SIGTERM);
    CHECK_FALSE(agent_notify.wait_for("STOPPING=1", std::chrono::seconds(10), seen).empty());
    CHECK(agent.wait_for(std::chrono::seconds(30)) == std::optional<int>(0));
    CHECK_FALSE(fs::exists(ready_file));
  }

  // Revoked: the next start of the same service is refused; it stays alive
  // (the watchdog is still fed: the agent is fine, its credentials are not)
  // but never ready.
  CHECK_THAT(run({hil, "certs", "revoke", pki.string(), "lab-07"}),
             Catch::Contains("revoked lab-07"));
  {
    NotifySocket again_notify(dir / "again.sock");
    ::setenv("NOTIFY_SOCKET", again_notify.path().c_str(), 1);
    Process agent(agent_cmd, dir / "agent.log");
    std::vector<std::string> seen;
    CHECK_THAT(again_notify.wait_for("READY=1", std::chrono::seconds(20), seen),
               Catch::Contains("STATUS=0/1 boards registered"));
    again_notify.wait_for("never sent", std::chrono::seconds(3), seen);
    CHECK(count(seen, "WATCHDOG=1") >= 4);
    CHECK(count(seen, "STATUS=1/1") == 0);
    CHECK(fs::exists(alive_file));
    CHECK_FALSE(fs::exists(ready_file));
    agent.signal(SIGTERM);
    CHECK(agent.wait_for(std::chrono::seconds(30)) == std::optional<int>(0));
  }
  CHECK_THAT(read_text(dir / "serve.log"),
             Catch::Contains("name=lab-07 dropped: certificate 'lab-07'") &&
                 Catch::Contains("is revoked"));

  serve.signal(SIGTERM);
  CHECK_FALSE(
      serve_notify.wait_for("STOPPING=1", std::chrono::seconds(10), serve_messages).empty());
  CHECK(serve.wait_for(std::chrono::seconds(30)) == std::optional<int>(0));
  for (const char* name : {"NOTIFY_SOCKET", "WATCHDOG_USEC", "HIL_SCHEDULER", "HIL_AGENT_NAME",
                           "HIL_BOARD_TYPE", "HIL_SECRET"})
    ::unsetenv(name);
}

TEST_CASE("the systemd units pass systemd-analyze verify", "[integration][service]") {
  const char* candidates[] = {"/usr/bin/systemd-analyze", "/bin/systemd-analyze"};
  std::string analyze;
  for (const char* c : candidates) {
    if (fs::exists(c)) analyze = c;
  }
  if (analyze.empty()) test::skip("systemd-analyze is not installed");
  test::TempDir dir;
  for (const char* unit : {"hil-agent.service", "hil-serve.service"}) {
    // Only the executable's install path is replaced: verify checks that it exists.
    std::string text = read_text(kUnits / unit);
    for (size_t at; (at = text.find("/usr/local/bin/hil")) != std::string::npos;)
      text.replace(at, std::strlen("/usr/local/bin/hil"), test::hil_binary().string());
    std::ofstream(dir / unit) << text;
    Process verify({"/bin/sh", "-c", analyze + " verify " + (dir / unit).string() + " 2>&1"});
    std::string complaints = verify.read_all();
    INFO(unit << ": " << complaints);
    CHECK(verify.wait() == 0);
    CHECK(complaints.empty());  // unknown keys are only warnings, with status 0
  }
}
