// The viewer's one door to the results database: a read-only connection and
// the typed queries of hil::db::Store. Models read through it; widgets never
// see SQL or a Store.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "hil/db/database.h"
#include "hil/db/store.h"

namespace hil::viewer {

class ResultsSource {
 public:
  // How many of the newest runs the run table lists.
  static constexpr int kRunsShown = 500;

  // Opens `path` read-only and checks that it holds hil results. Throws
  // hil::db::DbError naming the file when it is missing, not a database, of
  // another schema version or not a hil database.
  explicit ResultsSource(const std::filesystem::path& path);
  ResultsSource(const ResultsSource&) = delete;
  ResultsSource& operator=(const ResultsSource&) = delete;

  const std::filesystem::path& path() const { return database_.path(); }

  // Each read sees the latest committed state (WAL), so a scheduler writing
  // meanwhile is picked up by the next call. All throw hil::db::DbError.
  std::vector<hil::db::RunRow> newest_runs();
  std::vector<hil::db::GateRow> gate_results(int64_t run_id);

 private:
  hil::db::Database database_;
  hil::db::Store store_;
};

}  // namespace hil::viewer
