#include "hil/dual_engine/runtime.h"

#include <algorithm>
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

namespace hil::dual_engine {

CompiledRevision::CompiledRevision(const Model& model, const board::BoardType& board, EngineBackend* backend)
    : board_(board), iface_(revision_interface(model)), plan_(compile(model, board)) {
  std::unique_ptr<EngineBackend> emulated;
  if (!backend) {
    emulated = make_emulated_backend();
    backend = emulated.get();
  }
  for (int e = 0; e < 2; ++e) {
    engines_[e].first = backend->load(plan_.first, e);
    engines_[e].second = backend->load(plan_.second, e);
    engines_[e].standby = backend->load(plan_.standby[e], e);
  }
}

const char* fault_kind_name(FaultKind kind) {
  switch (kind) {
    case FaultKind::kCrash: return "crash";
    case FaultKind::kHang: return "hang";
    case FaultKind::kSlow: return "slow";
    case FaultKind::kNonFinite: return "nan";
    default: return "ecc";
  }
}

suite::Fault parse_fault(const std::string& text) {
  auto colon = text.find(':');
  auto at = text.rfind('@');
  if (colon == std::string::npos || at == std::string::npos || at < colon) {
    throw std::invalid_argument(fmt::format("fault '{}': expected ENGINE:KIND@FRAME, e.g. commander:crash@12", text));
  }
  suite::Fault f;
  f.set_engine(text.substr(0, colon));
  f.set_kind(text.substr(colon + 1, at - colon - 1));
  try {
    f.set_frame(static_cast<uint32_t>(std::stoul(text.substr(at + 1))));
  } catch (const std::exception&) {
    throw std::invalid_argument(fmt::format("fault '{}': frame '{}' is not a number", text, text.substr(at + 1)));
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

std::vector<ResolvedFault> resolve_faults(const suite::Scenario& sc, int commander) {
  std::vector<ResolvedFault> out;
  for (const auto& f : sc.faults()) {
    ResolvedFault r;
    r.frame = f.frame();
    if (f.engine() == "commander") {
      r.engine = commander;
    } else if (f.engine() == "extender") {
      r.engine = 1 - commander;
    } else if (f.engine() == "0" || f.engine() == "1") {
      r.engine = f.engine() == "1";
    } else {
      throw std::invalid_argument(fmt::format("fault engine '{}': expected commander, extender, 0 or 1", f.engine()));
    }
    const auto& k = f.kind();
    if (k == "crash") {
      r.kind = FaultKind::kCrash;
    } else if (k == "hang") {
      r.kind = FaultKind::kHang;
    } else if (k == "nan") {
      r.kind = FaultKind::kNonFinite;
    } else if (k == "ecc") {
      r.kind = FaultKind::kEcc;
    } else if (k.rfind("slow", 0) == 0) {
      r.kind = FaultKind::kSlow;
      r.factor = 2;
      if (k.size() > 5 && k[4] == ':') {
        try {
          r.factor = std::stod(k.substr(5));
        } catch (const std::exception&) {
          throw std::invalid_argument(fmt::format("fault kind '{}': slow:N needs a number", k));
        }
      }
      if (!(r.factor >= 1 && r.factor <= 1000)) throw std::invalid_argument(fmt::format("fault kind '{}': N must be 1..1000", k));
    } else {
      throw std::invalid_argument(fmt::format("fault kind '{}': expected crash, hang, slow:N, nan or ecc", k));
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
  double device_ms = 0;  // the backend's device time for this run
  bool ecc = false;      // the hardware reported an uncorrectable SRAM error
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
// stops answering (hang), or returns poisoned tensors (nan, ecc).
class Engine {
 public:
  enum class Wait { kDone, kCrashed, kHung };

  Engine(int id, CompiledRevision::EnginePrograms& ex, std::vector<ResolvedFault>* faults)
      : id_(id), ex_(ex), faults_(faults) {
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

  // Waits for the oldest outstanding result; a dead thread is seen at once, a
  // silent one after the watchdog's timeout.
  Wait wait(TaskResult* out, double timeout_ms) {
    std::unique_lock lock(mu_);
    bool ready = cv_.wait_for(lock, std::chrono::duration<double, std::milli>(timeout_ms),
                              [&] { return !results_.empty() || dead_; });
    if (!results_.empty()) {
      *out = std::move(results_.front());
      results_.pop_front();
      return Wait::kDone;
    }
    if (dead_) return Wait::kCrashed;
    (void)ready;
    return Wait::kHung;
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
  void loop() {
    for (;;) {
      Task task;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return shutdown_ || !tasks_.empty(); });
        if (shutdown_) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
        for (auto& f : *faults_) {
          if (f.engine != id_ || f.cleared || f.frame > task.frame) continue;
          if (f.kind == FaultKind::kCrash) {
            dead_ = true;
            cv_.notify_all();
            return;  // the thread dies; its queue is lost
          }
          if (f.kind == FaultKind::kHang) {
            hung_ = true;
            cv_.wait(lock, [&] { return shutdown_ || release_; });
            hung_ = false;
            cv_.notify_all();
            if (shutdown_) return;
            task.plan = Plan::kPing;  // the reset dropped it
            goto next;
          }
        }
      }
      {
        TaskResult r;
        r.frame = task.frame;
        EngineStatus status = EngineStatus::kOk;
        try {
          EngineProgram* program = task.plan == Plan::kFirst    ? ex_.first.get()
                                   : task.plan == Plan::kSecond ? ex_.second.get()
                                   : task.plan == Plan::kStandby ? ex_.standby.get()
                                                                 : nullptr;
          if (program) {
            auto run = program->run(task.inputs);
            status = run.status;
            r.outputs = std::move(run.outputs);
            r.device_ms = run.device_us / 1000;
          }
        } catch (const std::exception&) {
          // A backend that throws has faulted: to the watchdog, a crash.
          status = EngineStatus::kCrashed;
        }
        if (status == EngineStatus::kCrashed || status == EngineStatus::kHung) {
          std::lock_guard lock(mu_);
          dead_ = true;
          cv_.notify_all();
          return;
        }
        r.ecc = status == EngineStatus::kSramError;
        bool poison = r.ecc;
        for (const auto& f : *faults_) {
          if (f.engine != id_ || f.cleared || f.frame > task.frame) continue;
          if (f.kind == FaultKind::kNonFinite) poison = true;
          if (f.kind == FaultKind::kEcc && f.frame == task.frame) poison = r.ecc = true;
        }
        if (poison) {
          for (auto& [name, t] : r.outputs) std::fill(t.data.begin(), t.data.end(), NAN);
        }
        std::lock_guard lock(mu_);
        results_.push_back(std::move(r));
      }
      cv_.notify_all();
    next:;
    }
  }

  int id_;
  CompiledRevision::EnginePrograms& ex_;
  std::vector<ResolvedFault>* faults_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> tasks_;
  std::deque<TaskResult> results_;
  bool shutdown_ = false, release_ = false, hung_ = false;
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

}  // namespace

EvalRun play_eval(CompiledRevision& revision, const evals::ClipReader& clip, const suite::Scenario& scenario,
                  const std::vector<suite::MetricSpec>& metrics, const FrameProgress& progress,
                  const RuntimeOptions& options) {
  EvalRun run;
  const auto& iface = revision.iface();
  run.scorer = evals::EvalScorer(metrics, iface);
  const auto& plan = revision.plan();
  const auto& header = clip.header();
  const std::string mode_text = scenario.mode().empty() ? "split" : scenario.mode();
  Mode base_mode;
  if (mode_text == "split") {
    base_mode = Mode::kSplit;
  } else if (mode_text == "single") {
    base_mode = Mode::kSingle;
  } else if (mode_text == "redundant") {
    base_mode = Mode::kRedundant;
  } else {
    throw std::invalid_argument(fmt::format("scenario '{}': mode '{}' is not split, single or redundant", scenario.name(), mode_text));
  }
  run.mode = mode_text;
  const double fps = scenario.fps() > 0 ? scenario.fps() : header.fps() > 0 ? header.fps() : revision.board().default_fps();
  const double P = 1000.0 / fps;
  run.period_ms = P;
  const double D = scenario.heartbeat_timeout_ms() > 0 ? scenario.heartbeat_timeout_ms() : P / 4;
  const uint32_t miss_limit = scenario.miss_limit() ? scenario.miss_limit() : 3;
  const double ftti = scenario.ftti_ms() > 0 ? scenario.ftti_ms() : 100.0;
  int cmd = scenario.commander() == 1 ? 1 : 0;
  auto faults = resolve_faults(scenario, cmd);

  // Device time per plan, from the backend (the cost model on emulated boards).
  const double cost_first = revision.engine(0).first->expected_device_us() / 1000;
  const double cost_second = revision.engine(1).second->expected_device_us() / 1000;
  const double cost_link = plan.transfer_us / 1000;
  const double cost_standby[2] = {revision.engine(0).standby->expected_device_us() / 1000,
                                  revision.engine(1).standby->expected_device_us() / 1000};
  run.split_period_ms = plan.split_period_us() / 1000;

  // What the metrics score against must be in the clip (checked at
  // submission too; a board handed such a clip anyway fails the eval).
  for (const auto& m : metrics) {
    for (const auto& t : evals::required_truth(m, iface)) {
      if (!evals::has_truth(header, t)) {
        throw evals::ClipError(clip.name(), -1, 8,
                               fmt::format("metric '{}' needs ground truth '{}', which the clip does not carry", m.name(), t));
      }
    }
  }
  std::set<std::string> needed_truth;
  for (const auto& m : metrics) {
    for (const auto& t : evals::required_truth(m, iface)) needed_truth.insert(t);
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

  Engine engine0(0, revision.engine(0), &faults), engine1(1, revision.engine(1), &faults);
  Engine* engines[2] = {&engine0, &engine1};
  bool alive[2] = {true, true};
  uint32_t failed_at[2] = {0, 0};
  double free_at[2] = {0, 0};     // emulated time each engine is free
  uint32_t misses[2] = {0, 0};    // consecutive deadline misses with an overrun on that engine
  uint32_t streak_start[2] = {0, 0};
  Mode mode = base_mode;
  const uint32_t n = clip.frame_count();

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
                           : token == evals::truth::kEgo      ? f.has_labels() && f.labels().has_ego()
                                                              : f.has_labels();
      if (!present) {
        throw evals::ClipError(clip.name(), t, 0,
                               fmt::format("frame has no ground truth '{}' to score against, though the clip lists it",
                                           token));
      }
    }
    return builder.build(t, frame_at);
  };
  auto slow = [&](int e, uint32_t t) {
    double s = 1;
    for (const auto& f : faults) {
      if (f.engine == e && !f.cleared && f.kind == FaultKind::kSlow && f.frame <= t) s = std::max(s, f.factor);
    }
    return s;
  };
  auto note = [&](const std::string& s) { run.events.push_back(s); };

  // Split-mode pipeline state: A(t) computed ahead by the extender.
  std::optional<TensorMap> next_a;
  double next_a_end = 0;
  bool next_a_overrun = false;
  // A fault found on the extender's side that the commander must cover next frame.
  struct Pending {
    double detect_at;
    FailoverEvent event;
  };
  std::optional<Pending> pending;

  auto fail_engine = [&](int e, uint32_t t, const std::string& why) {
    alive[e] = false;
    failed_at[e] = t;
    misses[e] = 0;
    note(fmt::format("frame {}: engine {} failed ({})", t, e, why));
  };

  // Runs the standby plan for frame t on engine e, in host time; returns
  // nullopt when that engine fails too.
  auto standby_on = [&](int e, uint32_t t, const TensorMap& in) -> std::optional<TensorMap> {
    engines[e]->submit({t, Plan::kStandby, in});
    TaskResult r;
    auto w = engines[e]->wait(&r, options.host_watchdog_ms);
    if (w != Engine::Wait::kDone) {
      fail_engine(e, t, w == Engine::Wait::kCrashed ? "crash" : "hang");
      return std::nullopt;
    }
    if (!all_finite(r.outputs)) {
      fail_engine(e, t, "non-finite output");
      return std::nullopt;
    }
    return r.outputs;
  };

  const auto eval_start = Clock::now();
  for (uint32_t t = 0; t < n; ++t) {
    const auto host_start = Clock::now();
    const double T = t * P;
    evals::FrameRecord rec;
    TensorMap in = inputs_of(t);
    std::optional<TensorMap> out;
    double emission = 0;
    bool overrun[2] = {false, false};  // a stage far over its planned time on this frame
    std::optional<int> rescued_by;

    // Rejoin a recovered engine at a frame boundary.
    for (int e = 0; e < 2; ++e) {
      if (!alive[e] && scenario.rejoin_after() > 0 && t == failed_at[e] + scenario.rejoin_after() && alive[1 - e]) {
        engines[e]->recover(t);
        alive[e] = true;
        free_at[e] = T;
        mode = base_mode;
        next_a.reset();
        note(fmt::format("frame {}: engine {} recovered and rejoined as {}", t, e,
                         base_mode == Mode::kSplit ? "extender" : "standby"));
      }
    }
    // Swap roles at a frame boundary on request: the command stream continues.
    if (std::find(scenario.swap_at().begin(), scenario.swap_at().end(), t) != scenario.swap_at().end() && alive[0] && alive[1]) {
      cmd = 1 - cmd;
      note(fmt::format("frame {}: roles swapped, engine {} commands", t, cmd));
    }
    const int ext = 1 - cmd;
    if (!alive[ext] && mode != Mode::kSingle) mode = Mode::kSingle;

    if (pending) {
      // The extender failed while preparing this frame: the commander covers it alone.
      const double start = std::max({pending->detect_at, free_at[cmd], T});
      if (auto r = standby_on(cmd, t, in)) {
        out = std::move(r);
        emission = start + cost_standby[cmd] * slow(cmd, t);
        free_at[cmd] = emission;
        pending->event.switchover_ms = emission - pending->detect_at;
        pending->event.within_ftti = pending->event.detection_ms + pending->event.switchover_ms <= ftti;
        if (pending->event.transient) {
          note(fmt::format("frame {}: extender ECC error; commander recomputed the frame", t));
        }
        run.scorer.add_failover(pending->event.detection_ms, pending->event.switchover_ms);
        run.failovers.push_back(pending->event);
        rec.failover = true;
      }
      rec.mode = static_cast<int>(Mode::kSingle);
      pending.reset();
      next_a.reset();
    } else if (mode == Mode::kSplit) {
      rec.mode = static_cast<int>(Mode::kSplit);
      if (!next_a) {
        // Entering split mode (start, rejoin, after a transient): compute A(t) now.
        engines[ext]->submit({t, Plan::kFirst, in});
        TaskResult r;
        auto w = engines[ext]->wait(&r, options.host_watchdog_ms);
        double a_start = std::max(T, free_at[ext]);
        if (w == Engine::Wait::kDone && all_finite(r.outputs) && !r.ecc) {
          next_a = std::move(r.outputs);
          next_a_end = a_start + r.device_ms * slow(ext, t);  // the backend's time for this run
          next_a_overrun = slow(ext, t) > 1.5;
          free_at[ext] = next_a_end;
        } else {
          bool transient = w == Engine::Wait::kDone && r.ecc;
          if (!transient) fail_engine(ext, t, w == Engine::Wait::kCrashed ? "crash" : w == Engine::Wait::kHung ? "hang" : "non-finite output");
          double detect = w == Engine::Wait::kDone ? a_start + cost_first : a_start + D;
          FailoverEvent ev{t, ext, transient ? "ecc" : w == Engine::Wait::kCrashed ? "crash" : w == Engine::Wait::kHung ? "hang" : "nan",
                           false, detect - a_start, 0, 0, 0, true, transient};
          pending = Pending{detect, ev};
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

      const double b_start = std::max(next_a_end + cost_link, free_at[cmd]);
      TaskResult rb;
      auto wb = engines[cmd]->wait(&rb, options.host_watchdog_ms);
      const double b_time = (wb == Engine::Wait::kDone ? rb.device_ms : cost_second) * slow(cmd, t);
      bool cmd_ok = wb == Engine::Wait::kDone && all_finite(rb.outputs);
      if (cmd_ok) {
        out = std::move(rb.outputs);
        for (auto& [name, t] : passed) out->emplace(name, std::move(t));
        emission = b_start + b_time;
        free_at[cmd] = emission;
        overrun[cmd] = b_time > 1.5 * cost_second;
      }
      // The extender's A(t+1) (host: may already be done).
      TaskResult ra;
      Engine::Wait wa = Engine::Wait::kDone;
      if (prefetch) wa = engines[ext]->wait(&ra, options.host_watchdog_ms);
      const double a_start = std::max((t + 1) * P, free_at[ext]);

      if (!cmd_ok) {
        // Commander fault: the extender takes over with its standby plan for
        // this very frame; its A(t+1) work is abandoned.
        bool transient = wb == Engine::Wait::kDone && rb.ecc;
        std::string kind = transient ? "ecc" : wb == Engine::Wait::kCrashed ? "crash" : wb == Engine::Wait::kHung ? "hang" : "nan";
        double detect = wb == Engine::Wait::kDone ? b_start + b_time : b_start + D;
        if (!transient) fail_engine(cmd, t, kind);
        FailoverEvent ev{t, cmd, kind, true, detect - b_start, 0, 0, 0, true, transient};
        if (prefetch && wa != Engine::Wait::kDone) fail_engine(ext, t + 1, "hang during takeover");
        std::optional<TensorMap> r;
        if (alive[ext]) r = standby_on(ext, t, in);
        if (r) {
          out = std::move(r);
          emission = detect + cost_standby[ext] * slow(ext, t);
          free_at[ext] = emission;
          ev.switchover_ms = emission - detect;
          ev.within_ftti = ev.detection_ms + ev.switchover_ms <= ftti;
          if (!transient) {
            cmd = ext;
            mode = Mode::kSingle;
            note(fmt::format("frame {}: engine {} takes over as commander on its standby plan", t, cmd));
          } else {
            note(fmt::format("frame {}: commander ECC error; extender recomputed the frame", t));
          }
          run.scorer.add_failover(ev.detection_ms, ev.switchover_ms);
          rec.failover = true;
        }
        run.failovers.push_back(ev);
        next_a.reset();
      } else if (prefetch) {
        bool a_ok = wa == Engine::Wait::kDone && all_finite(ra.outputs) && !ra.ecc;
        if (a_ok) {
          next_a = std::move(ra.outputs);
          next_a_end = a_start + ra.device_ms * slow(ext, t + 1);
          next_a_overrun = slow(ext, t + 1) > 1.5;
          free_at[ext] = next_a_end;
        } else {
          bool transient = wa == Engine::Wait::kDone && ra.ecc;
          std::string kind = transient ? "ecc" : wa == Engine::Wait::kCrashed ? "crash" : wa == Engine::Wait::kHung ? "hang" : "nan";
          if (!transient) fail_engine(ext, t + 1, kind);
          double detect = wa == Engine::Wait::kDone ? a_start + cost_first : a_start + D;
          pending = Pending{detect, FailoverEvent{t + 1, ext, kind, false, detect - a_start, 0, 0, 0, true, transient}};
        }
      }
    } else {
      // Single (one engine, the other hot standby) or redundant (both compute).
      rec.mode = static_cast<int>(mode);
      const bool both = mode == Mode::kRedundant && alive[ext];
      engines[cmd]->submit({t, Plan::kStandby, in});
      if (both) {
        engines[ext]->submit({t, Plan::kStandby, in});
      } else if (alive[ext]) {
        engines[ext]->submit({t, Plan::kPing, {}});  // the standby's heartbeat
      }
      const double start = std::max(T, free_at[cmd]);
      TaskResult rc, ro;
      auto wc = engines[cmd]->wait(&rc, options.host_watchdog_ms);
      Engine::Wait wo = Engine::Wait::kDone;
      if (alive[ext]) wo = engines[ext]->wait(&ro, options.host_watchdog_ms);
      const double time =
          (wc == Engine::Wait::kDone ? rc.device_ms : cost_standby[cmd]) * slow(cmd, t);
      const double other_start = std::max(T, free_at[ext]);
      const double other_end =
          other_start +
          (both && wo == Engine::Wait::kDone ? ro.device_ms : cost_standby[ext]) * slow(ext, t);
      bool cmd_ok = wc == Engine::Wait::kDone && all_finite(rc.outputs);
      bool other_ok = alive[ext] && wo == Engine::Wait::kDone && (!both || all_finite(ro.outputs));
      if (alive[ext] && !other_ok) {
        bool transient = wo == Engine::Wait::kDone && ro.ecc;
        if (!transient) fail_engine(ext, t, wo == Engine::Wait::kCrashed ? "crash" : wo == Engine::Wait::kHung ? "hang" : "non-finite output");
      }
      if (cmd_ok) {
        out = std::move(rc.outputs);
        emission = start + time;
        free_at[cmd] = emission;
        overrun[cmd] = time > 1.5 * cost_standby[cmd];
        if (both && other_ok) {
          free_at[ext] = other_end;
          rec.mismatch = !same_outputs(*out, ro.outputs);
          if (rec.mismatch) note(fmt::format("frame {}: redundant engines disagree", t));
        }
      } else {
        bool transient = wc == Engine::Wait::kDone && rc.ecc;
        std::string kind = transient ? "ecc" : wc == Engine::Wait::kCrashed ? "crash" : wc == Engine::Wait::kHung ? "hang" : "nan";
        double detect = wc == Engine::Wait::kDone ? start + time : start + D;
        if (!transient) fail_engine(cmd, t, kind);
        FailoverEvent ev{t, cmd, kind, true, detect - start, 0, 0, 0, true, transient};
        std::optional<TensorMap> r;
        double ready = 0;
        if (both && other_ok) {
          r = std::move(ro.outputs);  // the other engine already computed this frame
          ready = std::max(detect, other_end);
        } else if (alive[ext]) {
          r = standby_on(ext, t, in);
          ready = std::max(detect, free_at[ext]) + cost_standby[ext] * slow(ext, t);
        }
        if (r) {
          out = std::move(r);
          emission = ready;
          free_at[ext] = ready;
          ev.switchover_ms = emission - detect;
          ev.within_ftti = ev.detection_ms + ev.switchover_ms <= ftti;
          if (!transient) {
            cmd = ext;
            if (mode == Mode::kRedundant) mode = Mode::kSingle;
            note(fmt::format("frame {}: engine {} takes over as commander", t, cmd));
          }
          run.scorer.add_failover(ev.detection_ms, ev.switchover_ms);
          rec.failover = true;
        }
        run.failovers.push_back(ev);
      }
    }

    // Deadline watchdog. A frame whose command is not out at its deadline is
    // counted against the engine whose stage overran; the frame is recomputed
    // on the other engine's standby plan when that is sooner (the command is
    // late but not lost); K misses in a row fail the slow engine.
    if (out && emission - T > P) {
      for (int e = 0; e < 2; ++e) {
        if (!overrun[e]) continue;
        if (misses[e]++ == 0) streak_start[e] = t;
      }
      int rescuer = -1;
      double best = emission;
      for (int e = 0; e < 2; ++e) {
        if (!alive[e] || overrun[e]) continue;
        double done = std::max(T + P, free_at[e]) + cost_standby[e] * slow(e, t);
        if (done < best) {
          best = done;
          rescuer = e;
        }
      }
      if (rescuer >= 0) {
        if (auto r = standby_on(rescuer, t, in)) {
          out = std::move(r);
          emission = best;
          free_at[rescuer] = best;
          rescued_by = rescuer;
          note(fmt::format("frame {}: deadline missed; engine {} recomputed the frame", t, rescuer));
        }
      }
    } else {
      misses[0] = misses[1] = 0;
    }
    for (int e = 0; e < 2; ++e) {
      if (alive[e] && misses[e] >= miss_limit && alive[1 - e]) {
        const uint32_t onset = streak_start[e];
        fail_engine(e, t, fmt::format("{} consecutive deadline misses", miss_limit));
        FailoverEvent ev{onset, e, "slow", e == cmd, (T + P) - onset * P, miss_limit, 0, 0, true, false};
        ev.switchover_ms = cost_standby[1 - e];
        ev.within_ftti = ev.detection_ms + ev.switchover_ms <= ftti;
        run.scorer.add_failover(ev.detection_ms, ev.switchover_ms);
        run.failovers.push_back(ev);
        cmd = 1 - e;
        mode = Mode::kSingle;
        next_a.reset();
        note(fmt::format("frame {}: engine {} takes over as commander", t, cmd));
      }
    }

    rec.commander = rescued_by.value_or(cmd);
    bool in_time = false;
    if (out) {
      rec.device_ms = emission - T;
      // Outputs later than the next frame's deadline are useless: dropped.
      in_time = rec.device_ms <= 2 * P;
      if (in_time) rec.outputs = heads.decode(tensor_views(*out));
    } else {
      rec.device_ms = 2 * P;
    }
    rec.outputs.set_has_outputs(in_time);
    rec.has_command = in_time && has_control;
    rec.deadline_missed = rec.device_ms > P;
    if (!in_time) {
      rec.outputs.clear_heads();
      if (!run.failovers.empty() && run.failovers.back().frame <= t) run.failovers.back().gap_frames++;
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

}  // namespace hil::dual_engine
