// Transport security for scheduler, agent and client connections: TLS 1.2+
// with a rack's own certificate authority, optionally mutual (boards and
// clients present certificates too, and the certificate's role must match the
// role the peer claims). The rack secret's challenge-response stays on top.
// Plaintext is never a default: it must be asked for, and only on loopback.
#pragma once

#include <cstdint>
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
  // The rack's certificate revocation list (PEM, signed by the CA). The
  // scheduler reads it at every mutual-TLS hello, again whenever the file
  // changes; it may not exist yet (nothing revoked).
  std::filesystem::path crl;
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

// The common names of the certificates `hil certs init` shares among a rack's
// boards and clients. Any other board certificate belongs to one board:
// its common name is that board's name (issue_board_certificate).
inline constexpr const char* kSharedBoardCommonName = "hil board";
inline constexpr const char* kSharedClientCommonName = "hil client";

// What the scheduler needs of a peer's verified certificate: its role (OU),
// its common name and its serial number (upper-case hex). All empty when the
// peer presented none.
struct PeerCertificate {
  std::string role, common_name, serial;
};
PeerCertificate peer_certificate(SSL* ssl);

// True when a board agent that calls itself `name` may use a certificate with
// `common_name`: the shared board certificate speaks for any board; a board's
// own certificate only for the one board its common name names (so one
// board's key cannot register, or report results, as another).
bool certificate_speaks_for(const std::string& common_name, const std::string& name);

// The rack's revocation list, read from `crl` (verified against the CA in
// `ca`) when first asked and again whenever the file changes. A missing file
// revokes nothing; a file that exists but cannot be read or verified throws
// std::runtime_error naming it (the scheduler then refuses board and client
// connections: it fails closed).
class RevocationList {
 public:
  RevocationList(std::filesystem::path crl, std::filesystem::path ca);
  bool revoked(const std::string& serial);

 private:
  void reload_if_changed();
  std::filesystem::path crl_, ca_;
  std::filesystem::file_time_type loaded_time_{};
  uintmax_t loaded_size_ = 0;
  bool loaded_ = false;
  std::vector<std::string> serials_;  // sorted
};

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

// Enrolment: a certificate of a board's own, signed by the rack CA in
// `pki_dir` (OU=board, CN=`board`), written with the CA certificate to
// `pki_dir`/boards/`board`/{ca.pem,board.pem,board.key}: the folder to copy
// to the board and give as its --tls. Recorded in `pki_dir`/certificates.tsv.
// Refuses a name that is not [A-Za-z0-9._-]{1,64}, a reserved name (board,
// client, scheduler, ca) and a board that holds a valid certificate (revoke
// it first).
struct IssuedCertificate {
  std::filesystem::path dir;
  std::string serial;
};
IssuedCertificate issue_board_certificate(const std::filesystem::path& pki_dir,
                                          const std::string& board, int days = 825);

// Revokes every valid certificate issued to `name` (a board, or "board" /
// "client" for the shared certificates) and rewrites `pki_dir`/crl.pem, signed
// by the rack CA. Returns the serials revoked; throws std::invalid_argument
// when `name` holds no valid certificate.
std::vector<std::string> revoke_certificates(const std::filesystem::path& pki_dir,
                                             const std::string& name);

enum class CertificateState { kValid, kRevoked };
const char* certificate_state_name(CertificateState state);
struct CertificateRecord {
  std::string serial, name, role;
  int64_t not_after = 0;  // Unix seconds
  CertificateState state = CertificateState::kValid;
  int64_t revoked_at = 0;  // Unix seconds, when revoked
};
// The certificates the rack CA in `pki_dir` issued, in issue order.
std::vector<CertificateRecord> list_certificates(const std::filesystem::path& pki_dir);

// The file layout create_rack_pki writes, as TlsConfigs for each role.
TlsConfig scheduler_tls_from_dir(const std::filesystem::path& dir, bool mutual);
TlsConfig board_tls_from_dir(const std::filesystem::path& dir);
TlsConfig client_tls_from_dir(const std::filesystem::path& dir);

}  // namespace hil::harness
