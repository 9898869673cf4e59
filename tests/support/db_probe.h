// Reading a database that a child process is writing, for process tests.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "hil/db/database.h"

namespace hil::test {

// The first column of the first row of `sql`, or -1 while the file cannot be
// read yet (the scheduler may still be creating it).
inline int64_t db_scalar(const std::filesystem::path& db, const std::string& sql) {
  try {
    db::Database d(db, db::OpenMode::kReadOnly);
    auto st = d.prepare(sql);
    return st.step() ? st.int64(0) : -1;
  } catch (const std::exception&) {
    return -1;
  }
}

// Waits (at most `seconds`) until `sql` counts at least `n`.
inline bool wait_for_count(const std::filesystem::path& db, const std::string& sql, int64_t n,
                           int seconds = 90) {
  for (int i = 0; i < seconds * 20; ++i) {
    if (db_scalar(db, sql) >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace hil::test
