#include "hil/harness/scheduler.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "hil/db/writer.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/log.h"
#include "hil/evals/metrics.h"
#include "hil/evals/model_interface.h"
#include "hil/evals/plugin_metrics.h"
#include "hil/evals/sha256.h"
#include "hil/evals/suite.h"
#include "hil/harness/asio.h"
#include "hil/harness/blob_store.h"
#include "hil/harness/connection.h"
#include "hil/harness/gating.h"

namespace hil::harness {

using namespace net;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kPriorities[] = {"gate", "interactive", "nightly"};

// (frames, seconds per frame) of a clip; a clip without a rate counts as 36 fps.
std::pair<uint32_t, double> clip_length(int64_t frames, double fps) {
  return {static_cast<uint32_t>(std::clamp<int64_t>(frames, 0, 1 << 24)),
          std::isfinite(fps) && fps > 0 ? 1.0 / fps : 1.0 / 36};
}

int priority_rank(const std::string& p) {
  for (int i = 0; i < 3; ++i) {
    if (p == kPriorities[i]) return i;
  }
  return -1;
}

struct Session;

// Text that a million evals share (SHA-256s, scenario and board names): each
// distinct string is stored once, in the scheduler's StringPool, and an eval
// holds a pointer to it. Keeps a queued eval near 100 bytes instead of 600.
class Interned {
 public:
  Interned() : text_(&empty_text()) {}
  const std::string& str() const { return *text_; }
  operator const std::string&() const { return *text_; }
  bool empty() const { return text_->empty(); }
  friend bool operator==(const Interned& a, const Interned& b) { return *a.text_ == *b.text_; }
  friend bool operator==(const Interned& a, const std::string& b) { return *a.text_ == b; }
  friend bool operator!=(const Interned& a, const std::string& b) { return *a.text_ != b; }

 private:
  friend class StringPool;
  explicit Interned(const std::string* text) : text_(text) {}
  static const std::string& empty_text() {
    static const std::string empty;
    return empty;
  }
  const std::string* text_;
};

// A run's evals as the writer reads them back after submission, compactly:
// each distinct string once, 24 bytes a row (a million EvalRows with their
// strings would be 400 MB for a moment).
struct CompactEvals {
  struct Row {
    int64_t id;
    uint32_t revision, clip, scenario;  // indexes into texts
  };
  std::vector<std::string> texts;
  std::vector<Row> rows;

  static CompactEvals read(db::Store& store, int64_t run_id) {
    CompactEvals out;
    std::unordered_map<std::string, uint32_t> index;
    auto text = [&](const std::string& t) {
      auto [it, added] = index.try_emplace(t, static_cast<uint32_t>(out.texts.size()));
      if (added) out.texts.push_back(t);
      return it->second;
    };
    store.for_each_eval_of_run(run_id, [&](const db::EvalRow& row) {
      out.rows.push_back({row.id, text(row.revision_sha), text(row.clip_sha), text(row.scenario)});
    });
    return out;
  }
};

// Owns the interned strings; never shrinks (there are as many as distinct
// revisions, clips, scenarios and boards, not evals). I/O thread only.
class StringPool {
 public:
  Interned intern(const std::string& text) { return Interned(&*strings_.insert(text).first); }

 private:
  std::unordered_set<std::string> strings_;  // nodes never move
};

}  // namespace
}  // namespace hil::harness

template <>
struct fmt::formatter<hil::harness::Interned> : fmt::formatter<std::string_view> {
  template <typename Context>
  auto format(const hil::harness::Interned& s, Context& ctx) const {
    return fmt::formatter<std::string_view>::format(s.str(), ctx);
  }
};

namespace hil::harness {
namespace {

struct EvalState {
  int64_t id = 0;
  int64_t run_id = 0;
  Interned revision_sha, clip_sha, scenario;
  // kScoring: its result is in, and the scheduler's metric plugins are
  // scoring it off the I/O thread; recorded when they are done.
  enum class State { kQueued, kLeased, kScoring, kDone } state = State::kQueued;
  int attempts = 0;
  Interned board;
  uint64_t lease_id = 0;
  Clock::time_point deadline;
  std::vector<Interned> failed_on;  // boards that hit an infra error on it (usually none)
  bool failed_on_board(const std::string& board) const {
    return std::find(failed_on.begin(), failed_on.end(), board) != failed_on.end();
  }
  void add_failed_on(Interned board) {
    if (!failed_on_board(board)) failed_on.push_back(board);
  }
  db::DeviceTime device_time = db::DeviceTime::kUnknown;  // as its result said
};

// How an eval ended, and so who is charged: kFailed counts against the
// board that reported it (boards.evals_failed), kBadEval against no board
// (the eval as submitted could not be played: the submitter's error).
enum class Outcome { kSucceeded, kFailed, kBadEval };

struct RunState {
  int64_t id = 0;
  int rank = 2;
  suite::Suite suite;
  std::map<std::string, suite::Scenario> scenarios;
  std::deque<int64_t> queue;
  // Clip length (frames) and frame period (seconds) by clip SHA-256, for leases.
  std::map<std::string, std::pair<uint32_t, double>> clip_lengths;
  uint32_t total = 0, succeeded = 0, failed = 0, leased = 0;
  uint64_t results_refused = 0;  // results for its evals not from their lease holder
  bool cancelled = false, gating = false, done = false;
  std::vector<std::weak_ptr<Session>> watchers;
  std::vector<uint64_t> watch_ids;
  Clock::time_point last_notify{};
  bool notify_pending = false;
  bool marked_running = false;
};

struct BoardState {
  std::string name, type;
  std::string backend;           // the engines' backend, from its hello
  double seconds_per_frame = 0;  // the board's pace, from its hello
  uint32_t slots = 1;            // evals it plays at once, from its hello
  std::weak_ptr<Session> session;
  uint32_t credits = 0;
  std::set<int64_t> leases;
  bool draining = false;
  uint64_t done = 0, failed = 0;
  uint64_t results_refused = 0;  // results it sent for leases it did not hold
  // Health: "unknown" until a health check passes, "ok", or "quarantined".
  std::string health = "unknown";
  std::string quarantine_reason;
  uint32_t consecutive_infra = 0;
  uint32_t since_check = 0;         // evals recorded since the last passed check
  std::vector<int64_t> unverified;  // those evals: invalidated if the next check fails
  uint64_t check_lease = 0;         // an outstanding health-check lease
  Clock::time_point next_check{};
};

// A known answer a health check re-runs on a board of the same type: the
// board must reproduce its deterministic metrics (all but host time, and
// device time where the board measured it) within the health tolerance.
// Computed on the scheduler's host when there is a reference executor
// (`board` is then kHostReference), else a result of another board of the
// same type and backend.
constexpr const char* kHostReference = "the scheduler's host";
struct Reference {
  std::string revision_sha, clip_sha, board, board_type, backend;
  suite::Scenario scenario;
  std::vector<suite::MetricSpec> metric_specs;  // the suite's, so the check scores alike
  std::map<std::string, double> metrics;
  bool device_time_measured = false;
};

struct HealthCheck {
  std::string board;
  Reference reference;
};

constexpr uint32_t kInfraErrorsToQuarantine = 3;
constexpr size_t kMaxReferences = 64;

struct Session {
  std::shared_ptr<Connection> conn;
  enum class Phase { kHello, kProof, kReady } phase = Phase::kHello;
  wire::Role role = wire::ROLE_UNKNOWN;
  std::string name;
  std::string nonce;
  std::vector<std::string> boards;
  std::vector<std::string> board_types;  // beside `boards`, until the proof arrives
  std::vector<double> board_paces;
  std::vector<uint32_t> board_slots;
  std::vector<std::string> board_backends;
  std::vector<uint64_t> held;
  std::string host;                               // the peer's address, for per-host limits
  Clock::time_point connected_at = Clock::now();  // for the handshake deadline
  std::set<std::string> uploads;                  // blobs this peer is uploading
};

// Whether a writer job threw, and whether for the storage's sake (disk full,
// I/O error) rather than the data's. A job that did not throw but still
// failed was in a batch whose commit failed: the storage, too.
struct WriteAttempt {
  bool threw = false, storage = false;
  bool retryable(bool ok) const { return !ok && (!threw || storage); }
};

template <typename Job>
db::Writer::Job noting(const std::shared_ptr<WriteAttempt>& attempt, Job job) {
  return [attempt, job = std::move(job)](db::Store& st) mutable {
    try {
      job(st);
    } catch (const db::DbError& e) {
      attempt->threw = true;
      attempt->storage = e.storage_failure();
      throw;
    } catch (...) {
      attempt->threw = true;
      throw;
    }
  };
}

}  // namespace

struct Scheduler::Impl {
  SchedulerOptions opt;
  StringPool strings;  // what evals share: SHA-256s, scenario and board names
  // Under mutual TLS with a revocation list: read at every hello.
  std::optional<RevocationList> revocations;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::unique_ptr<db::Writer> writer;
  std::unique_ptr<db::Database> reader;
  std::unique_ptr<BlobStore> blobs;
  std::thread thread;
  asio::steady_timer ticker{io};

  std::map<int64_t, EvalState> evals;
  std::map<int64_t, RunState> runs;
  std::map<std::string, BoardState> boards;
  std::set<std::shared_ptr<Session>> sessions;
  std::map<std::string, uint32_t> connections_per_host;
  size_t uploads_in_progress = 0;
  std::shared_ptr<ssl::context> tls;
  std::array<size_t, 3> round_robin{};
  uint64_t next_lease = 1;
  uint64_t results_refused = 0;  // every result refused since start (see refuse_result)
  std::deque<Reference> references;
  std::map<uint64_t, HealthCheck> health_checks;  // by lease id
  // Metric plugins' thread, made when a run first needs it; destroyed (and
  // joined) before the members its work refers to.
  std::unique_ptr<asio::thread_pool> plugin_pool;
  // Known answers computed on this host (reference_executor), one at a time;
  // the keys of those under way, so that each is computed once.
  std::unique_ptr<asio::thread_pool> reference_pool;
  std::set<std::string> references_pending;
  std::map<std::string, clip::ClipHeader> clip_headers;  // by clip SHA-256, for submission checks
  std::map<std::string, model::ModelInterface> interfaces;  // by revision SHA-256

  // Leases and outcomes are written in batches: everything one turn of the
  // I/O loop produced becomes one writer job (group commit does the rest).
  struct PendingLease {
    int64_t eval_id;
    std::string board;
    int64_t lease_id;
    double deadline;
  };
  std::vector<PendingLease> pending_leases;
  std::vector<int64_t> pending_running;
  std::vector<db::EvalOutcome> pending_outcomes;
  // Results are acknowledged to their boards only once their outcome is
  // committed (synchronous=FULL: durable), so a board never drops a result
  // the database could still lose; until then the board keeps it and resends
  // it after a reconnect. By eval id: every ResultAck owed for that eval.
  struct PendingAck {
    std::weak_ptr<Session> session;
    uint64_t reply_to = 0;
  };
  std::map<int64_t, std::vector<PendingAck>> acks_after_commit;
  bool flush_scheduled = false;
  // Lease and outcome batches handed to the writer and not yet answered. One
  // batch is written at a time: meanwhile the next one gathers, larger (fewer
  // commits), and a lease answered before it was written is recorded by its
  // outcome's own UPDATE (see fold_answered_leases). Durability is the same:
  // a lease in the writer's queue is no more on disk than one held here.
  uint32_t flushes_in_flight = 0;
  // Set while the database refuses writes (disk full, I/O error): results and
  // leases are held in memory and retried, and no new work is handed out, so
  // nothing acknowledged is lost and nothing more piles up.
  bool db_unwritable = false;
  Clock::time_point db_error_logged{};

  void schedule_flush() {
    if (flush_scheduled) return;
    flush_scheduled = true;
    asio::post(io, [this] { flush_pending(); });
  }

  bool anything_pending() const {
    return !pending_leases.empty() || !pending_running.empty() || !pending_outcomes.empty();
  }

  // Called back on the I/O thread for every batch the writer answers.
  void flush_answered() {
    if (--flushes_in_flight > 0 || !anything_pending() || db_unwritable) return;
    flush_scheduled = false;  // it was held for this answer
    schedule_flush();
  }

  // A lease not yet written whose outcome is already here is written by the
  // outcome's UPDATE (EvalOutcome::lease_unwritten), not by an UPDATE of its
  // own: for evals that finish within a commit (noop), half the writes.
  void fold_answered_leases() {
    if (pending_leases.empty() || pending_outcomes.empty()) return;
    std::unordered_map<int64_t, db::EvalOutcome*> by_eval;
    for (auto& o : pending_outcomes)
      if (o.lease_id != 0) by_eval[o.eval_id] = &o;
    std::erase_if(pending_leases, [&](const PendingLease& l) {
      auto it = by_eval.find(l.eval_id);
      if (it == by_eval.end() || it->second->lease_id != l.lease_id) return false;
      it->second->lease_unwritten = true;
      return true;
    });
  }

  // `now`: write what is pending even with a batch in flight, for a job
  // that must follow it (a re-queue after its lease, a gate after its run's
  // last outcome).
  void flush_pending(bool now = false) {
    // Held until the batch in flight is answered: flush_answered() flushes
    // then, and schedule_flush() posts nothing more meanwhile.
    flush_scheduled = flushes_in_flight > 0 && !now;
    if (flush_scheduled) return;
    fold_answered_leases();
    // Outcomes before leases: a lease handed out in this turn follows the
    // outcome that freed its slot, and their times (written at commit) say so.
    // No outcome here needs a lease of this batch: those were folded into it.
    if (!pending_outcomes.empty()) {
      auto outcomes = std::make_shared<std::vector<db::EvalOutcome>>(std::move(pending_outcomes));
      auto attempt = std::make_shared<WriteAttempt>();
      writer->submit(noting(attempt, [outcomes](db::Store& st) { record_outcomes(st, *outcomes); }),
                     [this, outcomes, attempt](bool ok, const std::string& error) {
                       asio::post(io, [this, ok, error, outcomes, attempt] {
                         if (attempt->retryable(ok)) {
                           // Held for the next attempt; record_outcome is idempotent.
                           // Their boards are not answered yet: they keep the results.
                           for (auto& o : *outcomes) pending_outcomes.push_back(std::move(o));
                         } else {
                           for (const auto& o : *outcomes) acknowledge(o.eval_id, ok);
                         }
                         note_write(ok, attempt->retryable(ok), error);
                         flush_answered();
                       });
                     });
      ++flushes_in_flight;
      pending_outcomes.clear();
    }
    if (!pending_leases.empty() || !pending_running.empty()) {
      auto leases = std::make_shared<std::vector<PendingLease>>(std::move(pending_leases));
      auto running = std::make_shared<std::vector<int64_t>>(std::move(pending_running));
      auto attempt = std::make_shared<WriteAttempt>();
      writer->submit(
          noting(attempt,
                 [leases, running](db::Store& st) {
                   for (auto run : *running) st.set_run_state(run, "running");
                   for (const auto& l : *leases)
                     st.mark_leased(l.eval_id, l.board, l.lease_id, l.deadline);
                 }),
          [this, leases, running, attempt](bool ok, const std::string& error) {
            asio::post(io, [this, ok, error, leases, running, attempt] {
              if (attempt->retryable(ok)) {
                pending_leases.insert(pending_leases.begin(), leases->begin(), leases->end());
                pending_running.insert(pending_running.begin(), running->begin(), running->end());
              }
              note_write(ok, attempt->retryable(ok), error);
              flush_answered();
            });
          });
      ++flushes_in_flight;
      pending_leases.clear();
      pending_running.clear();
    }
  }

  // Succeeded and failed evals per board, for boards.evals_done/failed; a
  // bad eval is the submitter's and counts for no board.
  static void count_for_board(const db::EvalOutcome& o,
                              std::map<std::string, std::pair<int64_t, int64_t>>& per_board) {
    if (o.bad_eval) return;
    auto& counts = per_board[o.board];
    ++(o.succeeded ? counts.first : counts.second);
  }

  // Each outcome in its own savepoint: one the database refuses for its data
  // (a repeated metric, say) is recorded as a failed eval with the reason,
  // and the others stand. A storage failure fails the whole job for a retry.
  static void record_outcomes(db::Store& st, const std::vector<db::EvalOutcome>& outcomes) {
    auto& d = st.database();
    // The common case in one savepoint; only when some outcome is refused for
    // its data is the batch redone with a savepoint per outcome.
    d.cached("SAVEPOINT outcomes").run();
    try {
      std::map<std::string, std::pair<int64_t, int64_t>> per_board;
      for (const auto& o : outcomes) {
        if (st.record_outcome(o)) count_for_board(o, per_board);
      }
      for (const auto& [board, counts] : per_board)
        st.add_board_evals(board, counts.first, counts.second);
      d.cached("RELEASE outcomes").run();
      return;
    } catch (const std::exception& e) {
      d.cached("ROLLBACK TO outcomes").run();
      d.cached("RELEASE outcomes").run();
      if (auto* dbe = dynamic_cast<const db::DbError*>(&e); dbe && dbe->storage_failure()) throw;
    }
    std::map<std::string, std::pair<int64_t, int64_t>> per_board;
    for (const auto& o : outcomes) {
      bool recorded = false;
      d.cached("SAVEPOINT outcome").run();
      try {
        recorded = st.record_outcome(o);
        d.cached("RELEASE outcome").run();
      } catch (const std::exception& e) {
        d.cached("ROLLBACK TO outcome").run();
        d.cached("RELEASE outcome").run();
        if (auto* dbe = dynamic_cast<const db::DbError*>(&e); dbe && dbe->storage_failure()) throw;
        log::error("scheduler", "eval={} board={} result refused by the database: {}", o.eval_id,
                   o.board, e.what());
        db::EvalOutcome failed = o;
        failed.succeeded = false;
        failed.failure = fmt::format("result refused by the database: {}", e.what());
        failed.metrics.clear();
        failed.series.clear();
        recorded = st.record_outcome(failed);
        if (recorded) ++per_board[o.board].second;
        continue;
      }
      if (recorded) count_for_board(o, per_board);
    }
    for (const auto& [board, counts] : per_board)
      st.add_board_evals(board, counts.first, counts.second);
  }

  // What makes a result impossible to record as it is ("" when it is fine).
  static std::string malformed_result(const wire::EvalResult& r) {
    std::set<std::string_view> names;
    for (const auto& m : r.metrics()) {
      if (!names.insert(m.name()).second) return fmt::format("metric '{}' twice", m.name());
    }
    std::set<std::string_view> series;
    for (const auto& sd : r.series()) {
      if (!series.insert(sd.name()).second) return fmt::format("series '{}' twice", sd.name());
    }
    return "";
  }

  static std::vector<db::MetricDefRow> metric_def_rows(const std::vector<evals::MetricDef>& defs) {
    std::vector<db::MetricDefRow> rows;
    for (const auto& m : defs) {
      rows.push_back({m.name, m.unit, m.direction == suite::HIGHER_IS_BETTER ? "higher" : "lower",
                      m.description});
    }
    return rows;
  }

  // Checks the suite against the revisions' interfaces and the clips'
  // headers, from the uploaded blobs, before anything is stored or leased:
  // a head the model lacks, a camera or ground truth a clip lacks is the
  // submitter's error, never the boards'. Returns "" or what is wrong.
  std::string fit_error(const suite::Suite& suite, const wire::SubmitRun& sub) {
    if (!evals::plays_frames(suite)) return "";  // noop: nothing is loaded or scored
    try {
      std::vector<std::pair<std::string, clip::ClipHeader>> headers;
      for (const auto& c : sub.clips()) {
        auto it = clip_headers.find(c.sha256());
        if (it == clip_headers.end()) {
          evals::ClipReader reader(blobs->path(c.sha256()));
          it = clip_headers.emplace(c.sha256(), reader.header()).first;
          if (clip_headers.size() > 100000) clip_headers.clear();  // a bound, not a cache policy
        }
        headers.emplace_back(c.name().empty() ? c.sha256() : c.name(), it->second);
      }
      std::vector<const wire::RevisionRef*> revisions{&sub.candidate()};
      if (!sub.baseline().sha256().empty()) revisions.push_back(&sub.baseline());
      for (const auto* r : revisions) {
        const std::string name = r->name().empty() ? r->sha256().substr(0, 12) : r->name();
        evals::check_suite_fit(suite, interface_of(r->sha256(), name), name, headers);
      }
      // A plugin metric's library must load and match its declaration now,
      // not fail every eval later.
      for (const auto& m : suite.metrics()) {
        if (m.has_plugin()) evals::MetricPlugin::load(m.plugin().library())->check(m);
      }
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  }

  // A revision's model interface, from its blob (cached by SHA-256).
  const model::ModelInterface& interface_of(const std::string& sha, const std::string& name) {
    auto it = interfaces.find(sha);
    if (it != interfaces.end()) return it->second;
    auto text = evals::onnx_interface_text(evals::read_file(blobs->path(sha)));
    if (!text) {
      throw evals::InterfaceError(
          fmt::format("revision {} carries no model interface: give one beside the ONNX file "
                      "as NAME.interface.textproto (docs/models.md)",
                      name));
    }
    if (interfaces.size() > 4096) interfaces.clear();  // a bound, not a cache policy
    return interfaces
        .emplace(sha, evals::parse_interface(*text, fmt::format("interface of revision {}", name)))
        .first->second;
  }

  // Scores a succeeded eval with the suite's metric plugins on the plugin
  // thread (they read the whole clip and run a team's code: never on the
  // I/O thread), then records it with the plugins' values. A plugin that
  // fails fails the eval with its message: the suite's fault, not the board's.
  struct PluginJob {
    int64_t eval_id = 0;
    suite::Suite suite;
    model::ModelInterface iface;
    std::string clip_path, outputs_codec, outputs, failure;
    double host_seconds = 0;
    std::vector<std::pair<std::string, double>> metrics;
    std::vector<db::SeriesBlob> series;
  };
  void score_with_plugins(EvalState& e, std::shared_ptr<PluginJob> job) {
    e.state = EvalState::State::kScoring;
    job->eval_id = e.id;
    job->suite = runs[e.run_id].suite;
    job->clip_path = blobs->path(e.clip_sha).string();
    try {
      job->iface = interface_of(e.revision_sha, e.revision_sha.str().substr(0, 12));
    } catch (const std::exception& ex) {
      job->failure = ex.what();
    }
    if (!plugin_pool) plugin_pool = std::make_unique<asio::thread_pool>(1);
    asio::post(*plugin_pool, [this, job] {
      if (job->failure.empty()) {
        try {
          if (job->outputs_codec.empty()) {
            throw std::runtime_error(
                "the board sent no decoded outputs, which the plugin metrics need");
          }
          evals::ClipReader clip(job->clip_path);
          std::vector<clip::Frame> truth;
          for (uint32_t k = 0; k < clip.frame_count(); ++k) {
            truth.push_back(clip.frame(k));
            truth.back().clear_images();
          }
          const auto outputs = evals::decode_outputs(job->outputs, job->outputs_codec);
          for (const auto& [name, value] :
               evals::score_plugin_metrics(job->suite, truth, outputs, job->iface)) {
            job->metrics.emplace_back(name, value);
          }
        } catch (const std::exception& ex) {
          job->failure = ex.what();
        }
      }
      asio::post(io, [this, job] {
        auto it = evals.find(job->eval_id);
        if (it == evals.end() || it->second.state != EvalState::State::kScoring) return;
        if (!job->failure.empty())
          log::warn("scheduler", "eval={} plugin metrics: {}", job->eval_id, job->failure);
        // A plugin that fails is the suite's fault, not the board's.
        finish_eval(it->second, job->failure.empty() ? Outcome::kSucceeded : Outcome::kBadEval,
                    job->failure, job->host_seconds, std::move(job->metrics),
                    std::move(job->series), job->outputs_codec, job->outputs);
      });
    });
  }

  static std::map<std::string, std::pair<uint32_t, double>> clip_lengths_of(
      const wire::SubmitRun& sub) {
    std::map<std::string, std::pair<uint32_t, double>> out;
    for (const auto& c : sub.clips()) out[c.sha256()] = clip_length(c.frames(), c.fps());
    return out;
  }

  // Tracks whether the database takes writes. Returns true when this write
  // failed for the storage's sake (the caller has kept its data: the tick
  // retries it).
  bool note_write(bool ok, bool retryable, const std::string& error) {
    if (!ok && !retryable) {
      log::error("scheduler", "database write failed for its data, not retried: {}", error);
      return false;
    }
    if (ok) {
      if (db_unwritable) {
        db_unwritable = false;
        log::warn("scheduler", "database {} takes writes again: dispatch resumes",
                  opt.db_path.string());
        dispatch();
      }
      return false;
    }
    auto now = Clock::now();
    if (!db_unwritable || now - db_error_logged > std::chrono::seconds(10)) {
      log::error(
          "scheduler",
          "database {} refuses writes ({}): holding {} results in memory, no new leases, retrying",
          opt.db_path.string(), error, pending_outcomes.size());
      db_error_logged = now;
    }
    db_unwritable = true;
    return true;
  }

  // Sends the acknowledgements owed for an eval whose outcome was committed
  // (or refused by the database for its data: `recorded` false).
  void acknowledge(int64_t eval_id, bool recorded) {
    auto it = acks_after_commit.find(eval_id);
    if (it == acks_after_commit.end()) return;
    for (const auto& a : it->second) {
      if (auto s = a.session.lock()) {
        wire::Envelope ack;
        ack.mutable_result_ack()->set_eval_id(static_cast<uint64_t>(eval_id));
        ack.mutable_result_ack()->set_recorded(recorded);
        s->conn->reply(a.reply_to, std::move(ack));
      }
    }
    acks_after_commit.erase(it);
  }

  // Every other write goes after the pending batches, so that order holds
  // (a run's gate after its last outcome, a re-queue after its lease).
  void submit_job(db::Writer::Job job, db::Writer::Done done = {}) {
    flush_pending(/*now=*/true);
    writer->submit(std::move(job), std::move(done));
  }

  // ------------------------------------------------------------ setup
  void open() {
    if (opt.secret.empty())
      throw std::invalid_argument("the scheduler needs a rack secret (--secret or HIL_SECRET)");
    writer = std::make_unique<db::Writer>(opt.db_path);
    reader = std::make_unique<db::Database>(opt.db_path, db::OpenMode::kReadOnly);
    blobs = std::make_unique<BlobStore>(opt.blob_dir.empty()
                                            ? std::filesystem::path(opt.db_path.string() + ".blobs")
                                            : opt.blob_dir);
    writer->run_sync(
        [](db::Store& s) { s.sync_metric_defs(metric_def_rows(evals::system_metrics())); });
    recover();
    tls = make_server_tls(opt.tls, opt.host);
    tcp::endpoint ep(asio::ip::make_address(opt.host), opt.port);
    acceptor.open(ep.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen();
    log::info("scheduler", "listening on {}:{} ({}) db={}", opt.host,
              acceptor.local_endpoint().port(),
              !tls                 ? "plaintext on loopback"
              : opt.tls.ca.empty() ? "TLS"
                                   : "mutual TLS",
              opt.db_path.string());
    co_spawn(io, accept_loop(), asio::detached);
    tick();
  }

  // Rebuilds queues and leases from the database after a restart.
  void recover() {
    std::vector<db::RunRow> active;
    std::map<int64_t, std::string> suite_texts;
    std::vector<db::EvalRow> open_evals;
    std::map<int64_t, std::vector<db::EvalRow>> all_evals;
    std::map<int64_t, std::map<std::string, std::pair<uint32_t, double>>> clip_lengths;
    writer->run_sync([&](db::Store& s) {
      active = s.active_runs();
      for (const auto& r : active) {
        suite_texts[r.id] = s.suite_text_of_run(r.id);
        all_evals[r.id] = s.evals_of_run(r.id);
      }
      for (const auto& r : active) {
        auto lengths = s.database().prepare(
            "SELECT sha256, frames, fps FROM clips WHERE id IN "
            "(SELECT DISTINCT clip_id FROM evals WHERE run_id = ?1)");
        lengths.bind_all(r.id);
        while (lengths.step()) {
          clip_lengths[r.id][lengths.text(0)] = clip_length(lengths.int64(1), lengths.real(2));
        }
      }
      for (auto& row : s.health_references()) {
        suite::Suite spec;
        if (!spec.ParseFromString(row.spec) || spec.scenarios_size() != 1) {
          log::warn("scheduler", "health reference {}/{} does not parse: skipped", row.revision_sha,
                    row.clip_sha);
          continue;
        }
        Reference ref{row.revision_sha,
                      row.clip_sha,
                      kHostReference,
                      row.board_type,
                      "",
                      spec.scenarios(0),
                      {spec.metrics().begin(), spec.metrics().end()},
                      {},
                      false};
        for (auto& [name, value] : row.metrics) ref.metrics[name] = value;
        references.push_back(std::move(ref));
        if (references.size() > kMaxReferences) references.pop_front();
      }
      auto st = s.database().prepare("SELECT COALESCE(MAX(lease_id), 0) FROM evals");
      st.step();
      // Leases sent just before a crash may not be in the database: never
      // hand out their ids again (a late result must not match a new lease).
      const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      next_lease =
          std::max<uint64_t>(static_cast<uint64_t>(st.int64(0)) + 1, static_cast<uint64_t>(now_us));
    });
    size_t requeued = 0, kept = 0;
    for (const auto& r : active) {
      RunState run;
      run.id = r.id;
      run.rank = std::max(0, priority_rank(r.priority));
      run.clip_lengths = std::move(clip_lengths[r.id]);
      run.suite = evals::parse_suite(suite_texts[r.id], fmt::format("suite of run {}", r.id));
      for (const auto& sc : run.suite.scenarios()) run.scenarios[sc.name()] = sc;
      for (const auto& e : all_evals[r.id]) {
        ++run.total;
        if (e.state == "succeeded") ++run.succeeded;
        if (e.state == "failed" || e.state == "cancelled") ++run.failed;
        if (e.state != "queued" && e.state != "leased") continue;
        EvalState es;
        es.id = e.id;
        es.run_id = e.run_id;
        es.revision_sha = strings.intern(e.revision_sha);
        es.clip_sha = strings.intern(e.clip_sha);
        es.scenario = strings.intern(e.scenario);
        es.attempts = e.attempts;
        if (e.state == "leased") {
          // Keep the lease: its agent may reconnect and deliver the result.
          es.state = EvalState::State::kLeased;
          es.board = strings.intern(e.board);
          es.lease_id = static_cast<uint64_t>(e.lease_id);
          boards[e.board].name = e.board;
          boards[e.board].leases.insert(e.id);
          ++run.leased;
          ++kept;
        } else {
          run.queue.push_back(e.id);
          ++requeued;
        }
        evals[e.id] = es;
      }
      runs[r.id] = std::move(run);
    }
    // Kept leases get a fresh deadline: their boards may be reconnecting.
    for (auto& [id, es] : evals) {
      if (es.state == EvalState::State::kLeased) es.deadline = Clock::now() + lease_duration(es);
    }
    for (auto& [id, run] : runs) maybe_finish(run);
    for (auto& [id, run] : runs) request_reference(run);
    if (!active.empty()) {
      log::info("scheduler", "recovered {} active runs: {} queued evals, {} leases kept",
                active.size(), requeued, kept);
    }
  }

  awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      auto socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        log::warn("scheduler", "accept failed: {}", ec.message());
        continue;
      }
      auto session = std::make_shared<Session>();
      session->host = socket.remote_endpoint(ec).address().to_string();
      if (ec) continue;  // the peer is already gone
      auto& per_host = connections_per_host[session->host];
      if (opt.max_connections_per_host != 0 && per_host >= opt.max_connections_per_host) {
        // Refused before the TLS handshake costs anything; the others are unaffected.
        log::warn("scheduler", "peer={} refused: {} connections from this host (limit {})",
                  session->host, per_host, opt.max_connections_per_host);
        socket.close(ec);
        continue;
      }
      ++per_host;
      session->conn = std::make_shared<Connection>(std::move(socket), opt.max_frame_bytes, tls);
      sessions.insert(session);
      std::weak_ptr<Session> weak = session;
      session->conn->start(
          [this, weak](wire::Envelope&& e) {
            if (auto s = weak.lock()) on_message(s, std::move(e));
          },
          [this, weak](const std::string& reason) {
            if (auto s = weak.lock()) on_close(s, reason);
          });
    }
  }

  void tick() {
    ticker.expires_after(std::chrono::milliseconds(250));
    ticker.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      if (db_unwritable) {
        flush_pending();  // retry what the database refused
        for (auto& [id, run] : runs) maybe_finish(run);
      }
      expire_leases();
      drop_slow_handshakes();
      dispatch();  // quarantined boards come up for a health check again
      for (auto& [id, run] : runs) {
        if (run.notify_pending && !run.done) notify(run, false);
      }
      tick();
    });
  }

  // A peer that connects but never finishes TLS, hello and proof holds a
  // connection slot of its host: it gets a deadline.
  void drop_slow_handshakes() {
    if (opt.handshake_timeout_seconds <= 0) return;
    auto limit = Clock::now() - std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(opt.handshake_timeout_seconds));
    std::vector<std::shared_ptr<Session>> slow;
    for (const auto& s : sessions) {
      if (s->phase != Session::Phase::kReady && s->connected_at < limit) slow.push_back(s);
    }
    for (const auto& s : slow) {
      log::warn("scheduler", "peer={} dropped: no completed handshake within {} s", s->conn->peer(),
                opt.handshake_timeout_seconds);
      s->conn->fail(wire::LIMIT_EXCEEDED, "handshake not completed in time");
      s->conn->close("handshake timeout");
    }
  }

  // ------------------------------------------------------------ messages
  void on_message(const std::shared_ptr<Session>& s, wire::Envelope&& e) {
    auto& c = *s->conn;
    if (c.queued_messages() > opt.max_pending_messages) {
      log::warn("scheduler", "peer={} name={} disconnected: {} unanswered messages", c.peer(),
                s->name, c.queued_messages());
      c.fail(wire::TOO_MANY_PENDING, "too many unanswered messages");
      return;
    }
    if (s->phase == Session::Phase::kHello) return on_hello(s, e);
    if (s->phase == Session::Phase::kProof) return on_proof(s, e);
    const bool agent = s->role == wire::AGENT;
    switch (e.body_case()) {
      case wire::Envelope::kWorkRequest:
        if (!agent) return forbid(s, e);
        return on_work_request(s, e.work_request());
      case wire::Envelope::kProgress:
        if (!agent) return forbid(s, e);
        return on_progress(s, e.progress());
      case wire::Envelope::kResult:
        if (!agent) return forbid(s, e);
        return on_result(s, e);
      case wire::Envelope::kBlobRequest:
        if (!agent) return forbid(s, e);
        return on_blob_request(s, e);
      case wire::Envelope::kBye:
        c.close(fmt::format("bye: {}", e.bye().reason()));
        return;
      case wire::Envelope::kHaveBlobs:
        if (agent) return forbid(s, e);
        return on_have_blobs(s, e);
      case wire::Envelope::kUploadBlob:
        if (agent) return forbid(s, e);
        return on_upload(s, e);
      case wire::Envelope::kSubmitRun:
        if (agent) return forbid(s, e);
        return on_submit(s, e);
      case wire::Envelope::kRunStatusRequest:
        if (agent) return forbid(s, e);
        return on_status_request(s, e);
      case wire::Envelope::kCancelRun:
        if (agent) return forbid(s, e);
        return on_cancel(s, e);
      case wire::Envelope::kListBoards:
        if (agent) return forbid(s, e);
        return on_list_boards(s, e);
      case wire::Envelope::kDrainBoard:
        if (agent) return forbid(s, e);
        return on_drain(s, e);
      default:
        c.fail(wire::BAD_MESSAGE, fmt::format("unexpected message '{}'", body_name(e)), e.id());
    }
  }

  void forbid(const std::shared_ptr<Session>& s, const wire::Envelope& e) {
    log::warn("scheduler",
              "peer={} name={} role={} sent '{}', which its role may not: disconnected",
              s->conn->peer(), s->name, wire::Role_Name(s->role), body_name(e));
    s->conn->fail(wire::FORBIDDEN,
                  fmt::format("a {} may not send '{}'",
                              s->role == wire::AGENT ? "board agent" : "client", body_name(e)),
                  e.id());
  }

  // Mutual TLS: the rack CA vouched for the certificate. It must not be
  // revoked, its role must be the one claimed, and a board's own certificate
  // speaks only for that board. The reason to refuse, or nothing.
  std::optional<std::string> check_certificate(const PeerCertificate& cert, const wire::Hello& h) {
    try {
      if (revocations && revocations->revoked(cert.serial)) {
        return fmt::format("certificate '{}' (serial {}) is revoked", cert.common_name,
                           cert.serial);
      }
    } catch (const std::exception& ex) {
      // Fail closed: a revocation list that cannot be read revokes everything.
      return fmt::format("cannot check certificate revocation: {}", ex.what());
    }
    const char* needed = h.role() == wire::AGENT ? kBoardCertRole : kClientCertRole;
    const char* claimed = h.role() == wire::AGENT ? "board agent" : "client";
    if (cert.role != needed) {
      return fmt::format("a {} needs a '{}' certificate; this one is '{}'", claimed, needed,
                         cert.role);
    }
    if (h.role() != wire::AGENT) return std::nullopt;
    std::vector<std::string> names = {h.peer_name()};
    for (const auto& b : h.boards()) names.push_back(b.name());
    for (const auto& name : names) {
      if (!certificate_speaks_for(cert.common_name, name)) {
        return fmt::format("the certificate of board '{}' cannot register as '{}'",
                           cert.common_name, name);
      }
    }
    return std::nullopt;
  }

  void on_hello(const std::shared_ptr<Session>& s, const wire::Envelope& e) {
    auto& c = *s->conn;
    if (e.body_case() != wire::Envelope::kHello) {
      log::warn("scheduler", "peer={} dropped: sent '{}' before hello", c.peer(), body_name(e));
      return c.fail(wire::BAD_MESSAGE, "expected hello", e.id());
    }
    const auto& h = e.hello();
    if (h.protocol_version() < kMinProtocolVersion || h.protocol_version() > kProtocolVersion) {
      log::warn("scheduler",
                "peer={} name={} dropped: protocol version {} (this scheduler speaks {}..{})",
                c.peer(), h.peer_name(), h.protocol_version(), kMinProtocolVersion,
                kProtocolVersion);
      return c.fail(
          wire::VERSION_UNSUPPORTED,
          fmt::format("protocol version {} is not supported; this scheduler speaks {} to {}",
                      h.protocol_version(), kMinProtocolVersion, kProtocolVersion),
          e.id());
    }
    if (h.role() != wire::AGENT && h.role() != wire::CLIENT)
      return c.fail(wire::BAD_MESSAGE, "unknown role", e.id());
    if (!opt.tls.ca.empty()) {
      if (auto refusal = check_certificate(c.peer_certificate(), h)) {
        log::warn("scheduler", "peer={} name={} dropped: {}", c.peer(), h.peer_name(), *refusal);
        return c.fail(wire::FORBIDDEN, *refusal, e.id());
      }
    }
    s->role = h.role();
    s->name = h.peer_name();
    for (const auto& b : h.boards()) {
      s->boards.push_back(b.name());
      s->board_types.push_back(b.type());
      s->board_backends.push_back(b.backend());
      s->board_slots.push_back(std::max(1u, b.slots()));
      s->board_paces.push_back(std::isfinite(b.seconds_per_frame()) && b.seconds_per_frame() > 0
                                   ? std::min(b.seconds_per_frame(), 60.0)
                                   : 0.0);
    }
    s->held.assign(h.held_evals().begin(), h.held_evals().end());
    s->nonce = random_nonce();
    s->phase = Session::Phase::kProof;
    wire::Envelope reply;
    reply.mutable_challenge()->set_nonce(s->nonce);
    reply.mutable_challenge()->set_protocol_version(kProtocolVersion);
    c.reply(e.id(), std::move(reply));
  }

  void on_proof(const std::shared_ptr<Session>& s, const wire::Envelope& e) {
    auto& c = *s->conn;
    auto expected = auth_proof(opt.secret, s->nonce, s->role, s->name);
    if (e.body_case() != wire::Envelope::kProof ||
        !evals::equal_constant_time(e.proof().hmac(), expected)) {
      log::warn("scheduler", "peer={} name={} dropped: authentication failed (wrong rack secret)",
                c.peer(), s->name);
      return c.fail(wire::AUTH_FAILED, "authentication failed: wrong rack secret", e.id());
    }
    s->phase = Session::Phase::kReady;
    if (s->role == wire::AGENT) {
      for (size_t i = 0; i < s->boards.size(); ++i) {
        const auto& name = s->boards[i];
        auto& b = boards[name];
        if (auto old = b.session.lock(); old && old != s)
          old->conn->close("replaced by a new connection of the board");
        b.name = name;
        b.type = s->board_types[i];
        b.seconds_per_frame = s->board_paces[i];
        b.slots = s->board_slots[i];
        b.backend = s->board_backends[i];
        b.session = s;
        b.credits = 0;
        submit_job([name, type = b.type, sw = s->name](db::Store& st) {
          st.upsert_board(name, type, "idle", sw);
        });
      }
      log::info("scheduler", "agent={} peer={} connected with {} boards ({} evals held)", s->name,
                c.peer(), s->boards.size(), s->held.size());
    }
    wire::Envelope reply;
    reply.mutable_welcome()->set_scheduler("hil");
    reply.mutable_welcome()->set_protocol_version(kProtocolVersion);
    c.reply(e.id(), std::move(reply));
  }

  void on_close(const std::shared_ptr<Session>& s, const std::string& reason) {
    sessions.erase(s);
    if (auto it = connections_per_host.find(s->host);
        it != connections_per_host.end() && --it->second == 0) {
      connections_per_host.erase(it);
    }
    for (const auto& sha : s->uploads) blobs->abandon(sha);
    uploads_in_progress -= s->uploads.size();
    s->uploads.clear();
    if (s->role != wire::AGENT || s->phase != Session::Phase::kReady) return;
    log::info("scheduler", "agent={} disconnected: {}", s->name, reason);
    for (const auto& name : s->boards) {
      auto it = boards.find(name);
      if (it == boards.end()) continue;
      // Skipped when the board has reconnected on another session; this
      // session itself is still alive here, so a non-null lock() alone
      // would skip every board (and leave them idle in the database).
      if (auto current = it->second.session.lock(); current && current != s) continue;
      it->second.credits = 0;
      // Leases stay until they expire: the agent may reconnect and deliver.
      submit_job([name](db::Store& st) { st.set_board_state(name, "offline"); });
    }
  }

  // ------------------------------------------------------------ agents
  void on_work_request(const std::shared_ptr<Session>& s, const wire::WorkRequest& w) {
    auto it = boards.find(w.board());
    if (it == boards.end() || it->second.session.lock() != s) {
      return s->conn->fail(
          wire::INVALID_ARGUMENT,
          fmt::format("board '{}' is not registered on this connection", w.board()));
    }
    it->second.credits = std::min<uint32_t>(w.credits(), 64);
    dispatch_board(it->second);
  }

  void on_progress(const std::shared_ptr<Session>& s, const wire::Progress& p) {
    auto it = evals.find(static_cast<int64_t>(p.eval_id()));
    if (it == evals.end() || it->second.state != EvalState::State::kLeased ||
        it->second.lease_id != p.lease_id())
      return;
    // Only the lease holder's progress moves its deadline.
    if (auto b = boards.find(it->second.board); b == boards.end() || b->second.session.lock() != s)
      return;
    it->second.deadline = Clock::now() + lease_duration(it->second, p.frames_done());
  }

  // See SchedulerOptions::lease_timeout_seconds. A noop eval plays no frames.
  Clock::duration lease_duration(const EvalState& e, uint32_t frames_done = 0) const {
    double seconds = opt.lease_timeout_seconds;
    auto run = runs.find(e.run_id);
    if (run != runs.end()) {
      auto sc = run->second.scenarios.find(e.scenario);
      auto clip = run->second.clip_lengths.find(e.clip_sha);
      bool plays = sc == run->second.scenarios.end() || sc->second.mode() != "noop";
      if (plays && clip != run->second.clip_lengths.end()) {
        auto [frames, period] = clip->second;
        double pace = period;
        if (auto b = boards.find(e.board); b != boards.end())
          pace = std::max(pace, b->second.seconds_per_frame);
        uint32_t left = frames > frames_done ? frames - frames_done : 0;
        seconds += left * pace * opt.lease_slack;
      }
    }
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  }

  // Picks the next eval for a board: the highest priority class first; within
  // a class, runs take turns (fair share), so a big run cannot starve a small one.
  std::optional<int64_t> next_eval_for(const BoardState& board) {
    for (int rank = 0; rank < 3; ++rank) {
      std::vector<RunState*> candidates;
      for (auto& [id, run] : runs) {
        if (run.rank == rank && !run.queue.empty() && !run.cancelled &&
            run.suite.board_type() == board.type) {
          candidates.push_back(&run);
        }
      }
      if (candidates.empty()) continue;
      size_t start = round_robin[static_cast<size_t>(rank)]++ % candidates.size();
      for (size_t i = 0; i < candidates.size(); ++i) {
        auto& q = candidates[(start + i) % candidates.size()]->queue;
        // Retry infra errors on a different board when one is available.
        for (size_t j = 0; j < q.size(); ++j) {
          auto it = evals.find(q[j]);
          // A queued eval can finish without a new lease: the late result of
          // its expired lease was recorded. Such entries are dropped here.
          if (it == evals.end() || it->second.state != EvalState::State::kQueued) {
            q.erase(q.begin() + static_cast<std::ptrdiff_t>(j--));
            continue;
          }
          auto& e = it->second;
          if (e.failed_on_board(board.name) && j + 1 < q.size()) continue;
          int64_t id = q[j];
          q.erase(q.begin() + static_cast<std::ptrdiff_t>(j));
          return id;
        }
      }
    }
    return std::nullopt;
  }

  void dispatch() {
    for (auto& [name, board] : boards) dispatch_board(board);
  }

  // Leases work to one board up to its credits. Called for the board that
  // asked (so a result costs O(1), not O(boards)), and for all boards when
  // work appears.
  void dispatch_board(BoardState& board) {
    auto session = board.session.lock();
    if (!session || board.draining || db_unwritable) return;
    // Health first: a new or quarantined board re-runs a known eval before
    // it gets work; a healthy one is re-checked every evals_between_checks evals.
    bool due = board.health != "ok" || board.since_check >= opt.evals_between_checks;
    if (due && board.check_lease == 0 && board.credits > 0 && Clock::now() >= board.next_check) {
      send_health_check(board, *session);
    }
    if (board.health == "quarantined") return;
    if (board.health != "ok" && board.check_lease != 0)
      return;  // new boards prove themselves first
    // At most two leases per slot out at once: one playing, one on its way
    // (so a board never waits a round trip for work). A board's credits do
    // not count the leases still on their way to it, and without this bound
    // a board whose evals finish at once (noop) was sent leases faster than
    // it took them: hundreds of thousands queued on its connection.
    while (board.credits > 0 && board.leases.size() < 2 * board.slots) {
      auto id = next_eval_for(board);
      if (!id) break;
      lease(board, *session, evals[*id]);
    }
  }

  // Re-runs a recorded result of another board on this one. Returns false
  // when there is no reference to compare with yet.
  bool send_health_check(BoardState& board, Session& session) {
    // A known answer from this host checks every board of its type, whatever
    // its backend. Until there is one for the type (or where the host cannot
    // compute one), another board's result checks boards of the same type
    // and backend.
    const Reference* ref = nullptr;
    const Reference* peer = nullptr;
    for (auto it = references.rbegin(); it != references.rend() && !ref; ++it) {
      if (it->board_type != board.type) continue;
      if (it->board == kHostReference) {
        ref = &*it;
      } else if (!peer && it->board != board.name && it->backend == board.backend) {
        peer = &*it;
      }
    }
    if (!ref) ref = peer;
    if (!ref) return false;
    uint64_t lease_id = next_lease++;
    health_checks[lease_id] = {board.name, *ref};
    board.check_lease = lease_id;
    board.credits--;
    wire::Envelope env;
    auto* l = env.mutable_lease();
    l->set_eval_id((uint64_t{1} << 62) | lease_id);  // never a real eval id
    l->set_lease_id(lease_id);
    l->set_board(board.name);
    l->set_revision_sha(ref->revision_sha);
    l->set_clip_sha(ref->clip_sha);
    *l->mutable_scenario() = ref->scenario;
    for (const auto& m : ref->metric_specs) *l->add_metrics() = m;
    l->set_board_type(board.type);
    l->set_timeout_seconds(opt.lease_timeout_seconds);
    l->set_health_check(true);
    session.conn->send(std::move(env));
    log::info("scheduler", "board={} health check: re-running a result of board {}", board.name,
              ref->board);
    return true;
  }

  // Decoded outputs travel back when the suite keeps them or a plugin needs them.
  static bool keeps_outputs(const suite::Suite& suite) {
    if (!suite.drop_frame_outputs()) return true;
    return std::any_of(suite.metrics().begin(), suite.metrics().end(),
                       [](const suite::MetricSpec& m) { return m.has_plugin(); });
  }

  // Host time always varies; what follows from device time varies where a board measures it.
  static bool deterministic_metric(const std::string& name, bool device_time_measured) {
    if (name.rfind("host_", 0) == 0) return false;
    if (!device_time_measured) return true;
    const auto* def = evals::find_metric(evals::system_metrics(), name);
    return !def || !def->device_timed;
  }

  void on_health_result(BoardState& board, const wire::EvalResult& r) {
    auto it = health_checks.find(r.lease_id());
    if (it == health_checks.end()) return;
    HealthCheck check = std::move(it->second);
    health_checks.erase(it);
    board.check_lease = 0;
    std::string mismatch;
    if (!r.succeeded()) {
      mismatch = fmt::format("the health-check eval failed: {}", r.failure());
    } else {
      std::map<std::string, double> got;
      for (const auto& m : r.metrics()) got[m.name()] = m.value();
      const bool measured =
          check.reference.device_time_measured || r.device_time() == wire::DEVICE_TIME_MEASURED;
      for (const auto& [name, want] : check.reference.metrics) {
        if (!deterministic_metric(name, measured)) continue;
        auto g = got.find(name);
        if (g == got.end() ||
            !(std::abs(g->second - want) <= opt.health_tolerance * std::max(1.0, std::abs(want)))) {
          mismatch = fmt::format(
              "{} = {} where {} computed {} for the same revision, clip and scenario", name,
              g == got.end() ? std::string("missing") : fmt::format("{:.6g}", g->second),
              check.reference.board == kHostReference
                  ? std::string(kHostReference)
                  : fmt::format("board {}", check.reference.board),
              fmt::format("{:.6g}", want));
          break;
        }
      }
    }
    if (mismatch.empty()) {
      if (board.health != "ok")
        log::info("scheduler", "board={} passed its health check", board.name);
      board.health = "ok";
      board.quarantine_reason.clear();
      board.since_check = 0;
      board.consecutive_infra = 0;
      board.unverified.clear();
      submit_job([name = board.name](db::Store& st) { st.set_board_health(name, "ok", "", 0); });
    } else {
      quarantine(board, "failed its health check: " + mismatch);
    }
    dispatch();
  }

  // Takes a board out of service until a health check passes, and re-queues
  // every result it recorded since its last passed check.
  void quarantine(BoardState& board, const std::string& reason) {
    log::warn("scheduler", "board={} quarantined: {}", board.name, reason);
    board.health = "quarantined";
    board.quarantine_reason = reason;
    board.next_check = Clock::now() + std::chrono::seconds(2);
    // Results of runs still under way are played again by healthy boards;
    // where the verdict is given (or being computed), they are kept but
    // marked suspect, and a gated run's verdict becomes invalid: a verdict
    // is never silently left standing on results nobody can trust.
    std::vector<int64_t> suspect;
    for (int64_t id : board.unverified) {
      auto it = evals.find(id);
      if (it == evals.end()) {  // its run is finished and forgotten: the database has it
        suspect.push_back(id);
        continue;
      }
      if (it->second.state != EvalState::State::kDone) continue;
      auto& run = runs[it->second.run_id];
      if (run.gating || run.done) {
        suspect.push_back(id);
        continue;
      }
      it->second.state = EvalState::State::kQueued;
      it->second.add_failed_on(strings.intern(board.name));
      run.succeeded = run.succeeded > 0 ? run.succeeded - 1 : 0;
      run.queue.push_front(id);
      submit_job([id, why = fmt::format("re-queued: board {} {}", board.name, reason)](
                     db::Store& st) { st.reset_eval(id, why); });
    }
    board.unverified.clear();
    if (!suspect.empty()) {
      // After the gate's own write (same writer queue), so the verdict it
      // wrote is the one replaced.
      submit_job([ids = std::move(suspect), name = board.name, reason](db::Store& st) {
        for (int64_t run_id : st.mark_suspect(ids, name, reason))
          log::warn("scheduler", "run={} verdict invalidated: board {} {}", run_id, name, reason);
      });
    }
    submit_job([name = board.name, reason, n = board.consecutive_infra](db::Store& st) {
      st.set_board_health(name, "quarantined", reason, n);
    });
  }

  void lease(BoardState& board, Session& session, EvalState& e) {
    auto& run = runs[e.run_id];
    e.state = EvalState::State::kLeased;
    e.board = strings.intern(board.name);
    e.lease_id = next_lease++;
    e.attempts++;
    e.deadline = Clock::now() + lease_duration(e);
    board.leases.insert(e.id);
    board.credits--;
    run.leased++;
    wire::Envelope env;
    auto* l = env.mutable_lease();
    l->set_eval_id(static_cast<uint64_t>(e.id));
    l->set_lease_id(e.lease_id);
    l->set_board(board.name);
    l->set_revision_sha(e.revision_sha);
    l->set_clip_sha(e.clip_sha);
    *l->mutable_scenario() = run.scenarios[e.scenario];
    *l->mutable_metrics() = run.suite.metrics();
    l->set_keep_outputs(keeps_outputs(run.suite));
    l->set_board_type(board.type);
    const double lease_seconds = std::chrono::duration<double>(e.deadline - Clock::now()).count();
    l->set_timeout_seconds(lease_seconds);
    l->set_attempt(static_cast<uint32_t>(e.attempts));
    session.conn->send(std::move(env));
    pending_leases.push_back(
        {e.id, board.name, static_cast<int64_t>(e.lease_id), db::unix_now() + lease_seconds});
    if (!run.marked_running) {
      run.marked_running = true;
      pending_running.push_back(run.id);
    }
    schedule_flush();
    log::debug("scheduler", "board={} eval={} lease={} attempt={}", board.name, e.id, e.lease_id,
               e.attempts);
  }

  void release_lease(EvalState& e) {
    auto b = boards.find(e.board);
    if (b != boards.end()) b->second.leases.erase(e.id);
    if (runs.count(e.run_id) && runs[e.run_id].leased > 0) runs[e.run_id].leased--;
  }

  // Puts a leased eval back in its queue, or fails it when attempts run out.
  void requeue(EvalState& e, const std::string& why) {
    release_lease(e);
    auto& run = runs[e.run_id];
    if (static_cast<uint32_t>(e.attempts) >= opt.max_attempts) {
      finish_eval(e, Outcome::kFailed,
                  fmt::format("gave up after {} attempts; last: {}", e.attempts, why), 0, {}, {});
      return;
    }
    e.state = EvalState::State::kQueued;
    e.lease_id = 0;
    run.queue.push_front(e.id);
    submit_job([id = e.id](db::Store& st) { st.mark_queued(id); });
  }

  void expire_leases() {
    auto now = Clock::now();
    std::vector<int64_t> expired;
    // Only leased evals can expire, and each is in its board's lease set: a
    // few hundred to look at, not every eval of every active run.
    for (const auto& [name, board] : boards) {
      for (int64_t id : board.leases) {
        auto it = evals.find(id);
        if (it != evals.end() && it->second.state == EvalState::State::kLeased &&
            it->second.deadline < now) {
          expired.push_back(id);
        }
      }
    }
    for (auto id : expired) {
      auto& e = evals[id];
      log::warn("scheduler", "board={} eval={} lease={} expired: re-issued", e.board, id,
                e.lease_id);
      e.add_failed_on(e.board);
      requeue(e, fmt::format("lease expired on board {}", e.board));
    }
    if (!expired.empty()) dispatch();
  }

  static constexpr const char* kNoLease = "it carries no lease (lease id 0)";

  // Why `r` may not be recorded for `e` ("" when its sender holds the eval's
  // current lease). Only the board and lease that hold an eval record it:
  // never another board's result, a stale lease's after the eval was taken
  // back or re-issued, or a result without a lease.
  static std::string lease_mismatch(const EvalState& e, const wire::EvalResult& r) {
    if (r.lease_id() == 0) return kNoLease;
    switch (e.state) {
      case EvalState::State::kDone:
      case EvalState::State::kScoring:
        return fmt::format("the eval's result is already in, from board {} on lease {}", e.board,
                           e.lease_id);
      case EvalState::State::kQueued:
        return fmt::format("lease {} is no longer the eval's: it was taken back", r.lease_id());
      case EvalState::State::kLeased:
        break;
    }
    if (e.lease_id != r.lease_id()) {
      return fmt::format("lease {} is not the eval's: it is leased to board {} as lease {}",
                         r.lease_id(), e.board, e.lease_id);
    }
    if (e.board != r.board())
      return fmt::format("lease {} is held by board {}, not {}", r.lease_id(), e.board, r.board());
    return "";
  }

  // Counts a refused result (the board's, the run's, the scheduler's) and
  // logs it with the board's name. `board` and `run` may be null.
  void note_refused(const Session& s, const wire::EvalResult& r, BoardState* board, RunState* run,
                    const std::string& why) {
    ++results_refused;
    if (board) ++board->results_refused;
    if (run) ++run->results_refused;
    log::warn("scheduler", "board={} agent={} eval={} lease={} result refused: {}", r.board(),
              s.name, r.eval_id(), r.lease_id(), why);
  }

  // Refuses a result and acknowledges it as not recorded, so that an honest
  // board holding a stale lease drops it.
  void refuse_result(const std::shared_ptr<Session>& s, const wire::Envelope& env,
                     BoardState* board, RunState* run, const std::string& why) {
    note_refused(*s, env.result(), board, run, why);
    wire::Envelope ack;
    ack.mutable_result_ack()->set_eval_id(env.result().eval_id());
    ack.mutable_result_ack()->set_recorded(false);
    s->conn->reply(env.id(), std::move(ack));
  }

  void on_result(const std::shared_ptr<Session>& s, const wire::Envelope& env) {
    const auto& r = env.result();
    wire::Envelope ack;
    ack.mutable_result_ack()->set_eval_id(r.eval_id());
    auto b = boards.find(r.board());
    if (b == boards.end() || b->second.session.lock() != s) {
      const std::string why = fmt::format("board '{}' is not on this connection", r.board());
      note_refused(*s, r, nullptr, nullptr, why);
      return s->conn->fail(wire::INVALID_ARGUMENT, why);
    }
    if (auto hc = health_checks.find(r.lease_id()); hc != health_checks.end()) {
      const uint64_t check_eval = (uint64_t{1} << 62) | r.lease_id();
      if (hc->second.board != r.board() || r.eval_id() != check_eval) {
        return refuse_result(s, env, &b->second, nullptr,
                             fmt::format("health-check lease {} is held by board {}, not {}",
                                         r.lease_id(), hc->second.board, r.board()));
      }
      ack.mutable_result_ack()->set_recorded(false);
      s->conn->reply(env.id(), std::move(ack));
      on_health_result(b->second, r);
      return;
    }
    auto it = evals.find(static_cast<int64_t>(r.eval_id()));
    if (it == evals.end() && r.lease_id() == 0)
      return refuse_result(s, env, &b->second, nullptr, kNoLease);
    const bool finished = it == evals.end() || it->second.state == EvalState::State::kDone ||
                          it->second.state == EvalState::State::kScoring;
    if (finished && it != evals.end() && it->second.lease_id == r.lease_id() &&
        it->second.board == r.board() && acks_after_commit.count(it->first)) {
      // The holder resent a result whose outcome is not committed yet (it
      // reconnected meanwhile): answered with the first, once durable.
      acks_after_commit[it->first].push_back({s, env.id()});
      return;
    }
    if (finished && (it == evals.end() ||
                     (it->second.lease_id == r.lease_id() && it->second.board == r.board()))) {
      // The holder's result again (a resend after a reconnect), or a result
      // for an eval of a finished run: acknowledged and dropped.
      log::info("scheduler", "board={} eval={} duplicate result dropped", r.board(), r.eval_id());
      ack.mutable_result_ack()->set_recorded(false);
      s->conn->reply(env.id(), std::move(ack));
      return;
    }
    auto& e = it->second;
    if (auto why = lease_mismatch(e, r); !why.empty())
      return refuse_result(s, env, &b->second, &runs[e.run_id], why);
    // A result that cannot be true (a metric twice) is the board's fault, like
    // an infrastructure error: never recorded, retried elsewhere.
    const std::string malformed = malformed_result(r);
    if (!malformed.empty()) {
      log::warn("scheduler", "board={} eval={} malformed result: {}", r.board(), r.eval_id(),
                malformed);
    }
    const bool infra = r.failure_kind() == wire::FAILURE_KIND_UNSPECIFIED
                           ? r.infra_error()
                           : r.failure_kind() == wire::FAILURE_INFRA;
    const bool board_fault = (!r.succeeded() && infra) || !malformed.empty();
    const std::string fault = malformed.empty() ? r.failure() : "malformed result: " + malformed;
    if (board_fault) {
      e.add_failed_on(strings.intern(r.board()));
      b->second.failed++;
      requeue(e, fmt::format("infra error on board {}: {}", r.board(), fault));
      if (++b->second.consecutive_infra >= kInfraErrorsToQuarantine) {
        quarantine(b->second, fmt::format("{} infrastructure errors in a row, the last: {}",
                                          kInfraErrorsToQuarantine, fault));
      }
      ack.mutable_result_ack()->set_recorded(false);
      s->conn->reply(env.id(), std::move(ack));
      dispatch();
      return;
    }
    release_lease(e);
    if (!r.succeeded() && r.failure_kind() == wire::FAILURE_BAD_EVAL) return on_bad_eval(s, env, e);
    std::vector<std::pair<std::string, double>> metrics;
    for (const auto& m : r.metrics()) metrics.emplace_back(m.name(), m.value());
    std::vector<db::SeriesBlob> series;
    for (const auto& sd : r.series())
      series.push_back({sd.name(), sd.codec(), sd.frames(), sd.data()});
    e.device_time = r.device_time() == wire::DEVICE_TIME_MEASURED   ? db::DeviceTime::kMeasured
                    : r.device_time() == wire::DEVICE_TIME_EMULATED ? db::DeviceTime::kEmulated
                                                                    : db::DeviceTime::kUnknown;
    auto& board = b->second;
    board.done++;
    board.consecutive_infra = 0;
    if (r.succeeded()) {
      board.since_check++;
      board.unverified.push_back(e.id);
      // Keep it as a reference for health checks of other boards.
      const auto& run = runs[e.run_id];
      auto sc = run.scenarios.find(e.scenario);
      if (board.health != "quarantined" && sc != run.scenarios.end() &&
          sc->second.mode() != "noop") {
        Reference ref{e.revision_sha,
                      e.clip_sha,
                      board.name,
                      board.type,
                      board.backend,
                      sc->second,
                      {run.suite.metrics().begin(), run.suite.metrics().end()},
                      {},
                      r.device_time() == wire::DEVICE_TIME_MEASURED};
        for (const auto& [name, value] : metrics) ref.metrics[name] = value;
        references.push_back(std::move(ref));
        if (references.size() > kMaxReferences) references.pop_front();
      }
    }
    if (r.succeeded() && evals::has_plugin_metrics(runs[e.run_id].suite)) {
      auto job = std::make_shared<PluginJob>();
      job->host_seconds = r.host_seconds();
      job->metrics = std::move(metrics);
      job->series = std::move(series);
      job->outputs_codec = r.outputs_codec();
      job->outputs = r.outputs();
      score_with_plugins(e, std::move(job));
    } else {
      finish_eval(e, r.succeeded() ? Outcome::kSucceeded : Outcome::kFailed, r.failure(),
                  r.host_seconds(), std::move(metrics), std::move(series), r.outputs_codec(),
                  r.outputs());
    }
    acks_after_commit[e.id].push_back({s, env.id()});  // answered once it is durable
    // No dispatch here: the board asks for more with a WorkRequest.
  }

  // The board could not play the eval as submitted (its scenario, its
  // revision's graph, its clip): it fails once with the reason, is not
  // retried, and neither counts against the board nor quarantines it.
  void on_bad_eval(const std::shared_ptr<Session>& s, const wire::Envelope& env, EvalState& e) {
    const auto& r = env.result();
    log::warn("scheduler",
              "board={} eval={} cannot be played as submitted (failed, not retried): {}", r.board(),
              r.eval_id(), r.failure());
    finish_eval(e, Outcome::kBadEval,
                fmt::format("bad eval (reported by board {}): {}", r.board(), r.failure()),
                r.host_seconds(), {}, {});
    acks_after_commit[e.id].push_back({s, env.id()});  // answered once it is durable
  }

  void finish_eval(EvalState& e, Outcome outcome, const std::string& failure, double host_seconds,
                   std::vector<std::pair<std::string, double>> metrics,
                   std::vector<db::SeriesBlob> series, const std::string& outputs_codec = {},
                   const std::string& outputs = {}) {
    const bool ok = outcome == Outcome::kSucceeded;
    e.state = EvalState::State::kDone;
    auto& run = runs[e.run_id];
    (ok ? run.succeeded : run.failed)++;
    db::EvalOutcome o;
    o.eval_id = e.id;
    // The lease it answers: the database records it only while that lease is
    // the eval's (every eval that finishes here was leased).
    o.lease_id = static_cast<int64_t>(e.lease_id);
    o.board = e.board;
    o.succeeded = ok;
    o.bad_eval = outcome == Outcome::kBadEval;
    o.failure = failure;
    o.host_seconds = host_seconds;
    o.metrics = std::move(metrics);
    o.series = std::move(series);
    o.device_time = e.device_time;
    if (!run.suite.drop_frame_outputs()) {
      o.outputs_codec = outputs_codec;
      o.outputs = outputs;
    }
    pending_outcomes.push_back(std::move(o));
    schedule_flush();
    notify(run, false);
    maybe_finish(run);
  }

  void maybe_finish(RunState& run) {
    if (run.gating || run.done || run.succeeded + run.failed < run.total) return;
    run.gating = true;
    int64_t id = run.id;
    bool cancelled = run.cancelled;
    auto attempt = std::make_shared<WriteAttempt>();
    submit_job(noting(attempt,
                      [id, cancelled](db::Store& st) {
                        if (!cancelled) gate_run(st, id);
                        st.set_run_state(id, cancelled ? "cancelled" : "done");
                      }),
               [this, id, attempt](bool ok, const std::string& error) {
                 asio::post(io, [this, id, ok, error, attempt] {
                   auto it = runs.find(id);
                   if (it == runs.end()) return;
                   if (note_write(ok, attempt->retryable(ok), error)) {
                     it->second.gating = false;  // gated again once the database takes writes
                     return;
                   }
                   if (!ok) log::error("scheduler", "run={} gate failed: {}", id, error);
                   it->second.done = true;
                   notify(it->second, true);
                   // Forget the finished run's evals: the database has them.
                   for (auto eit = evals.begin(); eit != evals.end();) {
                     eit = eit->second.run_id == id ? evals.erase(eit) : std::next(eit);
                   }
                   runs.erase(it);
                 });
               });
  }

  void on_blob_request(const std::shared_ptr<Session>& s, const wire::Envelope& env) {
    const auto& sha = env.blob_request().sha256();
    if (!blobs->has(sha))
      return s->conn->fail(wire::NOT_FOUND, fmt::format("no blob {}", sha), env.id());
    uint64_t total = blobs->size(sha);
    uint64_t offset = 0;
    do {
      wire::Envelope chunk;
      auto* c = chunk.mutable_blob_chunk();
      c->set_sha256(sha);
      c->set_offset(offset);
      c->set_total_size(total);
      c->set_data(blobs->read(sha, offset, kBlobChunkBytes));
      offset += c->data().size();
      c->set_last(offset >= total);
      s->conn->reply(env.id(), std::move(chunk));
    } while (offset < total);
  }

  // ------------------------------------------------------------ clients
  void on_have_blobs(const std::shared_ptr<Session>& s, const wire::Envelope& env) {
    wire::Envelope reply;
    for (const auto& sha : env.have_blobs().sha256()) {
      if (!blobs->has(sha)) reply.mutable_missing_blobs()->add_sha256(sha);
    }
    reply.mutable_missing_blobs();
    s->conn->reply(env.id(), std::move(reply));
  }

  void on_upload(const std::shared_ptr<Session>& s, const wire::Envelope& env) {
    const auto& u = env.upload_blob();
    wire::Envelope reply;
    reply.mutable_upload_ack()->set_sha256(u.sha256());
    const bool starts = !s->uploads.count(u.sha256());
    if (starts && opt.max_concurrent_uploads != 0 &&
        uploads_in_progress >= opt.max_concurrent_uploads && !blobs->has(u.sha256())) {
      log::warn("scheduler",
                "client={} peer={} disconnected: {} blob uploads already in progress (limit {})",
                s->name, s->conn->peer(), uploads_in_progress, opt.max_concurrent_uploads);
      return s->conn->fail(wire::LIMIT_EXCEEDED,
                           fmt::format("{} blob uploads are in progress (limit {}); retry later",
                                       uploads_in_progress, opt.max_concurrent_uploads),
                           env.id());
    }
    try {
      bool complete = blobs->append(u.sha256(), u.offset(), u.total_size(), u.data(), u.last());
      if (starts && !complete) {
        s->uploads.insert(u.sha256());
        ++uploads_in_progress;
      } else if (!starts && complete) {
        s->uploads.erase(u.sha256());
        --uploads_in_progress;
      }
      reply.mutable_upload_ack()->set_complete(complete);
      if (u.last()) s->conn->reply(env.id(), std::move(reply));
    } catch (const std::exception& e) {
      log::warn("scheduler", "client={} upload refused: {}", s->name, e.what());
      s->conn->fail(wire::INVALID_ARGUMENT, e.what(), env.id());
    }
  }

  void on_submit(const std::shared_ptr<Session>& s, const wire::Envelope& env) {
    const auto& sub = env.submit_run();
    auto refuse = [&](wire::ErrorCode code, const std::string& why) {
      wire::Envelope reply;
      reply.mutable_error()->set_code(code);
      reply.mutable_error()->set_message(why);
      s->conn->reply(env.id(), std::move(reply));
    };
    suite::Suite suite;
    try {
      suite = evals::parse_suite(sub.suite_text(),
                                 sub.suite_name().empty() ? "submitted suite" : sub.suite_name());
    } catch (const std::exception& e) {
      return refuse(wire::INVALID_ARGUMENT, e.what());
    }
    std::string priority = sub.priority().empty() ? "interactive" : sub.priority();
    if (priority_rank(priority) < 0)
      return refuse(wire::INVALID_ARGUMENT,
                    fmt::format("unknown priority '{}' (gate, interactive, nightly)", priority));
    std::vector<const wire::RevisionRef*> revisions{&sub.candidate()};
    if (!sub.baseline().sha256().empty()) revisions.push_back(&sub.baseline());
    for (const auto* r : revisions) {
      if (!blobs->has(r->sha256()))
        return refuse(wire::NOT_FOUND,
                      fmt::format("revision {} ({}) was not uploaded", r->sha256(), r->name()));
    }
    if (sub.clips_size() == 0) return refuse(wire::INVALID_ARGUMENT, "the run selects no clip");
    for (const auto& c : sub.clips()) {
      if (!blobs->has(c.sha256()))
        return refuse(wire::NOT_FOUND,
                      fmt::format("clip {} ({}) was not uploaded", c.sha256(), c.name()));
    }
    // A draining board still counts: it is there and will be undrained; a
    // type with no connected board at all would queue forever.
    bool capacity = std::any_of(boards.begin(), boards.end(), [&](const auto& kv) {
      return kv.second.type == suite.board_type() && kv.second.session.lock();
    });
    if (!capacity) {
      // Most often a misspelt type: say which types there are.
      std::set<std::string> connected;
      for (const auto& [name, b] : boards) {
        if (b.session.lock()) connected.insert(b.type);
      }
      return refuse(wire::NO_CAPACITY,
                    fmt::format("suite field 'board_type': no connected board is of type '{}' "
                                "(connected types: {})",
                                suite.board_type(),
                                connected.empty() ? std::string("none")
                                                  : fmt::format("{}", fmt::join(connected, ", "))));
    }
    if (auto err = fit_error(suite, sub); !err.empty()) return refuse(wire::INVALID_ARGUMENT, err);
    auto sub_copy = std::make_shared<wire::SubmitRun>(sub);
    auto result = std::make_shared<std::pair<int64_t, CompactEvals>>();
    std::string suite_text = sub.suite_text();
    std::weak_ptr<Session> weak = s;
    uint64_t reply_to = env.id();
    // Persisted before the submit is acknowledged.
    submit_job(
        [sub_copy, result, priority, suite](db::Store& st) {
          auto rev_id = [&](const wire::RevisionRef& r) {
            return st.upsert_revision(
                {0, r.sha256(), r.name().empty() ? r.sha256().substr(0, 12) : r.name(), r.git_sha(),
                 r.pr(), r.author(), static_cast<int64_t>(r.bytes())});
          };
          int64_t cand = rev_id(sub_copy->candidate());
          std::optional<int64_t> base;
          if (!sub_copy->baseline().sha256().empty()) base = rev_id(sub_copy->baseline());
          int64_t suite_id = st.upsert_suite(suite.name(), sub_copy->suite_text(),
                                             evals::sha256_hex(sub_copy->suite_text()));
          st.sync_metric_defs(metric_def_rows(evals::suite_metrics(suite)));
          std::vector<db::NewEval> new_evals;
          for (const auto& c : sub_copy->clips()) {
            int64_t clip_id = st.upsert_clip(
                {0, c.sha256(), c.name(), {c.tags().begin(), c.tags().end()}, c.frames(), c.fps()});
            for (const auto& sc : suite.scenarios()) {
              new_evals.push_back({cand, clip_id, sc.name()});
              if (base) new_evals.push_back({*base, clip_id, sc.name()});
            }
          }
          std::string label = sub_copy->label().empty()
                                  ? fmt::format("{} vs {}", sub_copy->candidate().name(),
                                                sub_copy->baseline().name())
                                  : sub_copy->label();
          result->first = st.create_run(label, cand, base, suite_id, priority, new_evals);
          if (!sub_copy->night().empty()) st.set_run_night(result->first, sub_copy->night());
          result->second = CompactEvals::read(st, result->first);
        },
        [this, result, weak, reply_to, suite, priority, lengths = clip_lengths_of(*sub_copy)](
            bool ok, const std::string& error) {
          asio::post(io, [this, result, weak, reply_to, suite, priority, lengths, ok, error] {
            auto s = weak.lock();
            if (!ok) {
              log::error("scheduler", "submit failed: {}", error);
              if (s) {
                wire::Envelope reply;
                reply.mutable_error()->set_code(wire::INTERNAL);
                reply.mutable_error()->set_message(error);
                s->conn->reply(reply_to, std::move(reply));
              }
              return;
            }
            RunState run;
            run.id = result->first;
            run.rank = priority_rank(priority);
            run.suite = suite;
            run.clip_lengths = lengths;
            for (const auto& sc : suite.scenarios()) run.scenarios[sc.name()] = sc;
            // Interleave candidate and baseline evals of each clip so that
            // partial results stay paired.
            std::vector<Interned> texts;
            for (const auto& text : result->second.texts) texts.push_back(strings.intern(text));
            for (const auto& row : result->second.rows) {
              EvalState e;
              e.id = row.id;
              e.run_id = run.id;
              e.revision_sha = texts[row.revision];
              e.clip_sha = texts[row.clip];
              e.scenario = texts[row.scenario];
              evals[e.id] = e;
              run.queue.push_back(e.id);
              run.total++;
            }
            log::info("scheduler", "run={} submitted: {} evals, priority {}", run.id, run.total,
                      priority);
            if (s) {
              wire::Envelope reply;
              reply.mutable_submit_ack()->set_run_id(static_cast<uint64_t>(run.id));
              reply.mutable_submit_ack()->set_evals(run.total);
              s->conn->reply(reply_to, std::move(reply));
            }
            auto& stored = runs[run.id] = std::move(run);
            request_reference(stored);
            dispatch();
          });
        });
  }

  static std::string reference_key(const std::string& revision, const std::string& clip,
                                   const std::string& board_type, const std::string& scenario) {
    return fmt::format("{}/{}/{}/{}", revision, clip, board_type, scenario);
  }

  // Computes, on this host, the known answer of the run's first eval that
  // has none (noop scenarios play nothing, so they check nothing); boards of
  // the suite's type are checked against it once it is stored.
  void request_reference(const RunState& run) {
    if (!opt.reference_executor) return;
    std::set<std::string> known;
    for (const auto& r : references) {
      if (r.board == kHostReference)
        known.insert(reference_key(r.revision_sha, r.clip_sha, r.board_type, r.scenario.name()));
    }
    for (int64_t id : run.queue) {
      const auto& e = evals[id];
      auto sc = run.scenarios.find(e.scenario);
      if (sc == run.scenarios.end() || sc->second.mode() == "noop") continue;
      auto key = reference_key(e.revision_sha, e.clip_sha, run.suite.board_type(), e.scenario);
      if (known.count(key) || references_pending.count(key)) return;  // this run is covered
      references_pending.insert(key);
      auto job = std::make_shared<ReferenceJob>();
      job->revision = blobs->path(e.revision_sha);
      job->clip = blobs->path(e.clip_sha);
      job->scenario = sc->second;
      job->metrics.assign(run.suite.metrics().begin(), run.suite.metrics().end());
      job->board_type = run.suite.board_type();
      Reference ref{e.revision_sha, e.clip_sha, kHostReference, job->board_type, "", job->scenario,
                    job->metrics,   {},         false};
      if (!reference_pool) reference_pool = std::make_unique<asio::thread_pool>(1);
      asio::post(*reference_pool, [this, job, ref = std::move(ref), key]() mutable {
        std::string failure;
        try {
          for (auto& [name, value] : opt.reference_executor(*job)) ref.metrics[name] = value;
        } catch (const std::exception& ex) {
          failure = ex.what();
        }
        asio::post(io, [this, ref = std::move(ref), key, failure] {
          references_pending.erase(key);
          if (!failure.empty()) {
            log::warn("scheduler", "no health reference for {}: {}", key, failure);
            return;
          }
          log::info("scheduler", "health reference computed on this host: {}", key);
          store_reference(ref);
          // The first known answer for a type: boards that passed a check
          // against another board's result are checked again now.
          bool first_of_type =
              std::none_of(references.begin(), references.end(), [&](const auto& r) {
                return r.board == kHostReference && r.board_type == ref.board_type;
              });
          for (auto& [name, b] : boards) {
            if (first_of_type && b.type == ref.board_type && b.health == "ok")
              b.since_check = std::max(b.since_check, opt.evals_between_checks);
          }
          references.push_back(ref);
          if (references.size() > kMaxReferences) references.pop_front();
          dispatch();  // boards waiting for a known answer can be checked now
        });
      });
      return;
    }
  }

  void store_reference(const Reference& ref) {
    suite::Suite spec;
    *spec.add_scenarios() = ref.scenario;
    for (const auto& m : ref.metric_specs) *spec.add_metrics() = m;
    db::HealthReferenceRow row{ref.revision_sha,         ref.clip_sha,
                               ref.board_type,           ref.scenario.name(),
                               spec.SerializeAsString(), {ref.metrics.begin(), ref.metrics.end()}};
    submit_job([row = std::move(row)](db::Store& st) { st.add_health_reference(row); });
  }

  wire::RunStatus status_of(int64_t run_id) {
    wire::RunStatus st;
    st.set_run_id(static_cast<uint64_t>(run_id));
    db::Store store(*reader);
    auto it = runs.find(run_id);
    // The database only for runs that are finished (or not in memory): an
    // active run's counts are in memory, and reading them per result would
    // cost a query per eval.
    std::optional<db::RunRow> row;
    if (it == runs.end() || it->second.done) row = store.run(run_id);
    if (it != runs.end()) {
      const auto& r = it->second;
      st.set_state(r.done ? "done" : r.leased || r.succeeded || r.failed ? "running" : "queued");
      st.set_total(r.total);
      st.set_succeeded(r.succeeded);
      st.set_failed(r.failed);
      st.set_leased(r.leased);
      st.set_queued(static_cast<uint32_t>(r.queue.size()));
      st.set_results_refused(r.results_refused);
    } else if (row) {
      st.set_state(row->state);
      st.set_total(static_cast<uint32_t>(row->evals_total));
      st.set_succeeded(static_cast<uint32_t>(row->evals_succeeded));
      st.set_failed(static_cast<uint32_t>(row->evals_failed));
    } else {
      st.set_state("unknown");
    }
    uint32_t busy = 0;
    for (const auto& [name, b] : boards) busy += !b.leases.empty();
    st.set_boards_busy(busy);
    if (row && (row->state == "done" || row->state == "cancelled") &&
        (it == runs.end() || it->second.done)) {
      st.set_state(row->state);
      st.set_verdict(row->verdict);
      st.set_verdict_summary(row->verdict_summary);
      const auto device_time = store.device_time_counts(run_id);
      st.set_device_time_measured(static_cast<uint32_t>(device_time.measured));
      st.set_device_time_emulated(static_cast<uint32_t>(device_time.emulated));
      for (const auto& g : store.gate_results(run_id)) {
        auto* l = st.add_gate();
        l->set_metric(g.metric);
        l->set_slice(g.slice);
        l->set_blocking(g.blocking);
        l->set_verdict(g.verdict);
        l->set_clips(static_cast<uint32_t>(g.clips));
        l->set_baseline(g.baseline);
        l->set_candidate(g.candidate);
        l->set_degradation(g.degradation);
        l->set_lo(g.lo);
        l->set_hi(g.hi);
        l->set_margin(g.margin);
        l->set_reason(g.reason);
        l->set_flips_to_worse(g.flips_to_worse);
        l->set_flips_to_better(g.flips_to_better);
        l->set_flips_p(g.flips_p);
      }
      for (const auto& c : store.gate_clips(run_id)) {
        auto* w = st.add_worst_clips();
        w->set_metric(c.metric);
        w->set_rank(static_cast<uint32_t>(c.rank));
        w->set_clip_sha(c.clip_sha);
        w->set_clip_name(c.clip_name);
        w->set_scenario(c.scenario);
        w->set_baseline(c.baseline);
        w->set_candidate(c.candidate);
        w->set_degradation(c.degradation);
        w->set_frame(c.frame);
        w->set_divergence(c.divergence);
        w->set_series(c.series);
      }
      auto& shas = reader->cached(
          "SELECT c.sha256, COALESCE(b.sha256, '') FROM runs r JOIN revisions c ON c.id = "
          "r.candidate_id "
          "LEFT JOIN revisions b ON b.id = r.baseline_id WHERE r.id = ?1");
      shas.bind_all(run_id);
      if (auto pair =
              shas.first([](db::Statement& q) { return std::pair(q.text(0), q.text(1)); })) {
        st.set_candidate_sha(pair->first);
        st.set_baseline_sha(pair->second);
      }
    }
    return st;
  }

  void notify(RunState& run, bool final) {
    if (run.watchers.empty()) return;
    // Progress goes out at most every 100 ms per run; the final status always.
    auto now = Clock::now();
    if (!final && now - run.last_notify < std::chrono::milliseconds(100)) {
      run.notify_pending = true;
      return;
    }
    run.last_notify = now;
    run.notify_pending = false;
    auto status = status_of(run.id);
    if (final) status.set_state(run.cancelled ? "cancelled" : "done");
    for (size_t i = 0; i < run.watchers.size(); ++i) {
      if (auto w = run.watchers[i].lock()) {
        wire::Envelope e;
        *e.mutable_run_status() = status;
        w->conn->reply(run.watch_ids[i], std::move(e));
      }
    }
  }

  void on_status_request(const std::shared_ptr<Session>& s, const wire::Envelope& env) {
    auto id = static_cast<int64_t>(env.run_status_request().run_id());
    wire::Envelope reply;
    *reply.mutable_run_status() = status_of(id);
    if (reply.run_status().state() == "unknown") {
      return s->conn->fail(wire::NOT_FOUND, fmt::format("no run {}", id), env.id());
    }
    s->conn->reply(env.id(), std::move(reply));
    auto it = runs.find(id);
    if (env.run_status_request().watch() && it != runs.end()) {
      it->second.watchers.push_back(s);
      it->second.watch_ids.push_back(env.id());
    }
  }

  void on_cancel(const std::shared_ptr<Session>& s, const wire::Envelope& env) {
    auto id = static_cast<int64_t>(env.cancel_run().run_id());
    auto it = runs.find(id);
    if (it == runs.end())
      return s->conn->fail(wire::NOT_FOUND, fmt::format("run {} is not active", id), env.id());
    auto& run = it->second;
    run.cancelled = true;
    for (auto eid : run.queue) {
      auto& e = evals[eid];
      e.state = EvalState::State::kDone;
      run.failed++;
      submit_job([eid = eid](db::Store& st) {
        st.database()
            .prepare("UPDATE evals SET state = 'cancelled' WHERE id = ?1 AND state = 'queued'")
            .bind_all(eid)
            .run();
      });
    }
    run.queue.clear();
    // Leased evals are recalled from their boards.
    for (auto& [eid, e] : evals) {
      if (e.run_id != id || e.state != EvalState::State::kLeased) continue;
      auto b = boards.find(e.board);
      if (b != boards.end()) {
        if (auto bs = b->second.session.lock()) {
          wire::Envelope r;
          r.mutable_recall()->set_eval_id(static_cast<uint64_t>(eid));
          bs->conn->send(std::move(r));
        }
      }
      release_lease(e);
      e.state = EvalState::State::kDone;
      run.failed++;
      submit_job([eid = eid](db::Store& st) {
        st.database()
            .prepare("UPDATE evals SET state = 'cancelled' WHERE id = ?1 AND state = 'leased'")
            .bind_all(eid)
            .run();
      });
    }
    wire::Envelope ok;
    ok.mutable_ok();
    s->conn->reply(env.id(), std::move(ok));
    maybe_finish(run);
  }

  void on_list_boards(const std::shared_ptr<Session>& s, const wire::Envelope& env) {
    wire::Envelope reply;
    auto* list = reply.mutable_board_list();
    for (const auto& [name, b] : boards) {
      auto* bs = list->add_boards();
      bs->set_name(name);
      bs->set_type(b.type);
      bs->set_state(!b.session.lock()           ? "offline"
                    : b.health == "quarantined" ? "quarantined"
                    : b.draining                ? "draining"
                    : b.leases.empty()          ? "idle"
                                                : "busy");
      bs->set_leases(static_cast<uint32_t>(b.leases.size()));
      bs->set_evals_done(b.done);
      bs->set_evals_failed(b.failed);
      bs->set_results_refused(b.results_refused);
    }
    list->set_results_refused(results_refused);
    s->conn->reply(env.id(), std::move(reply));
  }

  void on_drain(const std::shared_ptr<Session>& s, const wire::Envelope& env) {
    auto it = boards.find(env.drain_board().board());
    if (it == boards.end())
      return s->conn->fail(wire::NOT_FOUND, fmt::format("no board {}", env.drain_board().board()),
                           env.id());
    it->second.draining = !env.drain_board().undrain();
    submit_job([name = it->first, draining = it->second.draining](db::Store& st) {
      st.set_board_state(name, draining ? "draining" : "idle");
    });
    wire::Envelope ok;
    ok.mutable_ok();
    s->conn->reply(env.id(), std::move(ok));
    if (!it->second.draining) dispatch();
  }
};

Scheduler::Scheduler(SchedulerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->opt = std::move(options);
  if (!impl_->opt.tls.ca.empty() && !impl_->opt.tls.crl.empty())
    impl_->revocations.emplace(impl_->opt.tls.crl, impl_->opt.tls.ca);
}

Scheduler::~Scheduler() {
  stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void Scheduler::open() { impl_->open(); }
uint16_t Scheduler::port() const { return impl_->acceptor.local_endpoint().port(); }

void Scheduler::run() {
  impl_->io.run();
  impl_->writer->flush();
}

void Scheduler::start() {
  impl_->thread = std::thread([this] { run(); });
}

void Scheduler::stop() {
  asio::post(impl_->io, [impl = impl_.get()] {
    boost::system::error_code ec;
    impl->acceptor.close(ec);
    impl->ticker.cancel();
    for (const auto& s :
         std::vector<std::shared_ptr<Session>>(impl->sessions.begin(), impl->sessions.end())) {
      s->conn->close("scheduler stopping");
    }
    impl->io.stop();
  });
}

}  // namespace hil::harness
