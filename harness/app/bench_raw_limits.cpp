#include "bench_raw_limits.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "hil/db/database.h"
#include "hil/harness/asio.h"
#include "hil/harness/tls.h"
#include "hil/harness/tls_stream.h"

namespace hil::app {
namespace {

using namespace net;
using Clock = std::chrono::steady_clock;
namespace ssl = harness::ssl;

constexpr size_t kMessageBytes = 64;

// A TLS or plaintext stream, whichever the measurement uses.
class Stream {
 public:
  Stream(tcp::socket socket, ssl::context* tls) {
    if (tls) {
      tls_ = std::make_unique<harness::TlsStream>(std::move(socket), *tls);
    } else {
      plain_.emplace(std::move(socket));
    }
  }
  awaitable<void> handshake(harness::TlsStream::Side side) {
    if (tls_) {
      if (side == harness::TlsStream::Side::kClient) tls_->expect_server_name("127.0.0.1");
      co_await tls_->handshake(side);
    }
  }
  awaitable<size_t> read_some(char* data, size_t size) {
    if (tls_) co_return co_await tls_->read_some(asio::buffer(data, size));
    co_return co_await plain_->async_read_some(asio::buffer(data, size), use_awaitable);
  }
  awaitable<void> write(const std::string& bytes) {
    if (tls_) {
      co_await tls_->write(asio::buffer(bytes));
    } else {
      co_await asio::async_write(*plain_, asio::buffer(bytes), use_awaitable);
    }
  }

 private:
  std::optional<tcp::socket> plain_;
  std::unique_ptr<harness::TlsStream> tls_;
};

// Reads and counts whole messages; returns how many the read completed.
struct MessageCounter {
  size_t partial = 0;
  size_t add(size_t bytes) {
    partial += bytes;
    size_t whole = partial / kMessageBytes;
    partial %= kMessageBytes;
    return whole;
  }
};

awaitable<void> serve(tcp::socket socket, ssl::context* tls) {
  Stream stream(std::move(socket), tls);
  std::vector<char> buffer(16 * 1024);
  MessageCounter counter;
  try {
    co_await stream.handshake(harness::TlsStream::Side::kServer);
    for (;;) {
      size_t n = co_await stream.read_some(buffer.data(), buffer.size());
      if (size_t whole = counter.add(n))
        co_await stream.write(std::string(whole * kMessageBytes, 'r'));
    }
  } catch (const std::exception&) {
    // the client went away: the measurement is over
  }
}

awaitable<void> accept_all(tcp::acceptor& acceptor, ssl::context* tls) {
  for (;;) {
    auto socket = co_await acceptor.async_accept(use_awaitable);
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), tls), asio::detached);
  }
}

struct ClientState {
  std::atomic<uint32_t> ready{0};
  std::atomic<uint64_t> replies{0};
  std::atomic<bool> failed{false};
  std::string failure;
};

awaitable<void> client(uint16_t port, ssl::context* tls, uint32_t depth, ClientState& state) {
  try {
    auto executor = co_await asio::this_coro::executor;
    tcp::socket socket(executor);
    co_await socket.async_connect({asio::ip::make_address("127.0.0.1"), port}, use_awaitable);
    socket.set_option(tcp::no_delay(true));
    Stream stream(std::move(socket), tls);
    co_await stream.handshake(harness::TlsStream::Side::kClient);
    ++state.ready;
    std::vector<char> buffer(16 * 1024);
    MessageCounter counter;
    co_await stream.write(std::string(depth * kMessageBytes, 'q'));
    for (;;) {
      size_t n = co_await stream.read_some(buffer.data(), buffer.size());
      if (size_t whole = counter.add(n)) {
        state.replies += whole;
        co_await stream.write(std::string(whole * kMessageBytes, 'q'));  // as many again
      }
    }
  } catch (const std::exception& e) {
    if (!state.failed.exchange(true)) state.failure = e.what();
  }
}

}  // namespace

LoopbackLimit measure_loopback_messages(const std::filesystem::path& pki_dir, bool plaintext,
                                        uint32_t connections, uint32_t depth, double seconds) {
  std::shared_ptr<ssl::context> server_tls, client_tls;
  if (!plaintext) {
    server_tls =
        harness::make_server_tls(harness::scheduler_tls_from_dir(pki_dir, true), "127.0.0.1");
    client_tls = harness::make_client_tls(harness::board_tls_from_dir(pki_dir), "127.0.0.1");
  }
  asio::io_context server_io, client_io;
  tcp::acceptor acceptor(server_io, {asio::ip::make_address("127.0.0.1"), 0});
  const uint16_t port = acceptor.local_endpoint().port();
  asio::co_spawn(server_io, accept_all(acceptor, server_tls.get()), asio::detached);
  ClientState state;
  for (uint32_t c = 0; c < connections; ++c)
    asio::co_spawn(client_io, client(port, client_tls.get(), depth, state), asio::detached);
  // One thread each, as the scheduler's event loop and the boards' are.
  std::thread server_thread([&] { server_io.run(); });
  std::thread client_thread([&] { client_io.run(); });
  const auto give_up = Clock::now() + std::chrono::seconds(60);
  while (state.ready < connections && !state.failed && Clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  LoopbackLimit limit{0, connections, depth};
  if (state.ready == connections && !state.failed) {
    const uint64_t before = state.replies;
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    const uint64_t replies = state.replies - before;
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    limit.messages_per_second = 2.0 * static_cast<double>(replies) / elapsed;
  }
  client_io.stop();
  server_io.stop();
  client_thread.join();
  server_thread.join();
  if (limit.messages_per_second == 0) {
    throw std::runtime_error(fmt::format("loopback measurement: {} of {} connections up{}",
                                         state.ready.load(), connections,
                                         state.failed ? ": " + state.failure : std::string()));
  }
  return limit;
}

double measure_sqlite_guarded_updates(const std::filesystem::path& dir, int64_t rows) {
  const auto path = dir / "raw-updates.db";
  std::filesystem::remove(path);
  db::Database d(path);
  d.exec("PRAGMA synchronous = FULL");
  d.exec("CREATE TABLE e(id INTEGER PRIMARY KEY, state TEXT NOT NULL, lease_id INTEGER)");
  {
    db::Transaction tx(d);
    auto& insert = d.cached("INSERT INTO e(id, state) VALUES (?1, 'queued')");
    for (int64_t id = 1; id <= rows; ++id) insert.bind_all(id).run();
    tx.commit();
  }
  auto& lease = d.cached(
      "UPDATE e SET state = 'leased', lease_id = ?2 WHERE id = ?1 AND state IN ('queued', "
      "'leased')");
  auto& result = d.cached(
      "UPDATE e SET state = 'succeeded' WHERE id = ?1 AND state IN ('queued', 'leased') AND "
      "lease_id IS ?2");
  constexpr int64_t kRowsPerTransaction = 256;  // 512 updates
  const auto t0 = Clock::now();
  for (int64_t first = 1; first <= rows; first += kRowsPerTransaction) {
    db::Transaction tx(d);
    const int64_t last = std::min(rows, first + kRowsPerTransaction - 1);
    for (int64_t id = first; id <= last; ++id) lease.bind_all(id, id + 7).run();
    for (int64_t id = first; id <= last; ++id) result.bind_all(id, id + 7).run();
    tx.commit();
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  auto& check = d.cached("SELECT COUNT(*) FROM e WHERE state = 'succeeded'");
  const int64_t succeeded =
      check.first([](db::Statement& row) { return row.int64(0); }).value_or(0);
  if (succeeded != rows) {
    throw std::runtime_error(
        fmt::format("raw update measurement: {} of {} rows updated", succeeded, rows));
  }
  return 2.0 * static_cast<double>(rows) / elapsed;
}

}  // namespace hil::app
