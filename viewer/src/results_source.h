// The viewer's one door to the results database: a read-only connection and
// the typed queries of hil::db::Store. Models read through it; widgets never
// see SQL or a Store.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "clip_diff.h"
#include "eval_outputs.h"
#include "eval_series.h"
#include "hil/db/database.h"
#include "hil/db/store.h"

namespace hil::viewer {

// Revision A against revision B, over one run's results, one suite's, or
// every result of the two revisions (neither set).
struct Comparison {
  int64_t revision_a = 0;
  int64_t revision_b = 0;
  std::optional<int64_t> suite_id;
  std::optional<int64_t> run_id;
  bool operator==(const Comparison&) const = default;
};

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

  std::vector<hil::db::Store::RevisionSummary> revisions();
  std::vector<hil::db::Store::SuiteSummary> suites();
  std::optional<hil::db::Store::RunRevisions> run_revisions(int64_t run_id);
  // The newest runs that compared two revisions (names only, no counts).
  std::vector<hil::db::RunRow> compared_runs(int limit);
  // The clip table's content: the scoped diff over the gating metrics of the
  // comparison's suite (the run's suite; every suite when unscoped).
  DiffTable diff_table(const Comparison& comparison);
  // Changes when either revision gets a new result (see Store::results_stamp).
  std::pair<int64_t, int64_t> results_stamp(const Comparison& comparison);
  std::optional<hil::db::ClipRow> clip(const std::string& sha256_or_prefix);
  // Decoded per-frame series of an eval. Throws hil::db::DbError, or
  // std::runtime_error for a blob that does not decode.
  EvalSeries eval_series(int64_t eval_id);
  // Decoded outputs of an eval (every head on every frame); not stored()
  // when the eval kept none. Throws hil::db::DbError, or std::runtime_error
  // for a blob that does not decode.
  EvalOutputs eval_outputs(int64_t eval_id);
  // Both, read once per eval, with the head kinds. Outputs that do not
  // decode leave the result without them and say why (outputs_error): the
  // series and the truth still show. Throws as eval_series().
  EvalResults eval_results(int64_t eval_id);
  // Where the scheduler keeps clip and revision blobs: `<db path>.blobs`.
  std::filesystem::path blob_dir() const;

 private:
  hil::db::Database database_;
  hil::db::Store store_;
};

}  // namespace hil::viewer
