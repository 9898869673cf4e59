// Read queries for the viewer, the gate, reports and `hil db`.
#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "hil/db/store.h"
#include "rows.h"

namespace hil::db {

std::vector<DiffRow> Store::diff_revisions(int64_t revision_a, int64_t revision_b,
                                           std::optional<int64_t> suite_id,
                                           const std::vector<std::string>& metrics) {
  // Metric ids first, so that every metric row is a primary-key lookup.
  std::vector<std::pair<int64_t, std::string>> wanted;
  auto& defs = db_.cached("SELECT id, name FROM metric_defs ORDER BY name");
  while (defs.step()) {
    auto name = defs.text(1);
    if (metrics.empty() || std::find(metrics.begin(), metrics.end(), name) != metrics.end()) {
      wanted.emplace_back(defs.int64(0), name);
    }
  }
  // The latest succeeded eval per (revision, clip, scenario), from the
  // covering index evals_for_diff; pairs of A and B joined on clip and scenario.
  auto& pairs = db_.cached(R"sql(
    WITH latest AS (
      SELECT e.revision_id, e.clip_id, e.scenario, MAX(e.id) AS eval_id
      FROM evals e
      WHERE e.revision_id IN (?1, ?2) AND e.state = 'succeeded'
        AND (?3 IS NULL OR e.run_id IN (SELECT id FROM runs WHERE suite_id = ?3))
      GROUP BY e.revision_id, e.clip_id, e.scenario)
    SELECT a.clip_id, a.scenario, a.eval_id, b.eval_id
    FROM latest a JOIN latest b ON b.clip_id = a.clip_id AND b.scenario = a.scenario
    WHERE a.revision_id = ?1 AND b.revision_id = ?2)sql");
  pairs.bind(1, revision_a).bind(2, revision_b).bind(3, suite_id);
  const auto matched = read_matched_pairs(pairs);

  auto& value = db_.cached("SELECT value FROM eval_metrics WHERE eval_id = ?1 AND metric_id = ?2");
  auto& clip = db_.cached("SELECT sha256, name, tags FROM clips WHERE id = ?1");
  std::vector<DiffRow> out;
  out.reserve(matched.size() * wanted.size());
  std::map<int64_t, std::array<std::string, 3>> clip_info;  // clips repeat across scenarios
  for (const auto& p : matched) {
    auto cached = clip_info.find(p.clip_id);
    if (cached == clip_info.end()) {
      clip.bind_all(p.clip_id);
      auto row = clip.first([](Statement& st) {
        return std::array<std::string, 3>{st.text(0), st.text(1), st.text(2)};
      });
      if (!row) continue;
      cached = clip_info.emplace(p.clip_id, std::move(*row)).first;
    }
    const auto* info = &cached->second;
    for (const auto& [metric_id, name] : wanted) {
      value.bind_all(p.eval_a, metric_id);
      auto a = value.first([](Statement& st) { return st.real(0); });
      value.bind_all(p.eval_b, metric_id);
      auto b = value.first([](Statement& st) { return st.real(0); });
      if (!a || !b) continue;
      out.push_back({(*info)[0], (*info)[1], (*info)[2], p.scenario, name, *a, *b, *b - *a,
                     p.eval_a, p.eval_b});
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const DiffRow& x, const DiffRow& y) { return x.delta > y.delta; });
  return out;
}

std::vector<SeriesBlob> Store::frame_series(int64_t eval_id) {
  auto& st = db_.cached(
      "SELECT name, codec, frames, data FROM frame_series WHERE eval_id = ?1 ORDER BY name");
  st.bind_all(eval_id);
  std::vector<SeriesBlob> out;
  while (st.step())
    out.push_back({st.text(0), st.text(1), static_cast<uint32_t>(st.int64(2)), st.blob(3)});
  return out;
}

std::vector<std::string> Store::suite_texts_of_night(const std::string& night) {
  auto& st = db_.cached(
      "SELECT DISTINCT s.text FROM runs r JOIN suites s ON s.id = r.suite_id WHERE r.night = ?1 "
      "ORDER BY s.id");
  st.bind_all(night);
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.text(0));
  return out;
}

std::optional<SeriesBlob> Store::frame_outputs(int64_t eval_id) {
  auto& st = db_.cached("SELECT codec, data FROM frame_outputs WHERE eval_id = ?1");
  st.bind_all(eval_id);
  return st.first([](Statement& row) {
    return SeriesBlob{"outputs", row.text(0), 0, row.blob(1)};
  });
}

std::vector<BoardStats> Store::board_stats() {
  // The means in one pass over the evals: a subquery per board read every
  // succeeded eval once per board (24 s for 64 boards on 2 M evals).
  auto& st = db_.cached(R"sql(
    WITH means AS MATERIALIZED (
      SELECT board, AVG(host_seconds) AS mean FROM evals WHERE state = 'succeeded' GROUP BY board)
    SELECT b.name, b.type, b.state, b.health, b.evals_done, b.evals_failed, b.consecutive_failures,
           COALESCE(b.quarantine_reason, ''), COALESCE(m.mean, 0), COALESCE(b.last_seen, 0)
    FROM boards b LEFT JOIN means m ON m.board = b.name ORDER BY b.name)sql");
  std::vector<BoardStats> out;
  while (st.step()) {
    out.push_back({st.text(0), st.text(1), st.text(2), st.text(3), st.int64(4), st.int64(5),
                   st.int64(6), st.text(7), st.real(8), st.real(9)});
  }
  return out;
}

std::vector<TrendPoint> Store::metric_trend(const std::string& metric, int nights) {
  auto& st = db_.cached(R"sql(
    WITH recent AS (SELECT DISTINCT night FROM runs WHERE night IS NOT NULL ORDER BY night DESC LIMIT ?2)
    SELECT r.night, rev.name, AVG(m.value), COUNT(*)
    FROM runs r JOIN recent USING (night)
    JOIN evals e ON e.run_id = r.id AND e.state = 'succeeded' AND e.revision_id = r.candidate_id
    JOIN revisions rev ON rev.id = e.revision_id
    JOIN eval_metrics m ON m.eval_id = e.id
    JOIN metric_defs d ON d.id = m.metric_id AND d.name = ?1
    GROUP BY r.night, rev.name ORDER BY r.night, rev.name)sql");
  st.bind_all(metric, nights);
  std::vector<TrendPoint> out;
  while (st.step()) out.push_back({st.text(0), st.text(1), st.real(2), st.int64(3)});
  return out;
}

std::vector<TableSize> Store::table_sizes() {
  auto rows = table_rows();
  // dbstat (compiled into Debian's SQLite) counts the pages of each table and index.
  auto& st = db_.cached(R"sql(
    SELECT COALESCE(m.tbl_name, s.name), SUM(s.pgsize)
    FROM dbstat s LEFT JOIN sqlite_schema m ON m.name = s.name GROUP BY 1)sql");
  std::map<std::string, int64_t> bytes;
  while (st.step()) bytes[st.text(0)] = st.int64(1);
  std::vector<TableSize> out;
  for (const auto& [table, n] : rows)
    out.push_back({table, n, bytes.count(table) ? bytes[table] : 0});
  return out;
}

NightProgress Store::night_progress(const std::string& night, double now, double window_seconds) {
  if (now <= 0) now = unix_now();
  // One pass over the night's evals, in evals_by_run order, so the grouping
  // needs no sort. No index on state on purpose (every result would rewrite
  // it): a full pass over a million evals costs well under a second.
  // Leased boards come back as one string per run, each name ended by a
  // unit separator (names are whatever agents call themselves, commas too).
  auto& st = db_.cached(R"sql(
    SELECT r.id, r.label, v.name, r.state, COUNT(e.id),
           COALESCE(SUM(e.state = 'queued'), 0), COALESCE(SUM(e.state = 'leased'), 0),
           COALESCE(SUM(e.state = 'succeeded'), 0), COALESCE(SUM(e.state = 'failed'), 0),
           COALESCE(SUM(e.state = 'cancelled'), 0),
           COALESCE(SUM(e.state IN ('succeeded', 'failed') AND e.finished_at > ?2 - ?3 AND e.finished_at <= ?2), 0),
           MIN(e.started_at),
           COALESCE(GROUP_CONCAT(DISTINCT CASE WHEN e.state = 'leased' THEN COALESCE(e.board, '') || char(31) END), '')
    FROM runs r JOIN revisions v ON v.id = r.candidate_id
    LEFT JOIN evals e ON e.run_id = r.id
    WHERE r.night = ?1
    GROUP BY r.id ORDER BY r.id)sql");
  st.bind_all(night, now, window_seconds);
  NightProgress p;
  p.night = night;
  std::set<std::string> busy;
  double first_start = 0;
  int64_t finished_in_window = 0;
  while (st.step()) {
    RunProgress r;
    r.run_id = st.int64(0);
    r.label = st.text(1);
    r.revision = st.text(2);
    r.state = st.text(3);
    r.total = st.int64(4);
    r.queued = st.int64(5);
    r.leased = st.int64(6);
    r.succeeded = st.int64(7);
    r.failed = st.int64(8);
    r.cancelled = st.int64(9);
    r.finished_in_window = st.int64(10);
    if (!st.is_null(11) && (first_start == 0 || st.real(11) < first_start))
      first_start = st.real(11);
    const std::string boards = st.text(12);
    for (size_t start = 0; start < boards.size();) {
      const size_t end = boards.find('\x1f', start);
      if (end == std::string::npos) break;
      busy.insert(boards.substr(start, end - start));
      ++r.boards_busy;
      start = end + 2;  // past the separator and GROUP_CONCAT's comma
    }
    p.total += r.total;
    p.queued += r.queued;
    p.leased += r.leased;
    p.succeeded += r.succeeded;
    p.failed += r.failed;
    p.cancelled += r.cancelled;
    finished_in_window += r.finished_in_window;
    p.runs.push_back(std::move(r));
  }
  p.boards_busy = static_cast<int64_t>(busy.size());
  // A sweep younger than the window would look slower than it is.
  p.window_seconds = window_seconds;
  if (first_start > 0 && now - first_start < window_seconds)
    p.window_seconds = std::max(1.0, now - first_start);
  p.rate = static_cast<double>(finished_in_window) / p.window_seconds;
  const int64_t remaining = p.queued + p.leased;
  if (remaining == 0) {
    p.eta_seconds = 0;
  } else if (p.rate > 0) {
    p.eta_seconds = static_cast<double>(remaining) / p.rate;
  }
  return p;
}

void Store::set_run_night(int64_t run_id, const std::string& night) {
  db_.cached("UPDATE runs SET night = ?2 WHERE id = ?1").bind_all(run_id, night).run();
}

int64_t Store::prune_nights(int keep_nights) {
  // Children first: foreign keys are enforced.
  const std::string old_runs =
      "SELECT id FROM runs WHERE night IS NOT NULL AND night NOT IN "
      "(SELECT DISTINCT night FROM runs WHERE night IS NOT NULL ORDER BY night DESC LIMIT ?1)";
  const std::string old_evals = "SELECT id FROM evals WHERE run_id IN (" + old_runs + ")";
  db_.cached("DELETE FROM eval_metrics WHERE eval_id IN (" + old_evals + ")")
      .bind_all(keep_nights)
      .run();
  db_.cached("DELETE FROM frame_series WHERE eval_id IN (" + old_evals + ")")
      .bind_all(keep_nights)
      .run();
  db_.cached("DELETE FROM frame_outputs WHERE eval_id IN (" + old_evals + ")")
      .bind_all(keep_nights)
      .run();
  db_.cached("DELETE FROM evals WHERE run_id IN (" + old_runs + ")").bind_all(keep_nights).run();
  db_.cached("DELETE FROM gate_results WHERE run_id IN (" + old_runs + ")")
      .bind_all(keep_nights)
      .run();
  db_.cached("DELETE FROM gate_clips WHERE run_id IN (" + old_runs + ")")
      .bind_all(keep_nights)
      .run();
  auto& del = db_.cached("DELETE FROM runs WHERE id IN (" + old_runs + ")");
  del.bind_all(keep_nights).run();
  return db_.changes();
}

}  // namespace hil::db
