#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "fixtures.h"
#include "hil/db/writer.h"

using namespace hil;

TEST_CASE("the writer batches jobs into few transactions", "[db][writer]") {
  test::TempDir dir;
  db::WriterOptions o;
  o.max_batch = 256;
  o.max_delay = std::chrono::milliseconds(20);
  db::Writer w(dir / "hil.db", o);
  std::atomic<int> done{0};
  for (int i = 0; i < 1000; ++i) {
    w.submit([i](db::Store& s) { s.upsert_board("board-" + std::to_string(i), "emulated-hw3", "idle", "t"); },
             [&](bool ok, const std::string&) { done += ok; });
  }
  w.flush();
  CHECK(done == 1000);
  CHECK(w.committed_batches() < 100);
  db::Database d(dir / "hil.db", db::OpenMode::kReadOnly);
  db::Store s(d);
  CHECK(s.table_rows()["boards"] == 1000);
}

TEST_CASE("a failing job is rolled back alone; the rest of its batch commits", "[db][writer]") {
  test::TempDir dir;
  db::Writer w(dir / "hil.db");
  std::string error;
  w.submit([](db::Store& s) { s.upsert_board("good-1", "t", "idle", ""); });
  w.submit(
      [](db::Store& s) {
        s.upsert_board("bad", "t", "idle", "");
        s.database().exec("INSERT INTO no_such_table VALUES (1)");
      },
      [&](bool ok, const std::string& e) {
        if (!ok) error = e;
      });
  w.submit([](db::Store& s) { s.upsert_board("good-2", "t", "idle", ""); });
  w.flush();
  CHECK(error.find("no_such_table") != std::string::npos);
  db::Database d(dir / "hil.db", db::OpenMode::kReadOnly);
  auto st = d.prepare("SELECT group_concat(name) FROM (SELECT name FROM boards ORDER BY name)");
  st.step();
  CHECK(st.text(0) == "good-1,good-2");
}

TEST_CASE("run_sync rethrows the job's error", "[db][writer]") {
  test::TempDir dir;
  db::Writer w(dir / "hil.db");
  CHECK_THROWS_WITH(w.run_sync([](db::Store& s) { s.database().exec("SELECT * FROM nowhere"); }),
                    Catch::Contains("nowhere"));
}
