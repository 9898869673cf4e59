#include "hil/harness/client.h"

#include <fstream>

#include <fmt/format.h>

#include "hil/evals/sha256.h"
#include "hil/harness/asio.h"

namespace hil::harness {

using namespace net;

struct Client::Impl {
  asio::io_context io;
  tcp::socket socket{io};
  uint64_t next_id = 1;
};

Client::Client(const ClientOptions& options) : impl_(std::make_unique<Impl>()) {
  tcp::resolver resolver(impl_->io);
  boost::system::error_code ec;
  asio::connect(impl_->socket, resolver.resolve(options.host, std::to_string(options.port)), ec);
  if (ec) {
    throw WireError(wire::ERROR_NONE, fmt::format("cannot connect to the scheduler at {}:{}: {}", options.host,
                                                  options.port, ec.message()));
  }
  impl_->socket.set_option(tcp::no_delay(true));
  wire::Envelope hello;
  auto* h = hello.mutable_hello();
  h->set_protocol_version(options.protocol_version);
  h->set_role(options.role);
  h->set_peer_name(options.name);
  h->set_software_version(kSoftwareVersion);
  auto challenge = call(hello);
  if (challenge.body_case() != wire::Envelope::kChallenge) throw WireError(wire::BAD_MESSAGE, "expected a challenge");
  wire::Envelope proof;
  proof.mutable_proof()->set_hmac(auth_proof(options.secret, challenge.challenge().nonce(), options.role, options.name));
  auto welcome = call(proof);
  if (welcome.body_case() != wire::Envelope::kWelcome) throw WireError(wire::BAD_MESSAGE, "expected welcome");
}

Client::~Client() {
  boost::system::error_code ec;
  if (impl_->socket.is_open()) {
    wire::Envelope bye;
    bye.mutable_bye()->set_reason("client done");
    bye.set_id(impl_->next_id++);
    auto frame = encode_frame(bye);
    asio::write(impl_->socket, asio::buffer(frame), ec);
    impl_->socket.close(ec);
  }
}

void Client::write(wire::Envelope& e) {
  e.set_id(impl_->next_id++);
  auto frame = encode_frame(e);
  boost::system::error_code ec;
  asio::write(impl_->socket, asio::buffer(frame), ec);
  if (ec) throw WireError(wire::ERROR_NONE, fmt::format("connection to the scheduler lost: {}", ec.message()));
}

wire::Envelope Client::read() {
  char prefix[4];
  boost::system::error_code ec;
  asio::read(impl_->socket, asio::buffer(prefix, 4), ec);
  if (ec) throw WireError(wire::ERROR_NONE, fmt::format("connection to the scheduler lost: {}", ec.message()));
  uint32_t n = decode_length(prefix, kDefaultMaxFrameBytes);
  std::string body(n, '\0');
  asio::read(impl_->socket, asio::buffer(body.data(), n), ec);
  if (ec) throw WireError(wire::ERROR_NONE, fmt::format("connection to the scheduler lost: {}", ec.message()));
  auto e = decode_body(body);
  if (e.body_case() == wire::Envelope::kError) throw WireError(e.error().code(), e.error().message());
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
  std::string sha = evals::sha256_file(path);
  if (missing_blobs({sha}).empty()) return sha;
  uint64_t total = std::filesystem::file_size(path);
  std::ifstream in(path, std::ios::binary);
  uint64_t offset = 0;
  std::string chunk(kBlobChunkBytes, '\0');
  for (;;) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    auto n = static_cast<uint64_t>(in.gcount());
    wire::Envelope e;
    auto* u = e.mutable_upload_blob();
    u->set_sha256(sha);
    u->set_offset(offset);
    u->set_total_size(total);
    u->set_data(chunk.substr(0, n));
    offset += n;
    u->set_last(offset >= total);
    write(e);
    if (offset >= total) break;
  }
  auto ack = read();
  if (!ack.upload_ack().complete()) throw WireError(wire::INTERNAL, fmt::format("upload of {} not completed", path.string()));
  return sha;
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

wire::RunStatus Client::watch(uint64_t run_id, const std::function<void(const wire::RunStatus&)>& on_update) {
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
