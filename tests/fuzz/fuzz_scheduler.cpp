// Fuzz target: every message handler of the scheduler (harness/src/
// scheduler.cpp, connection.cpp), through a real in-process Scheduler on a
// loopback TCP port, the way agents and clients reach it.
//
// The input is a script of chunks for up to four connections:
//
//   chunk = u8 tag, u16 big-endian length L, L bytes
//   tag & 0x03  connection slot (0..3)
//   tag & 0x80  raw: the bytes go to the socket as they are (any framing,
//               partial frames, bad lengths); otherwise they are one
//               Envelope body and the harness adds the length prefix
//   tag & 0x40  on a slot's first chunk: send a wrong authentication proof
//
// A slot's first chunk opens its connection. When it is a Hello of role
// AGENT or CLIENT, the harness completes the handshake (the Challenge's nonce
// is random, so the fuzzer could never compute the proof), adding a board to
// an agent that announces none; everything after it reaches the
// authenticated handlers. Any other first chunk is sent as it is: the
// pre-authentication handlers get it.
//
// After each framed chunk on an authenticated connection, the harness waits
// until the scheduler has handled it: it sends a request that is always
// answered and has no effect (ListBoards for a client; for an agent, a
// result for an eval that does not exist, acknowledged as a duplicate) and
// reads until its answer, so chunks on different connections are handled
// in the script's order. After a SubmitRun it also waits for the submit's
// own answer, which comes after a database write. A raw chunk ends that
// (the framing may be broken), as does an answer that closes the connection.
// At the end every connection is half-closed and read until the scheduler
// closes it, then a separate client checks that the scheduler still answers.
//
// A crash or sanitizer report on the scheduler's thread ends the process,
// which libFuzzer reports; so does an exception escaping its I/O loop
// (std::terminate). An answer that does not come within 10 s is reported as
// a hang (abort), as is a frame from the scheduler that does not decode.
//
// Each input gets a fresh scheduler (a copy of an empty database, a new
// port), so that a crash replays from its input alone. HIL_FUZZ_REUSE=N keeps
// one scheduler for N inputs instead: faster and with state carried between
// inputs, but a crash may then depend on earlier inputs. HIL_FUZZ_LOG=info
// shows the scheduler's log (off by default).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "fuzz_support.h"
#include "hil/evals/log.h"
#include "hil/harness/scheduler.h"
#include "hil/harness/wire.h"

using namespace hil;

namespace {

constexpr const char* kSecret = "fuzz-rack-secret";
constexpr int kTimeoutMs = 10000;
constexpr size_t kSlots = 4;
constexpr size_t kMaxChunks = 64;
constexpr uint8_t kSlotMask = 0x03, kBadProof = 0x40, kRaw = 0x80;
// Ids of the harness's own requests, and the eval its agents' sync results
// name: far from anything a scheduler hands out.
constexpr uint64_t kSyncIdBase = 0xf0f0000000000000ull;
constexpr uint64_t kSyncEval = 0x3ffffffffffffff0ull;

// One TCP connection to the scheduler, blocking writes, reads with a timeout.
class Peer {
 public:
  Peer() = default;
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;
  ~Peer() { close(); }

  void connect(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    HIL_FUZZ_CHECK(fd_ >= 0, "socket: %d", errno);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int r = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    HIL_FUZZ_CHECK(r == 0, "cannot connect to the scheduler on port %u: errno %d", port, errno);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    decoder_ = harness::FrameDecoder();
  }

  bool open() const { return fd_ >= 0; }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // False when the scheduler has closed the connection.
  bool write(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t r = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(r));
    }
    return true;
  }

  bool send(const wire::Envelope& e) { return write(harness::encode_frame(e)); }

  // The next envelope from the scheduler; nullopt once it closed the
  // connection. Aborts when nothing comes in time.
  std::optional<wire::Envelope> read(const char* waiting_for) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
    for (;;) {
      try {
        if (auto e = decoder_.next()) return e;
      } catch (const harness::WireError& e) {
        HIL_FUZZ_CHECK(false, "the scheduler sent a frame that does not decode: %s", e.what());
      }
      if (eof_) return std::nullopt;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) {
        std::fprintf(
            stderr,
            "fuzz_scheduler: no answer within %d ms while waiting for %s: the scheduler hangs\n",
            kTimeoutMs, waiting_for);
        std::abort();
      }
      char buf[16384];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        eof_ = true;  // closed or reset: what is buffered may still hold whole frames
        continue;
      }
      decoder_.feed(std::string_view(buf, static_cast<size_t>(n)));
    }
  }

  // Reads envelopes until one satisfies `done`; false when the connection ended first.
  template <typename Pred>
  bool read_until(const char* waiting_for, Pred done) {
    while (auto e = read(waiting_for)) {
      if (done(*e)) return true;
    }
    return false;
  }

  // Half-closes and reads until the scheduler closes its side.
  void finish() {
    if (fd_ < 0) return;
    ::shutdown(fd_, SHUT_WR);
    while (read("the scheduler to close a half-closed connection")) {
    }
    close();
  }

 private:
  int fd_ = -1;
  bool eof_ = false;
  harness::FrameDecoder decoder_;
};

// Authenticates with `hello` (a Hello envelope); false when refused.
bool handshake(Peer& peer, const wire::Envelope& hello, bool wrong_proof) {
  if (!peer.send(hello)) return false;
  std::string nonce;
  bool challenged = peer.read_until("a challenge", [&](const wire::Envelope& e) {
    if (e.has_challenge()) nonce = e.challenge().nonce();
    return e.has_challenge() || e.has_error();
  });
  if (!challenged || nonce.empty()) return false;
  const auto& h = hello.hello();
  wire::Envelope proof;
  proof.set_id(hello.id() + 1);
  std::string hmac = harness::auth_proof(kSecret, nonce, h.role(), h.peer_name());
  if (wrong_proof) hmac[0] = static_cast<char>(hmac[0] ^ 1);
  proof.mutable_proof()->set_hmac(hmac);
  if (!peer.send(proof)) return false;
  bool welcomed = false;
  peer.read_until("welcome", [&](const wire::Envelope& e) {
    welcomed = e.has_welcome();
    return e.has_welcome() || e.has_error();
  });
  return welcomed;
}

class Farm {
 public:
  static Farm& get() {
    static Farm* farm = [] {
      auto* f = new Farm();
      std::atexit([] { Farm::get().shutdown(); });
      return f;
    }();
    return *farm;
  }

  // Before each input: a fresh scheduler, unless HIL_FUZZ_REUSE keeps one.
  uint16_t before_input() {
    if (scheduler_ && ++inputs_ >= reuse_) stop();
    if (!scheduler_) start();
    return port_;
  }

  // After each input: the scheduler must still answer a new client.
  void check_alive() {
    Peer probe;
    probe.connect(port_);
    wire::Envelope hello;
    hello.set_id(1);
    hello.mutable_hello()->set_protocol_version(harness::kProtocolVersion);
    hello.mutable_hello()->set_role(wire::CLIENT);
    hello.mutable_hello()->set_peer_name("fuzz-probe");
    HIL_FUZZ_CHECK(handshake(probe, hello, false),
                   "the scheduler refused a good client after the input");
    wire::Envelope list;
    list.set_id(3);
    list.mutable_list_boards();
    HIL_FUZZ_CHECK(probe.send(list), "the scheduler closed a good client's connection");
    bool ok = probe.read_until("the probe's board list",
                               [](const wire::Envelope& e) { return e.has_board_list(); });
    HIL_FUZZ_CHECK(ok, "the scheduler did not answer ListBoards after the input");
    probe.finish();
  }

  void shutdown() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

 private:
  Farm() {
    if (const char* level = std::getenv("HIL_FUZZ_LOG")) {
      log::set_level(log::parse_level(level));
    } else {
      log::set_level(log::Level::kOff);
    }
    if (const char* reuse = std::getenv("HIL_FUZZ_REUSE"))
      reuse_ = std::max(1L, std::strtol(reuse, nullptr, 10));
    root_ =
        std::filesystem::temp_directory_path() / fmt::format("hil-fuzz-scheduler-{}", ::getpid());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    // An empty database made once: each scheduler starts from a copy, which
    // is much faster than creating the schema again.
    {
      harness::SchedulerOptions so;
      so.db_path = root_ / "template.db";
      so.port = 0;
      so.secret = kSecret;
      so.tls.plaintext_on_loopback = true;  // the fuzzer speaks frames, not TLS
      harness::Scheduler s(so);
      s.open();
    }
    template_ = root_ / "template.db";
  }

  void start() {
    dir_ = root_ / fmt::format("s{}", generation_++);
    std::filesystem::create_directories(dir_);
    std::filesystem::copy_file(template_, dir_ / "hil.db");
    harness::SchedulerOptions so;
    so.db_path = dir_ / "hil.db";
    so.port = 0;
    so.secret = kSecret;
    so.tls.plaintext_on_loopback = true;  // the fuzzer speaks frames, not TLS
    scheduler_ = std::make_unique<harness::Scheduler>(so);
    scheduler_->open();
    scheduler_->start();
    port_ = scheduler_->port();
    inputs_ = 0;
  }

  void stop() {
    if (!scheduler_) return;
    scheduler_->stop();
    scheduler_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::filesystem::path root_, template_, dir_;
  std::unique_ptr<harness::Scheduler> scheduler_;
  uint16_t port_ = 0;
  long reuse_ = 1, inputs_ = 0;
  uint64_t generation_ = 0;
};

struct Chunk {
  uint8_t tag;
  std::string_view bytes;
};

std::vector<Chunk> parse_script(const uint8_t* data, size_t size) {
  std::vector<Chunk> out;
  size_t at = 0;
  while (at + 3 <= size && out.size() < kMaxChunks) {
    uint8_t tag = data[at];
    size_t len = (size_t{data[at + 1]} << 8) | data[at + 2];
    at += 3;
    len = std::min(len, size - at);
    out.push_back({tag, std::string_view(reinterpret_cast<const char*>(data) + at, len)});
    at += len;
  }
  return out;
}

class Script {
 public:
  explicit Script(uint16_t port) : port_(port) {}

  void run(const Chunk& c) {
    auto& s = slots_[c.tag & kSlotMask];
    switch (s.state) {
      case State::kNew:
        return open(s, c);
      case State::kGone:
        return;
      case State::kReady:
        if (c.tag & kRaw) {
          if (!s.peer.write(c.bytes)) return gone(s);
          s.state = State::kUnsynced;
          return;
        }
        if (!s.peer.write(frame(c.bytes))) return gone(s);
        return sync(s, c.bytes);
      case State::kUnsynced:
        if (!s.peer.write(c.tag & kRaw ? std::string(c.bytes) : frame(c.bytes))) return gone(s);
        return;
    }
  }

  void finish() {
    for (auto& s : slots_) s.peer.finish();
  }

 private:
  // kReady: authenticated and in sync; kUnsynced: pre-authentication, or
  // after a raw chunk (no more waiting for answers); kGone: closed.
  enum class State { kNew, kReady, kUnsynced, kGone };
  struct Slot {
    Peer peer;
    State state = State::kNew;
    wire::Role role = wire::ROLE_UNKNOWN;
    std::string board;  // an agent's first board
    uint64_t next_sync = kSyncIdBase;
  };

  static std::string frame(std::string_view body) {
    auto n = static_cast<uint32_t>(body.size());
    std::string out{static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                    static_cast<char>(n >> 8), static_cast<char>(n)};
    out += body;
    return out;
  }

  void gone(Slot& s) {
    s.peer.finish();
    s.state = State::kGone;
  }

  void open(Slot& s, const Chunk& c) {
    s.peer.connect(port_);
    wire::Envelope hello;
    const bool is_hello =
        !(c.tag & kRaw) && hello.ParseFromArray(c.bytes.data(), static_cast<int>(c.bytes.size())) &&
        hello.has_hello() &&
        (hello.hello().role() == wire::AGENT || hello.hello().role() == wire::CLIENT);
    if (!is_hello) {
      s.state = State::kUnsynced;
      if (!s.peer.write(c.tag & kRaw ? std::string(c.bytes) : frame(c.bytes))) gone(s);
      return;
    }
    auto* h = hello.mutable_hello();
    if (h->role() == wire::AGENT && h->boards_size() == 0) {
      auto* b = h->add_boards();
      b->set_name(fmt::format("fuzz-board-{}", c.tag & kSlotMask));
      b->set_type("slowed-hw3");
      b->set_engines(2);
      b->set_slots(1);
    }
    if (!handshake(s.peer, hello, c.tag & kBadProof)) return gone(s);
    s.state = State::kReady;
    s.role = h->role();
    if (s.role == wire::AGENT) s.board = h->boards(0).name();
  }

  // Waits until the scheduler has handled everything sent on the slot.
  void sync(Slot& s, std::string_view body) {
    wire::Envelope sent;
    if (sent.ParseFromArray(body.data(), static_cast<int>(body.size())) && sent.has_submit_run()) {
      // Its answer comes after a database write: wait for it too.
      bool open = s.peer.read_until("the answer to a SubmitRun", [&](const wire::Envelope& e) {
        return e.reply_to() == sent.id() && (e.has_submit_ack() || e.has_error());
      });
      if (!open) return gone(s);
    }
    wire::Envelope probe;
    const uint64_t id = s.next_sync++;
    probe.set_id(id);
    if (s.role == wire::CLIENT) {
      probe.mutable_list_boards();
    } else {
      auto* r = probe.mutable_result();
      r->set_eval_id(kSyncEval);
      r->set_lease_id(0);
      r->set_board(s.board);
    }
    if (!s.peer.send(probe)) return gone(s);
    bool answered = false;
    bool open =
        s.peer.read_until("the answer to the harness's sync request", [&](const wire::Envelope& e) {
          if (e.reply_to() != id) return false;
          answered =
              e.has_board_list() || (e.has_result_ack() && e.result_ack().eval_id() == kSyncEval);
          return true;  // that answer, or an error that closes the connection
        });
    if (!open || !answered) return gone(s);
  }

  uint16_t port_;
  std::array<Slot, kSlots> slots_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& farm = Farm::get();
  uint16_t port = farm.before_input();
  {
    Script script(port);
    for (const auto& c : parse_script(data, size)) script.run(c);
    script.finish();
  }
  farm.check_alive();
  return 0;
}
