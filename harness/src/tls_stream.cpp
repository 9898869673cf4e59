#include "hil/harness/tls_stream.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <cerrno>
#include <new>

namespace hil::harness {

using namespace net;

namespace {

void throw_error(const boost::system::error_code& ec) { throw boost::system::system_error(ec); }

// What a failed OpenSSL call means, as asio's SSL stream reports it.
// `saved_errno` is errno right after the call.
boost::system::error_code error_of(int ssl_error, int saved_errno) {
  unsigned long code = ERR_get_error();  // the first: the cause, not its consequences
  ERR_clear_error();
  if (ssl_error == SSL_ERROR_ZERO_RETURN) return asio::error::eof;
  if (ssl_error == SSL_ERROR_SYSCALL) {
    if (saved_errno != 0) return {saved_errno, boost::system::system_category()};
    if (code != 0) return {static_cast<int>(code), asio::error::get_ssl_category()};
    return ssl::error::stream_truncated;  // end of file without close_notify
  }
  if (code == 0) return ssl::error::unspecified_system_error;
  if (ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
    return ssl::error::stream_truncated;
  return {static_cast<int>(code), asio::error::get_ssl_category()};
}

// OpenSSL's socket BIO, except that it writes with MSG_NOSIGNAL: a peer gone
// away is an EPIPE error on its connection, not a SIGPIPE for the process.
int send_no_signal(BIO* bio, const char* data, int size) {
  errno = 0;
  int n = static_cast<int>(::send(static_cast<int>(BIO_get_fd(bio, nullptr)), data,
                                  static_cast<size_t>(size), MSG_NOSIGNAL));
  BIO_clear_retry_flags(bio);
  if (n <= 0 && BIO_sock_should_retry(n)) BIO_set_retry_write(bio);
  return n;
}

const BIO_METHOD* socket_method() {
  static const BIO_METHOD* method = [] {
    const BIO_METHOD* base = BIO_s_socket();
    BIO_METHOD* m = BIO_meth_new(BIO_TYPE_SOCKET, "hil socket");
    if (!m || !BIO_meth_set_write(m, send_no_signal) ||
        !BIO_meth_set_read(m, BIO_meth_get_read(base)) ||
        !BIO_meth_set_puts(m, BIO_meth_get_puts(base)) ||
        !BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(base)) ||
        !BIO_meth_set_create(m, BIO_meth_get_create(base)) ||
        !BIO_meth_set_destroy(m, BIO_meth_get_destroy(base))) {
      throw std::bad_alloc();
    }
    return m;
  }();
  return method;
}

}  // namespace

TlsStream::TlsStream(tcp::socket socket, ssl::context& context)
    : socket_(std::move(socket)), ssl_(SSL_new(context.native_handle())) {
  if (!ssl_) throw std::bad_alloc();
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  BIO* bio = ec ? nullptr : BIO_new(socket_method());
  if (!bio) {
    SSL_free(ssl_);
    ERR_clear_error();
    if (ec) throw_error(ec);
    throw std::bad_alloc();
  }
  BIO_set_fd(bio, socket_.native_handle(), BIO_NOCLOSE);
  SSL_set_bio(ssl_, bio, bio);  // the SSL owns it now
  // Partial writes: write() hands OpenSSL a record at a time and waits for the
  // socket in between, with the rest of the buffer where it was.
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                         SSL_MODE_RELEASE_BUFFERS);
  SSL_set_read_ahead(ssl_, 1);
}

TlsStream::~TlsStream() { SSL_free(ssl_); }  // the socket BIO does not close the descriptor

void TlsStream::expect_server_name(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
  if (!ec) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    SSL_set1_host(ssl_, host.c_str());             // checked as asio's host_name_verification did
    SSL_set_tlsext_host_name(ssl_, host.c_str());  // SNI names a host, never an address
  }
}

template <typename Call>
awaitable<void> TlsStream::drive(Call call) {
  for (bool waited = false;; waited = true) {
    // A closed socket's descriptor may already belong to another connection.
    if (!socket_.is_open()) throw_error(asio::error::operation_aborted);
    ERR_clear_error();
    errno = 0;
    int ret = call();
    if (ret == 1) {
      // Like asio's own operations, never complete inline: what was posted
      // meanwhile (the scheduler's batched database writes, other
      // connections' turns) runs before this connection's next message.
      if (!waited) co_await asio::post(socket_.get_executor(), use_awaitable);
      co_return;
    }
    int saved_errno = errno;
    int ssl_error = SSL_get_error(ssl_, ret);
    if (ssl_error == SSL_ERROR_WANT_READ) {
      co_await socket_.async_wait(tcp::socket::wait_read, use_awaitable);
    } else if (ssl_error == SSL_ERROR_WANT_WRITE) {
      co_await socket_.async_wait(tcp::socket::wait_write, use_awaitable);
    } else {
      if (ssl_error == SSL_ERROR_SSL || ssl_error == SSL_ERROR_SYSCALL) failed_ = true;
      throw_error(error_of(ssl_error, saved_errno));
    }
  }
}

awaitable<void> TlsStream::handshake(Side side) {
  if (side == Side::kServer) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
  }
  co_await drive([this] { return SSL_do_handshake(ssl_); });
  handshake_done_ = true;
}

awaitable<size_t> TlsStream::read_some(asio::mutable_buffer buffer) {
  size_t n = 0;
  if (buffer.size() == 0) co_return 0;
  co_await drive([&] { return SSL_read_ex(ssl_, buffer.data(), buffer.size(), &n); });
  co_return n;
}

awaitable<void> TlsStream::wait_readable() {
  if (!socket_.is_open()) throw_error(asio::error::operation_aborted);
  if (SSL_has_pending(ssl_)) co_return;
  co_await socket_.async_wait(tcp::socket::wait_read, use_awaitable);
}

awaitable<void> TlsStream::write(asio::const_buffer buffer) {
  const char* data = static_cast<const char*>(buffer.data());
  size_t left = buffer.size();
  while (left > 0) {
    size_t n = 0;
    co_await drive([&] { return SSL_write_ex(ssl_, data, left, &n); });
    data += n;
    left -= n;
  }
}

void TlsStream::shutdown() {
  if (!handshake_done_ || failed_ || !socket_.is_open()) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // queues close_notify, sends it if the socket has room
  ERR_clear_error();
}

std::string TlsStream::verify_failure() const {
  long result = SSL_get_verify_result(ssl_);
  return result == X509_V_OK ? "" : X509_verify_cert_error_string(result);
}

}  // namespace hil::harness
