#include "hil/harness/connection.h"

#include <algorithm>

#include <fmt/format.h>

#include "hil/evals/log.h"

namespace hil::harness {

using namespace net;

Connection::Connection(tcp::socket socket, uint32_t max_frame_bytes,
                       std::shared_ptr<ssl::context> tls, Side side)
    : wake_(socket.get_executor()), max_frame_bytes_(max_frame_bytes) {
  tls_context_ = std::move(tls);
  side_ = side;
  boost::system::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  peer_ = ec ? "unknown" : fmt::format("{}:{}", ep.address().to_string(), ep.port());
  socket.set_option(tcp::no_delay(true), ec);
  if (tls_context_) {
    tls_ = std::make_unique<TlsStream>(std::move(socket), *tls_context_);
  } else {
    plain_.emplace(std::move(socket));
  }
  wake_.expires_at(std::chrono::steady_clock::time_point::max());
}

Connection::~Connection() = default;

void Connection::expect_server_name(const std::string& host) {
  if (tls_) tls_->expect_server_name(host);
}

void Connection::start(MessageHandler on_message, CloseHandler on_close) {
  on_message_ = std::move(on_message);
  on_close_ = std::move(on_close);
  auto self = shared_from_this();
  // The write loop starts after the handshake (read_loop spawns it), so
  // messages sent before then wait in the queue.
  asio::co_spawn(
      socket().get_executor(), [self]() { return self->read_loop(); }, asio::detached);
}

uint64_t Connection::send(wire::Envelope envelope) {
  if (closed_ || close_after_write_) return 0;
  uint64_t id = next_id_++;
  envelope.set_id(id);
  out_.push_back(encode_frame(envelope));
  wake_.cancel_one();
  return id;
}

uint64_t Connection::reply(uint64_t reply_to, wire::Envelope envelope) {
  envelope.set_reply_to(reply_to);
  return send(std::move(envelope));
}

void Connection::fail(wire::ErrorCode code, const std::string& message, uint64_t reply_to) {
  wire::Envelope e;
  e.mutable_error()->set_code(code);
  e.mutable_error()->set_message(message);
  reply(reply_to, std::move(e));
  close_after_write_ = true;
  close_reason_ = message;
  wake_.cancel_one();
}

void Connection::close(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  if (tls_) tls_->shutdown();
  socket().shutdown(tcp::socket::shutdown_both, ec);
  socket().close(ec);
  wake_.cancel();
  if (on_close_) {
    auto handler = std::move(on_close_);
    on_close_ = nullptr;
    handler(reason);
  }
  on_message_ = nullptr;
}

awaitable<void> Connection::read_loop() {
  auto self = shared_from_this();
  FrameDecoder inbox(max_frame_bytes_);
  try {
    if (tls_) {
      co_await tls_->handshake(side_ == Side::kServer ? TlsStream::Side::kServer
                                                      : TlsStream::Side::kClient);
      peer_certificate_ = harness::peer_certificate(tls_->native_handle());
    }
    if (closed_) co_return;
    asio::co_spawn(
        socket().get_executor(), [self]() { return self->write_loop(); }, asio::detached);
    for (;;) {
      // Every whole frame of what was read, before reading again: the
      // replies to a batch go out in one write.
      while (auto envelope = inbox.next()) {
        if (on_message_) on_message_(std::move(*envelope));
        if (closed_) co_return;
      }
      // Idle: wait without a buffer, so a quiet connection holds none.
      if (inbox.buffered() == 0) co_await wait_readable();
      if (closed_) co_return;
      size_t room = std::max(kReadChunk, inbox.missing());
      size_t got = co_await read_some(inbox.prepare(room), room);
      inbox.commit(got);
    }
  } catch (const WireError& e) {
    log::warn("net", "peer={} protocol error: {}", peer_, e.what());
    fail(e.code(), e.what());
  } catch (const boost::system::system_error& e) {
    if (e.code() == asio::error::eof || e.code() == ssl::error::stream_truncated) {
      close("peer closed the connection");
    } else if (e.code().category() == asio::error::get_ssl_category()) {
      std::string reason = e.code().message();
      if (auto why = tls_ ? tls_->verify_failure() : ""; !why.empty())
        reason += fmt::format(" ({})", why);
      log::warn("net", "peer={} TLS: {}", peer_, reason);
      close(fmt::format("TLS: {}", reason));
    } else {
      close(e.code().message());
    }
  } catch (const std::exception& e) {
    log::error("net", "peer={} handler error: {}", peer_, e.what());
    fail(wire::INTERNAL, e.what());
  }
}

awaitable<void> Connection::wait_readable() {
  if (tls_) {
    co_await tls_->wait_readable();
  } else {
    co_await plain_->async_wait(tcp::socket::wait_read, use_awaitable);
  }
}

awaitable<size_t> Connection::read_some(char* data, size_t size) {
  if (tls_) co_return co_await tls_->read_some(asio::buffer(data, size));
  co_return co_await plain_->async_read_some(asio::buffer(data, size), use_awaitable);
}

awaitable<void> Connection::write_loop() {
  auto self = shared_from_this();
  try {
    while (!closed_) {
      if (out_.empty()) {
        if (close_after_write_) break;
        boost::system::error_code ec;
        co_await wake_.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      // Gather what is queued into one write: fewer syscalls under load.
      std::string batch;
      while (!out_.empty() && batch.size() < (1u << 20)) {
        batch += out_.front();
        out_.pop_front();
      }
      if (tls_) {
        co_await tls_->write(asio::buffer(batch));
      } else {
        co_await asio::async_write(*plain_, asio::buffer(batch), use_awaitable);
      }
    }
  } catch (const boost::system::system_error& e) {
    close(e.code().message());
    co_return;
  }
  if (close_after_write_) close(close_reason_);
}

}  // namespace hil::harness
