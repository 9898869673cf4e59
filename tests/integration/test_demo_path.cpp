// The skeleton's thin path with real processes on loopback: `hil serve`,
// `hil agent --emulate 4`, `hil gate`, then the database is inspected.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "fixtures.h"
#include "hil/db/database.h"
#include "hil/db/store.h"
#include "hil/evals/sha256.h"
#include "process.h"

using namespace hil;

using test::Process;

TEST_CASE("a code change is gated end to end: serve, an emulated rack of 4, gate, SQLite",
          "[integration]") {
  test::TempDir dir;
  const std::string hil = test::hil_binary().string();
  REQUIRE(std::filesystem::exists(hil));
  const std::string secret = "integration-secret";
  auto cand = dir / "candidate.onnx", base = dir / "baseline.onnx";
  evals::write_file_atomic(cand, test::tiny_revision("better", 1));
  evals::write_file_atomic(base, test::tiny_revision("base", 1));
  {
    std::ofstream suite(dir / "it.textproto");
    suite << "name: \"it\"\nboard_type: \"slowed-hw3\"\n"
          << "clips { generated { count: 6 frames: 8 seed: 700 conditions: [\"clear\", \"night\", "
             "\"fog\"] } }\n"
          << "scenarios { name: \"split\" mode: \"split\" }\n"
          << test::kSampleMetrics
          << "gates { metric: \"lane_offset_mae\" max_abs_degradation: 0.02 min_clips: 3 blocking: "
             "true }\n"
          << "gates { metric: \"steering_mae\" max_abs_degradation: 0.002 min_clips: 3 blocking: "
             "true }\n";
  }
  auto db_path = (dir / "hil.db").string();
  // The rack's own PKI; the scheduler demands certificates from boards and clients.
  const std::string tls = (dir / "tls").string();
  {
    Process certs({hil, "certs", "init", tls});
    certs.read_all();
    REQUIRE(certs.wait() == 0);
  }
  Process serve({hil, "serve", "--db", db_path, "--listen", "127.0.0.1:0", "--secret", secret,
                 "--tls", tls, "--mtls"});
  auto line = serve.read_line();
  auto colon = line.rfind(':');
  REQUIRE(colon != std::string::npos);
  auto address = "127.0.0.1:" + std::to_string(std::stoi(line.substr(colon + 1)));
  CHECK(line.find("mutual TLS") != std::string::npos);
  Process agent({hil, "agent", "--scheduler", address, "--secret", secret, "--tls", tls,
                 "--emulate", "4", "--threads", "2", "--cache", (dir / "cache").string()});
  REQUIRE(agent.read_line().find("4 board(s)") != std::string::npos);

  // Wait (bounded) until the four boards registered, so that work spreads.
  for (int attempt = 0; attempt < 100; ++attempt) {
    Process boards({hil, "boards", "--scheduler", address, "--secret", secret, "--tls", tls});
    auto listing = boards.read_all();
    boards.wait();
    size_t idle = 0;
    for (size_t pos = listing.find(" idle "); pos != std::string::npos;
         pos = listing.find(" idle ", pos + 1))
      ++idle;
    if (idle == 4) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  int rc = -1;
  std::string output;
  for (int attempt = 0; attempt < 50; ++attempt) {
    Process gate({hil, "gate", "--scheduler", address, "--secret", secret, "--tls", tls,
                  "--candidate", cand.string(), "--baseline", base.string(), "--suite",
                  (dir / "it.textproto").string(), "--clip-cache", (dir / "clips").string(),
                  "--json", (dir / "verdict.json").string()});
    output = gate.read_all();
    rc = gate.wait();
    if (rc != 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  INFO(output);
  CHECK((rc == 0 || rc == 1 || rc == 2));
  CHECK(output.find("VERDICT:") != std::string::npos);
  CHECK(output.find("lane_offset_mae") != std::string::npos);

  db::Database d(db_path, db::OpenMode::kReadOnly);
  db::Store store(d);
  auto runs = store.runs();
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].state == "done");
  CHECK(runs[0].evals_total == 12);
  CHECK(runs[0].evals_succeeded == 12);
  CHECK((runs[0].verdict == "pass" || runs[0].verdict == "fail" ||
         runs[0].verdict == "inconclusive"));
  CHECK(rc == (runs[0].verdict == "pass" ? 0 : runs[0].verdict == "fail" ? 1 : 2));
  // One row per eval with its metric values, from real boards.
  auto st = d.prepare(
      "SELECT COUNT(DISTINCT e.id), COUNT(DISTINCT e.board), MIN(m.value), MAX(m.value) FROM evals "
      "e "
      "JOIN eval_metrics m ON m.eval_id = e.id JOIN metric_defs md ON md.id = m.metric_id "
      "WHERE md.name = 'lane_offset_mae'");
  st.step();
  CHECK(st.int64(0) == 12);
  CHECK(st.int64(1) >= 2);
  CHECK(st.real(2) > 0);
  CHECK(st.real(3) < 3);
  CHECK(store.gate_results(runs[0].id).size() >= 2);
  CHECK(d.check().empty());
  std::ifstream json(dir / "verdict.json");
  std::string j((std::istreambuf_iterator<char>(json)), std::istreambuf_iterator<char>());
  CHECK(j.find("\"verdict\": \"" + runs[0].verdict + "\"") != std::string::npos);
}
