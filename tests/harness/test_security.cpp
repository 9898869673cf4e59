// Transport security and resource limits of the scheduler, with real TLS on
// loopback: certificates are verified both ways, a certificate's role binds
// the role a peer may claim, plaintext needs asking for and loopback, and a
// peer over a limit is cut off without hurting the others.
#include <catch2/catch.hpp>

#include <poll.h>

#include <algorithm>
#include <fstream>

#include <thread>

#include "farm.h"
#include "hil/harness/asio.h"
#include "hil/harness/tls.h"

using namespace hil;
using test::Farm;

namespace {

// The client works: it authenticates and lists boards.
bool client_works(const harness::ClientOptions& o) {
  harness::Client c(o);
  c.boards();
  return true;
}

std::string refusal(const harness::ClientOptions& o) {
  try {
    harness::Client c(o);
    c.boards();
  } catch (const harness::WireError& e) {
    return e.what();
  }
  return "";
}

// Blocks (at most `seconds`) until the peer closes `socket`; true if it did.
bool closed_by_peer(net::tcp::socket& socket, int seconds) {
  pollfd p{socket.native_handle(), POLLIN, 0};
  for (int waited = 0; waited < seconds * 10; ++waited) {
    if (::poll(&p, 1, 100) > 0) {
      char byte;
      boost::system::error_code ec;
      size_t n = socket.read_some(net::asio::buffer(&byte, 1), ec);
      if (ec || n == 0) return true;
    }
  }
  return false;
}

}  // namespace

TEST_CASE("plaintext must be asked for, and only on loopback", "[security]") {
  harness::TlsConfig none;
  CHECK_THROWS_WITH(harness::make_server_tls(none, "127.0.0.1"), Catch::Contains("certificate"));
  CHECK_THROWS_WITH(harness::make_client_tls(none, "127.0.0.1"), Catch::Contains("CA"));
  harness::TlsConfig plain;
  plain.plaintext_on_loopback = true;
  CHECK(harness::make_server_tls(plain, "127.0.0.1") == nullptr);
  CHECK(harness::make_server_tls(plain, "::1") == nullptr);
  CHECK(harness::make_client_tls(plain, "localhost") == nullptr);
  CHECK_THROWS_WITH(harness::make_server_tls(plain, "0.0.0.0"),
                    Catch::Contains("only allowed on loopback"));
  CHECK_THROWS_WITH(harness::make_client_tls(plain, "10.1.2.3"), Catch::Contains("'10.1.2.3'"));
  // A missing or mismatched file is named.
  auto tls = harness::scheduler_tls_from_dir(test::rack_pki(), false);
  auto missing = tls;
  missing.cert = "/nonexistent/scheduler.pem";
  CHECK_THROWS_WITH(harness::make_server_tls(missing, "127.0.0.1"),
                    Catch::Contains("/nonexistent/scheduler.pem"));
  auto mismatched = tls;
  mismatched.key = test::rack_pki() / "board.key";
  CHECK_THROWS_WITH(harness::make_server_tls(mismatched, "127.0.0.1"),
                    Catch::Contains("board.key"));
  // A rack CA is never silently replaced.
  CHECK_THROWS_WITH(harness::create_rack_pki({test::rack_pki(), {}, 1}),
                    Catch::Contains("refusing to replace"));
}

TEST_CASE("a client verifies the scheduler's certificate against the rack CA", "[security]") {
  Farm farm(0);
  test::TempDir other;
  harness::create_rack_pki({other / "pki", {}, 1});
  auto o = farm.client();
  o.tls = harness::client_tls_from_dir(other / "pki");  // trusts another rack's CA
  CHECK_THAT(refusal(o), Catch::Contains("TLS") && Catch::Contains("certificate verify failed"));
  CHECK(client_works(farm.client()));  // the others are unaffected
}

TEST_CASE(
    "mutual TLS: peers without a rack certificate are refused, and a certificate binds its role",
    "[security]") {
  Farm farm(0);
  auto anonymous = farm.client();
  anonymous.tls.cert.clear();
  anonymous.tls.key.clear();
  CHECK_FALSE(refusal(anonymous).empty());

  auto board_as_client = farm.client();
  board_as_client.tls.cert = test::rack_pki() / "board.pem";
  board_as_client.tls.key = test::rack_pki() / "board.key";
  try {
    harness::Client c(board_as_client);
    FAIL("a board certificate must not act as a client");
  } catch (const harness::WireError& e) {
    CHECK(e.code() == wire::FORBIDDEN);
    CHECK_THAT(e.what(), Catch::Contains("'client' certificate"));
  }

  auto client_as_board = farm.client();
  client_as_board.role = wire::AGENT;
  try {
    harness::Client c(client_as_board);
    FAIL("a client certificate must not act as a board");
  } catch (const harness::WireError& e) {
    CHECK(e.code() == wire::FORBIDDEN);
  }

  auto plaintext = farm.client();
  plaintext.tls = {};
  plaintext.tls.plaintext_on_loopback = true;
  CHECK_FALSE(refusal(plaintext).empty());
  CHECK(client_works(farm.client()));
}

TEST_CASE("connections per host are capped; a slot frees when a peer leaves",
          "[security][limits]") {
  Farm farm(0, [](harness::SchedulerOptions& so) { so.max_connections_per_host = 2; });
  auto a = std::make_unique<harness::Client>(farm.client());
  harness::Client b(farm.client());
  CHECK_FALSE(refusal(farm.client()).empty());
  a.reset();
  bool works = false;
  for (int i = 0; i < 100 && !works; ++i) {  // the scheduler notices the close asynchronously
    works = refusal(farm.client()).empty();
    if (!works) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(works);
  CHECK_NOTHROW(b.boards());
}

TEST_CASE("a peer that connects and never completes the handshake is dropped",
          "[security][limits]") {
  Farm farm(0, [](harness::SchedulerOptions& so) { so.handshake_timeout_seconds = 0.5; });
  net::asio::io_context io;
  net::tcp::socket idle(io);
  idle.connect({net::asio::ip::make_address("127.0.0.1"), farm.scheduler->port()});
  CHECK(closed_by_peer(idle, 10));
  CHECK(client_works(farm.client()));
}

TEST_CASE("concurrent uploads are capped, and an abandoned upload leaves nothing behind",
          "[security][limits]") {
  Farm farm(0, [](harness::SchedulerOptions& so) { so.max_concurrent_uploads = 1; });
  auto first_chunk = [](const std::string& payload) {
    wire::Envelope e;
    auto* u = e.mutable_upload_blob();
    u->set_sha256(evals::sha256_hex(payload));
    u->set_offset(0);
    u->set_total_size(payload.size());
    u->set_data(payload.substr(0, payload.size() / 2));
    u->set_last(false);
    return e;
  };
  auto uploading = std::make_unique<harness::Client>(farm.client());
  uploading->send(first_chunk("an upload that never finishes"));
  uploading->boards();  // the chunk has been handled

  harness::Client second(farm.client());
  second.send(first_chunk("a second upload at the same time"));
  try {
    second.boards();
    FAIL("the second upload must be refused");
  } catch (const harness::WireError& e) {
    CHECK(e.code() == wire::LIMIT_EXCEEDED);
    CHECK_THAT(e.what(), Catch::Contains("limit 1"));
  }

  uploading.reset();  // gone mid-upload: its partial file is removed and its slot freed
  auto blobs = farm.dir / "hil.db.blobs";
  bool clean = false;
  for (int i = 0; i < 100 && !clean; ++i) {
    clean = true;
    for (const auto& f : std::filesystem::directory_iterator(blobs))
      clean = clean && f.path().extension() != ".part";
    if (!clean) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(clean);
  harness::Client third(farm.client());
  auto blob = farm.dir / "whole.bin";
  evals::write_file_atomic(blob, "a whole upload after the slot freed");
  CHECK(third.upload_file(blob) ==
        evals::sha256_hex(std::string("a whole upload after the slot freed")));
}

TEST_CASE("bad frames on the wire: each peer is cut off with the reason, the scheduler serves on",
          "[security][wire]") {
  Farm farm(0, [](harness::SchedulerOptions& so) {
    so.tls = {};
    so.tls.plaintext_on_loopback = true;  // raw frames, no TLS in the way
    so.max_frame_bytes = 1 << 16;
  });
  auto plain_client = [&] {
    auto o = farm.client();
    o.tls = {};
    o.tls.plaintext_on_loopback = true;
    return o;
  };
  net::asio::io_context io;
  auto connect = [&] {
    net::tcp::socket s(io);
    s.connect({net::asio::ip::make_address("127.0.0.1"), farm.scheduler->port()});
    return s;
  };
  // The reply a peer gets before it is cut off (an Error), or nullopt.
  auto error_reply = [](net::tcp::socket& s) -> std::optional<wire::Error> {
    harness::FrameDecoder decoder;
    char buf[4096];
    for (;;) {
      boost::system::error_code ec;
      size_t n = s.read_some(net::asio::buffer(buf), ec);
      if (ec) return std::nullopt;
      decoder.feed({buf, n});
      if (auto e = decoder.next(); e && e->body_case() == wire::Envelope::kError) return e->error();
    }
  };

  SECTION("oversized: refused from the length alone") {
    auto s = connect();
    const char huge[4] = {0x7f, 0, 0, 0};
    net::asio::write(s, net::asio::buffer(huge, 4));
    auto e = error_reply(s);
    REQUIRE(e);
    CHECK(e->code() == wire::TOO_LARGE);
  }
  SECTION("malformed: a body that is not an envelope") {
    auto s = connect();
    std::string frame = std::string("\0\0\0\x05", 4) + "\xff\xff\xff\xff\xff";
    net::asio::write(s, net::asio::buffer(frame));
    auto e = error_reply(s);
    REQUIRE(e);
    CHECK(e->code() == wire::BAD_MESSAGE);
  }
  SECTION("truncated: the peer goes away mid-frame") {
    auto s = connect();
    wire::Envelope hello;
    hello.mutable_hello()->set_protocol_version(harness::kProtocolVersion);
    hello.mutable_hello()->set_peer_name("half");
    auto frame = harness::encode_frame(hello);
    net::asio::write(s, net::asio::buffer(frame.data(), frame.size() / 2));
    s.close();
  }
  SECTION("out of order: a request before the handshake") {
    auto s = connect();
    wire::Envelope submit;
    submit.mutable_submit_run()->set_suite_name("sneaky");
    auto frame = harness::encode_frame(submit);
    net::asio::write(s, net::asio::buffer(frame));
    auto e = error_reply(s);
    REQUIRE(e);
    CHECK(e->code() == wire::BAD_MESSAGE);
    CHECK_THAT(e->message(), Catch::Contains("hello"));
  }
  CHECK(client_works(plain_client()));
}

TEST_CASE("an upload whose bytes do not hash to its name is refused and not stored",
          "[security][blobs]") {
  Farm farm(0);
  harness::Client c(farm.client());
  const std::string claimed = evals::sha256_hex(std::string("what the client says it sends"));
  wire::Envelope e;
  auto* u = e.mutable_upload_blob();
  u->set_sha256(claimed);
  u->set_offset(0);
  u->set_total_size(11);
  u->set_data("other bytes");
  u->set_last(true);
  try {
    c.call(e);
    FAIL("a mislabelled blob must be refused");
  } catch (const harness::WireError& err) {
    CHECK(err.code() == wire::INVALID_ARGUMENT);
    CHECK_THAT(err.what(), Catch::Contains(claimed) && Catch::Contains("refused"));
  }
  CHECK_FALSE(std::filesystem::exists(farm.dir / "hil.db.blobs" / claimed));
  harness::Client again(farm.client());
  CHECK(again.missing_blobs({claimed}) == std::vector<std::string>{claimed});
}

namespace {

// A rack PKI of the test's own, so that enrolling and revoking touch no other test.
struct EnrolledRack {
  test::TempDir dir;
  std::filesystem::path pki = dir / "pki";
  std::unique_ptr<Farm> farm;
  EnrolledRack() {
    harness::create_rack_pki({pki, {}, 2});
    farm = std::make_unique<Farm>(0, [&](harness::SchedulerOptions& so) {
      so.tls = harness::scheduler_tls_from_dir(pki, true);
    });
  }
  harness::ClientOptions client() const {
    auto o = farm->client();
    o.tls = harness::client_tls_from_dir(pki);
    return o;
  }
  // An agent connection that speaks for board `name`, with the credentials in `tls_dir`.
  harness::ClientOptions board(const std::string& name,
                               const std::filesystem::path& tls_dir) const {
    auto o = farm->client();
    o.role = wire::AGENT;
    o.name = name;
    wire::BoardInfo b;
    b.set_name(name);
    b.set_type("slowed-hw3");
    b.set_engines(2);
    b.set_slots(1);
    o.boards = {b};
    o.tls = harness::board_tls_from_dir(tls_dir);
    return o;
  }
  // Why the scheduler refused `o` (FORBIDDEN expected), or "" when it accepted it.
  static std::string forbidden(const harness::ClientOptions& o) {
    try {
      harness::Client c(o);
    } catch (const harness::WireError& e) {
      CHECK(e.code() == wire::FORBIDDEN);
      return e.what();
    }
    return "";
  }
};

std::vector<std::string> board_names(const harness::ClientOptions& o) {
  harness::Client c(o);
  std::vector<std::string> names;
  auto list = c.boards();
  for (const auto& b : list.boards()) names.push_back(b.name());
  return names;
}

}  // namespace

TEST_CASE("enrolment gives a board a certificate of its own that speaks only for that board",
          "[security][enrolment]") {
  EnrolledRack rack;
  auto issued = harness::issue_board_certificate(rack.pki, "lab-07", 2);
  CHECK(issued.dir == rack.pki / "boards" / "lab-07");
  for (const char* file : {"ca.pem", "board.pem", "board.key"})
    CHECK(std::filesystem::is_regular_file(issued.dir / file));
  CHECK((std::filesystem::status(issued.dir / "board.key").permissions() &
         std::filesystem::perms::group_read) == std::filesystem::perms::none);

  auto records = harness::list_certificates(rack.pki);
  REQUIRE(records.size() == 4);  // scheduler, shared board, shared client, lab-07
  CHECK(records[3].name == "lab-07");
  CHECK(records[3].role == "board");
  CHECK(records[3].serial == issued.serial);
  CHECK(records[3].state == harness::CertificateState::kValid);

  // Names are checked, and a board holds one valid certificate at a time.
  CHECK_THROWS_WITH(harness::issue_board_certificate(rack.pki, "lab-07", 2),
                    Catch::Contains("already holds a valid certificate"));
  CHECK_THROWS_WITH(harness::issue_board_certificate(rack.pki, "board", 2),
                    Catch::Contains("reserved"));
  CHECK_THROWS_WITH(harness::issue_board_certificate(rack.pki, "../lab", 2),
                    Catch::Contains("'../lab'"));
  CHECK_THROWS_WITH(harness::issue_board_certificate(rack.dir / "nothing", "lab-08", 2),
                    Catch::Contains("holds no rack CA"));

  // The board registers under its own name, and under no other.
  CHECK(EnrolledRack::forbidden(rack.board("lab-07", issued.dir)).empty());
  CHECK_THAT(EnrolledRack::forbidden(rack.board("lab-08", issued.dir)),
             Catch::Contains("certificate of board 'lab-07' cannot register as 'lab-08'"));
  auto prefix = rack.board("lab-07", issued.dir);
  prefix.boards[0].set_name("lab-07-000");  // its name as a prefix is not its name
  CHECK_THAT(EnrolledRack::forbidden(prefix), Catch::Contains("cannot register as 'lab-07-000'"));
  // The shared board certificate still speaks for any board (emulated racks).
  CHECK(EnrolledRack::forbidden(rack.board("rack-000", rack.pki)).empty());

  // A real agent with the board's folder as its --tls registers the board.
  device_agents::RackOptions ro =
      test::rack_options(rack.farm->scheduler->port(), 1, rack.dir / "cache", "lab-07");
  ro.tls = harness::board_tls_from_dir(issued.dir);
  device_agents::Rack agent(ro);
  agent.start();
  bool registered = false;
  for (int i = 0; i < 200 && !registered; ++i) {
    auto names = board_names(rack.client());
    registered = std::find(names.begin(), names.end(), "lab-07") != names.end();
    if (!registered) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  CHECK(registered);
  agent.stop();
}

TEST_CASE("a revoked board is refused at its next connection; the others are not",
          "[security][enrolment]") {
  EnrolledRack rack;
  auto lab7 = harness::issue_board_certificate(rack.pki, "lab-07", 2);
  auto lab9 = harness::issue_board_certificate(rack.pki, "lab-09", 2);
  CHECK(EnrolledRack::forbidden(rack.board("lab-07", lab7.dir)).empty());

  auto serials = harness::revoke_certificates(rack.pki, "lab-07");
  REQUIRE(serials == std::vector<std::string>{lab7.serial});
  CHECK(std::filesystem::is_regular_file(rack.pki / "crl.pem"));
  CHECK_THAT(EnrolledRack::forbidden(rack.board("lab-07", lab7.dir)),
             Catch::Contains("revoked") && Catch::Contains(lab7.serial));
  CHECK(EnrolledRack::forbidden(rack.board("lab-09", lab9.dir)).empty());
  CHECK_THROWS_WITH(harness::revoke_certificates(rack.pki, "lab-07"),
                    Catch::Contains("holds no valid certificate"));

  // Re-enrolled after revocation: a new certificate, a new serial, accepted.
  auto again = harness::issue_board_certificate(rack.pki, "lab-07", 2);
  CHECK(again.serial != lab7.serial);
  CHECK(EnrolledRack::forbidden(rack.board("lab-07", again.dir)).empty());

  // Revoking the shared board certificate shuts out every rack that uses it.
  harness::revoke_certificates(rack.pki, "board");
  CHECK_THAT(EnrolledRack::forbidden(rack.board("rack-000", rack.pki)), Catch::Contains("revoked"));
  CHECK(EnrolledRack::forbidden(rack.board("lab-09", lab9.dir)).empty());
  int revoked = 0;
  for (const auto& r : harness::list_certificates(rack.pki))
    revoked += r.state == harness::CertificateState::kRevoked;
  CHECK(revoked == 2);
}

TEST_CASE("a revocation list that cannot be trusted refuses every certificate",
          "[security][enrolment]") {
  EnrolledRack rack;
  auto lab7 = harness::issue_board_certificate(rack.pki, "lab-07", 2);
  SECTION("garbage") {
    std::ofstream(rack.pki / "crl.pem") << "not a revocation list\n";
    CHECK_THAT(
        EnrolledRack::forbidden(rack.board("lab-07", lab7.dir)),
        Catch::Contains("cannot check certificate revocation") && Catch::Contains("crl.pem"));
  }
  SECTION("signed by another CA") {
    test::TempDir other;
    harness::create_rack_pki({other / "pki", {}, 2});
    harness::issue_board_certificate(other / "pki", "x", 2);
    harness::revoke_certificates(other / "pki", "x");
    std::filesystem::copy_file(other / "pki" / "crl.pem", rack.pki / "crl.pem");
    CHECK_THAT(EnrolledRack::forbidden(rack.board("lab-07", lab7.dir)),
               Catch::Contains("not signed by the rack CA"));
  }
}
