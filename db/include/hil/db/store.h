// Typed operations on the results database: everything hil stores or reads
// goes through here (the scheduler, the gate, the viewer, `hil db`).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "hil/db/database.h"

namespace hil::db {

struct RevisionRow {
  int64_t id = 0;
  std::string sha256;
  std::string name;
  std::string git_sha;
  std::string pr;
  std::string author;
  int64_t bytes = 0;
};

struct ClipRow {
  int64_t id = 0;
  std::string sha256;
  std::string name;
  std::vector<std::string> tags;
  uint32_t frames = 0;
  double fps = 0;
};

struct NewEval {
  int64_t revision_id = 0;
  int64_t clip_id = 0;
  std::string scenario;
};

struct EvalRow {
  int64_t id = 0;
  int64_t run_id = 0;
  int64_t revision_id = 0;
  int64_t clip_id = 0;
  std::string scenario;
  std::string state;
  int attempts = 0;
  std::string board;
  int64_t lease_id = 0;
  double lease_deadline = 0;
  std::string revision_sha;
  std::string clip_sha;
  std::string failure;
};

struct HealthReferenceRow {
  std::string revision_sha, clip_sha, board_type, scenario;
  std::string spec;  // opaque to the database (the scheduler's serialized scenario and metrics)
  std::vector<std::pair<std::string, double>> metrics;
};

struct RunRow {
  int64_t id = 0;
  std::string label;
  std::string candidate;  // revision names
  std::string baseline;
  std::string suite;
  std::string priority;
  std::string state;
  std::string verdict;
  std::string verdict_summary;
  double submitted_at = 0;
  double finished_at = 0;
  int64_t evals_total = 0;
  int64_t evals_succeeded = 0;
  int64_t evals_failed = 0;
};

struct SeriesBlob {
  std::string name;
  std::string codec;
  uint32_t frames = 0;
  std::string data;
};

// Where an eval's device latency came from.
enum class DeviceTime {
  kUnknown,   // not said: recorded by an older agent (all of which emulated it)
  kEmulated,  // the cost model: the same on every run, so latency gates do not flake
  kMeasured,  // measured on the board per run (host board type, backend plugins): it varies
};
// "emulated", "measured", or "unknown".
const char* device_time_name(DeviceTime time);

struct EvalOutcome {
  int64_t eval_id = 0;
  int64_t lease_id = 0;  // the lease it answers; 0 only for an eval never leased
  std::string board;
  bool succeeded = false;
  std::string failure;
  double host_seconds = 0;
  std::vector<std::pair<std::string, double>> metrics;
  std::vector<SeriesBlob> series;
  std::string outputs_codec;  // decoded outputs of every frame; empty: none kept
  std::string outputs;
  DeviceTime device_time = DeviceTime::kUnknown;
  // Failed for its own content (a bad scenario, a revision no board can
  // load): the board that reported it is not charged with a failure.
  bool bad_eval = false;
  // The lease it answers was never written (the scheduler received the
  // outcome before the lease's own write): recording the outcome records
  // the lease too (lease id, attempts), in the same UPDATE.
  bool lease_unwritten = false;
};

// A run's succeeded evals by where their device latency came from.
struct DeviceTimeCounts {
  int64_t emulated = 0;  // including evals that did not say (older agents emulated)
  int64_t measured = 0;
};

// One metric value of one eval of a run, joined with what the gate needs.
struct RunMetricRow {
  int64_t eval_id = 0;
  int64_t revision_id = 0;
  std::string clip_sha;
  std::string clip_tags;
  std::string scenario;
  std::string metric;
  double value = 0;
};

struct GateRow {
  std::string metric;
  std::string slice;
  bool blocking = false;
  std::string verdict;
  int64_t clips = 0;
  double baseline = 0, candidate = 0, degradation = 0, lo = 0, hi = 0, margin = 0;
  std::string reason;
  // Detection metrics: frames right in the baseline and wrong in the
  // candidate, and the reverse, with McNemar's exact p (-1: not computed).
  // Clips whose frames flipped more right->wrong (to_worse) or wrong->right,
  // and the exact McNemar p over those clips; -1: not computed.
  int64_t flips_to_worse = -1, flips_to_better = -1;
  double flips_p = -1;
};

// A clip that contributes most to a metric's change, and its most divergent frame.
struct GateClipRow {
  std::string metric;
  int64_t rank = 0;
  std::string clip_sha, clip_name, scenario;
  double baseline = 0, candidate = 0, degradation = 0;
  int64_t frame = -1;
  double divergence = 0;
  std::string series;
  int64_t eval_baseline = 0, eval_candidate = 0;
};

// One clip and metric of a comparison of revision A with revision B.
struct DiffRow {
  std::string clip_sha;
  std::string clip_name;
  std::string tags;
  std::string scenario;
  std::string metric;
  double a = 0, b = 0, delta = 0;  // delta = b - a
  int64_t eval_a = 0, eval_b = 0;
};

struct BoardStats {
  std::string name, type, state, health;
  int64_t evals_done = 0, evals_failed = 0;
  int64_t consecutive_failures = 0;
  std::string quarantine_reason;
  double mean_host_seconds = 0;
  double last_seen = 0;
};

struct TrendPoint {
  std::string night;
  std::string revision;
  double mean = 0;
  int64_t evals = 0;
};

// One run of a night's sweep, counted from its evals.
struct RunProgress {
  int64_t run_id = 0;
  std::string label, revision, state;  // revision: the candidate's name
  int64_t total = 0, queued = 0, leased = 0, succeeded = 0, failed = 0, cancelled = 0;
  int64_t finished_in_window = 0;  // succeeded or failed within the rate window
  int64_t boards_busy = 0;         // distinct boards holding a lease of this run
};

// A night's sweep as a whole: what `hil status --night` prints and the
// viewer can show. Read from the evals only, so it works on a read-only
// connection while the scheduler writes.
struct NightProgress {
  std::string night;
  std::vector<RunProgress> runs;  // by run id
  int64_t total = 0, queued = 0, leased = 0, succeeded = 0, failed = 0, cancelled = 0;
  int64_t boards_busy = 0;    // distinct boards over all the night's runs
  double window_seconds = 0;  // the rate's window: the last minute, or less if the sweep is younger
  double rate = 0;            // evals finished per second in the window
  double eta_seconds =
      -1;  // queued and leased evals at that rate; -1: nothing finished in the window
};

struct TableSize {
  std::string table;
  int64_t rows = 0;
  int64_t bytes = 0;  // pages of the table and its indexes
};

struct MetricDefRow {
  std::string name;
  std::string unit;
  std::string direction;  // lower, higher
  std::string description;
};

class Store {
 public:
  explicit Store(Database& db);
  Database& database() { return db_; }

  int64_t upsert_revision(const RevisionRow& r);
  int64_t upsert_clip(const ClipRow& c);
  int64_t upsert_suite(const std::string& name, const std::string& text, const std::string& sha256);
  void sync_metric_defs(const std::vector<MetricDefRow>& defs);
  std::optional<RevisionRow> revision(int64_t id);
  std::optional<RevisionRow> revision_by_sha(const std::string& sha256);
  std::vector<RevisionRow> revisions();

  // Inserts a run and its evals (state queued). Call inside a transaction.
  int64_t create_run(const std::string& label, int64_t candidate_id,
                     std::optional<int64_t> baseline_id, int64_t suite_id,
                     const std::string& priority, const std::vector<NewEval>& evals);
  std::string suite_text_of_run(int64_t run_id);

  // Evals not yet finished (queued or leased), for a restarting scheduler.
  std::vector<EvalRow> unfinished_evals();
  std::vector<EvalRow> evals_of_run(int64_t run_id);
  // The same rows one at a time (the row is reused): a million-eval run
  // without a million rows in memory at once.
  void for_each_eval_of_run(int64_t run_id, const std::function<void(const EvalRow&)>& visit);
  void mark_leased(int64_t eval_id, const std::string& board, int64_t lease_id, double deadline);
  void mark_queued(int64_t eval_id);  // lease expired or board lost
  // Records an eval's outcome exactly once: returns false (and stores
  // nothing) when the eval already finished, or the outcome's lease is not
  // the eval's current one (a stale lease, or lease 0 for a leased eval).
  bool record_outcome(const EvalOutcome& outcome);
  void set_run_state(int64_t run_id, const std::string& state);

  std::vector<RunMetricRow> run_metrics(int64_t run_id);
  DeviceTimeCounts device_time_counts(int64_t run_id);
  void store_gate(int64_t run_id, const std::string& verdict, const std::string& summary,
                  const std::vector<GateRow>& rows);
  std::vector<GateRow> gate_results(int64_t run_id);
  void store_gate_clips(int64_t run_id, const std::vector<GateClipRow>& rows);
  std::vector<GateClipRow> gate_clips(int64_t run_id);

  std::vector<RunRow> runs(int limit = 100);
  // Runs not finished (queued or running), for a restarting scheduler.
  std::vector<RunRow> active_runs();
  std::optional<RunRow> run(int64_t id);

  void upsert_board(const std::string& name, const std::string& type, const std::string& state,
                    const std::string& software);
  void set_board_state(const std::string& name, const std::string& state);
  // Board counters, added once per batch rather than once per eval.
  void add_board_evals(const std::string& name, int64_t done, int64_t failed);
  void set_board_health(const std::string& name, const std::string& health,
                        const std::string& reason, int64_t consecutive_failures);
  // Puts a recorded eval back in the queue, deleting its results (its board
  // failed a health check, so they cannot be trusted).
  void reset_eval(int64_t eval_id, const std::string& why);

  // Known answers for health checks (computed on the scheduler's host).
  // Adding one that exists (same revision, clip, board type and scenario)
  // changes nothing.
  void add_health_reference(const HealthReferenceRow& row);
  std::vector<HealthReferenceRow> health_references();
  // Results whose board failed a health check after their run's verdict was
  // given (or while it was computed): kept, marked suspect with why. A
  // finished run with a verdict gets `invalid`, its summary saying how many
  // of its results and why (the old verdict and summary kept after it).
  // Returns the runs whose verdict it invalidated.
  std::vector<int64_t> mark_suspect(const std::vector<int64_t>& eval_ids, const std::string& board,
                                    const std::string& reason);

  std::map<std::string, int64_t> table_rows();

  // ---- read queries (db/src/queries.cpp)
  // Revision A vs B, paired by (clip, scenario): the latest succeeded eval of
  // each, optionally within one suite, for the given metrics (all if empty),
  // sorted by delta, largest first.
  std::vector<DiffRow> diff_revisions(int64_t revision_a, int64_t revision_b,
                                      std::optional<int64_t> suite_id,
                                      const std::vector<std::string>& metrics = {});
  std::vector<SeriesBlob> frame_series(int64_t eval_id);
  // The eval's decoded outputs (codec in `codec`, frames 0), if kept.
  std::optional<SeriesBlob> frame_outputs(int64_t eval_id);
  std::vector<BoardStats> board_stats();
  // Mean of a metric per night of nightly runs (newest `nights`), per revision name.
  std::vector<TrendPoint> metric_trend(const std::string& metric, int nights = 30);
  std::vector<TableSize> table_sizes();
  void set_run_night(int64_t run_id, const std::string& night);
  // The distinct suite texts of a night's runs (what they declared and gated).
  std::vector<std::string> suite_texts_of_night(const std::string& night);
  // The progress of the night's runs at `now` (unix seconds; 0: the current
  // time), with the rate over the last `window_seconds`. One pass over the
  // night's evals through evals_by_run.
  NightProgress night_progress(const std::string& night, double now = 0,
                               double window_seconds = 60);
  // Deletes nightly runs (and their evals, metrics, series, gate rows) of all
  // but the newest `keep_nights` nights; returns the number of runs deleted.
  int64_t prune_nights(int keep_nights);

 private:
  // record_outcome's multi-row INSERTs into eval_metrics: at most this many rows.
  static constexpr size_t kMetricRowsPerInsert = 32;
  // create_run's likewise, into evals: a statement's fixed cost per eval was
  // a large part of persisting a million-eval queue.
  static constexpr size_t kEvalRowsPerInsert = 64;
  // A multi-row INSERT of `rows` rows, prepared on first use and kept in
  // `cache` (by row count): `head`, then `row` once per row with each '#'
  // numbered as the next parameter (?1 is left for a value all rows share).
  Statement& multi_row_insert(std::vector<Statement*>& cache, std::string_view head,
                              std::string_view row, size_t rows);

  Database& db_;
  std::unordered_map<std::string, int64_t> metric_ids_;  // loaded on first use
  // record_outcome's scratch: (metric id, value) of the eval being recorded.
  std::vector<std::pair<int64_t, double>> metric_rows_;
  // multi_row_insert()'s statements by row count, owned by db_'s statement cache.
  std::vector<Statement*> metric_inserts_;
  std::vector<Statement*> eval_inserts_;

 public:
  // ---- viewer queries (db/src/viewer_queries.cpp)
  // A revision with what the viewer's pickers show beside its name.
  struct RevisionSummary {
    RevisionRow revision;
    double created_at = 0;        // unix seconds
    int64_t succeeded_evals = 0;  // evals with results to compare
  };
  // Every revision, newest first.
  std::vector<RevisionSummary> revision_summaries();
  struct SuiteSummary {
    int64_t id = 0;
    std::string name;
    std::string text;  // the suite textproto as submitted (its gates)
  };
  std::vector<SuiteSummary> suite_summaries();
  // The revisions and suite of a run, by id (RunRow carries names only).
  struct RunRevisions {
    int64_t run_id = 0;
    int64_t candidate_id = 0;
    std::optional<int64_t> baseline_id;
    int64_t suite_id = 0;
  };
  std::optional<RunRevisions> run_revisions(int64_t run_id);
  // diff_revisions() within one run (run_id), one suite (suite_id) or all
  // results (neither): the latest succeeded eval of each revision per (clip,
  // scenario), paired; rows in pair order (clip id, scenario), metrics by name.
  // One range read of eval_metrics per eval, so 10k pairs read in well under
  // a second.
  std::vector<DiffRow> diff_revisions_scoped(int64_t revision_a, int64_t revision_b,
                                             std::optional<int64_t> suite_id,
                                             std::optional<int64_t> run_id,
                                             const std::vector<std::string>& metrics = {});
  // A clip by its full SHA-256 or a unique prefix of it (at least 6 hex digits).
  std::optional<ClipRow> clip_by_sha(const std::string& sha256_or_prefix);
  std::vector<MetricDefRow> metric_defs();
  // Changes whenever an eval of either revision succeeds (within `run_id`
  // when given): the number of their succeeded evals and the largest id
  // among them (index-only read).
  std::pair<int64_t, int64_t> results_stamp(int64_t revision_a, int64_t revision_b,
                                            std::optional<int64_t> run_id = std::nullopt);
  // Runs that compared two revisions (baseline set), newest first, without
  // the eval counts of runs() (cheap on a large database; counts are 0).
  std::vector<RunRow> compared_runs(int limit);
};

}  // namespace hil::db
