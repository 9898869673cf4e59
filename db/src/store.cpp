#include "hil/db/store.h"

#include "rows.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <sstream>

#include <fmt/format.h>

namespace hil::db {
namespace {

std::string join_tags(const std::vector<std::string>& tags) {
  std::string out;
  for (const auto& t : tags) {
    if (!out.empty()) out += ',';
    out += t;
  }
  return out;
}

RevisionRow read_revision(Statement& st) {
  RevisionRow r;
  r.id = st.int64(0);
  r.sha256 = st.text(1);
  r.name = st.text(2);
  r.git_sha = st.text(3);
  r.pr = st.text(4);
  r.author = st.text(5);
  r.bytes = st.int64(6);
  return r;
}

constexpr const char* kRevisionColumns = "id, sha256, name, git_sha, pr, author, bytes";

constexpr const char* kEvalSelect = R"sql(
  SELECT e.id, e.run_id, e.revision_id, e.clip_id, e.scenario, e.state, e.attempts,
         COALESCE(e.board, ''), COALESCE(e.lease_id, 0), COALESCE(e.lease_deadline, 0),
         r.sha256, c.sha256, COALESCE(e.failure, '')
  FROM evals e JOIN revisions r ON r.id = e.revision_id JOIN clips c ON c.id = e.clip_id)sql";

EvalRow read_eval(Statement& st) {
  EvalRow e;
  e.id = st.int64(0);
  e.run_id = st.int64(1);
  e.revision_id = st.int64(2);
  e.clip_id = st.int64(3);
  e.scenario = st.text(4);
  e.state = st.text(5);
  e.attempts = static_cast<int>(st.int64(6));
  e.board = st.text(7);
  e.lease_id = st.int64(8);
  e.lease_deadline = st.real(9);
  e.revision_sha = st.text(10);
  e.clip_sha = st.text(11);
  e.failure = st.text(12);
  return e;
}

constexpr const char* kRunSelect = R"sql(
  SELECT r.id, r.label, c.name, COALESCE(b.name, ''), s.name, r.priority, r.state,
         COALESCE(r.verdict, ''), COALESCE(r.verdict_summary, ''), r.submitted_at, COALESCE(r.finished_at, 0),
         (SELECT COUNT(*) FROM evals e WHERE e.run_id = r.id),
         (SELECT COUNT(*) FROM evals e WHERE e.run_id = r.id AND e.state = 'succeeded'),
         (SELECT COUNT(*) FROM evals e WHERE e.run_id = r.id AND e.state = 'failed')
  FROM runs r JOIN revisions c ON c.id = r.candidate_id LEFT JOIN revisions b ON b.id = r.baseline_id
  JOIN suites s ON s.id = r.suite_id)sql";

RunRow read_run(Statement& st) {
  RunRow r = read_run_head(st);
  r.evals_total = st.int64(11);
  r.evals_succeeded = st.int64(12);
  r.evals_failed = st.int64(13);
  return r;
}

}  // namespace

Store::Store(Database& db) : db_(db) {}

int64_t Store::upsert_revision(const RevisionRow& r) {
  auto& find = db_.cached("SELECT id FROM revisions WHERE sha256 = ?1");
  find.bind_all(r.sha256);
  if (auto found = find.first([](Statement& st) { return st.int64(0); })) {
    int64_t id = *found;
    // Metadata travels beside the bytes: later submits may name it better.
    db_.cached(
           "UPDATE revisions SET name = ?2, git_sha = COALESCE(NULLIF(?3, ''), git_sha), "
           "pr = COALESCE(NULLIF(?4, ''), pr), author = COALESCE(NULLIF(?5, ''), author) WHERE id "
           "= ?1")
        .bind_all(id, r.name, r.git_sha, r.pr, r.author)
        .run();
    return id;
  }
  db_.cached(
         "INSERT INTO revisions(sha256, name, git_sha, pr, author, bytes, created_at) VALUES (?1, "
         "?2, ?3, ?4, ?5, ?6, ?7)")
      .bind_all(r.sha256, r.name, r.git_sha, r.pr, r.author, r.bytes, unix_now())
      .run();
  return db_.last_insert_rowid();
}

int64_t Store::upsert_clip(const ClipRow& c) {
  auto& find = db_.cached("SELECT id FROM clips WHERE sha256 = ?1");
  find.bind_all(c.sha256);
  if (auto found = find.first([](Statement& st) { return st.int64(0); })) return *found;
  db_.cached("INSERT INTO clips(sha256, name, tags, frames, fps) VALUES (?1, ?2, ?3, ?4, ?5)")
      .bind_all(c.sha256, c.name, join_tags(c.tags), c.frames, c.fps)
      .run();
  return db_.last_insert_rowid();
}

int64_t Store::upsert_suite(const std::string& name, const std::string& text,
                            const std::string& sha256) {
  auto& find = db_.cached("SELECT id FROM suites WHERE sha256 = ?1");
  find.bind_all(sha256);
  if (auto found = find.first([](Statement& st) { return st.int64(0); })) return *found;
  db_.cached("INSERT INTO suites(name, text, sha256) VALUES (?1, ?2, ?3)")
      .bind_all(name, text, sha256)
      .run();
  return db_.last_insert_rowid();
}

void Store::sync_metric_defs(const std::vector<MetricDefRow>& defs) {
  metric_ids_.clear();
  auto& st = db_.cached(
      "INSERT INTO metric_defs(name, unit, direction, description) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT(name) DO UPDATE SET unit = excluded.unit, direction = excluded.direction, "
      "description = excluded.description");
  for (const auto& d : defs) {
    st.bind_all(d.name, d.unit, d.direction, d.description);
    st.run();
  }
}

std::optional<RevisionRow> Store::revision(int64_t id) {
  auto& st = db_.cached(fmt::format("SELECT {} FROM revisions WHERE id = ?1", kRevisionColumns));
  st.bind_all(id);
  return st.first(read_revision);
}

std::optional<RevisionRow> Store::revision_by_sha(const std::string& sha256) {
  auto& st =
      db_.cached(fmt::format("SELECT {} FROM revisions WHERE sha256 = ?1", kRevisionColumns));
  st.bind_all(sha256);
  return st.first(read_revision);
}

std::vector<RevisionRow> Store::revisions() {
  auto& st = db_.cached(fmt::format("SELECT {} FROM revisions ORDER BY id", kRevisionColumns));
  std::vector<RevisionRow> out;
  while (st.step()) out.push_back(read_revision(st));
  return out;
}

int64_t Store::create_run(const std::string& label, int64_t candidate_id,
                          std::optional<int64_t> baseline_id, int64_t suite_id,
                          const std::string& priority, const std::vector<NewEval>& evals) {
  db_.cached(
         "INSERT INTO runs(label, candidate_id, baseline_id, suite_id, priority, state, "
         "submitted_at) "
         "VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6)")
      .bind_all(label, candidate_id, baseline_id, suite_id, priority, unix_now())
      .run();
  int64_t run_id = db_.last_insert_rowid();
  for (size_t i = 0; i < evals.size(); i += kEvalRowsPerInsert) {
    const size_t n = std::min(kEvalRowsPerInsert, evals.size() - i);
    Statement& st = multi_row_insert(
        eval_inserts_, "INSERT INTO evals(run_id, revision_id, clip_id, scenario, state) VALUES ",
        "(?1, ?#, ?#, ?#, 'queued')", n);
    st.bind(1, run_id);
    for (size_t k = 0; k < n; ++k) {
      const auto& e = evals[i + k];
      const int index = static_cast<int>(2 + 3 * k);
      st.bind(index, e.revision_id).bind(index + 1, e.clip_id).bind(index + 2, e.scenario);
    }
    st.run();
  }
  return run_id;
}

std::string Store::suite_text_of_run(int64_t run_id) {
  auto& st =
      db_.cached("SELECT s.text FROM runs r JOIN suites s ON s.id = r.suite_id WHERE r.id = ?1");
  st.bind_all(run_id);
  auto text = st.first([](Statement& row) { return row.text(0); });
  if (!text) throw DbError(fmt::format("run {} not found", run_id));
  return *text;
}

std::vector<EvalRow> Store::unfinished_evals() {
  auto& st =
      db_.cached(std::string(kEvalSelect) + " WHERE e.state IN ('queued', 'leased') ORDER BY e.id");
  std::vector<EvalRow> out;
  while (st.step()) out.push_back(read_eval(st));
  return out;
}

std::vector<EvalRow> Store::evals_of_run(int64_t run_id) {
  std::vector<EvalRow> out;
  for_each_eval_of_run(run_id, [&](const EvalRow& row) { out.push_back(row); });
  return out;
}

void Store::for_each_eval_of_run(int64_t run_id, const std::function<void(const EvalRow&)>& visit) {
  auto& st = db_.cached(std::string(kEvalSelect) + " WHERE e.run_id = ?1 ORDER BY e.id");
  st.bind_all(run_id);
  while (st.step()) visit(read_eval(st));
  st.reset();
}

void Store::mark_leased(int64_t eval_id, const std::string& board, int64_t lease_id,
                        double deadline) {
  db_.cached(
         "UPDATE evals SET state = 'leased', board = ?2, lease_id = ?3, lease_deadline = ?4, "
         "attempts = attempts + 1, started_at = ?5 WHERE id = ?1 AND state IN ('queued', 'leased')")
      .bind_all(eval_id, board, lease_id, deadline, unix_now())
      .run();
}

void Store::mark_queued(int64_t eval_id) {
  db_.cached(
         "UPDATE evals SET state = 'queued', board = NULL, lease_id = NULL, lease_deadline = NULL "
         "WHERE id = ?1 AND state = 'leased'")
      .bind_all(eval_id)
      .run();
}

const char* device_time_name(DeviceTime time) {
  switch (time) {
    case DeviceTime::kEmulated:
      return "emulated";
    case DeviceTime::kMeasured:
      return "measured";
    case DeviceTime::kUnknown:
      break;
  }
  return "unknown";
}

bool Store::record_outcome(const EvalOutcome& o) {
  // The state guard makes recording idempotent: a duplicate changes no row
  // and is dropped. The lease guard takes only the outcome of the eval's
  // current lease: a stale lease's, or one without a lease (0) for an eval
  // that holds one, changes nothing. Only an eval never leased (NULL: results
  // recorded directly, as imports and benchmarks do) takes an outcome without one.
  // An outcome whose lease was never written writes it: the scheduler took
  // the outcome as its current lease's, and any lease the row holds is an
  // earlier one of the same eval.
  db_.cached(o.lease_unwritten
                 ? "UPDATE evals SET state = ?2, failure = NULLIF(?3, ''), finished_at = ?4, "
                   "host_seconds = ?5, board = ?6, device_time = ?8, lease_id = ?7, attempts = "
                   "attempts + 1, started_at = ?4, lease_deadline = NULL "
                   "WHERE id = ?1 AND state IN ('queued', 'leased') AND ?7 IS NOT NULL"
                 : "UPDATE evals SET state = ?2, failure = NULLIF(?3, ''), finished_at = ?4, "
                   "host_seconds = ?5, board = ?6, device_time = ?8 "
                   "WHERE id = ?1 AND state IN ('queued', 'leased') AND lease_id IS ?7")
      .bind_all(o.eval_id, o.succeeded ? "succeeded" : "failed", o.failure, unix_now(),
                o.host_seconds, o.board,
                o.lease_id == 0 ? std::nullopt : std::optional<int64_t>(o.lease_id),
                o.device_time == DeviceTime::kUnknown
                    ? std::nullopt
                    : std::optional<std::string>(device_time_name(o.device_time)))
      .run();
  if (db_.changes() == 0) return false;
  if (metric_ids_.empty()) {
    auto& defs = db_.cached("SELECT name, id FROM metric_defs");
    while (defs.step()) metric_ids_[defs.text(0)] = defs.int64(1);
  }
  metric_rows_.clear();
  for (const auto& [name, value] : o.metrics) {
    auto id = metric_ids_.find(name);
    if (id == metric_ids_.end())
      continue;  // a metric this database does not define (a newer agent)
    metric_rows_.emplace_back(id->second, value);
  }
  // In key order, up to kMetricRowsPerInsert rows per statement: one
  // statement per eval instead of one per metric (a statement's fixed cost
  // was a large part of recording a summary-only result). Every row is still
  // checked (both foreign keys, the primary key): a repeated metric fails.
  std::sort(metric_rows_.begin(), metric_rows_.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  for (size_t i = 0; i < metric_rows_.size(); i += kMetricRowsPerInsert) {
    const size_t n = std::min(kMetricRowsPerInsert, metric_rows_.size() - i);
    Statement& metric = multi_row_insert(
        metric_inserts_, "INSERT INTO eval_metrics(eval_id, metric_id, value) VALUES ",
        "(?1, ?#, ?#)", n);
    metric.bind(1, o.eval_id);
    for (size_t k = 0; k < n; ++k) {
      const int index = static_cast<int>(2 + 2 * k);
      metric.bind(index, metric_rows_[i + k].first).bind(index + 1, metric_rows_[i + k].second);
    }
    metric.run();
  }
  auto& series = db_.cached(
      "INSERT INTO frame_series(eval_id, name, codec, frames, data) VALUES (?1, ?2, ?3, ?4, ?5)");
  for (const auto& s : o.series) {
    series.bind_all(o.eval_id, s.name, s.codec, s.frames, Blob{s.data});
    series.run();
  }
  if (!o.outputs_codec.empty()) {
    db_.cached("INSERT INTO frame_outputs(eval_id, codec, data) VALUES (?1, ?2, ?3)")
        .bind_all(o.eval_id, o.outputs_codec, Blob{o.outputs})
        .run();
  }
  return true;
}

Statement& Store::multi_row_insert(std::vector<Statement*>& cache, std::string_view head,
                                   std::string_view row, size_t rows) {
  if (cache.size() <= rows) cache.resize(rows + 1, nullptr);
  Statement*& st = cache[rows];
  if (st == nullptr) {
    std::string sql(head);
    int next = 2;
    for (size_t k = 0; k < rows; ++k) {
      if (k) sql += ", ";
      for (char c : row) {
        if (c == '#') {
          sql += std::to_string(next++);
        } else {
          sql += c;
        }
      }
    }
    st = &db_.cached(sql);  // the connection keeps it as long as this store may use it
  }
  return *st;
}

void Store::set_run_state(int64_t run_id, const std::string& state) {
  db_.cached(
         "UPDATE runs SET state = ?2, finished_at = CASE WHEN ?2 IN ('done', 'cancelled') THEN ?3 "
         "ELSE finished_at END "
         "WHERE id = ?1")
      .bind_all(run_id, state, unix_now())
      .run();
}

std::vector<RunMetricRow> Store::run_metrics(int64_t run_id) {
  auto& st = db_.cached(R"sql(
    SELECT e.id, e.revision_id, c.sha256, c.tags, e.scenario, d.name, m.value
    FROM evals e JOIN clips c ON c.id = e.clip_id
    JOIN eval_metrics m ON m.eval_id = e.id JOIN metric_defs d ON d.id = m.metric_id
    WHERE e.run_id = ?1 AND e.state = 'succeeded' ORDER BY e.id, d.name)sql");
  st.bind_all(run_id);
  std::vector<RunMetricRow> out;
  while (st.step()) {
    out.push_back(
        {st.int64(0), st.int64(1), st.text(2), st.text(3), st.text(4), st.text(5), st.real(6)});
  }
  return out;
}

DeviceTimeCounts Store::device_time_counts(int64_t run_id) {
  auto& st = db_.cached(
      "SELECT COALESCE(SUM(device_time = 'measured'), 0), COALESCE(SUM(device_time IS NOT "
      "'measured'), 0) "
      "FROM evals WHERE run_id = ?1 AND state = 'succeeded'");
  st.bind_all(run_id);
  return st
      .first([](Statement& row) {
        DeviceTimeCounts counts;
        counts.measured = row.int64(0);
        counts.emulated = row.int64(1);
        return counts;
      })
      .value_or(DeviceTimeCounts{});
}

void Store::store_gate(int64_t run_id, const std::string& verdict, const std::string& summary,
                       const std::vector<GateRow>& rows) {
  db_.cached("DELETE FROM gate_results WHERE run_id = ?1").bind_all(run_id).run();
  auto& st = db_.cached(
      "INSERT INTO gate_results(run_id, metric, slice, blocking, verdict, clips, baseline, "
      "candidate, degradation, lo, hi, "
      "margin, reason, flips_to_worse, flips_to_better, flips_p) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, NULLIF(?14, -1), "
      "NULLIF(?15, -1), NULLIF(?16, -1.0))");
  for (const auto& r : rows) {
    st.bind_all(run_id, r.metric, r.slice, r.blocking ? 1 : 0, r.verdict, r.clips, r.baseline,
                r.candidate, r.degradation, r.lo, r.hi, r.margin, r.reason, r.flips_to_worse,
                r.flips_to_better, r.flips_p);
    st.run();
  }
  db_.cached("UPDATE runs SET verdict = ?2, verdict_summary = ?3 WHERE id = ?1")
      .bind_all(run_id, verdict, summary)
      .run();
}

std::vector<GateRow> Store::gate_results(int64_t run_id) {
  auto& st = db_.cached(
      "SELECT metric, slice, blocking, verdict, clips, baseline, candidate, degradation, lo, hi, "
      "margin, reason, "
      "COALESCE(flips_to_worse, -1), COALESCE(flips_to_better, -1), COALESCE(flips_p, -1) "
      "FROM gate_results WHERE run_id = ?1 ORDER BY blocking DESC, slice = 'all' DESC, slice, "
      "metric");
  st.bind_all(run_id);
  std::vector<GateRow> out;
  while (st.step()) {
    GateRow r;
    r.metric = st.text(0);
    r.slice = st.text(1);
    r.blocking = st.int64(2) != 0;
    r.verdict = st.text(3);
    r.clips = st.int64(4);
    r.baseline = st.real(5);
    r.candidate = st.real(6);
    r.degradation = st.real(7);
    r.lo = st.real(8);
    r.hi = st.real(9);
    r.margin = st.real(10);
    r.reason = st.text(11);
    r.flips_to_worse = st.int64(12);
    r.flips_to_better = st.int64(13);
    r.flips_p = st.real(14);
    out.push_back(std::move(r));
  }
  return out;
}

void Store::store_gate_clips(int64_t run_id, const std::vector<GateClipRow>& rows) {
  db_.cached("DELETE FROM gate_clips WHERE run_id = ?1").bind_all(run_id).run();
  auto& st = db_.cached(
      "INSERT INTO gate_clips(run_id, metric, rank, clip_sha, clip_name, scenario, baseline, "
      "candidate, degradation, "
      "frame, divergence, series, eval_baseline, eval_candidate) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
  for (const auto& r : rows) {
    st.bind_all(run_id, r.metric, r.rank, r.clip_sha, r.clip_name, r.scenario, r.baseline,
                r.candidate, r.degradation, r.frame, r.divergence, r.series, r.eval_baseline,
                r.eval_candidate);
    st.run();
  }
}

std::vector<GateClipRow> Store::gate_clips(int64_t run_id) {
  auto& st = db_.cached(
      "SELECT metric, rank, clip_sha, clip_name, scenario, baseline, candidate, degradation, "
      "frame, divergence, "
      "series, eval_baseline, eval_candidate FROM gate_clips WHERE run_id = ?1 ORDER BY metric, "
      "rank");
  st.bind_all(run_id);
  std::vector<GateClipRow> out;
  while (st.step()) {
    out.push_back({st.text(0), st.int64(1), st.text(2), st.text(3), st.text(4), st.real(5),
                   st.real(6), st.real(7), st.int64(8), st.real(9), st.text(10), st.int64(11),
                   st.int64(12)});
  }
  return out;
}

std::vector<RunRow> Store::runs(int limit) {
  auto& st = db_.cached(std::string(kRunSelect) + " ORDER BY r.id DESC LIMIT ?1");
  st.bind_all(limit);
  std::vector<RunRow> out;
  while (st.step()) out.push_back(read_run(st));
  return out;
}

std::vector<RunRow> Store::active_runs() {
  auto& st =
      db_.cached(std::string(kRunSelect) + " WHERE r.state IN ('queued', 'running') ORDER BY r.id");
  std::vector<RunRow> out;
  while (st.step()) out.push_back(read_run(st));
  return out;
}

std::optional<RunRow> Store::run(int64_t id) {
  auto& st = db_.cached(std::string(kRunSelect) + " WHERE r.id = ?1");
  st.bind_all(id);
  return st.first(read_run);
}

void Store::upsert_board(const std::string& name, const std::string& type, const std::string& state,
                         const std::string& software) {
  db_.cached(
         "INSERT INTO boards(name, type, state, software, last_seen) VALUES (?1, ?2, ?3, ?4, ?5) "
         "ON CONFLICT(name) DO UPDATE SET type = excluded.type, state = excluded.state, "
         "software = excluded.software, last_seen = excluded.last_seen")
      .bind_all(name, type, state, software, unix_now())
      .run();
}

void Store::add_board_evals(const std::string& name, int64_t done, int64_t failed) {
  db_.cached(
         "UPDATE boards SET evals_done = evals_done + ?2, evals_failed = evals_failed + ?3 WHERE "
         "name = ?1")
      .bind_all(name, done, failed)
      .run();
}

void Store::set_board_state(const std::string& name, const std::string& state) {
  db_.cached("UPDATE boards SET state = ?2, last_seen = ?3 WHERE name = ?1")
      .bind_all(name, state, unix_now())
      .run();
}

void Store::set_board_health(const std::string& name, const std::string& health,
                             const std::string& reason, int64_t consecutive_failures) {
  db_.cached(
         "UPDATE boards SET health = ?2, quarantine_reason = NULLIF(?3, ''), consecutive_failures "
         "= ?4, "
         "state = CASE WHEN ?2 = 'quarantined' THEN 'quarantined' WHEN state = 'quarantined' THEN "
         "'idle' ELSE state END "
         "WHERE name = ?1")
      .bind_all(name, health, reason, consecutive_failures)
      .run();
}

void Store::add_health_reference(const HealthReferenceRow& row) {
  std::string metrics;
  for (const auto& [name, value] : row.metrics) metrics += fmt::format("{}={:.17g}\n", name, value);
  db_.cached(
         "INSERT OR IGNORE INTO health_references(revision_sha, clip_sha, board_type, scenario, "
         "spec, metrics, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
      .bind_all(row.revision_sha, row.clip_sha, row.board_type, row.scenario, Blob{row.spec},
                metrics, unix_now())
      .run();
}

std::vector<HealthReferenceRow> Store::health_references() {
  std::vector<HealthReferenceRow> out;
  auto q = db_.prepare(
      "SELECT revision_sha, clip_sha, board_type, scenario, spec, metrics FROM health_references "
      "ORDER BY id");
  while (q.step()) {
    HealthReferenceRow r{q.text(0), q.text(1), q.text(2), q.text(3), q.blob(4), {}};
    std::string text = q.text(5);
    for (size_t start = 0; start < text.size();) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      std::string line = text.substr(start, end - start);
      start = end + 1;
      auto eq = line.find('=');
      if (eq == std::string::npos) continue;
      r.metrics.emplace_back(line.substr(0, eq), std::strtod(line.c_str() + eq + 1, nullptr));
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<int64_t> Store::mark_suspect(const std::vector<int64_t>& eval_ids,
                                         const std::string& board, const std::string& reason) {
  const std::string why = fmt::format("board {} {}", board, reason);
  std::map<int64_t, int64_t> per_run;
  auto& mark = db_.cached("UPDATE evals SET suspect = ?2 WHERE id = ?1 RETURNING run_id");
  for (int64_t id : eval_ids) {
    mark.bind_all(id, why);
    if (auto run = mark.first([](Statement& q) { return q.int64(0); })) ++per_run[*run];
  }
  std::vector<int64_t> invalidated;
  auto& invalidate = db_.cached(
      "UPDATE runs SET verdict = 'invalid', verdict_summary = ?2 || ' (the verdict was ' || "
      "verdict || ': ' || COALESCE(verdict_summary, '') || ')' "
      "WHERE id = ?1 AND state = 'done' AND verdict IS NOT NULL AND verdict <> 'invalid' "
      "RETURNING id");
  for (const auto& [run, n] : per_run) {
    invalidate.bind_all(run, fmt::format("invalid: {} of its results came from board {}, which "
                                         "then {}; rerun it",
                                         n, board, reason));
    if (invalidate.first([](Statement& q) { return q.int64(0); })) invalidated.push_back(run);
  }
  return invalidated;
}

void Store::reset_eval(int64_t eval_id, const std::string& why) {
  db_.cached("DELETE FROM eval_metrics WHERE eval_id = ?1").bind_all(eval_id).run();
  db_.cached("DELETE FROM frame_series WHERE eval_id = ?1").bind_all(eval_id).run();
  db_.cached("DELETE FROM frame_outputs WHERE eval_id = ?1").bind_all(eval_id).run();
  db_.cached(
         "UPDATE evals SET state = 'queued', board = NULL, lease_id = NULL, lease_deadline = NULL, "
         "finished_at = NULL, failure = ?2 WHERE id = ?1")
      .bind_all(eval_id, why)
      .run();
}

std::map<std::string, int64_t> Store::table_rows() {
  std::map<std::string, int64_t> out;
  for (const char* t :
       {"revisions", "clips", "suites", "runs", "evals", "boards", "metric_defs", "eval_metrics",
        "frame_series", "frame_outputs", "gate_results", "gate_clips"}) {
    auto& st = db_.cached(fmt::format("SELECT COUNT(*) FROM {}", t));  // table names are constants
    out[t] = st.first([](Statement& row) { return row.int64(0); }).value_or(0);
  }
  return out;
}

}  // namespace hil::db
