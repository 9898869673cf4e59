// Power-loss style: a writer process is killed with SIGKILL in the middle of
// its batches; the file must open, pass the checks, hold every batch that was
// reported committed, and no part of any other.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "fixtures.h"
#include "hil/db/writer.h"

using namespace hil;

namespace {
constexpr int kRowsPerJob = 50;
}

TEST_CASE("a writer killed with SIGKILL mid-batch leaves only whole committed jobs",
          "[db][crash]") {
  test::TempDir dir;
  auto path = dir / "crash.db";
  { db::Database init(path); }
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(fds[0]);
    // The child writes forever; each job is kRowsPerJob boards of one job id.
    db::WriterOptions o;
    o.max_batch = 16;
    db::Writer w(path, o);
    for (int job = 0;; ++job) {
      w.submit(
          [job](db::Store& s) {
            for (int r = 0; r < kRowsPerJob; ++r) {
              s.upsert_board("job-" + std::to_string(job) + "-" + std::to_string(r), "t", "idle",
                             std::to_string(job));
            }
          },
          [fd = fds[1], job](bool ok, const std::string&) {
            if (ok) {
              int committed = job;
              (void)!write(fd, &committed, sizeof committed);
            }
          });
    }
  }
  close(fds[1]);
  // Let it commit for a while, then kill it without warning.
  int last = -1, value = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (last < 400 && std::chrono::steady_clock::now() < deadline) {
    if (read(fds[0], &value, sizeof value) == sizeof value) last = std::max(last, value);
  }
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  // Drain what the child reported before it died.
  while (read(fds[0], &value, sizeof value) == sizeof value) last = std::max(last, value);
  close(fds[0]);
  REQUIRE(last >= 400);

  db::Database d(path);
  CHECK(d.check().empty());
  // Every job is all-or-nothing.
  auto st = d.prepare("SELECT software, COUNT(*) FROM boards GROUP BY software");
  int jobs = 0;
  int max_job = -1;
  while (st.step()) {
    INFO("job " << st.text(0));
    CHECK(st.int64(1) == kRowsPerJob);
    ++jobs;
    max_job = std::max(max_job, std::stoi(st.text(0)));
  }
  // Every job reported committed is there (jobs commit in order, so all up to `last`).
  CHECK(max_job >= last);
  CHECK(jobs == max_job + 1);
}
