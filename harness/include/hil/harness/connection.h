// One framed TCP connection, TLS or (on loopback, when asked) plaintext: a
// coroutine runs the TLS handshake, then reads frames and hands each envelope
// to a handler; sends are queued and written by a second coroutine, so a slow
// peer never blocks the sender. All calls happen on the connection's executor
// (one io_context thread: no locks).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "hil/harness/asio.h"
#include "hil/harness/tls.h"
#include "hil/harness/tls_stream.h"
#include "hil/harness/wire.h"

namespace hil::harness {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using MessageHandler = std::function<void(wire::Envelope&&)>;
  using CloseHandler = std::function<void(const std::string& reason)>;

  enum class Side { kServer, kClient };
  // `tls` null: plaintext (the caller checked that this is allowed).
  Connection(net::tcp::socket socket, uint32_t max_frame_bytes,
             std::shared_ptr<ssl::context> tls = nullptr, Side side = Side::kServer);
  ~Connection();

  // Client side: the scheduler's certificate must name `host` (also sent as SNI).
  void expect_server_name(const std::string& host);
  // Starts the read and write loops.
  void start(MessageHandler on_message, CloseHandler on_close);
  // Queues an envelope; returns its id. Ignored after close.
  uint64_t send(wire::Envelope envelope);
  uint64_t reply(uint64_t reply_to, wire::Envelope envelope);
  // Sends an Error, then closes once it is written.
  void fail(wire::ErrorCode code, const std::string& message, uint64_t reply_to = 0);
  void close(const std::string& reason);

  bool closed() const { return closed_; }
  const std::string& peer() const { return peer_; }
  size_t queued_messages() const { return out_.size(); }
  bool tls() const { return tls_ != nullptr; }
  // The peer's verified certificate (empty fields without one).
  const PeerCertificate& peer_certificate() const { return peer_certificate_; }
  net::asio::any_io_executor executor() { return socket().get_executor(); }

 private:
  net::awaitable<void> read_loop();
  net::awaitable<void> write_loop();
  net::awaitable<void> wait_readable();
  net::awaitable<size_t> read_some(char* data, size_t size);
  // Bytes asked of the socket per read (more when a frame needs more): a
  // TLS record's worth.
  static constexpr size_t kReadChunk = 16 * 1024;
  net::tcp::socket& socket() { return tls_ ? tls_->socket() : *plain_; }

  std::optional<net::tcp::socket> plain_;
  std::unique_ptr<TlsStream> tls_;
  std::shared_ptr<ssl::context> tls_context_;  // outlives tls_
  Side side_;
  PeerCertificate peer_certificate_;
  net::asio::steady_timer wake_;
  uint32_t max_frame_bytes_;
  std::deque<std::string> out_;
  MessageHandler on_message_;
  CloseHandler on_close_;
  std::string peer_;
  uint64_t next_id_ = 1;
  bool closed_ = false;
  bool close_after_write_ = false;
  std::string close_reason_;
};

}  // namespace hil::harness
