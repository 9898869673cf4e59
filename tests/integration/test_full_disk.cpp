// A full disk under the scheduler's database, for real: the database lives on
// a small tmpfs, and a ballast file fills it mid-run. The scheduler must log
// the refused writes naming the file, hold its results, hand out no new work,
// and once space is freed (the ballast removed) finish the run with every eval
// recorded exactly once and the file intact. Needs root for the mount;
// elsewhere the test says so and is not run.
#include <catch2/catch.hpp>

#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "db_probe.h"
#include "fixtures.h"
#include "hil/db/database.h"
#include "hil/evals/sha256.h"
#include "process.h"

using namespace hil;
using test::Process;

namespace {

struct SmallDisk {
  std::filesystem::path dir;
  bool mounted = false;
  explicit SmallDisk(const std::filesystem::path& where) : dir(where) {
    std::filesystem::create_directories(dir);
    mounted = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=16m") == 0;
  }
  ~SmallDisk() {
    if (mounted) ::umount2(dir.c_str(), MNT_DETACH);
  }
  uint64_t free_bytes() const {
    struct statvfs v {};
    ::statvfs(dir.c_str(), &v);
    return static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
  }
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool wait_until(const std::function<bool()>& done, int seconds) {
  for (int i = 0; i < seconds * 20; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace

TEST_CASE(
    "a full disk under the database stalls the run without losing a result, and it completes when "
    "space frees",
    "[integration][full-disk]") {
  test::TempDir dir;
  SmallDisk disk(dir / "disk");
  if (!disk.mounted) {
    test::skip("cannot mount a tmpfs here (needs root)");
  }
  const std::string hil = test::hil_binary().string();
  const auto db = disk.dir / "hil.db";
  const auto log = dir / "scheduler.log";
  Process serve({hil, "serve", "--db", db.string(), "--blobs", (dir / "blobs").string(), "--listen",
                 "127.0.0.1:0", "--secret", "disk", "--plaintext", "--lease-timeout", "5"},
                log);
  auto line = serve.read_line();
  const std::string address =
      "127.0.0.1:" + std::to_string(std::stoi(line.substr(line.rfind(':') + 1)));
  Process agent({hil, "agent", "--scheduler", address, "--secret", "disk", "--plaintext",
                 "--emulate", "3", "--threads", "2", "--cache", (dir / "cache").string(),
                 "--fault-profile", "slow:10"});

  {
    std::ofstream suite(dir / "disk.textproto");
    suite << "name: \"disk\"\nboard_type: \"slowed-hw3\"\n"
          << "clips { generated { count: 40 frames: 24 seed: 31 conditions: [\"clear\", \"fog\"] } "
             "}\n"
          << "scenarios { name: \"split\" mode: \"split\" }\n"
          << test::kSampleMetrics
          << "gates { metric: \"lane_offset_mae\" max_abs_degradation: 0.05 min_clips: 2 blocking: "
             "true }\n";
  }
  evals::write_file_atomic(dir / "a.onnx", test::tiny_revision("base", 1));
  evals::write_file_atomic(dir / "b.onnx", test::tiny_revision("base", 2));
  int64_t run = -1;
  for (int attempt = 0; attempt < 100 && run < 0; ++attempt) {
    Process submit({hil, "submit", "--scheduler", address, "--secret", "disk", "--plaintext",
                    "--candidate", (dir / "b.onnx").string(), "--baseline",
                    (dir / "a.onnx").string(), "--suite", (dir / "disk.textproto").string(),
                    "--clip-cache", (dir / "clips").string()});
    auto out = submit.read_all();
    if (submit.wait() == 0) run = std::stoll(out);
    if (run < 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(run > 0);
  const std::string done_sql =
      fmt::format("SELECT COUNT(*) FROM evals WHERE run_id = {} AND state = 'succeeded'", run);
  REQUIRE(wait_until([&] { return test::db_scalar(db, done_sql) >= 4; }, 120));

  // Fill the disk, leaving a few pages: the next WAL growth fails with ENOSPC.
  const auto ballast = disk.dir / "ballast";
  {
    std::ofstream out(ballast, std::ios::binary);
    std::string block(64 * 1024, '\0');
    uint64_t fill = disk.free_bytes() > 96 * 1024 ? disk.free_bytes() - 96 * 1024 : 0;
    for (uint64_t written = 0; written + block.size() <= fill; written += block.size())
      out.write(block.data(), block.size());
  }
  INFO(slurp(log));
  REQUIRE(wait_until([&] { return slurp(log).find("refuses writes") != std::string::npos; }, 120));
  const int64_t stalled_at = test::db_scalar(db, done_sql);
  CHECK(stalled_at < 80);  // the run did not finish on a full disk

  std::filesystem::remove(ballast);  // space again
  REQUIRE(wait_until(
      [&] {
        return test::db_scalar(
                   db, fmt::format("SELECT state = 'done' FROM runs WHERE id = {}", run)) == 1;
      },
      180));
  const auto text = slurp(log);
  CHECK(text.find("takes writes again") != std::string::npos);
  CHECK(text.find(db.string()) != std::string::npos);  // the error names the file

  db::Database d(db, db::OpenMode::kReadOnly);
  auto st = d.prepare("SELECT COUNT(*), SUM(state = 'succeeded') FROM evals WHERE run_id = ?1");
  st.bind_all(run);
  REQUIRE(st.step());
  CHECK(st.int64(0) == 80);
  CHECK(st.int64(1) == 80);  // none lost, none failed for the disk's sake
  auto missing = d.prepare(
      "SELECT COUNT(*) FROM evals e WHERE e.run_id = ?1 AND NOT EXISTS (SELECT 1 FROM eval_metrics "
      "m WHERE m.eval_id = e.id)");
  missing.bind_all(run);
  missing.step();
  CHECK(missing.int64(0) == 0);
  CHECK(d.check().empty());
  Process check({hil, "db", "check", "--db", db.string()});
  check.read_all();
  CHECK(check.wait() == 0);
}
