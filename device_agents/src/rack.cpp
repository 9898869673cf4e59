#include "hil/device_agents/rack.h"

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "hil/device_agents/blob_cache.h"
#include "hil/device_agents/revision_pool.h"
#include "hil/dual_engine/backend.h"
#include "hil/dual_engine/executor.h"
#include "hil/dual_engine/runtime.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/log.h"
#include "hil/evals/model_interface.h"
#include "hil/evals/suite.h"
#include "hil/harness/asio.h"
#include "hil/harness/connection.h"
#include "hil/harness/wire.h"

namespace hil::device_agents {

using namespace net;
using harness::Connection;

namespace {

struct RunningEval {
  wire::Lease lease;
  std::atomic<bool> cancelled{false};
};

// A bad eval (the revision, clip or scenario as submitted cannot be played)
// fails once and blames no board; an infrastructure fault is the board's and
// is retried elsewhere. infra_error is kept for schedulers before failure_kind.
void fail_result(wire::EvalResult& r, wire::FailureKind kind, const std::string& why) {
  r.set_succeeded(false);
  r.set_failure_kind(kind);
  r.set_infra_error(kind == wire::FAILURE_INFRA);
  r.set_failure(why);
}

}  // namespace

// One board: its connection, leases, engines' backend, and compiled revisions.
class Board : public std::enable_shared_from_this<Board> {
 public:
  Board(Rack::Impl& rack, std::string name, FaultProfile profile, uint64_t seed,
        std::unique_ptr<dual_engine::EngineBackend> backend);
  void connect();
  void drain();
  void stop();
  // Nothing in hand: no eval playing or waiting, no result unacknowledged.
  bool idle() const { return running_.empty() && waiting_.empty() && unacked_.empty(); }
  bool registered() const { return ready_; }
  const std::string& name() const { return name_; }
  // The revision left the blob cache: its compiled copies go too.
  void evict_revision(const std::string& sha) { revisions_.evict(sha); }

 private:
  void on_message(wire::Envelope&& e);
  void on_closed(const std::string& reason);
  void request_work();
  void start_lease(const wire::Lease& lease);
  void try_run(const wire::Lease& lease);
  void execute(std::shared_ptr<RunningEval> ev);
  void deliver(wire::EvalResult result);
  // Applies the board's fault profile to a finished eval (testing only).
  // Runs on the host pool; its randomness comes from the lease, so it needs no lock.
  void apply_profile(wire::EvalResult& r, double host_seconds, uint64_t lease_id) const;

  Rack::Impl& rack_;
  std::string name_;
  FaultProfile profile_;
  uint64_t seed_;
  std::mt19937_64 rng_;  // io thread only
  uint64_t evals_done_ = 0;
  mutable std::atomic<uint64_t> profile_evals_{0};  // evals the fault profile saw (host pool)
  std::shared_ptr<Connection> conn_;
  bool ready_ = false;
  bool draining_ = false;
  bool stopped_ = false;
  double backoff_ = 0;
  std::map<uint64_t, std::shared_ptr<RunningEval>> running_;
  std::map<uint64_t, wire::Lease> waiting_;  // waiting for blobs
  // When each currently free slot became free (oldest first): a lease that
  // arrives fills the oldest, and the wait is the dispatch latency.
  std::deque<std::chrono::steady_clock::time_point> free_since_;
  uint32_t holding_ = 0;  // noop evals holding their slot (RackOptions::noop_hold_ms)
  std::map<std::string, std::string> fetching_;  // sha -> bytes so far
  // Results not yet acknowledged, by eval id: the scheduler acknowledges a
  // result once it is durable, so these are sent again after a reconnect (a
  // scheduler restarted meanwhile records each once, by its lease).
  std::map<uint64_t, wire::EvalResult> unacked_;
  // Declared before revisions_: every program it loaded is gone before it.
  std::unique_ptr<dual_engine::EngineBackend> backend_;
  RevisionPool revisions_;  // each running eval has its own copy (host pool threads)
};

struct Rack::Impl {
  RackOptions opt;
  std::shared_ptr<harness::ssl::context> tls;  // null: plaintext on loopback
  asio::io_context io{1};
  std::unique_ptr<asio::thread_pool> pool;
  std::unique_ptr<BlobCache> cache;
  std::vector<std::shared_ptr<Board>> boards;
  std::thread thread;
  std::atomic<uint64_t> completed{0};
  // Dispatch latency: from a slot falling free (and asked for) to its next lease.
  std::mutex latency_mu;
  std::vector<float> latencies_ms;
  std::chrono::steady_clock::time_point latency_epoch{};
  void record_latency(std::chrono::steady_clock::time_point free_since) {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(latency_mu);
    auto from = std::max(free_since, latency_epoch);
    latencies_ms.push_back(std::chrono::duration<float, std::milli>(now - from).count());
  }
  std::mt19937_64 jitter{std::random_device{}()};
  bool draining = false;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  board::BoardType board_type;

  void check_drained() {
    if (!draining) return;
    for (const auto& b : boards) {
      if (!b->idle()) return;
    }
    for (const auto& b : boards) b->stop();
    guard.reset();
    stop_heartbeats();  // the last thing keeping the loop alive
    report_health();
  }

  // Heartbeats run on the I/O thread until the rack stops or has drained.
  asio::steady_timer heartbeat_timer{io};
  bool heartbeats_stopped = false;
  void report_health() {
    if (!opt.on_health) return;
    RackHealth h;
    h.boards = static_cast<uint32_t>(boards.size());
    for (const auto& b : boards) h.registered += b->registered();
    h.draining = draining;
    opt.on_health(h);
  }
  void heartbeat() {
    if (heartbeats_stopped || !opt.on_health) return;
    report_health();
    heartbeat_timer.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(std::max(0.01, opt.heartbeat_seconds))));
    heartbeat_timer.async_wait([this](boost::system::error_code ec) {
      if (!ec) heartbeat();
    });
  }
  void stop_heartbeats() {
    heartbeats_stopped = true;
    heartbeat_timer.cancel();
  }
};

Board::Board(Rack::Impl& rack, std::string name, FaultProfile profile, uint64_t seed,
             std::unique_ptr<dual_engine::EngineBackend> backend)
    : rack_(rack),
      name_(std::move(name)),
      profile_(profile),
      seed_(seed),
      rng_(seed),
      backend_(std::move(backend)),
      revisions_(rack.opt.slots_per_board, [this](const std::string& sha) {
        auto model = dual_engine::Model::load_file(rack_.cache->path(sha));
        return std::make_unique<dual_engine::CompiledRevision>(model, rack_.board_type,
                                                               backend_.get());
      }) {}

void Board::connect() {
  if (stopped_) return;
  auto self = shared_from_this();
  auto socket = std::make_shared<tcp::socket>(rack_.io);
  auto resolver = std::make_shared<tcp::resolver>(rack_.io);
  resolver->async_resolve(
      rack_.opt.host, std::to_string(rack_.opt.port),
      [this, self, socket, resolver](boost::system::error_code ec,
                                     tcp::resolver::results_type results) {
        if (ec) return on_closed(ec.message());
        asio::async_connect(
            *socket, results,
            [this, self, socket](boost::system::error_code ec2, const tcp::endpoint&) {
              if (ec2) return on_closed(fmt::format("connect: {}", ec2.message()));
              conn_ =
                  std::make_shared<Connection>(std::move(*socket), harness::kDefaultMaxFrameBytes,
                                               rack_.tls, Connection::Side::kClient);
              conn_->expect_server_name(rack_.opt.host);
              conn_->start([this, self](wire::Envelope&& e) { on_message(std::move(e)); },
                           [this, self](const std::string& reason) { on_closed(reason); });
              wire::Envelope hello;
              auto* h = hello.mutable_hello();
              h->set_protocol_version(harness::kProtocolVersion);
              h->set_role(wire::AGENT);
              h->set_peer_name(name_);
              h->set_software_version(harness::kSoftwareVersion);
              auto* b = h->add_boards();
              b->set_name(name_);
              b->set_type(rack_.opt.board_type);
              b->set_engines(2);
              b->set_slots(rack_.opt.slots_per_board);
              b->set_backend(backend_->name());
              // A board's nominal pace is its frame budget; emulated boards usually beat it.
              b->set_seconds_per_frame(
                  rack_.board_type.default_fps() > 0 ? 1.0 / rack_.board_type.default_fps() : 0);
              for (const auto& [id, ev] : running_) h->add_held_evals(id);
              conn_->send(std::move(hello));
            });
      });
}

void Board::on_closed(const std::string& reason) {
  bool was_ready = ready_;
  ready_ = false;
  conn_.reset();
  if (was_ready) rack_.report_health();
  if (stopped_) return;
  // Exponential backoff with jitter, so a restarted scheduler is not stampeded.
  backoff_ = backoff_ == 0 ? rack_.opt.reconnect_min_seconds
                           : std::min(backoff_ * 2, rack_.opt.reconnect_max_seconds);
  double wait = backoff_ * std::uniform_real_distribution<double>(0.5, 1.0)(rack_.jitter);
  log::info("agent", "board={} disconnected ({}); reconnecting in {:.2f} s", name_, reason, wait);
  auto timer = std::make_shared<asio::steady_timer>(
      rack_.io, std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double>(wait)));
  auto self = shared_from_this();
  timer->async_wait([this, self, timer](boost::system::error_code) { connect(); });
}

void Board::request_work() {
  if (!ready_ || !conn_) return;
  uint32_t busy = static_cast<uint32_t>(running_.size() + waiting_.size()) + holding_;
  uint32_t credits =
      draining_ || busy >= rack_.opt.slots_per_board ? 0 : rack_.opt.slots_per_board - busy;
  while (free_since_.size() < credits) free_since_.push_back(std::chrono::steady_clock::now());
  while (free_since_.size() > credits) free_since_.pop_back();
  wire::Envelope e;
  e.mutable_work_request()->set_board(name_);
  e.mutable_work_request()->set_credits(credits);
  conn_->send(std::move(e));
}

void Board::on_message(wire::Envelope&& e) {
  switch (e.body_case()) {
    case wire::Envelope::kChallenge: {
      wire::Envelope proof;
      proof.mutable_proof()->set_hmac(
          harness::auth_proof(rack_.opt.secret, e.challenge().nonce(), wire::AGENT, name_));
      conn_->send(std::move(proof));
      return;
    }
    case wire::Envelope::kWelcome: {
      ready_ = true;
      backoff_ = 0;
      log::info("agent", "board={} registered", name_);
      rack_.report_health();
      for (const auto& [id, r] : unacked_) {
        wire::Envelope env;
        *env.mutable_result() = r;
        conn_->send(std::move(env));
      }
      request_work();
      return;
    }
    case wire::Envelope::kLease:
      return start_lease(e.lease());
    case wire::Envelope::kBlobChunk: {
      const auto& c = e.blob_chunk();
      auto it = fetching_.find(c.sha256());
      if (it == fetching_.end() || c.offset() != it->second.size()) return;
      it->second += c.data();
      if (!c.last()) return;
      std::string bytes = std::move(it->second);
      fetching_.erase(it);
      try {
        rack_.cache->put(c.sha256(), bytes);
      } catch (const std::exception& ex) {
        log::warn("agent", "board={} blob {} rejected: {}", name_, c.sha256(), ex.what());
      }
      std::vector<wire::Lease> ready;
      for (auto& [id, lease] : waiting_) ready.push_back(lease);
      for (const auto& lease : ready) try_run(lease);
      return;
    }
    case wire::Envelope::kResultAck:
      // Durable (or refused for good): this board need not keep it.
      unacked_.erase(e.result_ack().eval_id());
      rack_.check_drained();
      return;
    case wire::Envelope::kRecall: {
      auto it = running_.find(e.recall().eval_id());
      if (it != running_.end()) it->second->cancelled = true;
      waiting_.erase(e.recall().eval_id());
      return;
    }
    case wire::Envelope::kError:
      log::warn("agent", "board={} scheduler error {}: {}", name_,
                wire::ErrorCode_Name(e.error().code()), e.error().message());
      if (e.error().code() == wire::AUTH_FAILED || e.error().code() == wire::VERSION_UNSUPPORTED) {
        // Retrying cannot fix a wrong secret or version: stop this board.
        stopped_ = true;
      }
      return;
    default:
      log::debug("agent", "board={} ignores '{}'", name_, harness::body_name(e));
  }
}

void Board::start_lease(const wire::Lease& lease) {
  if (running_.count(lease.eval_id()) || waiting_.count(lease.eval_id())) return;
  if (!free_since_.empty()) {
    rack_.record_latency(free_since_.front());
    free_since_.pop_front();
  }
  if (lease.scenario().mode() == "noop") {
    // The harness's own overhead: no blobs, no frames.
    wire::EvalResult r;
    r.set_eval_id(lease.eval_id());
    r.set_lease_id(lease.lease_id());
    r.set_board(name_);
    r.set_succeeded(true);
    auto* m = r.add_metrics();
    m->set_name("frames");
    m->set_value(0);
    if (rack_.opt.noop_hold_ms > 0) {
      // Holds the slot as long as a board's work would, without the CPU.
      ++holding_;
      auto self = shared_from_this();
      auto timer = std::make_shared<asio::steady_timer>(
          rack_.io, std::chrono::milliseconds(rack_.opt.noop_hold_ms));
      timer->async_wait([this, self, timer, r = std::move(r)](boost::system::error_code) mutable {
        --holding_;
        rack_.completed++;
        ++evals_done_;
        deliver(std::move(r));
      });
      return;
    }
    rack_.completed++;
    ++evals_done_;
    deliver(std::move(r));
    return;
  }
  waiting_[lease.eval_id()] = lease;
  try_run(lease);
}

void Board::try_run(const wire::Lease& lease) {
  for (const auto* sha : {&lease.revision_sha(), &lease.clip_sha()}) {
    if (rack_.cache->has(*sha)) continue;
    if (!fetching_.count(*sha)) {
      fetching_[*sha] = "";
      wire::Envelope req;
      req.mutable_blob_request()->set_sha256(*sha);
      if (conn_) conn_->send(std::move(req));
    }
    return;  // resumes when the chunks arrive
  }
  waiting_.erase(lease.eval_id());
  auto ev = std::make_shared<RunningEval>();
  ev->lease = lease;
  running_[lease.eval_id()] = ev;
  execute(ev);
}

void Board::execute(std::shared_ptr<RunningEval> ev) {
  auto self = shared_from_this();
  asio::post(*rack_.pool, [this, self, ev] {
    const auto& lease = ev->lease;
    wire::EvalResult r;
    r.set_eval_id(lease.eval_id());
    r.set_lease_id(lease.lease_id());
    r.set_board(name_);
    auto last_progress = std::chrono::steady_clock::now();
    try {
      // This eval's own copy: slots never share executors.
      RevisionPool::Checkout revision = revisions_.checkout(lease.revision_sha());
      rack_.cache->touch(lease.revision_sha());
      rack_.cache->touch(lease.clip_sha());
      evals::ClipReader clip(rack_.cache->path(lease.clip_sha()));
      const std::vector<suite::MetricSpec> metrics(lease.metrics().begin(), lease.metrics().end());
      auto run =
          dual_engine::play_eval(*revision, clip, lease.scenario(), metrics, [&](uint32_t frames) {
            auto now = std::chrono::steady_clock::now();
            if (now - last_progress > std::chrono::milliseconds(500)) {
              last_progress = now;
              asio::post(rack_.io,
                         [this, self, id = lease.eval_id(), lid = lease.lease_id(), frames] {
                           if (!ready_ || !conn_) return;
                           wire::Envelope p;
                           p.mutable_progress()->set_eval_id(id);
                           p.mutable_progress()->set_lease_id(lid);
                           p.mutable_progress()->set_frames_done(frames);
                           conn_->send(std::move(p));
                         });
            }
            return !ev->cancelled.load();
          });
      r.set_succeeded(true);
      r.set_host_seconds(run.host_seconds);
      r.set_device_time(backend_->measures_time() ? wire::DEVICE_TIME_MEASURED
                                                  : wire::DEVICE_TIME_EMULATED);
      for (const auto& [name, value] : run.scorer.summary()) {
        auto* m = r.add_metrics();
        m->set_name(name);
        m->set_value(value);
      }
      for (const auto& s : run.scorer.series()) {
        auto* sd = r.add_series();
        sd->set_name(s.name);
        sd->set_codec(evals::kSeriesCodec);
        sd->set_frames(static_cast<uint32_t>(s.values.size()));
        sd->set_data(evals::encode_series(s.values));
      }
      if (lease.keep_outputs()) {
        r.set_outputs_codec(evals::kOutputsCodec);
        r.set_outputs(evals::encode_outputs(run.scorer.outputs()));
      }
    } catch (const evals::SuiteError& e) {  // a scenario no suite check would pass
      fail_result(r, wire::FAILURE_BAD_EVAL, e.what());
    } catch (const evals::ClipError& e) {
      fail_result(r, wire::FAILURE_BAD_EVAL, e.what());
    } catch (const evals::InterfaceError& e) {
      fail_result(r, wire::FAILURE_BAD_EVAL, e.what());
    } catch (const dual_engine::ModelError& e) {
      fail_result(r, wire::FAILURE_BAD_EVAL, e.what());
    } catch (const std::exception& e) {
      // Anything else is the board's problem, not the eval's: retried elsewhere.
      fail_result(r, wire::FAILURE_INFRA, e.what());
    }
    apply_profile(r, r.host_seconds(), lease.lease_id());
    asio::post(rack_.io, [this, self, r = std::move(r)]() mutable {
      running_.erase(r.eval_id());
      rack_.completed++;
      ++evals_done_;
      deliver(std::move(r));
    });
  });
}

void Board::apply_profile(wire::EvalResult& r, double host_seconds, uint64_t lease_id) const {
  using K = FaultProfile::Kind;
  std::mt19937_64 rng(seed_ ^ (lease_id * 0x9E3779B97F4A7C15ull));
  // Uniform in [0, 1) from the top 53 bits: the same on every standard
  // library, where std::uniform_real_distribution is not.
  auto u = [&rng] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };
  const uint64_t played = profile_evals_++;  // evals before this one
  switch (profile_.kind) {
    case K::kFlaky:
      if (u() < profile_.value) {
        fail_result(r, wire::FAILURE_INFRA, fmt::format("board {}: injected flaky failure", name_));
        r.clear_metrics();
        r.clear_series();
      }
      break;
    case K::kSlow:
      // A slow board: the eval takes N times as long (the extra on this thread).
      std::this_thread::sleep_for(
          std::chrono::duration<double>(host_seconds * (profile_.value - 1)));
      break;
    case K::kMalformed:
      // A result no database should take: its first metric twice.
      if (r.metrics_size() > 0) *r.add_metrics() = r.metrics(0);
      break;
    case K::kLiar:
    case K::kLiarAfter:
      // Wrong outputs: every metric but host time comes out different from the
      // fleet's (liar-after:K: from its K+1-th eval on, health checks included).
      if (profile_.kind == K::kLiar || played >= static_cast<uint64_t>(profile_.value)) {
        for (auto& m : *r.mutable_metrics()) {
          if (m.name().rfind("host_", 0) != 0) m.set_value(m.value() * 0.5 + 1);
        }
      }
      break;
    default:
      break;
  }
}

void Board::deliver(wire::EvalResult result) {
  using K = FaultProfile::Kind;
  if (profile_.kind == K::kDiesAfter && evals_done_ > static_cast<uint64_t>(profile_.value)) {
    log::warn("agent", "board={} dies (profile dies-after:{})", name_, profile_.value);
    stopped_ = true;
    if (conn_) conn_->close("board died");
    return;
  }
  const uint64_t eval_id = result.eval_id();
  auto& kept = unacked_[eval_id] = std::move(result);
  if (ready_ && conn_) {
    wire::Envelope env;
    *env.mutable_result() = kept;
    conn_->send(std::move(env));
  }
  if (profile_.kind == K::kDisconnects &&
      std::uniform_real_distribution<double>(0, 1)(rng_) < profile_.value && conn_) {
    log::info("agent", "board={} drops its connection (profile disconnects)", name_);
    conn_->close("injected disconnect");
    return;
  }
  request_work();
  rack_.check_drained();
}

void Board::drain() {
  draining_ = true;
  request_work();
}

void Board::stop() {
  stopped_ = true;
  if (conn_) {
    wire::Envelope bye;
    bye.mutable_bye()->set_reason(draining_ ? "drained" : "stopping");
    conn_->send(std::move(bye));
    auto c = conn_;
    // Let the bye be written, then close.
    auto timer = std::make_shared<asio::steady_timer>(rack_.io, std::chrono::milliseconds(50));
    timer->async_wait([c, timer](boost::system::error_code) { c->close("agent stopping"); });
  }
}

FaultProfile parse_fault_profile(const std::string& text) {
  using K = FaultProfile::Kind;
  FaultProfile p;
  if (text.empty() || text == "none") return p;
  auto colon = text.find(':');
  std::string kind = text.substr(0, colon);
  double value = 0;
  if (colon != std::string::npos) {
    try {
      value = std::stod(text.substr(colon + 1));
    } catch (const std::exception&) {
      throw std::invalid_argument(
          fmt::format("fault profile '{}': '{}' is not a number", text, text.substr(colon + 1)));
    }
  }
  if (kind == "flaky" || kind == "disconnects") {
    if (!(value > 0 && value <= 1))
      throw std::invalid_argument(
          fmt::format("fault profile '{}': needs a fraction in (0, 1]", text));
    p.kind = kind == "flaky" ? K::kFlaky : K::kDisconnects;
  } else if (kind == "slow") {
    if (!(value >= 1))
      throw std::invalid_argument(fmt::format("fault profile '{}': slow:N needs N >= 1", text));
    p.kind = K::kSlow;
  } else if (kind == "dies-after") {
    if (!(value >= 0))
      throw std::invalid_argument(
          fmt::format("fault profile '{}': dies-after:K needs K >= 0", text));
    p.kind = K::kDiesAfter;
  } else if (kind == "liar") {
    p.kind = K::kLiar;
  } else if (kind == "liar-after") {
    if (!(value >= 0))
      throw std::invalid_argument(
          fmt::format("fault profile '{}': liar-after:K needs K >= 0", text));
    p.kind = K::kLiarAfter;
  } else if (kind == "malformed") {
    p.kind = K::kMalformed;
  } else {
    throw std::invalid_argument(
        fmt::format("unknown fault profile '{}' (flaky:P, slow:N, dies-after:K, disconnects:P, "
                    "liar, liar-after:K, malformed)",
                    text));
  }
  p.value = value;
  return p;
}

Rack::Rack(RackOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->opt = std::move(options);
  if (impl_->opt.secret.empty())
    throw std::invalid_argument("the agent needs the rack secret (--secret or HIL_SECRET)");
  impl_->board_type = dual_engine::load_board_type(impl_->opt.board_type);
  impl_->tls = harness::make_client_tls(impl_->opt.tls, impl_->opt.host);
  unsigned threads = impl_->opt.host_threads ? impl_->opt.host_threads
                                             : std::max(1u, std::thread::hardware_concurrency());
  impl_->pool = std::make_unique<asio::thread_pool>(threads);
  impl_->cache = std::make_unique<BlobCache>(impl_->opt.cache_dir, impl_->opt.cache_max_bytes);
  dual_engine::use_single_thread_kernels();
  auto profile = parse_fault_profile(impl_->opt.fault_profile);
  for (uint32_t i = 0; i < impl_->opt.boards; ++i) {
    std::string name = impl_->opt.boards == 1 && impl_->opt.name != "rack"
                           ? impl_->opt.name
                           : fmt::format("{}-{:03}", impl_->opt.name, i);
    bool faulty = impl_->opt.faulty_boards == 0 || i < impl_->opt.faulty_boards;
    auto backend = impl_->opt.backend_plugin.empty()
                       ? dual_engine::make_board_backend(impl_->board_type)
                       : dual_engine::make_plugin_backend(impl_->opt.backend_plugin,
                                                          impl_->opt.backend_options);
    if (i == 0)
      log::info("agent", "boards of type {} run on {}", impl_->board_type.name(), backend->name());
    impl_->boards.push_back(std::make_shared<Board>(*impl_, name, faulty ? profile : FaultProfile{},
                                                    impl_->opt.seed * 1000003 + i,
                                                    std::move(backend)));
  }
  // Blobs are stored on the I/O thread, which owns the board list.
  impl_->cache->on_evict([impl = impl_.get()](const std::string& sha) {
    for (const auto& b : impl->boards) b->evict_revision(sha);
  });
}

Rack::~Rack() {
  stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->pool->join();
}

void Rack::run() {
  impl_->guard.emplace(impl_->io.get_executor());
  asio::post(impl_->io, [this] {
    for (auto& b : impl_->boards) b->connect();
    impl_->heartbeat();
  });
  impl_->io.run();
  impl_->pool->join();
}

void Rack::start() {
  impl_->thread = std::thread([this] { run(); });
}

void Rack::drain() {
  asio::post(impl_->io, [this] {
    impl_->draining = true;
    impl_->report_health();
    for (auto& b : impl_->boards) b->drain();
    impl_->check_drained();
  });
}

void Rack::stop() {
  asio::post(impl_->io, [this] {
    for (auto& b : impl_->boards) b->stop();
    impl_->guard.reset();
    impl_->stop_heartbeats();
    // Give the byes a moment, then stop the loop.
    auto timer = std::make_shared<asio::steady_timer>(impl_->io, std::chrono::milliseconds(100));
    timer->async_wait([this, timer](boost::system::error_code) { impl_->io.stop(); });
  });
}

uint64_t Rack::evals_completed() const { return impl_->completed.load(); }

void Rack::reset_dispatch_latencies() {
  std::lock_guard lock(impl_->latency_mu);
  impl_->latencies_ms.clear();
  impl_->latency_epoch = std::chrono::steady_clock::now();
}

std::vector<float> Rack::dispatch_latencies_ms() const {
  std::lock_guard lock(impl_->latency_mu);
  return impl_->latencies_ms;
}

}  // namespace hil::device_agents
