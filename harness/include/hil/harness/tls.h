// Transport security for scheduler, agent and client connections: TLS 1.2+
// with a rack's own certificate authority, optionally mutual (boards and
// clients present certificates too, and the certificate's role must match the
// role the peer claims). The rack secret's challenge-response stays on top.
// Plaintext is never a default: it must be asked for, and only on loopback.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "hil/harness/asio.h"

#include <boost/asio/ssl.hpp>

namespace hil::harness {

namespace ssl = boost::asio::ssl;

struct TlsConfig {
  // This peer's certificate chain and private key (PEM). Required for the
  // scheduler; for agents and clients only when the scheduler asks (mTLS).
  std::filesystem::path cert, key;
  // The rack CA (PEM). Agents and clients verify the scheduler with it; a
  // scheduler given a CA requires and verifies peer certificates (mTLS).
  std::filesystem::path ca;
  // Explicit opt-out: plaintext TCP, refused unless the address is loopback.
  bool plaintext_on_loopback = false;
};

// The roles a rack certificate can carry, in its subject's OU.
inline constexpr const char* kBoardCertRole = "board";
inline constexpr const char* kClientCertRole = "client";

// nullptr for plaintext (after checking that `host` is a loopback address);
// otherwise a context. Throws std::invalid_argument naming the missing or
// unreadable file, or why plaintext is refused.
std::shared_ptr<ssl::context> make_server_tls(const TlsConfig& config,
                                              const std::string& listen_host);
std::shared_ptr<ssl::context> make_client_tls(const TlsConfig& config,
                                              const std::string& scheduler_host);

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const std::string& host);

// The OU of the peer's verified certificate ("" when it presented none).
std::string peer_certificate_role(SSL* ssl);

// Creates a rack PKI in `dir`: ca.pem/ca.key, scheduler.pem/.key (valid for
// `scheduler_hosts`: names or IP addresses, plus localhost and 127.0.0.1),
// board.pem/.key (OU=board) and client.pem/.key (OU=client). Keys are
// ECDSA P-256, written with mode 0600. Refuses to overwrite an existing CA.
struct RackPkiOptions {
  std::filesystem::path dir;
  std::vector<std::string> scheduler_hosts;
  int days = 825;
};
void create_rack_pki(const RackPkiOptions& options);

// The file layout create_rack_pki writes, as TlsConfigs for each role.
TlsConfig scheduler_tls_from_dir(const std::filesystem::path& dir, bool mutual);
TlsConfig board_tls_from_dir(const std::filesystem::path& dir);
TlsConfig client_tls_from_dir(const std::filesystem::path& dir);

}  // namespace hil::harness
