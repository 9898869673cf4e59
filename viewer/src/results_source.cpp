#include "results_source.h"

#include <string>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

namespace hil::viewer {
namespace {

// SQLite's own message for a missing file ("unable to open database file")
// does not say which part is wrong; check first so the error can.
const std::filesystem::path& existing_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw hil::db::DbError(fmt::format("{}: no such file", path.string()));
  }
  return path;
}

// hil::db appends the statement to its errors ("... in: SELECT ..."): useful
// in a log, noise in a dialog that already says which file is wrong.
std::string without_sql(std::string_view message) {
  return std::string(message.substr(0, message.find(" in: ")));
}

}  // namespace

ResultsSource::ResultsSource(const std::filesystem::path& path)
    : database_(existing_file(path), hil::db::OpenMode::kReadOnly), store_(database_) {
  // Database checks the schema version only; another application's SQLite
  // file can carry the same one. Reading the tables the viewer needs proves
  // it is ours, and fails now rather than on the first refresh.
  try {
    store_.runs(1);
    store_.gate_results(0);
  } catch (const hil::db::DbError& e) {
    throw hil::db::DbError(
        fmt::format("{}: not a hil results database ({})", path.string(), without_sql(e.what())));
  }
}

std::vector<hil::db::RunRow> ResultsSource::newest_runs() { return store_.runs(kRunsShown); }

std::vector<hil::db::GateRow> ResultsSource::gate_results(int64_t run_id) {
  return store_.gate_results(run_id);
}

}  // namespace hil::viewer
