// A TLS stream over a TCP socket for Connection: OpenSSL reads and writes the
// socket's descriptor itself (non-blocking), and asio only waits for the
// socket to become readable or writable when OpenSSL asks for it.
//
// Why not asio::ssl::stream: it keeps two 17 KB buffers of its own and a BIO
// pair with two more 17 KB buffers for the stream's whole life, about 68 KB
// per connection before OpenSSL's own state. Here the only record buffers are
// OpenSSL's, and SSL_MODE_RELEASE_BUFFERS frees them between records, so an
// idle connection holds none (docs/scaling.md has the numbers).
//
// One reader and one writer may be in flight at once (Connection's read and
// write loops), on one thread: the socket's executor must not run handlers on
// several threads.
#pragma once

#include <cstddef>
#include <string>

#include "hil/harness/asio.h"
#include "hil/harness/tls.h"

namespace hil::harness {

class TlsStream {
 public:
  enum class Side { kServer, kClient };
  TlsStream(net::tcp::socket socket, ssl::context& context);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // Client side, before the handshake: the peer's certificate must name
  // `host` (a DNS name, sent as SNI too, or an IP address).
  void expect_server_name(const std::string& host);

  // Each throws boost::system::system_error: OpenSSL's reason in asio's SSL
  // category (e.g. "certificate verify failed"), asio::error::eof after the
  // peer's close_notify, ssl::error::stream_truncated when the peer's TCP
  // connection ends without one, the socket's own error otherwise, and
  // asio::error::operation_aborted once the socket is closed.
  net::awaitable<void> handshake(Side side);
  net::awaitable<size_t> read_some(net::asio::mutable_buffer buffer);
  // Returns once a read can make progress: OpenSSL holds received bytes, or
  // the socket is readable.
  net::awaitable<void> wait_readable();
  net::awaitable<void> write(net::asio::const_buffer buffer);  // all of it

  // Sends close_notify if the socket takes it now; never waits. Call before
  // closing the socket.
  void shutdown();

  // Why the peer's certificate was refused ("unable to get local issuer
  // certificate", "hostname mismatch"), or empty.
  std::string verify_failure() const;

  net::tcp::socket& socket() { return socket_; }
  SSL* native_handle() { return ssl_; }

 private:
  template <typename Call>
  net::awaitable<void> drive(Call call);

  net::tcp::socket socket_;
  SSL* ssl_;
  bool handshake_done_ = false;
  bool failed_ = false;  // after a fatal error OpenSSL must not send close_notify
};

}  // namespace hil::harness
