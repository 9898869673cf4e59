#include "hil/dual_engine/runtime.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "hil/dual_engine/preprocess.h"
#include "hil/evals/model_interface.h"
#include "hil/evals/suite.h"

namespace hil::dual_engine {

CompiledRevision::CompiledRevision(const Model& model, const board::BoardType& board,
                                   EngineBackend* backend)
    : board_(board), iface_(revision_interface(model)), plan_(compile(model, board)) {
  std::unique_ptr<EngineBackend> emulated;
  if (!backend) {
    emulated = make_emulated_backend();
    backend = emulated.get();
  }
  measures_time_ = backend->measures_time();
  for (int e = 0; e < 2; ++e) {
    engines_[e].first = backend->load(plan_.first, e);
    engines_[e].second = backend->load(plan_.second, e);
    engines_[e].standby = backend->load(plan_.standby[e], e);
  }
}

const char* fault_kind_name(FaultKind kind) {
  switch (kind) {
    case FaultKind::kCrash:
      return "crash";
    case FaultKind::kHang:
      return "hang";
    case FaultKind::kSlow:
      return "slow";
    case FaultKind::kNonFinite:
      return "nan";
    default:
      return "ecc";
  }
}

suite::Fault parse_fault(const std::string& text) {
  auto colon = text.find(':');
  auto at = text.rfind('@');
  if (colon == std::string::npos || at == std::string::npos || at < colon) {
    throw std::invalid_argument(
        fmt::format("fault '{}': expected ENGINE:KIND@FRAME, e.g. commander:crash@12", text));
  }
  suite::Fault f;
  f.set_engine(text.substr(0, colon));
  f.set_kind(text.substr(colon + 1, at - colon - 1));
  try {
    f.set_frame(static_cast<uint32_t>(std::stoul(text.substr(at + 1))));
  } catch (const std::exception&) {
    throw std::invalid_argument(
        fmt::format("fault '{}': frame '{}' is not a number", text, text.substr(at + 1)));
  }
  return f;
}

namespace {

using Clock = std::chrono::steady_clock;
enum class Mode { kSplit = 0, kSingle = 1, kRedundant = 2 };

struct ResolvedFault {
  int engine = 0;
  FaultKind kind = FaultKind::kCrash;
  double factor = 1;
  uint32_t frame = 0;
  bool cleared = false;  // the engine was reset after it
};

// Throws evals::ScenarioError on a fault the suite check would have refused.
std::vector<ResolvedFault> resolve_faults(const suite::Scenario& sc, int commander) {
  std::vector<ResolvedFault> out;
  for (const auto& f : sc.faults()) {
    const evals::FaultSpec spec = evals::fault_spec(f);
    ResolvedFault r;
    r.frame = spec.frame;
    r.kind = spec.kind;
    r.factor = spec.slow_factor;
    switch (spec.engine) {
      case evals::FaultEngine::kCommander:
        r.engine = commander;
        break;
      case evals::FaultEngine::kExtender:
        r.engine = 1 - commander;
        break;
      case evals::FaultEngine::kEngine0:
        r.engine = 0;
        break;
      case evals::FaultEngine::kEngine1:
        r.engine = 1;
        break;
    }
    out.push_back(r);
  }
  return out;
}

enum class Plan { kFirst, kSecond, kStandby, kPing };

struct Task {
  uint32_t frame = 0;
  Plan plan = Plan::kPing;
  TensorMap inputs;
};

struct TaskResult {
  uint32_t frame = 0;
  TensorMap outputs;
  double device_ms = 0;     // the backend's device time for this run
  bool sram_error = false;  // the hardware reported an uncorrectable SRAM error
};

bool all_finite(const TensorMap& m) {
  for (const auto& [name, t] : m) {
    for (float v : t.data) {
      if (!std::isfinite(v)) return false;
    }
  }
  return true;
}

// One engine: a thread that runs plans from its queue. Injected faults act
// here, on the host, as they would on a board: the thread dies (crash),
// stops beating (hang), or returns poisoned tensors (nan, ecc). Whether an
// engine is alive is never judged by host time: a hung engine stops its
// emulated heartbeat, and the runtime sees that at once; a running engine
// that takes long on a loaded host is waited for, up to a limit that scales
// with the slowest run measured so far (past it, the host is stalled).
class Engine {
 public:
  enum class Wait { kDone, kCrashed, kHung };

  Engine(int id, CompiledRevision::EnginePrograms& programs, std::vector<ResolvedFault>* faults,
         const RuntimeOptions& options)
      : id_(id), programs_(programs), faults_(faults), options_(options) {
    thread_ = std::thread([this] { loop(); });
  }
  ~Engine() {
    {
      std::lock_guard lock(mu_);
      shutdown_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  void submit(Task t) {
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(t));
    }
    cv_.notify_all();
  }

  // Waits for the oldest outstanding result. Throws HostStallError when a
  // running engine gives no answer within the host's limit.
  Wait wait(TaskResult* out) {
    std::unique_lock lock(mu_);
    for (;;) {
      const double limit_ms =
          std::max(options_.host_stall_floor_ms, options_.host_stall_factor * slowest_run_ms_);
      const bool woke = cv_.wait_for(lock, std::chrono::duration<double, std::milli>(limit_ms),
                                     [&] { return !results_.empty() || dead_ || hung_; });
      if (!results_.empty()) {
        *out = std::move(results_.front());
        results_.pop_front();
        return Wait::kDone;
      }
      if (hung_ || hang_reported_) return Wait::kHung;
      if (dead_) return Wait::kCrashed;
      if (!woke && options_.host_stall_factor * slowest_run_ms_ <= limit_ms) {
        throw HostStallError(
            fmt::format("engine {}: the host had no answer after {:.0f} ms while the engine was "
                        "running (slowest run so far "
                        "{:.1f} ms): the host is stalled, not the emulated engine",
                        id_, limit_ms, slowest_run_ms_));
      }
    }
  }

  // Resets a failed engine: a fresh thread after a crash, a released one after
  // a hang; faults that already fired are cleared.
  void recover(uint32_t frame) {
    {
      std::lock_guard lock(mu_);
      for (auto& f : *faults_) {
        if (f.engine == id_ && f.frame <= frame) f.cleared = true;
      }
      tasks_.clear();
      results_.clear();
      release_ = true;
    }
    cv_.notify_all();
    if (dead_) {
      thread_.join();
      dead_ = false;
      hang_reported_ = false;
      release_ = false;
      thread_ = std::thread([this] { loop(); });
    } else {
      // Wait until a hung thread has let go, so it cannot answer stale tasks.
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !hung_; });
      release_ = false;
    }
  }

 private:
  EngineProgram* program_for(Plan plan) const {
    switch (plan) {
      case Plan::kFirst:
        return programs_.first.get();
      case Plan::kSecond:
        return programs_.second.get();
      case Plan::kStandby:
        return programs_.standby.get();
      case Plan::kPing:
        break;
    }
    return nullptr;
  }

  enum class Fate { kRun, kDropped, kExit };

  // What an injected fault does to the task before it runs: a crash ends the
  // thread (its queue is lost); a hang stops the heartbeat until the engine
  // is reset, which drops the task.
  Fate injected_fault(std::unique_lock<std::mutex>& lock, const Task& task) {
    for (auto& f : *faults_) {
      if (f.engine != id_ || f.cleared || f.frame > task.frame) continue;
      if (f.kind == FaultKind::kCrash) {
        dead_ = true;
        cv_.notify_all();
        return Fate::kExit;
      }
      if (f.kind == FaultKind::kHang) {
        hung_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return shutdown_ || release_; });
        hung_ = false;
        cv_.notify_all();
        return shutdown_ ? Fate::kExit : Fate::kDropped;
      }
    }
    return Fate::kRun;
  }

  void loop() {
    for (;;) {
      Task task;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return shutdown_ || !tasks_.empty(); });
        if (shutdown_) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
        const auto fate = injected_fault(lock, task);
        if (fate == Fate::kExit) return;
        if (fate == Fate::kDropped) continue;
      }
      TaskResult r;
      r.frame = task.frame;
      EngineStatus status = EngineStatus::kOk;
      if (auto* program = program_for(task.plan)) {
        const auto start = Clock::now();
        try {
          auto run = program->run(task.inputs);
          status = run.status;
          r.outputs = std::move(run.outputs);
          r.device_ms = run.device_us / 1000;
        } catch (const std::exception&) {
          status = EngineStatus::kCrashed;  // a backend that throws has faulted: a crash
        }
        const double host_ms =
            std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        if (options_.host_slowdown > 1) {
          std::this_thread::sleep_for(
              std::chrono::duration<double, std::milli>(host_ms * (options_.host_slowdown - 1)));
        }
        std::lock_guard lock(mu_);
        slowest_run_ms_ =
            std::max(slowest_run_ms_, host_ms * std::max(1.0, options_.host_slowdown));
      }
      if (status == EngineStatus::kCrashed || status == EngineStatus::kHung) {
        std::lock_guard lock(mu_);
        hang_reported_ = status == EngineStatus::kHung;
        dead_ = true;
        cv_.notify_all();
        return;
      }
      r.sram_error = status == EngineStatus::kSramError;
      bool poison = r.sram_error;
      for (const auto& f : *faults_) {
        if (f.engine != id_ || f.cleared || f.frame > task.frame) continue;
        if (f.kind == FaultKind::kNonFinite) poison = true;
        if (f.kind == FaultKind::kEcc && f.frame == task.frame) poison = r.sram_error = true;
      }
      if (poison) {
        for (auto& [name, t] : r.outputs) std::fill(t.data.begin(), t.data.end(), NAN);
      }
      {
        std::lock_guard lock(mu_);
        results_.push_back(std::move(r));
      }
      cv_.notify_all();
    }
  }

  int id_;
  CompiledRevision::EnginePrograms& programs_;
  std::vector<ResolvedFault>* faults_;
  const RuntimeOptions& options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> tasks_;
  std::deque<TaskResult> results_;
  bool shutdown_ = false, release_ = false, hung_ = false, hang_reported_ = false;
  double slowest_run_ms_ = 0;
  std::atomic<bool> dead_{false};
  std::thread thread_;
};

std::map<std::string, evals::OutputTensor> tensor_views(const TensorMap& out) {
  std::map<std::string, evals::OutputTensor> views;
  for (const auto& [name, t] : out) views[name] = {t.shape, t.data.data(), t.data.size()};
  return views;
}

bool same_outputs(const TensorMap& a, const TensorMap& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a) {
    auto it = b.find(name);
    if (it == b.end() || it->second.data != t.data) return false;
  }
  return true;
}

// Defaults for a board type that does not state its supervision.
constexpr double kDefaultHeartbeatMs = 1;
constexpr uint32_t kDefaultMissedBeats = 3;
constexpr double kDefaultCrashDetectMs = 0.1;
constexpr double kDefaultFttiMs = 100;

// The board's fault detection on the emulated clock (docs/failover.md).
struct Supervisor {
  double heartbeat_ms = kDefaultHeartbeatMs;
  uint32_t missed_beats = kDefaultMissedBeats;
  double crash_detect_ms = kDefaultCrashDetectMs;
  double ftti_ms = kDefaultFttiMs;
  double warmup_ms[2] = {0, 0};  // starting the standby plan where a partition plan sits in SRAM
  bool standby_beside_partition[2] = {};  // both fit in SRAM: no warm-up in split mode

  // When a fault of this kind, hitting a stage at `onset` that would end at
  // `stage_end`, is detected. A hang: the engine's last beat is the one at or
  // before the onset (beats fall on multiples of the period), and the hang is
  // declared when the missed_beats-th beat after it is due.
  double detected_at(FaultKind kind, double onset, double stage_end) const {
    switch (kind) {
      case FaultKind::kCrash:
        return onset + crash_detect_ms;
      case FaultKind::kHang:
        return (std::floor(onset / heartbeat_ms) + missed_beats) * heartbeat_ms;
      default:
        return stage_end;  // wrong outputs and SRAM errors show when the outputs come out
    }
  }
};

uint64_t sram_footprint(const PartitionPlan& plan, uint64_t sram) {
  return std::min<uint64_t>(sram, plan.weight_bytes + plan.peak_activation_bytes);
}

Supervisor make_supervisor(const CompiledModel& plan, const board::BoardType& board,
                           const suite::Scenario& sc) {
  Supervisor s;
  const auto& b = board.supervision();
  if (b.heartbeat_period_ms() > 0) s.heartbeat_ms = b.heartbeat_period_ms();
  if (sc.heartbeat_period_ms() > 0) s.heartbeat_ms = sc.heartbeat_period_ms();
  if (b.missed_beats() > 0) s.missed_beats = b.missed_beats();
  if (b.crash_detect_ms() > 0) s.crash_detect_ms = b.crash_detect_ms();
  if (sc.ftti_ms() > 0) {
    s.ftti_ms = sc.ftti_ms();
  } else if (sc.ftti_preset() == suite::FTTI_STEERING_ASIL_D) {
    s.ftti_ms = 100;
  } else if (sc.ftti_preset() == suite::FTTI_ACCELERATION_ASIL_B) {
    s.ftti_ms = 500;
  } else if (b.ftti_ms() > 0) {
    s.ftti_ms = b.ftti_ms();
  }
  for (int e = 0; e < 2 && e < board.engines_size(); ++e) {
    const auto& engine = board.engines(e);
    const uint64_t partition = std::max(sram_footprint(plan.first, engine.sram_bytes()),
                                        sram_footprint(plan.second, engine.sram_bytes()));
    s.standby_beside_partition[e] =
        !b.standby_always_reloaded() &&
        partition + sram_footprint(plan.standby[e], engine.sram_bytes()) <= engine.sram_bytes();
    const double load_ms =
        engine.bytes_per_second() > 0
            ? static_cast<double>(plan.standby[e].weight_bytes) / engine.bytes_per_second() * 1000
            : 0;
    s.warmup_ms[e] = s.standby_beside_partition[e] ? 0 : b.standby_warmup_ms() + load_ms;
  }
  return s;
}

FaultKind fault_of(Engine::Wait wait, const TaskResult& r) {
  if (wait == Engine::Wait::kCrashed) return FaultKind::kCrash;
  if (wait == Engine::Wait::kHung) return FaultKind::kHang;
  return r.sram_error ? FaultKind::kEcc : FaultKind::kNonFinite;
}

Mode parse_mode(const suite::Scenario& scenario) {
  switch (evals::scenario_mode(scenario)) {
    case evals::ScenarioMode::kSplit:
      return Mode::kSplit;
    case evals::ScenarioMode::kSingle:
      return Mode::kSingle;
    case evals::ScenarioMode::kRedundant:
      return Mode::kRedundant;
    case evals::ScenarioMode::kNoop:
      break;
  }
  throw evals::ScenarioError(
      fmt::format("scenario '{}': mode 'noop' plays no frame; nothing to run", scenario.name()));
}

}  // namespace

namespace {

EvalRun play_once(CompiledRevision& revision, const evals::ClipReader& clip,
                  const suite::Scenario& scenario, const std::vector<suite::MetricSpec>& metrics,
                  const FrameProgress& progress, const RuntimeOptions& options) {
  EvalRun run;
  const auto& iface = revision.iface();
  run.scorer = evals::EvalScorer(metrics, iface);
  const auto& plan = revision.plan();
  const auto& header = clip.header();
  const Mode base_mode = parse_mode(scenario);
  run.mode = scenario.mode().empty() ? "split" : scenario.mode();
  const double fps = scenario.fps() > 0 ? scenario.fps()
                     : header.fps() > 0 ? header.fps()
                                        : revision.board().default_fps();
  const double period = 1000.0 / fps;
  run.period_ms = period;
  const uint32_t miss_limit = scenario.miss_limit() ? scenario.miss_limit() : 3;
  const Supervisor supervisor = make_supervisor(plan, revision.board(), scenario);
  run.ftti_ms = supervisor.ftti_ms;
  int cmd = scenario.commander() == 1 ? 1 : 0;
  auto faults = resolve_faults(scenario, cmd);

  // Expected device time per plan, to plan ahead (which engine can recompute a
  // late frame sooner); the times charged are each run's own.
  const double expected_first = revision.engine(0).first->expected_device_us() / 1000;
  const double expected_second = revision.engine(1).second->expected_device_us() / 1000;
  const double link_ms = plan.transfer_us / 1000;
  const double expected_standby[2] = {revision.engine(0).standby->expected_device_us() / 1000,
                                      revision.engine(1).standby->expected_device_us() / 1000};
  run.split_period_ms = plan.split_period_us() / 1000;

  // What the metrics score against must be in the clip (checked at
  // submission too; a board handed such a clip anyway fails the eval).
  std::set<std::string> needed_truth;
  for (const auto& m : metrics) {
    for (const auto& t : evals::required_truth(m, iface)) {
      if (!evals::has_truth(header, t)) {
        throw evals::ClipError(
            clip.name(), -1, 8,
            fmt::format("metric '{}' needs ground truth '{}', which the clip does not carry",
                        m.name(), t));
      }
      needed_truth.insert(t);
    }
  }
  InputBuilder builder(iface, plan.graph_inputs, clip);
  const evals::HeadDecoders heads(iface, header);
  const bool has_control = evals::has_control_head(iface);
  // Graph outputs the extender's partition produces: they reach the
  // commander's outputs through the cut, in split mode.
  std::vector<std::string> passed_outputs;
  for (const auto& o : plan.graph_outputs) {
    for (const auto& t : plan.cut_tensors) {
      if (t.name == o.name) passed_outputs.push_back(o.name);
    }
  }

  Engine engine0(0, revision.engine(0), &faults, options),
      engine1(1, revision.engine(1), &faults, options);
  Engine* engines[2] = {&engine0, &engine1};
  bool alive[2] = {true, true};
  uint32_t failed_at[2] = {0, 0};
  double free_at[2] = {0, 0};   // emulated time each engine is free
  uint32_t misses[2] = {0, 0};  // consecutive deadline misses with an overrun on that engine
  uint32_t streak_start[2] = {0, 0};
  // Whether each engine's standby plan is ready to run at once: always in
  // single and redundant modes (the standby plan is what runs); in split mode
  // only when it fits in SRAM beside the partition plan.
  auto standby_ready_in = [&](Mode m, int e) {
    return m != Mode::kSplit || supervisor.standby_beside_partition[e];
  };
  bool standby_ready[2] = {standby_ready_in(base_mode, 0), standby_ready_in(base_mode, 1)};
  Mode mode = base_mode;
  const uint32_t n = clip.frame_count();
  uint32_t resume_at =
      0;  // frames before it are dropped: the survivor of a late failover cannot make them

  std::map<uint32_t, hil::clip::Frame> frames;
  auto frame_at = [&](uint32_t t) -> const hil::clip::Frame& {
    auto it = frames.find(t);
    if (it == frames.end()) it = frames.emplace(t, clip.frame(t)).first;
    return it->second;
  };
  auto inputs_of = [&](uint32_t t) {
    // A frame of a clip that lists some truth but carries none would be scored
    // against zeros: refuse it.
    const auto& f = frame_at(t);
    for (const auto& token : needed_truth) {
      const bool present = token == evals::truth::kControl    ? f.has_control()
                           : token == evals::truth::kOdometry ? f.has_odometry()
                           : token == evals::truth::kEgo ? f.has_labels() && f.labels().has_ego()
                                                         : f.has_labels();
      if (!present) {
        throw evals::ClipError(
            clip.name(), t, 0,
            fmt::format("frame has no ground truth '{}' to score against, though the clip lists it",
                        token));
      }
    }
    return builder.build(t, frame_at);
  };
  auto slow = [&](int e, uint32_t t) {
    double s = 1;
    for (const auto& f : faults) {
      if (f.engine == e && !f.cleared && f.kind == FaultKind::kSlow && f.frame <= t)
        s = std::max(s, f.factor);
    }
    return s;
  };
  auto note = [&](const std::string& s) { run.events.push_back(s); };

  auto fail_engine = [&](int e, uint32_t t, const std::string& why) {
    alive[e] = false;
    failed_at[e] = t;
    misses[e] = 0;
    note(fmt::format("frame {}: engine {} failed ({})", t, e, why));
  };

  // Runs the standby plan for frame t on engine e; nothing when that engine
  // fails too.
  auto standby_on = [&](int e, uint32_t t, const TensorMap& in) -> std::optional<TaskResult> {
    engines[e]->submit({t, Plan::kStandby, in});
    TaskResult r;
    auto w = engines[e]->wait(&r);
    if (w != Engine::Wait::kDone || !all_finite(r.outputs)) {
      fail_engine(e, t, fault_kind_name(fault_of(w, r)));
      return std::nullopt;
    }
    return r;
  };

  // A fault on engine `failed`, hitting a stage of frame t at `onset`: the event
  // with its detection, derived from the board's supervision.
  auto fault_event = [&](int failed, uint32_t t, FaultKind kind, double onset, double stage_end,
                         bool transient) {
    FailoverEvent ev;
    ev.frame = t;
    ev.failed_engine = failed;
    ev.kind = kind;
    ev.was_commander = failed == cmd;
    ev.transient = transient;
    const double detect = supervisor.detected_at(kind, onset, stage_end);
    ev.detection_ms = detect - onset;
    ev.detection_frames =
        static_cast<uint32_t>(std::max(0.0, std::floor((detect - t * period) / period)));
    return std::pair{ev, detect};
  };

  // After detection, the survivor starts its standby plan (warming it up
  // first when a partition plan held its SRAM) and computes frame t. Sets the
  // event's switchover, or marks it unrecovered when the survivor faults too.
  auto take_over = [&](int survivor, uint32_t t, const TensorMap& in, FailoverEvent& ev,
                       double detect, double* emission) -> std::optional<TensorMap> {
    ev.warmup_ms = standby_ready[survivor] ? 0 : supervisor.warmup_ms[survivor];
    const double start = std::max({detect, free_at[survivor], t * period}) + ev.warmup_ms;
    std::optional<TaskResult> r;
    if (alive[survivor]) r = standby_on(survivor, t, in);
    if (!r) {
      ev.recovered = false;
      ev.within_ftti = false;
      note(fmt::format("frame {}: no engine left to command", t));
      return std::nullopt;
    }
    *emission = start + r->device_ms * slow(survivor, t);
    free_at[survivor] = *emission;
    ev.switchover_ms = *emission - detect;
    ev.within_ftti = ev.detection_ms + ev.switchover_ms <= supervisor.ftti_ms;
    // Frames the survivor cannot serve in time any more are dropped, not queued.
    uint32_t next = t + 1;
    while (next < n &&
           std::max(next * period, *emission) + expected_standby[survivor] > (next + 2) * period)
      ++next;
    resume_at = std::max(resume_at, next);
    return std::move(r->outputs);
  };
  auto record = [&](FailoverEvent ev) {
    run.scorer.add_failover(ev.detection_ms, ev.switchover_ms, ev.within_ftti);
    if (!ev.within_ftti) {
      note(fmt::format(
          "frame {}: engine {} {}: {} (detected in {:.2f} ms, FTTI {:.0f} ms)", ev.frame,
          ev.failed_engine, fault_kind_name(ev.kind),
          ev.recovered
              ? fmt::format("survivor commanded {:.2f} ms later, beyond the FTTI", ev.switchover_ms)
              : std::string("never recovered"),
          ev.detection_ms, supervisor.ftti_ms));
    }
    run.failovers.push_back(ev);
  };
  auto become_single = [&](int survivor) {
    cmd = survivor;
    mode = Mode::kSingle;
    standby_ready[survivor] = true;
  };

  // Split-mode pipeline state: A(t) computed ahead by the extender.
  std::optional<TensorMap> next_a;
  double next_a_end = 0;
  bool next_a_overrun = false;
  // A fault found on the extender's side that the commander must cover next frame.
  std::optional<FailoverEvent> pending;
  double pending_detect = 0;

  const auto eval_start = Clock::now();
  for (uint32_t t = 0; t < n; ++t) {
    const auto host_start = Clock::now();
    const double frame_start = t * period;
    evals::FrameRecord rec;
    std::optional<TensorMap> out;
    double emission = 0;
    bool overrun[2] = {false, false};  // a stage far over its expected time on this frame
    std::optional<int> rescued_by;

    // Rejoin a recovered engine at a frame boundary.
    for (int e = 0; e < 2; ++e) {
      if (!alive[e] && scenario.rejoin_after() > 0 && t == failed_at[e] + scenario.rejoin_after()) {
        engines[e]->recover(t);
        alive[e] = true;
        free_at[e] = std::max(free_at[e], frame_start);
        next_a.reset();
        if (alive[1 - e]) {
          mode = base_mode;
          for (int k = 0; k < 2; ++k) standby_ready[k] = standby_ready_in(mode, k);
          note(fmt::format("frame {}: engine {} recovered and rejoined as {}", t, e,
                           base_mode == Mode::kSplit ? "extender" : "standby"));
        } else {
          become_single(e);
          note(fmt::format("frame {}: engine {} recovered and commands alone", t, e));
        }
      }
    }
    // Swap roles at a frame boundary on request: the command stream continues.
    if (std::find(scenario.swap_at().begin(), scenario.swap_at().end(), t) !=
            scenario.swap_at().end() &&
        alive[0] && alive[1]) {
      cmd = 1 - cmd;
      note(fmt::format("frame {}: roles swapped, engine {} commands", t, cmd));
    }
    const int ext = 1 - cmd;
    if (!alive[ext] && mode != Mode::kSingle) become_single(cmd);
    const bool skipped = t < resume_at || !alive[cmd];

    if (skipped) {
      rec.mode = static_cast<int>(mode);
    } else if (pending) {
      // The extender failed while preparing this frame: the commander covers it alone.
      const TensorMap in = inputs_of(t);
      rec.mode = static_cast<int>(Mode::kSingle);
      auto ev = *pending;
      out = take_over(cmd, t, in, ev, pending_detect, &emission);
      if (out) {
        rec.failover = true;
        if (ev.transient)
          note(fmt::format("frame {}: extender ECC error; commander recomputed the frame", t));
      }
      if (!ev.transient && out) become_single(cmd);
      record(ev);
      pending.reset();
      next_a.reset();
    } else if (mode == Mode::kSplit) {
      const TensorMap in = inputs_of(t);
      rec.mode = static_cast<int>(Mode::kSplit);
      if (!next_a) {
        // Entering split mode (start, rejoin, after a transient): compute A(t) now.
        engines[ext]->submit({t, Plan::kFirst, in});
        TaskResult r;
        auto w = engines[ext]->wait(&r);
        const double a_start = std::max(frame_start, free_at[ext]);
        if (w == Engine::Wait::kDone && all_finite(r.outputs) && !r.sram_error) {
          next_a = std::move(r.outputs);
          next_a_end = a_start + r.device_ms * slow(ext, t);
          next_a_overrun = r.device_ms * slow(ext, t) > 1.5 * expected_first;
          free_at[ext] = next_a_end;
        } else {
          const FaultKind kind = fault_of(w, r);
          const bool transient = kind == FaultKind::kEcc;
          if (!transient) fail_engine(ext, t, fault_kind_name(kind));
          auto [ev, detect] =
              fault_event(ext, t, kind, a_start, a_start + r.device_ms * slow(ext, t), transient);
          pending = ev;
          pending_detect = detect;
          --t;  // replay this frame with the commander alone
          continue;
        }
      }
      // Commander: B(t) from A(t); extender: A(t+1), in parallel on the host.
      TensorMap b_in = std::move(*next_a);
      next_a.reset();
      overrun[ext] = next_a_overrun;
      TensorMap passed;
      for (const auto& name : passed_outputs) passed[name] = b_in.at(name);
      for (const auto& [k, v] : in) b_in.emplace(k, v);
      engines[cmd]->submit({t, Plan::kSecond, std::move(b_in)});
      const bool prefetch = t + 1 < n;
      if (prefetch) engines[ext]->submit({t + 1, Plan::kFirst, inputs_of(t + 1)});

      const double b_start = std::max(next_a_end + link_ms, free_at[cmd]);
      TaskResult rb;
      const auto wb = engines[cmd]->wait(&rb);
      const double b_time = rb.device_ms * slow(cmd, t);
      const bool cmd_ok = wb == Engine::Wait::kDone && all_finite(rb.outputs);
      if (cmd_ok) {
        out = std::move(rb.outputs);
        for (auto& [name, tensor] : passed) out->emplace(name, std::move(tensor));
        emission = b_start + b_time;
        free_at[cmd] = emission;
        overrun[cmd] = b_time > 1.5 * expected_second;
      }
      // The extender's A(t+1) (host: may already be done).
      TaskResult ra;
      Engine::Wait wa = Engine::Wait::kDone;
      if (prefetch) wa = engines[ext]->wait(&ra);
      const double a_start = std::max((t + 1) * period, free_at[ext]);

      if (!cmd_ok) {
        // Commander fault: the extender takes over with its standby plan for
        // this very frame; its A(t+1) work is abandoned.
        const FaultKind kind = fault_of(wb, rb);
        const bool transient = kind == FaultKind::kEcc;
        auto [ev, detect] = fault_event(cmd, t, kind, b_start, b_start + b_time, transient);
        if (!transient) fail_engine(cmd, t, fault_kind_name(kind));
        if (prefetch && wa != Engine::Wait::kDone) fail_engine(ext, t + 1, "hang during takeover");
        out = take_over(ext, t, in, ev, detect, &emission);
        if (out) {
          rec.failover = true;
          if (!transient) {
            become_single(ext);
            note(fmt::format("frame {}: engine {} takes over as commander on its standby plan", t,
                             cmd));
          } else {
            note(fmt::format("frame {}: commander ECC error; extender recomputed the frame", t));
          }
        }
        record(ev);
        next_a.reset();
      } else if (prefetch) {
        if (wa == Engine::Wait::kDone && all_finite(ra.outputs) && !ra.sram_error) {
          next_a = std::move(ra.outputs);
          next_a_end = a_start + ra.device_ms * slow(ext, t + 1);
          next_a_overrun = ra.device_ms * slow(ext, t + 1) > 1.5 * expected_first;
          free_at[ext] = next_a_end;
        } else {
          const FaultKind kind = fault_of(wa, ra);
          const bool transient = kind == FaultKind::kEcc;
          if (!transient) fail_engine(ext, t + 1, fault_kind_name(kind));
          auto [ev, detect] = fault_event(ext, t + 1, kind, a_start,
                                          a_start + ra.device_ms * slow(ext, t + 1), transient);
          pending = ev;
          pending_detect = detect;
        }
      }
    } else {
      // Single (one engine, the other hot standby) or redundant (both compute).
      const TensorMap in = inputs_of(t);
      rec.mode = static_cast<int>(mode);
      const bool both = mode == Mode::kRedundant && alive[ext];
      engines[cmd]->submit({t, Plan::kStandby, in});
      if (both) {
        engines[ext]->submit({t, Plan::kStandby, in});
      } else if (alive[ext]) {
        engines[ext]->submit({t, Plan::kPing, {}});  // the standby's heartbeat
      }
      const double start = std::max(frame_start, free_at[cmd]);
      TaskResult rc, ro;
      const auto wc = engines[cmd]->wait(&rc);
      const double time = rc.device_ms * slow(cmd, t);
      Engine::Wait wo = Engine::Wait::kDone;
      if (alive[ext]) wo = engines[ext]->wait(&ro);
      const double other_start = std::max(frame_start, free_at[ext]);
      const double other_end = other_start + ro.device_ms * slow(ext, t);
      const bool cmd_ok = wc == Engine::Wait::kDone && all_finite(rc.outputs);
      const bool other_ok =
          alive[ext] && wo == Engine::Wait::kDone && (!both || all_finite(ro.outputs));
      if (alive[ext] && !other_ok) {
        const FaultKind kind = fault_of(wo, ro);
        if (kind != FaultKind::kEcc) fail_engine(ext, t, fault_kind_name(kind));
      }
      if (cmd_ok) {
        out = std::move(rc.outputs);
        emission = start + time;
        free_at[cmd] = emission;
        overrun[cmd] = time > 1.5 * expected_standby[cmd];
        if (both && other_ok) {
          free_at[ext] = other_end;
          rec.mismatch = !same_outputs(*out, ro.outputs);
          if (rec.mismatch) note(fmt::format("frame {}: redundant engines disagree", t));
        }
      } else {
        const FaultKind kind = fault_of(wc, rc);
        const bool transient = kind == FaultKind::kEcc;
        auto [ev, detect] = fault_event(cmd, t, kind, start, start + time, transient);
        if (!transient) fail_engine(cmd, t, fault_kind_name(kind));
        if (both && other_ok) {
          // The other engine already computed this frame.
          out = std::move(ro.outputs);
          emission = std::max(detect, other_end);
          free_at[ext] = emission;
          ev.switchover_ms = emission - detect;
          ev.within_ftti = ev.detection_ms + ev.switchover_ms <= supervisor.ftti_ms;
        } else {
          out = take_over(ext, t, in, ev, detect, &emission);
        }
        if (out) {
          rec.failover = true;
          if (!transient) {
            become_single(ext);
            note(fmt::format("frame {}: engine {} takes over as commander", t, cmd));
          }
        }
        record(ev);
      }
    }

    // Deadline watchdog. A frame whose command is not out at its deadline is
    // counted against the engine whose stage overran; the frame is recomputed
    // on the other engine's standby plan when that is sooner (the command is
    // late but not lost); K misses in a row fail the slow engine.
    if (out && emission - frame_start > period) {
      for (int e = 0; e < 2; ++e) {
        if (!overrun[e]) continue;
        if (misses[e]++ == 0) streak_start[e] = t;
      }
      int rescuer = -1;
      double best = emission;
      for (int e = 0; e < 2; ++e) {
        if (!alive[e] || overrun[e]) continue;
        const double warmup = standby_ready[e] ? 0 : supervisor.warmup_ms[e];
        const double done =
            std::max(frame_start + period, free_at[e]) + warmup + expected_standby[e] * slow(e, t);
        if (done < best) {
          best = done;
          rescuer = e;
        }
      }
      if (rescuer >= 0) {
        const double warmup = standby_ready[rescuer] ? 0 : supervisor.warmup_ms[rescuer];
        const double rescue_start = std::max(frame_start + period, free_at[rescuer]) + warmup;
        if (auto r = standby_on(rescuer, t, inputs_of(t))) {
          out = std::move(r->outputs);
          emission = rescue_start + r->device_ms * slow(rescuer, t);
          free_at[rescuer] = emission;
          rescued_by = rescuer;
          note(
              fmt::format("frame {}: deadline missed; engine {} recomputed the frame", t, rescuer));
        }
      }
    } else if (!skipped) {
      misses[0] = misses[1] = 0;
    }
    for (int e = 0; e < 2; ++e) {
      if (alive[e] && misses[e] >= miss_limit && alive[1 - e]) {
        // Detected at the deadline of the last miss; the survivor commands the
        // next frame on its standby plan, warmed up first if need be.
        const uint32_t onset = streak_start[e];
        const int survivor = 1 - e;
        const double detect = frame_start + period;
        fail_engine(e, t, fmt::format("{} consecutive deadline misses", miss_limit));
        FailoverEvent ev;
        ev.frame = onset;
        ev.failed_engine = e;
        ev.kind = FaultKind::kSlow;
        ev.was_commander = e == cmd;
        ev.detection_ms = detect - onset * period;
        ev.detection_frames = miss_limit;
        ev.warmup_ms = standby_ready[survivor] ? 0 : supervisor.warmup_ms[survivor];
        free_at[survivor] = std::max(detect, free_at[survivor]) + ev.warmup_ms;
        ev.switchover_ms =
            free_at[survivor] + expected_standby[survivor] * slow(survivor, t + 1) - detect;
        ev.within_ftti = ev.detection_ms + ev.switchover_ms <= supervisor.ftti_ms;
        record(ev);
        become_single(survivor);
        next_a.reset();
        note(fmt::format("frame {}: engine {} takes over as commander", t, cmd));
      }
    }

    rec.commander = rescued_by.value_or(cmd);
    bool in_time = false;
    if (out) {
      rec.device_ms = emission - frame_start;
      // Outputs later than the next frame's deadline are useless: dropped.
      in_time = rec.device_ms <= 2 * period;
      if (in_time) rec.outputs = heads.decode(tensor_views(*out));
    } else {
      rec.device_ms = 2 * period;
    }
    rec.outputs.set_has_outputs(in_time);
    rec.has_command = in_time && has_control;
    rec.deadline_missed = rec.device_ms > period;
    if (!in_time) {
      rec.outputs.clear_heads();
      if (!run.failovers.empty() && run.failovers.back().frame <= t)
        run.failovers.back().gap_frames++;
      note(fmt::format("frame {}: no {}", t, has_control ? "command" : "outputs"));
    }
    rec.host_ms = std::chrono::duration<double, std::milli>(Clock::now() - host_start).count();
    run.scorer.add_frame(frame_at(t), rec);
    run.frames.push_back(rec);
    frames.erase(t);
    if (progress && !progress(t + 1)) break;
  }
  run.host_seconds = std::chrono::duration<double>(Clock::now() - eval_start).count();
  run.decode_seconds = builder.decode_seconds();
  run.preprocess_seconds = builder.preprocess_seconds();
  return run;
}

}  // namespace

EvalRun play_eval(CompiledRevision& revision, const evals::ClipReader& clip,
                  const suite::Scenario& scenario, const std::vector<suite::MetricSpec>& metrics,
                  const FrameProgress& progress, const RuntimeOptions& options) {
  // Emulated device time is the same every play; measured time varies, so a
  // measuring board plays the clip several times and each frame's device time
  // is the median of its plays (the outputs, identical, are the first play's).
  const uint32_t repeats =
      revision.measures_time() ? (scenario.latency_repeats() ? scenario.latency_repeats() : 3) : 1;
  const uint32_t n = clip.frame_count();
  uint32_t play = 0;
  auto scaled = [&](uint32_t frames) {
    return !progress || progress(std::min<uint32_t>(n, (play * n + frames) / repeats));
  };
  EvalRun first = play_once(revision, clip, scenario, metrics, scaled, options);
  if (repeats <= 1 || first.frames.size() < n) return first;
  std::vector<std::vector<double>> device(first.frames.size());
  for (size_t k = 0; k < first.frames.size(); ++k) device[k].push_back(first.frames[k].device_ms);
  for (play = 1; play < repeats; ++play) {
    auto again = play_once(revision, clip, scenario, metrics, scaled, options);
    if (again.frames.size() < n) return first;  // aborted: the lease was lost
    for (size_t k = 0; k < device.size(); ++k) device[k].push_back(again.frames[k].device_ms);
    first.host_seconds += again.host_seconds;
  }
  evals::EvalScorer scorer(metrics, revision.iface());
  for (size_t k = 0; k < first.frames.size(); ++k) {
    auto& rec = first.frames[k];
    auto& d = device[k];
    std::sort(d.begin(), d.end());
    rec.device_ms = d[d.size() / 2];
    rec.deadline_missed = rec.device_ms > first.period_ms;
    scorer.add_frame(clip.frame(static_cast<uint32_t>(k)), rec);
  }
  for (const auto& ev : first.failovers)
    scorer.add_failover(ev.detection_ms, ev.switchover_ms, ev.within_ftti);
  first.scorer = std::move(scorer);
  first.events.push_back(
      fmt::format("device time measured: each frame's is the median of {} plays", repeats));
  return first;
}

}  // namespace hil::dual_engine
