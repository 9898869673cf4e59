// Read queries for hil-viewer: revision and suite pickers, the scoped diff of
// two revisions behind the clip table, clip lookup and a change stamp for
// live refresh. Every read resets its statement (first() or a loop run to
// its end), so a read-only connection sees the scheduler's new commits.
#include <algorithm>
#include <cctype>
#include <unordered_map>

#include <fmt/format.h>

#include "hil/db/store.h"

#include "rows.h"

namespace hil::db {
namespace {

std::vector<std::string> split_tags(const std::string& tags) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= tags.size()) {
    const size_t comma = std::min(tags.find(',', start), tags.size());
    if (comma > start) out.push_back(tags.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace

std::vector<Store::RevisionSummary> Store::revision_summaries() {
  auto& st = db_.cached(R"sql(
    SELECT r.id, r.sha256, r.name, COALESCE(r.git_sha, ''), COALESCE(r.pr, ''), COALESCE(r.author, ''),
           COALESCE(r.bytes, 0), r.created_at,
           (SELECT COUNT(*) FROM evals e WHERE e.revision_id = r.id AND e.state = 'succeeded')
    FROM revisions r ORDER BY r.created_at DESC, r.id DESC)sql");
  std::vector<RevisionSummary> out;
  while (st.step()) {
    RevisionSummary s;
    s.revision = {st.int64(0), st.text(1), st.text(2), st.text(3),
                  st.text(4),  st.text(5), st.int64(6)};
    s.created_at = st.real(7);
    s.succeeded_evals = st.int64(8);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Store::SuiteSummary> Store::suite_summaries() {
  auto& st = db_.cached("SELECT id, name, text FROM suites ORDER BY name, id");
  std::vector<SuiteSummary> out;
  while (st.step()) out.push_back({st.int64(0), st.text(1), st.text(2)});
  return out;
}

std::optional<Store::RunRevisions> Store::run_revisions(int64_t run_id) {
  auto& st = db_.cached("SELECT id, candidate_id, baseline_id, suite_id FROM runs WHERE id = ?1");
  st.bind_all(run_id);
  return st.first([](Statement& row) {
    RunRevisions r;
    r.run_id = row.int64(0);
    r.candidate_id = row.int64(1);
    if (!row.is_null(2)) r.baseline_id = row.int64(2);
    r.suite_id = row.int64(3);
    return r;
  });
}

std::vector<DiffRow> Store::diff_revisions_scoped(int64_t revision_a, int64_t revision_b,
                                                  std::optional<int64_t> suite_id,
                                                  std::optional<int64_t> run_id,
                                                  const std::vector<std::string>& metrics) {
  std::vector<std::pair<int64_t, std::string>> wanted;  // by name
  auto& defs = db_.cached("SELECT id, name FROM metric_defs ORDER BY name");
  while (defs.step()) {
    auto name = defs.text(1);
    if (metrics.empty() || std::find(metrics.begin(), metrics.end(), name) != metrics.end()) {
      wanted.emplace_back(defs.int64(0), name);
    }
  }
  if (wanted.empty()) return {};

  // As diff_revisions(): the latest eval of each revision per (clip,
  // scenario), paired. Within a run, through evals_by_run (the unary + keeps
  // the planner off evals_for_diff, which would read every eval of the two
  // revisions); otherwise through the covering index evals_for_diff.
  auto& pairs = run_id ? db_.cached(R"sql(
    WITH latest AS (
      SELECT e.revision_id, e.clip_id, e.scenario, MAX(e.id) AS eval_id
      FROM evals e
      WHERE e.run_id = ?3 AND e.state = 'succeeded' AND +e.revision_id IN (?1, ?2)
      GROUP BY e.revision_id, e.clip_id, e.scenario)
    SELECT a.clip_id, a.scenario, a.eval_id, b.eval_id
    FROM latest a JOIN latest b ON b.clip_id = a.clip_id AND b.scenario = a.scenario
    WHERE a.revision_id = ?1 AND b.revision_id = ?2
    ORDER BY a.clip_id, a.scenario)sql")
                       : db_.cached(R"sql(
    WITH latest AS (
      SELECT e.revision_id, e.clip_id, e.scenario, MAX(e.id) AS eval_id
      FROM evals e
      WHERE e.revision_id IN (?1, ?2) AND e.state = 'succeeded'
        AND (?3 IS NULL OR e.run_id IN (SELECT id FROM runs WHERE suite_id = ?3))
      GROUP BY e.revision_id, e.clip_id, e.scenario)
    SELECT a.clip_id, a.scenario, a.eval_id, b.eval_id
    FROM latest a JOIN latest b ON b.clip_id = a.clip_id AND b.scenario = a.scenario
    WHERE a.revision_id = ?1 AND b.revision_id = ?2
    ORDER BY a.clip_id, a.scenario)sql");
  pairs.bind(1, revision_a).bind(2, revision_b);
  if (run_id) {
    pairs.bind(3, *run_id);
  } else {
    pairs.bind(3, suite_id);
  }
  const auto matched = read_matched_pairs(pairs);

  // All metrics of an eval in one primary-key range read.
  auto& values = db_.cached("SELECT metric_id, value FROM eval_metrics WHERE eval_id = ?1");
  std::unordered_map<int64_t, double> by_metric;
  auto read_values = [&](int64_t eval_id) {
    by_metric.clear();
    values.bind_all(eval_id);
    while (values.step()) by_metric[values.int64(0)] = values.real(1);
    values.reset();  // before the next bind
  };
  struct ClipInfo {
    std::string sha256, name, tags;
  };
  std::unordered_map<int64_t, ClipInfo> clips;
  auto& clip = db_.cached("SELECT sha256, name, tags FROM clips WHERE id = ?1");

  std::vector<DiffRow> out;
  out.reserve(matched.size() * wanted.size());
  std::vector<std::optional<double>> a_values(wanted.size());
  for (const auto& p : matched) {
    auto info = clips.find(p.clip_id);
    if (info == clips.end()) {
      clip.bind_all(p.clip_id);
      auto found = clip.first([](Statement& st) {
        return ClipInfo{st.text(0), st.text(1), st.text(2)};
      });
      if (!found) continue;
      info = clips.emplace(p.clip_id, std::move(*found)).first;
    }
    read_values(p.eval_a);
    for (size_t m = 0; m < wanted.size(); ++m) {
      auto v = by_metric.find(wanted[m].first);
      a_values[m] = v == by_metric.end() ? std::nullopt : std::optional<double>(v->second);
    }
    read_values(p.eval_b);
    for (size_t m = 0; m < wanted.size(); ++m) {
      auto b = by_metric.find(wanted[m].first);
      if (!a_values[m] || b == by_metric.end()) continue;
      out.push_back({info->second.sha256, info->second.name, info->second.tags, p.scenario,
                     wanted[m].second, *a_values[m], b->second, b->second - *a_values[m], p.eval_a,
                     p.eval_b});
    }
  }
  return out;
}

std::optional<ClipRow> Store::clip_by_sha(const std::string& sha256_or_prefix) {
  std::string prefix = sha256_or_prefix;
  std::transform(prefix.begin(), prefix.end(), prefix.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (prefix.size() < 6) return std::nullopt;
  // Hashes are lowercase hex: every one starting with the prefix sorts below prefix + 'g'.
  auto& st = db_.cached(
      "SELECT id, sha256, name, tags, frames, fps FROM clips WHERE sha256 >= ?1 AND sha256 < ?2 "
      "ORDER BY sha256 LIMIT 2");
  st.bind_all(prefix, prefix + "g");
  std::vector<ClipRow> found;
  while (st.step()) {
    found.push_back({st.int64(0), st.text(1), st.text(2), split_tags(st.text(3)),
                     static_cast<uint32_t>(st.int64(4)), st.real(5)});
  }
  st.reset();  // LIMIT may stop before the end
  if (found.size() != 1) return std::nullopt;
  return found.front();
}

std::vector<MetricDefRow> Store::metric_defs() {
  auto& st = db_.cached("SELECT name, unit, direction, description FROM metric_defs ORDER BY name");
  std::vector<MetricDefRow> out;
  while (st.step()) out.push_back({st.text(0), st.text(1), st.text(2), st.text(3)});
  return out;
}

std::pair<int64_t, int64_t> Store::results_stamp(int64_t revision_a, int64_t revision_b,
                                                 std::optional<int64_t> run_id) {
  auto read = [](Statement& row) {
    return std::pair<int64_t, int64_t>(row.int64(0), row.int64(1));
  };
  if (run_id) {
    auto& st = db_.cached(
        "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM evals "
        "WHERE run_id = ?3 AND state = 'succeeded' AND +revision_id IN (?1, ?2)");
    st.bind_all(revision_a, revision_b, *run_id);
    return st.first(read).value_or(std::pair<int64_t, int64_t>(0, 0));
  }
  auto& st = db_.cached(
      "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM evals "
      "WHERE revision_id IN (?1, ?2) AND state = 'succeeded'");
  st.bind_all(revision_a, revision_b);
  return st.first(read).value_or(std::pair<int64_t, int64_t>(0, 0));
}

std::vector<RunRow> Store::compared_runs(int limit) {
  auto& st = db_.cached(R"sql(
    SELECT r.id, r.label, c.name, b.name, s.name, r.priority, r.state, COALESCE(r.verdict, ''),
           COALESCE(r.verdict_summary, ''), r.submitted_at, COALESCE(r.finished_at, 0)
    FROM runs r JOIN revisions c ON c.id = r.candidate_id JOIN revisions b ON b.id = r.baseline_id
    JOIN suites s ON s.id = r.suite_id
    ORDER BY r.id DESC LIMIT ?1)sql");
  st.bind_all(limit);
  std::vector<RunRow> out;
  while (st.step()) out.push_back(read_run_head(st));
  return out;
}

}  // namespace hil::db
