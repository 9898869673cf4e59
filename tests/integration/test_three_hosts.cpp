// Three hosts on one machine: the scheduler in one network namespace, an
// emulated rack in each of two others, joined by veth links (iproute2). Only
// the project's own namespaces and addresses are used.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "fixtures.h"
#include "hil/db/database.h"
#include "hil/evals/sha256.h"
#include "process.h"

using namespace hil;
using test::Process;

namespace {

bool sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

// Two point-to-point links: sched <-> a (10.231.N.0/30), sched <-> b (10.231.N.4/30).
struct Namespaces {
  std::string sched, a, b;
  int net;
  bool ok = false;
  Namespaces() {
    net = static_cast<int>(::getpid() % 200) + 10;
    sched = fmt::format("hil{}s", ::getpid());
    a = fmt::format("hil{}a", ::getpid());
    b = fmt::format("hil{}b", ::getpid());
    ok = sh("ip netns add " + sched) && sh("ip netns add " + a) && sh("ip netns add " + b);
    for (auto [peer, host] : {std::pair{a, 1}, std::pair{b, 5}}) {
      std::string s_if = fmt::format("{}{}", sched, host), p_if = fmt::format("{}p{}", sched, host);
      ok = ok &&
           sh(fmt::format("ip link add {} netns {} type veth peer name {} netns {}", s_if, sched,
                          p_if, peer)) &&
           sh(fmt::format("ip -n {} addr add 10.231.{}.{}/30 dev {}", sched, net, host, s_if)) &&
           sh(fmt::format("ip -n {} addr add 10.231.{}.{}/30 dev {}", peer, net, host + 1, p_if)) &&
           sh(fmt::format("ip -n {} link set {} up", sched, s_if)) &&
           sh(fmt::format("ip -n {} link set {} up", peer, p_if));
    }
    ok = ok && sh("ip -n " + sched + " link set lo up") && sh("ip -n " + a + " link set lo up") &&
         sh("ip -n " + b + " link set lo up");
  }
  ~Namespaces() {
    for (const auto& n : {sched, a, b}) sh("ip netns delete " + n);
  }
  std::string address(int host) const { return fmt::format("10.231.{}.{}", net, host); }
};

}  // namespace

TEST_CASE("a scheduler and two agent hosts in separate network namespaces run a gate", "[netns]") {
  Namespaces ns;
  if (!ns.ok) {
    test::skip("network namespaces are not available here (needs root and iproute2)");
  }
  test::TempDir dir;
  const std::string hil = test::hil_binary().string();
  auto db = dir / "hil.db";
  // Off loopback, plaintext is refused: the scheduler will not even start.
  {
    Process plain({"/usr/sbin/ip", "netns", "exec", ns.sched, hil, "serve", "--db",
                   (dir / "plain.db").string(), "--listen", "0.0.0.0:7612", "--secret", "netns",
                   "--plaintext"});
    plain.read_all();
    CHECK(plain.wait() == 3);
  }
  // Mutual TLS with a rack PKI whose scheduler certificate names both links.
  const std::string tls = (dir / "tls").string();
  {
    Process certs({hil, "certs", "init", tls, "--host", ns.address(1), "--host", ns.address(5)});
    certs.read_all();
    REQUIRE(certs.wait() == 0);
  }
  Process serve({"/usr/sbin/ip", "netns", "exec", ns.sched, hil, "serve", "--db", db.string(),
                 "--listen", "0.0.0.0:7611", "--secret", "netns", "--tls", tls, "--mtls"});
  REQUIRE(serve.read_line().find("listening") != std::string::npos);
  Process agent_a({"/usr/sbin/ip",
                   "netns",
                   "exec",
                   ns.a,
                   hil,
                   "agent",
                   "--scheduler",
                   ns.address(1) + ":7611",
                   "--secret",
                   "netns",
                   "--tls",
                   tls,
                   "--emulate",
                   "2",
                   "--name",
                   "hostA",
                   "--threads",
                   "1",
                   "--cache",
                   (dir / "ca").string()});
  Process agent_b({"/usr/sbin/ip",
                   "netns",
                   "exec",
                   ns.b,
                   hil,
                   "agent",
                   "--scheduler",
                   ns.address(5) + ":7611",
                   "--secret",
                   "netns",
                   "--tls",
                   tls,
                   "--emulate",
                   "2",
                   "--name",
                   "hostB",
                   "--threads",
                   "1",
                   "--cache",
                   (dir / "cb").string()});
  {
    std::ofstream suite(dir / "netns.textproto");
    suite << "name: \"netns\"\nboard_type: \"slowed-hw3\"\n"
          << "clips { generated { count: 8 frames: 8 seed: 4242 conditions: [\"clear\"] } }\n"
          << "scenarios { name: \"split\" mode: \"split\" }\n"
          << test::kSampleMetrics
          << "gates { metric: \"lane_offset_mae\" max_abs_degradation: 0.05 min_clips: 2 blocking: "
             "true }\n";
  }
  evals::write_file_atomic(dir / "a.onnx", test::tiny_revision("base", 1));
  evals::write_file_atomic(dir / "b.onnx", test::tiny_revision("base", 2));
  // Wait until both hosts' boards registered, then gate from the scheduler's host.
  int rc = -1;
  std::string out;
  for (int attempt = 0; attempt < 100; ++attempt) {
    Process boards({"/usr/sbin/ip", "netns", "exec", ns.sched, hil, "boards", "--scheduler",
                    "127.0.0.1:7611", "--secret", "netns", "--tls", tls});
    auto listing = boards.read_all();
    boards.wait();
    if (listing.find("hostA-001") != std::string::npos &&
        listing.find("hostB-001") != std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Process gate({"/usr/sbin/ip",
                "netns",
                "exec",
                ns.sched,
                hil,
                "gate",
                "--scheduler",
                "127.0.0.1:7611",
                "--secret",
                "netns",
                "--tls",
                tls,
                "--candidate",
                (dir / "b.onnx").string(),
                "--baseline",
                (dir / "a.onnx").string(),
                "--suite",
                (dir / "netns.textproto").string(),
                "--clip-cache",
                (dir / "clips").string()});
  out = gate.read_all();
  rc = gate.wait();
  INFO(out);
  CHECK((rc == 0 || rc == 1 || rc == 2));
  db::Database d(db, db::OpenMode::kReadOnly);
  auto st = d.prepare(
      "SELECT SUM(board LIKE 'hostA%'), SUM(board LIKE 'hostB%'), COUNT(*) FROM evals WHERE state "
      "= 'succeeded'");
  REQUIRE(st.step());
  CHECK(st.int64(0) > 0);  // work crossed both links
  CHECK(st.int64(1) > 0);
  CHECK(st.int64(2) == 16);
}
