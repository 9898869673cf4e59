// TlsStream, Connection's TLS over OpenSSL on the socket's descriptor, on
// loopback with the rack's certificates: messages larger than a record both
// ways at once through tiny socket buffers, a peer that goes away mid-record,
// close_notify, and refusals that say why.
#include <catch2/catch.hpp>

#include <exception>
#include <string>

#include "farm.h"
#include "hil/harness/tls_stream.h"

using namespace hil;
using harness::TlsStream;
namespace asio = net::asio;

namespace {

// Two ends of one loopback TCP connection, each a TlsStream.
struct Pair {
  asio::io_context io{1};
  std::unique_ptr<TlsStream> server, client;

  Pair(harness::ssl::context& server_tls, harness::ssl::context& client_tls,
       int socket_buffer_bytes = 0) {
    net::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    net::tcp::socket c(io);
    if (socket_buffer_bytes > 0) {
      c.open(net::tcp::v4());
      c.set_option(asio::socket_base::send_buffer_size(socket_buffer_bytes));
      c.set_option(asio::socket_base::receive_buffer_size(socket_buffer_bytes));
    }
    c.connect(acceptor.local_endpoint());
    net::tcp::socket s = acceptor.accept();
    if (socket_buffer_bytes > 0) {
      s.set_option(asio::socket_base::send_buffer_size(socket_buffer_bytes));
      s.set_option(asio::socket_base::receive_buffer_size(socket_buffer_bytes));
    }
    server = std::make_unique<TlsStream>(std::move(s), server_tls);
    client = std::make_unique<TlsStream>(std::move(c), client_tls);
  }

  // Runs `task` on the loop; when it fails, its error is kept and its socket
  // closed, so that the other end sees the connection go.
  void spawn(TlsStream& end, net::awaitable<void> task, boost::system::error_code& error) {
    asio::co_spawn(io, std::move(task), [&end, &error](std::exception_ptr failure) {
      if (!failure) return;
      try {
        std::rethrow_exception(failure);
      } catch (const boost::system::system_error& e) {
        error = e.code();
      }
      end.socket().close();
    });
  }
};

struct Rack {
  std::shared_ptr<harness::ssl::context> server =
      harness::make_server_tls(harness::scheduler_tls_from_dir(test::rack_pki(), true), "");
  std::shared_ptr<harness::ssl::context> client =
      harness::make_client_tls(harness::client_tls_from_dir(test::rack_pki()), "127.0.0.1");
};

std::string pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed) % 251);
  return s;
}

net::awaitable<void> read_exactly(TlsStream& s, std::string& out, size_t n) {
  out.resize(n);
  for (size_t got = 0; got < n;)
    got += co_await s.read_some(asio::buffer(out.data() + got, n - got));
}

}  // namespace

TEST_CASE("TLS stream: messages of many records cross both ways at once", "[tls]") {
  Rack rack;
  // Socket buffers of a few KB: every write and read waits for the socket many times.
  Pair p(*rack.server, *rack.client, 4096);
  const std::string down = pattern((1 << 20) + 3, 1), up = pattern(300'000, 2);
  std::string got_down, got_up;
  boost::system::error_code server_error, client_error, reader_error, writer_error;
  p.client->expect_server_name("127.0.0.1");
  auto server_side = [&]() -> net::awaitable<void> {
    co_await p.server->handshake(TlsStream::Side::kServer);
    // The reader runs alongside the writer on the same stream.
    p.spawn(*p.server, read_exactly(*p.server, got_up, up.size()), reader_error);
    co_await p.server->write(asio::buffer(down));
  };
  p.spawn(*p.server, server_side(), server_error);
  auto client_side = [&]() -> net::awaitable<void> {
    co_await p.client->handshake(TlsStream::Side::kClient);
    p.spawn(*p.client, p.client->write(asio::buffer(up)), writer_error);
    co_await read_exactly(*p.client, got_down, down.size());
  };
  p.spawn(*p.client, client_side(), client_error);
  p.io.run();
  CHECK_FALSE(server_error);
  CHECK_FALSE(client_error);
  CHECK_FALSE(reader_error);
  CHECK_FALSE(writer_error);
  CHECK(got_down == down);
  CHECK(got_up == up);
  // Mutual TLS: the server saw the client's certificate.
  auto peer = harness::peer_certificate(p.server->native_handle());
  CHECK(peer.role == harness::kClientCertRole);
  CHECK(p.server->verify_failure().empty());
}

TEST_CASE("TLS stream: close_notify ends the stream, a cut mid-record is a truncation", "[tls]") {
  Rack rack;
  Pair p(*rack.server, *rack.client);
  boost::system::error_code server_error, client_error;
  std::string got;
  const bool clean = GENERATE(true, false);
  auto server_side = [&]() -> net::awaitable<void> {
    co_await p.server->handshake(TlsStream::Side::kServer);
    co_await p.server->write(asio::buffer(std::string("hello")));
    if (clean) {
      p.server->shutdown();
    } else {
      // The header of a 100-byte application-data record, 10 bytes of it, and gone.
      const std::string partial = std::string("\x17\x03\x03\x00\x64", 5) + std::string(10, 'x');
      asio::write(p.server->socket(), asio::buffer(partial));
    }
    p.server->socket().close();
  };
  p.spawn(*p.server, server_side(), server_error);
  auto client_side = [&]() -> net::awaitable<void> {
    co_await p.client->handshake(TlsStream::Side::kClient);
    co_await read_exactly(*p.client, got, 5);
    char more[64];
    co_await p.client->read_some(asio::buffer(more));
  };
  p.spawn(*p.client, client_side(), client_error);
  p.io.run();
  CHECK_FALSE(server_error);
  CHECK(got == "hello");
  if (clean) {
    CHECK(client_error == asio::error::eof);
  } else {
    CHECK(client_error == harness::ssl::error::stream_truncated);
  }
}

TEST_CASE("TLS stream: a wrong CA or a wrong name is refused with OpenSSL's reason", "[tls]") {
  Rack rack;
  test::TempDir other;
  harness::create_rack_pki({other / "pki", {}, 1});
  auto stranger = harness::make_client_tls(harness::client_tls_from_dir(other / "pki"), "");
  struct Case {
    harness::ssl::context* client;
    std::string name, why;
  };
  for (const auto& c :
       {Case{stranger.get(), "127.0.0.1", "self-signed certificate in certificate chain"},
        Case{rack.client.get(), "scheduler.elsewhere", "hostname mismatch"},
        Case{rack.client.get(), "10.9.8.7", "IP address mismatch"}}) {
    Pair p(*rack.server, *c.client);
    boost::system::error_code server_error, client_error;
    p.client->expect_server_name(c.name);
    p.spawn(*p.server, p.server->handshake(TlsStream::Side::kServer), server_error);
    p.spawn(*p.client, p.client->handshake(TlsStream::Side::kClient), client_error);
    p.io.run();
    INFO(c.name);
    CHECK(client_error.category() == asio::error::get_ssl_category());
    CHECK_THAT(client_error.message(), Catch::Contains("certificate verify failed"));
    CHECK_THAT(p.client->verify_failure(), Catch::Contains(c.why));
    CHECK(server_error);  // the client's alert ends the server's handshake too
  }
}

TEST_CASE("TLS stream: without a client certificate, mutual TLS refuses the peer", "[tls]") {
  Rack rack;
  auto config = harness::client_tls_from_dir(test::rack_pki());
  config.cert.clear();
  config.key.clear();
  auto anonymous = harness::make_client_tls(config, "");
  Pair p(*rack.server, *anonymous);
  boost::system::error_code server_error, client_error;
  std::string got;
  p.spawn(*p.server, p.server->handshake(TlsStream::Side::kServer), server_error);
  auto client_side = [&]() -> net::awaitable<void> {
    co_await p.client->handshake(TlsStream::Side::kClient);
    co_await read_exactly(*p.client, got, 1);  // TLS 1.3: the refusal comes after
  };
  p.spawn(*p.client, client_side(), client_error);
  p.io.run();
  CHECK(server_error.category() == asio::error::get_ssl_category());
  CHECK_THAT(server_error.message(), Catch::Contains("certificate"));
  CHECK(client_error);
}

TEST_CASE("TLS stream: writing to a peer that has gone is an error, not SIGPIPE", "[tls]") {
  Rack rack;
  Pair p(*rack.server, *rack.client);
  boost::system::error_code server_error, client_error;
  auto server_side = [&]() -> net::awaitable<void> {
    co_await p.server->handshake(TlsStream::Side::kServer);
    const std::string chunk = pattern(1 << 16, 3);
    for (;;) co_await p.server->write(asio::buffer(chunk));  // until the socket refuses
  };
  p.spawn(*p.server, server_side(), server_error);
  auto client_side = [&]() -> net::awaitable<void> {
    co_await p.client->handshake(TlsStream::Side::kClient);
    p.client->socket().close();
  };
  p.spawn(*p.client, client_side(), client_error);
  p.io.run();
  CHECK_FALSE(client_error);
  CHECK((server_error == boost::system::errc::broken_pipe ||
         server_error == boost::system::errc::connection_reset));
}
