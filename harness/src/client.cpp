#include "hil/harness/client.h"

#include <fstream>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "hil/evals/sha256.h"
#include "hil/harness/asio.h"

namespace hil::harness {

using namespace net;

struct Client::Impl {
  asio::io_context io;
  std::shared_ptr<ssl::context> tls_context;
  std::unique_ptr<ssl::stream<tcp::socket>> tls;
  std::optional<tcp::socket> plain;
  uint64_t next_id = 1;

  tcp::socket& socket() { return tls ? tls->next_layer() : *plain; }
  void write_all(const std::string& bytes, boost::system::error_code& ec) {
    if (tls) {
      asio::write(*tls, asio::buffer(bytes), ec);
    } else {
      asio::write(*plain, asio::buffer(bytes), ec);
    }
  }
  void read_exactly(char* data, size_t n, boost::system::error_code& ec) {
    if (tls) {
      asio::read(*tls, asio::buffer(data, n), ec);
    } else {
      asio::read(*plain, asio::buffer(data, n), ec);
    }
  }
};

Client::Client(const ClientOptions& options) : impl_(std::make_unique<Impl>()) {
  try {
    impl_->tls_context = make_client_tls(options.tls, options.host);
  } catch (const std::invalid_argument& e) {
    throw WireError(wire::ERROR_NONE, e.what());
  }
  tcp::socket socket(impl_->io);
  tcp::resolver resolver(impl_->io);
  boost::system::error_code ec;
  asio::connect(socket, resolver.resolve(options.host, std::to_string(options.port), ec), ec);
  if (ec) {
    throw WireError(wire::ERROR_NONE, fmt::format("cannot connect to the scheduler at {}:{}: {}",
                                                  options.host, options.port, ec.message()));
  }
  socket.set_option(tcp::no_delay(true));
  if (impl_->tls_context) {
    impl_->tls = std::make_unique<ssl::stream<tcp::socket>>(std::move(socket), *impl_->tls_context);
    // The scheduler's certificate must name the host we dialled.
    impl_->tls->set_verify_callback(ssl::host_name_verification(options.host));
    SSL_set_tlsext_host_name(impl_->tls->native_handle(), options.host.c_str());
    impl_->tls->handshake(ssl::stream_base::client, ec);
    if (ec) {
      throw WireError(wire::ERROR_NONE, fmt::format("TLS with the scheduler at {}:{} failed: {}",
                                                    options.host, options.port, ec.message()));
    }
  } else {
    impl_->plain.emplace(std::move(socket));
  }
  wire::Envelope hello;
  auto* h = hello.mutable_hello();
  h->set_protocol_version(options.protocol_version);
  h->set_role(options.role);
  h->set_peer_name(options.name);
  h->set_software_version(kSoftwareVersion);
  for (const auto& b : options.boards) *h->add_boards() = b;
  auto challenge = call(hello);
  if (challenge.body_case() != wire::Envelope::kChallenge)
    throw WireError(wire::BAD_MESSAGE, "expected a challenge");
  wire::Envelope proof;
  proof.mutable_proof()->set_hmac(
      auth_proof(options.secret, challenge.challenge().nonce(), options.role, options.name));
  auto welcome = call(proof);
  if (welcome.body_case() != wire::Envelope::kWelcome)
    throw WireError(wire::BAD_MESSAGE, "expected welcome");
}

Client::~Client() {
  boost::system::error_code ec;
  if ((impl_->tls || impl_->plain) && impl_->socket().is_open()) {
    wire::Envelope bye;
    bye.mutable_bye()->set_reason("client done");
    bye.set_id(impl_->next_id++);
    impl_->write_all(encode_frame(bye), ec);
    impl_->socket().close(ec);
  }
}

void Client::write(wire::Envelope& e) {
  e.set_id(impl_->next_id++);
  boost::system::error_code ec;
  impl_->write_all(encode_frame(e), ec);
  if (ec)
    throw WireError(wire::ERROR_NONE,
                    fmt::format("connection to the scheduler lost: {}", ec.message()));
}

wire::Envelope Client::read() {
  char prefix[4];
  boost::system::error_code ec;
  impl_->read_exactly(prefix, 4, ec);
  if (ec)
    throw WireError(wire::ERROR_NONE,
                    fmt::format("connection to the scheduler lost: {}", ec.message()));
  uint32_t n = decode_length(prefix, kDefaultMaxFrameBytes);
  std::string body(n, '\0');
  impl_->read_exactly(body.data(), n, ec);
  if (ec)
    throw WireError(wire::ERROR_NONE,
                    fmt::format("connection to the scheduler lost: {}", ec.message()));
  auto e = decode_body(body);
  if (e.body_case() == wire::Envelope::kError)
    throw WireError(e.error().code(), e.error().message());
  return e;
}

wire::Envelope Client::call(wire::Envelope request) {
  write(request);
  return read();
}

std::vector<std::string> Client::missing_blobs(const std::vector<std::string>& sha256s) {
  wire::Envelope e;
  for (const auto& s : sha256s) e.mutable_have_blobs()->add_sha256(s);
  auto r = call(e);
  return {r.missing_blobs().sha256().begin(), r.missing_blobs().sha256().end()};
}

std::string Client::upload_file(const std::filesystem::path& path) {
  return upload_files({path}).front();
}

std::vector<std::string> Client::upload_files(const std::vector<std::filesystem::path>& paths) {
  std::vector<std::string> shas;
  shas.reserve(paths.size());
  for (const auto& path : paths) shas.push_back(evals::sha256_file(path));
  auto missing = missing_blobs(shas);
  std::set<std::string> to_upload(missing.begin(), missing.end());
  for (size_t i = 0; i < paths.size(); ++i) {
    if (to_upload.erase(shas[i]) == 0) continue;  // held already, or uploaded just now
    std::ifstream in(paths[i], std::ios::binary);
    upload(shas[i], std::filesystem::file_size(paths[i]), paths[i].string(),
           [&](char* buf, size_t n) {
             in.read(buf, static_cast<std::streamsize>(n));
             return static_cast<size_t>(in.gcount());
           });
  }
  return shas;
}

std::string Client::upload_bytes(const std::string& bytes, const std::string& what) {
  std::string sha = evals::sha256_hex(bytes);
  if (missing_blobs({sha}).empty()) return sha;
  size_t at = 0;
  upload(sha, bytes.size(), what, [&](char* buf, size_t n) {
    n = std::min(n, bytes.size() - at);
    std::copy_n(bytes.data() + at, n, buf);
    at += n;
    return n;
  });
  return sha;
}

void Client::upload(const std::string& sha, uint64_t total, const std::string& what,
                    const std::function<size_t(char*, size_t)>& read_some) {
  uint64_t offset = 0;
  std::string chunk(kBlobChunkBytes, '\0');
  for (;;) {
    auto n = static_cast<uint64_t>(read_some(chunk.data(), chunk.size()));
    wire::Envelope e;
    auto* u = e.mutable_upload_blob();
    u->set_sha256(sha);
    u->set_offset(offset);
    u->set_total_size(total);
    u->set_data(chunk.substr(0, n));
    offset += n;
    u->set_last(offset >= total || n == 0);
    write(e);
    if (offset >= total || n == 0) break;
  }
  auto ack = read();
  if (!ack.upload_ack().complete())
    throw WireError(wire::INTERNAL, fmt::format("upload of {} not completed", what));
}

wire::SubmitAck Client::submit(const wire::SubmitRun& run) {
  wire::Envelope e;
  *e.mutable_submit_run() = run;
  return call(e).submit_ack();
}

wire::RunStatus Client::status(uint64_t run_id) {
  wire::Envelope e;
  e.mutable_run_status_request()->set_run_id(run_id);
  return call(e).run_status();
}

wire::RunStatus Client::watch(uint64_t run_id,
                              const std::function<void(const wire::RunStatus&)>& on_update) {
  wire::Envelope e;
  e.mutable_run_status_request()->set_run_id(run_id);
  e.mutable_run_status_request()->set_watch(true);
  write(e);
  for (;;) {
    auto r = read();
    if (r.body_case() != wire::Envelope::kRunStatus) continue;
    const auto& st = r.run_status();
    if (on_update) on_update(st);
    if (st.state() == "done" || st.state() == "cancelled") return st;
  }
}

wire::BoardList Client::boards() {
  wire::Envelope e;
  e.mutable_list_boards();
  return call(e).board_list();
}

void Client::cancel(uint64_t run_id) {
  wire::Envelope e;
  e.mutable_cancel_run()->set_run_id(run_id);
  call(e);
}

void Client::drain(const std::string& board, bool undrain) {
  wire::Envelope e;
  e.mutable_drain_board()->set_board(board);
  e.mutable_drain_board()->set_undrain(undrain);
  call(e);
}

}  // namespace hil::harness
