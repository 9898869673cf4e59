// hil db check | stats | vacuum
#include <filesystem>

#include <fmt/format.h>

#include "commands.h"
#include "hil/db/database.h"
#include "hil/db/store.h"

namespace hil::app {

void add_db_commands(CLI::App& app) {
  auto* db = app.add_subcommand("db", "inspect and maintain the results database");
  db->require_subcommand(1);
  auto path = std::make_shared<std::string>("hil.db");

  auto* check = db->add_subcommand("check", "integrity and foreign-key check");
  check->add_option("--db", *path)->capture_default_str();
  check->callback([path] {
    db::Database d(*path, db::OpenMode::kReadOnly);
    auto problems = d.check();
    for (const auto& p : problems) fmt::print("{}\n", p);
    fmt::print("{}: {}\n", *path, problems.empty() ? "ok" : fmt::format("{} problem(s)", problems.size()));
    if (!problems.empty()) exit_code() = kExitError;
  });

  auto* stats = db->add_subcommand("stats", "rows per table and file size");
  stats->add_option("--db", *path)->capture_default_str();
  stats->callback([path] {
    db::Database d(*path, db::OpenMode::kReadOnly);
    db::Store s(d);
    for (const auto& [table, rows] : s.table_rows()) fmt::print("{:<14} {:>12} rows\n", table, rows);
    fmt::print("{:<14} {:>12} bytes (schema version {})\n", "file", std::filesystem::file_size(*path), d.schema_version());
  });

  auto* vacuum = db->add_subcommand("vacuum", "rebuild the file compactly");
  vacuum->add_option("--db", *path)->capture_default_str();
  vacuum->callback([path] {
    db::Database d(*path);
    d.exec("VACUUM");
    fmt::print("{}: {} bytes\n", *path, std::filesystem::file_size(*path));
  });
}

}  // namespace hil::app
