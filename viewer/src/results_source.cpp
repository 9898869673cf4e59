#include "results_source.h"

#include <string>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "hil/evals/metrics.h"

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

std::vector<hil::db::Store::RevisionSummary> ResultsSource::revisions() {
  return store_.revision_summaries();
}

std::vector<hil::db::Store::SuiteSummary> ResultsSource::suites() {
  return store_.suite_summaries();
}

std::optional<hil::db::Store::RunRevisions> ResultsSource::run_revisions(int64_t run_id) {
  return store_.run_revisions(run_id);
}

DiffTable ResultsSource::diff_table(const Comparison& comparison) {
  std::optional<int64_t> suite_id = comparison.suite_id;
  if (comparison.run_id) {
    if (auto run = store_.run_revisions(*comparison.run_id)) suite_id = run->suite_id;
  }
  std::vector<std::string> suite_texts;
  for (const auto& suite : store_.suite_summaries()) {
    if (!suite_id || suite.id == *suite_id) suite_texts.push_back(suite.text);
  }
  std::vector<DiffMetric> metrics = gating_metrics(suite_texts, store_.metric_defs());
  std::vector<std::string> names;
  for (const auto& metric : metrics) names.push_back(metric.name);
  // The run scope alone when there is one: a suite scope would add other runs.
  const auto rows = store_.diff_revisions_scoped(
      comparison.revision_a, comparison.revision_b,
      comparison.run_id ? std::nullopt : comparison.suite_id, comparison.run_id, names);
  return build_diff_table(rows, std::move(metrics));
}

std::pair<int64_t, int64_t> ResultsSource::results_stamp(const Comparison& comparison) {
  return store_.results_stamp(comparison.revision_a, comparison.revision_b, comparison.run_id);
}

std::vector<hil::db::RunRow> ResultsSource::compared_runs(int limit) {
  return store_.compared_runs(limit);
}

std::optional<hil::db::ClipRow> ResultsSource::clip(const std::string& sha256_or_prefix) {
  return store_.clip_by_sha(sha256_or_prefix);
}

EvalSeries ResultsSource::eval_series(int64_t eval_id) {
  return EvalSeries(eval_id, store_.frame_series(eval_id));
}

EvalOutputs ResultsSource::eval_outputs(int64_t eval_id) {
  const auto blob = store_.frame_outputs(eval_id);
  if (!blob) return EvalOutputs();
  try {
    return EvalOutputs(hil::evals::decode_outputs(blob->data, blob->codec));
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("eval {}: outputs: {}", eval_id, e.what()));
  }
}

EvalResults ResultsSource::eval_results(int64_t eval_id) {
  EvalResults results;
  results.series = eval_series(eval_id);
  try {
    results.outputs = eval_outputs(eval_id);
  } catch (const std::runtime_error& e) {  // DbError included: the series were read
    results.outputs_error = e.what();
  }
  results.kinds = head_kinds(results.series, results.outputs);
  return results;
}

std::filesystem::path ResultsSource::blob_dir() const {
  return std::filesystem::path(database_.path().string() + ".blobs");
}

}  // namespace hil::viewer
