// A thin, safe layer over SQLite: connections, prepared statements with bound
// parameters (the only way SQL runs in hil), transactions and migrations.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <variant>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace hil::db {

// The schema version this build writes (PRAGMA user_version).
inline constexpr int kSchemaVersion = 5;

class DbError : public std::runtime_error {
 public:
  explicit DbError(const std::string& what, int sqlite_code = 0)
      : std::runtime_error(what), code_(sqlite_code) {}
  // SQLite's primary result code (0 when the error did not come from SQLite).
  int code() const { return code_ & 0xff; }
  // The storage failed (disk full, I/O error, read-only file, locked), not the
  // data: the same write can succeed later.
  bool storage_failure() const;

 private:
  int code_;
};

using Value = std::variant<std::nullptr_t, int64_t, double, std::string>;

struct Blob {
  std::string bytes;
};

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(Statement&&) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;

  Statement& bind(int index, std::nullptr_t);
  Statement& bind(int index, int64_t v);
  Statement& bind(int index, int v) { return bind(index, static_cast<int64_t>(v)); }
  Statement& bind(int index, uint32_t v) { return bind(index, static_cast<int64_t>(v)); }
  Statement& bind(int index, uint64_t v) { return bind(index, static_cast<int64_t>(v)); }
  Statement& bind(int index, double v);
  Statement& bind(int index, std::string_view v);
  Statement& bind(int index, const std::string& v) { return bind(index, std::string_view(v)); }
  Statement& bind(int index, const char* v) { return bind(index, std::string_view(v)); }
  Statement& bind(int index, const Blob& v);
  template <typename T>
  Statement& bind(int index, const std::optional<T>& v) {
    return v ? bind(index, *v) : bind(index, nullptr);
  }
  // Binds all arguments from index 1.
  template <typename... Args>
  Statement& bind_all(const Args&... args) {
    int i = 1;
    (bind(i++, args), ...);
    return *this;
  }

  // Steps once; true while a row is available.
  bool step();
  // Runs to completion (for statements without rows).
  void run();
  // Steps once, reads the row (if any) with `read`, then resets, so that no
  // read snapshot stays open between calls (readers must see new commits).
  template <typename F>
  auto first(F read) -> std::optional<std::invoke_result_t<F, Statement&>> {
    std::optional<std::invoke_result_t<F, Statement&>> out;
    if (step()) out = read(*this);
    reset();
    return out;
  }
  void reset();

  bool is_null(int col) const;
  int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;
  std::string blob(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
};

enum class OpenMode { kReadWrite, kReadOnly };

class Database {
 public:
  // Opens (and for kReadWrite creates and migrates) a database file. A file
  // from a newer schema version, or one that is not a database, is refused
  // with a DbError naming the file.
  explicit Database(const std::filesystem::path& path, OpenMode mode = OpenMode::kReadWrite);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Statement prepare(std::string_view sql);
  // A prepared statement kept for reuse (reset, bindings cleared): for SQL
  // that runs often. Not reentrant: finish with it before asking again.
  Statement& cached(const std::string& sql);
  // For schema and pragmas only: never with values from outside.
  void exec(std::string_view sql);
  int64_t last_insert_rowid() const;
  int changes() const;
  int schema_version();
  const std::filesystem::path& path() const { return path_; }
  bool read_only() const { return mode_ == OpenMode::kReadOnly; }

  // Creates a database at an older schema version and runs `seed_sql` on it
  // (migration tests: rows as that version wrote them).
  static void create_at_version(const std::filesystem::path& path, int version,
                                const std::string& seed_sql = "");

  // integrity_check + foreign_key_check: empty when clean, else the problems.
  std::vector<std::string> check();

 private:
  Database(const std::filesystem::path& path, OpenMode mode, int target_version);
  void migrate(int target);

  std::unordered_map<std::string, std::unique_ptr<Statement>> cache_;
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
  OpenMode mode_;
};

// RAII transaction: BEGIN IMMEDIATE on construction, ROLLBACK unless commit().
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

double unix_now();

}  // namespace hil::db
