// The client side of the protocol, for `hil submit`, `hil gate`, `hil status`
// and tests: a blocking connection that authenticates with the rack secret
// and speaks request/response (plus the stream of a watched run).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hil/harness/tls.h"
#include "hil/harness/wire.h"

namespace hil::harness {

struct ClientOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 7600;
  std::string secret;
  std::string name = "hil-client";
  uint32_t protocol_version = kProtocolVersion;  // tests speak other versions
  wire::Role role = wire::CLIENT;
  // Role AGENT: the boards this connection speaks for (tests play a board by
  // hand with send() and receive()).
  std::vector<wire::BoardInfo> boards;
  TlsConfig tls;  // TLS, or plaintext on loopback when asked
};

class Client {
 public:
  // Connects and authenticates; throws WireError with the scheduler's reason.
  explicit Client(const ClientOptions& options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends a request and waits for its reply; an Error reply throws WireError.
  wire::Envelope call(wire::Envelope request);
  // Sends a message that has no reply of its own (a chunk of an upload).
  void send(wire::Envelope message) { write(message); }
  // Waits for the next message the scheduler sends (a lease, for a board
  // played by hand); an Error throws WireError.
  wire::Envelope receive() { return read(); }

  // Uploads a file as a blob named by its SHA-256 (skipped if the scheduler has it).
  std::string upload_file(const std::filesystem::path& path);
  // The same for many files, asking which the scheduler lacks in one round
  // trip (a suite's 2,000 clips took 2,000). Their SHA-256s, in order.
  std::vector<std::string> upload_files(const std::vector<std::filesystem::path>& paths);
  // Uploads bytes held in memory (a revision with its interface embedded);
  // `what` names them in errors. Returns their SHA-256.
  std::string upload_bytes(const std::string& bytes, const std::string& what);
  std::vector<std::string> missing_blobs(const std::vector<std::string>& sha256s);

  wire::SubmitAck submit(const wire::SubmitRun& run);
  wire::RunStatus status(uint64_t run_id);
  // Streams status updates until the run is done or cancelled; returns the last.
  wire::RunStatus watch(uint64_t run_id,
                        const std::function<void(const wire::RunStatus&)>& on_update);
  wire::BoardList boards();
  void cancel(uint64_t run_id);
  void drain(const std::string& board, bool undrain = false);

 private:
  void upload(const std::string& sha, uint64_t total, const std::string& what,
              const std::function<size_t(char*, size_t)>& read_some);

  void write(wire::Envelope& envelope);
  wire::Envelope read();

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hil::harness
