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
    fmt::print("{}: {}\n", *path,
               problems.empty() ? "ok" : fmt::format("{} problem(s)", problems.size()));
    if (!problems.empty()) exit_code() = kExitError;
  });

  auto* stats = db->add_subcommand("stats", "rows and bytes per table");
  stats->add_option("--db", *path)->capture_default_str();
  stats->callback([path] {
    db::Database d(*path, db::OpenMode::kReadOnly);
    db::Store s(d);
    fmt::print("{:<14} {:>12} {:>14}\n", "table", "rows", "bytes");
    for (const auto& t : s.table_sizes())
      fmt::print("{:<14} {:>12} {:>14}\n", t.table, t.rows, t.bytes);
    fmt::print("{:<14} {:>12} {:>14}  (schema version {})\n", "file", "",
               std::filesystem::file_size(*path), d.schema_version());
  });

  auto keep = std::make_shared<int>(30);
  auto* prune = db->add_subcommand("prune", "delete nightly runs older than the newest N nights");
  prune->add_option("--db", *path)->capture_default_str();
  prune->add_option("--keep-nights", *keep)->capture_default_str();
  prune->callback([path, keep] {
    if (*keep < 0) throw std::invalid_argument("--keep-nights must not be negative");
    db::Database d(*path);
    db::Store s(d);
    db::Transaction tx(d);
    auto deleted = s.prune_nights(*keep);
    tx.commit();
    fmt::print(
        "{}: {} nightly run(s) deleted, the newest {} night(s) kept; run `hil db vacuum` to shrink "
        "the file\n",
        *path, deleted, *keep);
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
