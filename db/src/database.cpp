#include "hil/db/database.h"

#include <sqlite3.h>

#include <chrono>
#include <mutex>

#include <fmt/format.h>

#include "schema.h"

namespace hil::db {

static_assert(kMigrationCount == kSchemaVersion, "one migration per schema version");

double unix_now() {
  using namespace std::chrono;
  return duration_cast<duration<double>>(system_clock::now().time_since_epoch()).count();
}

// ------------------------------------------------------------------ Statement

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db), sql_(sql) {
  if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt_, nullptr) != SQLITE_OK) {
    throw DbError(fmt::format("prepare failed: {} in: {}", sqlite3_errmsg(db), sql));
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }
Statement::Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_), sql_(std::move(o.sql_)) {
  o.stmt_ = nullptr;
}

#define HIL_BIND(call)                                                              \
  do {                                                                              \
    if ((call) != SQLITE_OK)                                                        \
      throw DbError(fmt::format("bind {} failed: {}", index, sqlite3_errmsg(db_))); \
  } while (0)

Statement& Statement::bind(int index, std::nullptr_t) {
  HIL_BIND(sqlite3_bind_null(stmt_, index));
  return *this;
}
Statement& Statement::bind(int index, int64_t v) {
  HIL_BIND(sqlite3_bind_int64(stmt_, index, v));
  return *this;
}
Statement& Statement::bind(int index, double v) {
  HIL_BIND(sqlite3_bind_double(stmt_, index, v));
  return *this;
}
Statement& Statement::bind(int index, std::string_view v) {
  HIL_BIND(sqlite3_bind_text(stmt_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  return *this;
}
Statement& Statement::bind(int index, const Blob& v) {
  HIL_BIND(sqlite3_bind_blob(stmt_, index, v.bytes.data(), static_cast<int>(v.bytes.size()),
                             SQLITE_TRANSIENT));
  return *this;
}
#undef HIL_BIND

bool DbError::storage_failure() const {
  switch (code()) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
      return true;
    default:
      return false;
  }
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string msg = sqlite3_errmsg(db_);
  sqlite3_reset(stmt_);
  throw DbError(fmt::format("{} (code {}) in: {}", msg, rc, sql_), rc);
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
int64_t Statement::int64(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::real(int col) const { return sqlite3_column_double(stmt_, col); }
std::string Statement::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string();
}
std::string Statement::blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  return p ? std::string(static_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string();
}

// ------------------------------------------------------------------ Database

Database::Database(const std::filesystem::path& path, OpenMode mode)
    : Database(path, mode, kSchemaVersion) {}

namespace {

// SQLite's memory statistics take one process-wide mutex on every malloc and
// free: the writer thread spent a tenth of its time there, and hil reads no
// statistic. Must precede SQLite's initialisation (the first open).
void configure_sqlite_once() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

}  // namespace

Database::Database(const std::filesystem::path& path, OpenMode mode, int target_version)
    : path_(path), mode_(mode) {
  configure_sqlite_once();
  int flags = mode == OpenMode::kReadOnly ? SQLITE_OPEN_READONLY
                                          : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  flags |= SQLITE_OPEN_NOMUTEX;  // one connection per thread
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw DbError(fmt::format("{}: cannot open database: {}", path.string(), msg));
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, 10000);
  try {
    // Any read proves the file is a database (a corrupt one fails here).
    int version = schema_version();
    if (version > kSchemaVersion) {
      throw DbError(
          fmt::format("{}: schema version {} is newer than this hil supports ({}); upgrade hil",
                      path.string(), version, kSchemaVersion));
    }
    exec("PRAGMA foreign_keys = ON");
    if (mode == OpenMode::kReadWrite) {
      exec("PRAGMA journal_mode = WAL");
      exec("PRAGMA synchronous = NORMAL");
      migrate(target_version);
    } else if (version == 0) {
      throw DbError(
          fmt::format("{}: not a hil results database (schema version 0)", path.string()));
    } else if (version < kSchemaVersion) {
      throw DbError(fmt::format(
          "{}: schema version {} is older than this hil reads ({}); open it read-write once",
          path.string(), version, kSchemaVersion));
    }
  } catch (const DbError& e) {
    sqlite3_close(db_);
    db_ = nullptr;
    std::string what = e.what();
    if (what.rfind(path.string(), 0) == 0) throw;
    throw DbError(fmt::format("{}: {}", path.string(), what));
  }
}

Database::~Database() {
  cache_.clear();  // statements before the connection
  sqlite3_close(db_);
}

Statement& Database::cached(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    it = cache_.emplace(sql, std::make_unique<Statement>(db_, sql)).first;
  } else {
    it->second->reset();
  }
  return *it->second;
}

void Database::create_at_version(const std::filesystem::path& path, int version,
                                 const std::string& seed_sql) {
  Database d(path, OpenMode::kReadWrite, version);
  if (!seed_sql.empty()) d.exec(seed_sql);
}

Statement Database::prepare(std::string_view sql) { return Statement(db_, sql); }

void Database::exec(std::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  if (int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err); rc != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw DbError(msg, rc);
  }
}

int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int Database::changes() const { return sqlite3_changes(db_); }

int Database::schema_version() {
  auto st = prepare("PRAGMA user_version");
  st.step();
  return static_cast<int>(st.int64(0));
}

void Database::migrate(int target) {
  int version = schema_version();
  for (int v = version; v < target; ++v) {
    Transaction tx(*this);
    exec(kMigrations[v]);
    exec(fmt::format("PRAGMA user_version = {}", v + 1));
    tx.commit();
  }
}

std::vector<std::string> Database::check() {
  std::vector<std::string> problems;
  auto ic = prepare("PRAGMA integrity_check");
  while (ic.step()) {
    auto row = ic.text(0);
    if (row != "ok") problems.push_back("integrity: " + row);
  }
  auto fk = prepare("PRAGMA foreign_key_check");
  while (fk.step()) {
    problems.push_back(fmt::format("foreign key: table {} row {} refers to a missing row of {}",
                                   fk.text(0), fk.int64(1), fk.text(2)));
  }
  return problems;
}

// ------------------------------------------------------------------ Transaction

Transaction::Transaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {
    }
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace hil::db
