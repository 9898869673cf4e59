// An emulated rack as a Slurm job array (`hil rack slurm`), on a one-node
// Slurm cluster that this test brings up: its own munge key and socket, its
// own slurm.conf, ports and state folders, daemons started and stopped here
// (nothing of the machine's own Slurm or munge configuration is touched).
// Skipped, and reported skipped, where the daemons cannot run (not root,
// Debian's slurm-wlm and munge missing, or the daemons refuse to start).
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <thread>

#include <fmt/format.h>

#include "db_probe.h"
#include "fixtures.h"
#include "hil/evals/sha256.h"
#include "process.h"

using namespace hil;
using test::Process;
using namespace std::chrono_literals;

namespace {

const char* kSlurmctld = "/usr/sbin/slurmctld";
const char* kSlurmd = "/usr/sbin/slurmd";
const char* kMunged = "/usr/sbin/munged";
const char* kSbatch = "/usr/bin/sbatch";
const char* kScancel = "/usr/bin/scancel";
const char* kSinfo = "/usr/bin/sinfo";
const char* kSqueue = "/usr/bin/squeue";

// stdout of a short command, or "" when it fails.
std::string output_of(std::vector<std::string> argv) {
  Process p(std::move(argv));
  auto out = p.read_all();
  return p.wait() == 0 ? out : std::string();
}

std::string tail_of(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return all.size() > 1500 ? all.substr(all.size() - 1500) : all;
}

template <typename Pred>
bool wait_until(std::chrono::seconds limit, Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(200ms);
  }
  return pred();
}

// A one-node cluster in `dir`: munged, slurmctld and slurmd in the foreground,
// killed with the test (after its jobs are cancelled).
struct SlurmCluster {
  std::filesystem::path dir;
  std::unique_ptr<Process> munged, slurmctld, slurmd;
  std::string why_not;  // empty when the cluster is up

  explicit SlurmCluster(const std::filesystem::path& d) : dir(d) {
    for (const char* bin : {kSlurmctld, kSlurmd, kMunged, kSbatch, kScancel, kSinfo, kSqueue}) {
      if (!std::filesystem::exists(bin)) {
        why_not = fmt::format("{} is not installed (Debian's slurm-wlm and munge)", bin);
        return;
      }
    }
    if (::geteuid() != 0) {
      why_not = "starting Slurm's daemons needs root";
      return;
    }
    for (const char* sub : {"munge", "state", "spool", "log"})
      std::filesystem::create_directories(dir / sub);
    ::chmod((dir / "munge").c_str(), 0700);
    {
      // A key of this test's own; munged wants it private.
      std::string key(1024, '\0');
      uint64_t x = 0x9e3779b97f4a7c15ull ^ static_cast<uint64_t>(::getpid());
      for (auto& c : key) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        c = static_cast<char>(x);
      }
      evals::write_file_atomic(dir / "munge/munge.key", key);
      ::chmod((dir / "munge/munge.key").c_str(), 0400);
    }
    const auto sock = (dir / "munge/sock").string();
    munged = std::make_unique<Process>(std::vector<std::string>{
        kMunged, "-F", "-f", "--socket=" + sock, "--key-file=" + (dir / "munge/munge.key").string(),
        "--log-file=" + (dir / "log/munged.log").string(),
        "--pid-file=" + (dir / "munge/munged.pid").string(),
        "--seed-file=" + (dir / "munge/seed").string()});
    if (!wait_until(10s, [&] { return std::filesystem::exists(sock); })) {
      why_not = "munged did not start: " + tail_of(dir / "log/munged.log");
      stop();  // test::skip() exits: no destructor would
      return;
    }
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    std::string node = host;
    node = node.substr(0, node.find('.'));
    const int port = 20000 + static_cast<int>(::getpid() % 4000) * 2;
    {
      std::ofstream conf(dir / "slurm.conf");
      conf << fmt::format(
          "ClusterName=hiltest\nSlurmctldHost={0}(127.0.0.1)\nSlurmctldPort={1}\nSlurmdPort={2}\n"
          "SlurmUser=root\nSlurmdUser=root\nAuthType=auth/munge\nCredType=cred/munge\n"
          "AuthInfo=socket={3}\nStateSaveLocation={4}/state\nSlurmdSpoolDir={4}/spool\n"
          "SlurmctldPidFile={4}/slurmctld.pid\nSlurmdPidFile={4}/slurmd.pid\n"
          "SlurmctldLogFile={4}/log/slurmctld.log\nSlurmdLogFile={4}/log/slurmd.log\n"
          "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
          "JobAcctGatherType=jobacct_gather/none\nAccountingStorageType=accounting_storage/none\n"
          "SchedulerType=sched/backfill\nSelectType=select/cons_tres\n"
          "SelectTypeParameters=CR_CPU\nMpiDefault=none\nReturnToService=2\nKillWait=30\n"
          "NodeName={0} NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN\n"
          "PartitionName=hil Nodes={0} Default=YES MaxTime=INFINITE State=UP "
          "OverSubscribe=FORCE:4\n",
          node, port, port + 1, sock, dir.string());
    }
    ::setenv("SLURM_CONF", (dir / "slurm.conf").c_str(), 1);
    slurmctld = std::make_unique<Process>(std::vector<std::string>{kSlurmctld, "-D", "-i"},
                                          dir / "log/slurmctld.stderr");
    slurmd = std::make_unique<Process>(std::vector<std::string>{kSlurmd, "-D"},
                                       dir / "log/slurmd.stderr");
    if (!wait_until(30s, [&] {
          return output_of({kSinfo, "-h", "-o", "%t"}).find("idle") != std::string::npos;
        })) {
      why_not =
          "the Slurm daemons did not bring the node up: " + tail_of(dir / "log/slurmctld.log") +
          tail_of(dir / "log/slurmd.log");
      stop();
    }
  }
  ~SlurmCluster() { stop(); }
  // Cancels what still runs, then stops the daemons.
  void stop() {
    if (slurmctld && why_not.empty()) {
      output_of({kScancel, "--full", "--partition=hil"});
      wait_until(40s, [] { return output_of({kSqueue, "-h"}).empty(); });
    }
    slurmd.reset();
    slurmctld.reset();
    munged.reset();
    ::unsetenv("SLURM_CONF");
  }
};

}  // namespace

TEST_CASE("an emulated rack as a Slurm job array runs a gate, and a cancelled task loses nothing",
          "[slurm]") {
  test::TempDir dir;
  SlurmCluster cluster(dir / "slurm");
  if (!cluster.why_not.empty()) test::skip(cluster.why_not);

  const std::string hil = test::hil_binary().string();
  const std::string tls = (dir / "tls").string();
  {
    Process certs({hil, "certs", "init", tls});
    certs.read_all();
    REQUIRE(certs.wait() == 0);
  }
  const auto db = dir / "hil.db";
  Process serve({hil, "serve", "--db", db.string(), "--listen", "127.0.0.1:0", "--secret",
                 "slurm-rack", "--tls", tls, "--mtls"});
  const std::string line = serve.read_line();
  REQUIRE(line.find("listening") != std::string::npos);
  const std::string scheduler =
      "127.0.0.1:" + std::to_string(std::stoi(line.substr(line.rfind(':') + 1)));

  // 8 boards, 4 per task: two array tasks.
  Process rack({hil,
                "rack",
                "slurm",
                "--boards",
                "8",
                "--boards-per-task",
                "4",
                "--scheduler",
                scheduler,
                "--secret",
                "slurm-rack",
                "--tls",
                tls,
                "--script",
                (dir / "rack.sbatch").string(),
                "--log-dir",
                dir.path().string(),
                "--cache",
                (dir / "cache").string(),
                "--sbatch",
                kSbatch});
  const std::string submitted = rack.read_all();
  REQUIRE(rack.wait() == 0);
  std::smatch m;
  REQUIRE(std::regex_search(submitted, m, std::regex("submitted job ([0-9]+)")));
  const std::string job = m[1];
  const std::string task0 = fmt::format("hil-rack-{}-0-%", job);
  const std::string task1 = fmt::format("hil-rack-{}-1-%", job);
  INFO(submitted << tail_of(dir / fmt::format("hil-rack-{}_0.log", job)));
  REQUIRE(test::wait_for_count(
      db, "SELECT COUNT(*) FROM boards WHERE name LIKE 'hil-rack-" + job + "-%'", 8, 90));

  {
    std::ofstream suite(dir / "slurm.textproto");
    suite << "name: \"slurm\"\nboard_type: \"slowed-hw3\"\n"
          << "clips { generated { count: 16 frames: 24 seed: 5150 conditions: [\"clear\"] } }\n"
          << "scenarios { name: \"split\" mode: \"split\" }\n"
          << test::kSampleMetrics
          << "gates { metric: \"lane_offset_mae\" max_abs_degradation: 0.05 min_clips: 4 blocking: "
             "true }\n";
  }
  evals::write_file_atomic(dir / "a.onnx", test::tiny_revision("base", 1));
  evals::write_file_atomic(dir / "b.onnx", test::tiny_revision("base", 2));
  Process gate({hil, "gate", "--scheduler", scheduler, "--secret", "slurm-rack", "--tls", tls,
                "--candidate", (dir / "b.onnx").string(), "--baseline", (dir / "a.onnx").string(),
                "--suite", (dir / "slurm.textproto").string(), "--clip-cache",
                (dir / "clips").string()});

  // Mid-run (the first results are in), cancel array task 0: its agent gets
  // SIGTERM and drains; the rest of the run goes to task 1's boards.
  REQUIRE(test::wait_for_count(db, "SELECT COUNT(*) FROM evals WHERE state = 'succeeded'", 4, 240));
  const int64_t done_before_cancel =
      test::db_scalar(db, "SELECT COUNT(*) FROM evals WHERE state = 'succeeded'");
  REQUIRE(output_of({kScancel, job + "_0"}).empty());
  CHECK(wait_until(60s, [&] {
    return output_of({kSqueue, "-h", "-j", job + "_0"}).find(job + "_0") == std::string::npos;
  }));

  auto rc = gate.wait_for(300s);
  const std::string gate_out = gate.read_all();
  INFO(gate_out);
  REQUIRE(rc.has_value());
  CHECK((*rc == 0 || *rc == 1 || *rc == 2));  // a verdict, not an error

  // Nothing lost, nothing twice: every eval of the run succeeded once.
  CHECK(test::db_scalar(db, "SELECT COUNT(*) FROM evals") == 32);
  CHECK(test::db_scalar(db, "SELECT COUNT(*) FROM evals WHERE state = 'succeeded'") == 32);
  CHECK(test::db_scalar(db, "SELECT COUNT(DISTINCT eval_id) FROM eval_metrics") == 32);
  CHECK(test::db_scalar(db, "SELECT SUM(evals_done) FROM boards") == 32);
  // Both tasks did work; task 0's boards left the rack, task 1's are still in it.
  CHECK(test::db_scalar(db, "SELECT COUNT(*) FROM evals WHERE board LIKE '" + task0 + "'") >= 1);
  CHECK(test::db_scalar(db, "SELECT COUNT(*) FROM evals WHERE board LIKE '" + task1 + "'") >= 1);
  CHECK(done_before_cancel < 32);
  CHECK(test::db_scalar(db, "SELECT COUNT(*) FROM boards WHERE name LIKE '" + task0 +
                                "' AND state = 'offline'") == 4);
  CHECK(test::db_scalar(db, "SELECT COUNT(*) FROM boards WHERE name LIKE '" + task1 +
                                "' AND state != 'offline'") == 4);
}
