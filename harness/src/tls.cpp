#include "hil/harness/tls.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include <fmt/format.h>

namespace hil::harness {

namespace fs = std::filesystem;

namespace {

std::string openssl_error() {
  unsigned long code = ERR_get_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

void require_file(const fs::path& path, const char* what) {
  std::error_code ec;
  if (path.empty()) throw std::invalid_argument(fmt::format("no {} given", what));
  if (!fs::is_regular_file(path, ec)) {
    throw std::invalid_argument(
        fmt::format("{} '{}' does not exist or is not a file", what, path.string()));
  }
}

// Loads a file into the context, naming the file and OpenSSL's reason.
template <typename Load>
void load(const fs::path& path, const char* what, Load&& load_fn) {
  require_file(path, what);
  boost::system::error_code ec;
  load_fn(path.string(), ec);
  if (ec)
    throw std::invalid_argument(fmt::format("{} '{}': {}", what, path.string(), ec.message()));
}

std::shared_ptr<ssl::context> base_context(ssl::context::method method) {
  auto ctx = std::make_shared<ssl::context>(method);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  // Thousands of mostly idle board connections: no 2 x 34 KB buffers each while idle.
  SSL_CTX_set_mode(ctx->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

void refuse_plaintext_off_loopback(const std::string& host) {
  if (!is_loopback_host(host)) {
    throw std::invalid_argument(
        fmt::format("plaintext is only allowed on loopback, and '{}' is not a loopback address: "
                    "give TLS certificates "
                    "(hil certs init makes a rack's)",
                    host));
  }
}

}  // namespace

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto address = net::asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

std::shared_ptr<ssl::context> make_server_tls(const TlsConfig& config,
                                              const std::string& listen_host) {
  if (config.plaintext_on_loopback) {
    refuse_plaintext_off_loopback(listen_host);
    return nullptr;
  }
  if (config.cert.empty() || config.key.empty()) {
    throw std::invalid_argument(
        "the scheduler needs a TLS certificate and key (hil certs init makes a rack's), or "
        "plaintext on loopback");
  }
  auto ctx = base_context(ssl::context::tls_server);
  load(config.cert, "TLS certificate",
       [&](const std::string& f, auto& ec) { ctx->use_certificate_chain_file(f, ec); });
  load(config.key, "TLS private key", [&](const std::string& f, auto& ec) {
    ctx->use_private_key_file(f, ssl::context::pem, ec);
  });
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    throw std::invalid_argument(fmt::format("TLS private key '{}' does not match certificate '{}'",
                                            config.key.string(), config.cert.string()));
  }
  if (!config.ca.empty()) {
    // Mutual TLS: every peer must present a certificate signed by the rack CA.
    load(config.ca, "TLS CA",
         [&](const std::string& f, auto& ec) { ctx->load_verify_file(f, ec); });
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  // Peers never resume a session (each connection verifies afresh, and the
  // revocation list is checked at its hello): no TLS 1.3 session tickets.
  SSL_CTX_set_num_tickets(ctx->native_handle(), 0);
  return ctx;
}

std::shared_ptr<ssl::context> make_client_tls(const TlsConfig& config,
                                              const std::string& scheduler_host) {
  if (config.plaintext_on_loopback) {
    refuse_plaintext_off_loopback(scheduler_host);
    return nullptr;
  }
  if (config.ca.empty()) {
    throw std::invalid_argument(
        "connecting with TLS needs the rack CA certificate to verify the scheduler, or plaintext "
        "on loopback");
  }
  auto ctx = base_context(ssl::context::tls_client);
  load(config.ca, "TLS CA", [&](const std::string& f, auto& ec) { ctx->load_verify_file(f, ec); });
  ctx->set_verify_mode(ssl::verify_peer);
  if (!config.cert.empty() || !config.key.empty()) {
    load(config.cert, "TLS certificate",
         [&](const std::string& f, auto& ec) { ctx->use_certificate_chain_file(f, ec); });
    load(config.key, "TLS private key", [&](const std::string& f, auto& ec) {
      ctx->use_private_key_file(f, ssl::context::pem, ec);
    });
  }
  return ctx;
}

namespace {

std::string serial_hex(const ASN1_INTEGER* serial) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr);
  if (!bn) return "";
  char* hex = BN_bn2hex(bn);
  std::string out = hex ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

std::string name_entry(X509_NAME* name, int nid) {
  int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return "";
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
          static_cast<size_t>(ASN1_STRING_length(data))};
}

}  // namespace

PeerCertificate peer_certificate(SSL* ssl) {
  PeerCertificate out;
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return out;
  X509_NAME* name = X509_get_subject_name(cert);
  out.role = name_entry(name, NID_organizationalUnitName);
  out.common_name = name_entry(name, NID_commonName);
  out.serial = serial_hex(X509_get0_serialNumber(cert));
  X509_free(cert);
  return out;
}

bool certificate_speaks_for(const std::string& common_name, const std::string& name) {
  return common_name == kSharedBoardCommonName || (!common_name.empty() && name == common_name);
}

// ------------------------------------------------------------ rack PKI
namespace {

struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertDeleter {
  void operator()(X509* x) const { X509_free(x); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using Cert = std::unique_ptr<X509, CertDeleter>;

void check(int ok, const char* what) {
  if (ok != 1)
    throw std::runtime_error(fmt::format("creating certificates: {}: {}", what, openssl_error()));
}

Key new_key() {
  Key key(EVP_EC_gen("P-256"));
  if (!key)
    throw std::runtime_error(
        fmt::format("creating certificates: key generation: {}", openssl_error()));
  return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext)
    throw std::runtime_error(
        fmt::format("creating certificates: extension '{}': {}", value, openssl_error()));
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

struct Subject {
  std::string common_name, role;
};

// An unsigned certificate for `key`, issued by `issuer` (self-issued when null);
// sign() it after adding the extensions that depend on its use.
Cert new_certificate(const Subject& subject, EVP_PKEY* key, X509* issuer, int days) {
  Cert cert(X509_new());
  check(X509_set_version(cert.get(), 2), "version");
  unsigned char serial[16];
  check(RAND_bytes(serial, sizeof serial), "serial");
  serial[0] &= 0x7f;  // a positive serial
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);  // tolerate clock skew across the rack
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  check(X509_set_pubkey(cert.get(), key), "public key");
  X509_NAME* name = X509_get_subject_name(cert.get());
  auto add_entry = [&](const char* field, const std::string& value) {
    check(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                     0),
          field);
  };
  add_entry("O", "hil rack");
  if (!subject.role.empty()) add_entry("OU", subject.role);
  add_entry("CN", subject.common_name);
  check(X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name), "issuer");
  X509* signer = issuer ? issuer : cert.get();
  add_extension(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (!issuer) {
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert.get(), signer, NID_authority_key_identifier, "keyid");
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
  }
  return cert;
}

void sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) {
    throw std::runtime_error(fmt::format("creating certificates: signing: {}", openssl_error()));
  }
}

template <typename Write>
void write_pem(const fs::path& path, mode_t mode, Write&& write) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error(fmt::format("cannot write '{}'", path.string()));
  ::chmod(path.c_str(), mode);
  bool ok = write(f) == 1;
  ok = std::fclose(f) == 0 && ok;
  if (!ok)
    throw std::runtime_error(fmt::format("cannot write '{}': {}", path.string(), openssl_error()));
}

void save(const fs::path& dir, const std::string& stem, X509* cert, EVP_PKEY* key) {
  write_pem(dir / (stem + ".key"), 0600, [&](FILE* f) {
    return PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
  write_pem(dir / (stem + ".pem"), 0644, [&](FILE* f) { return PEM_write_X509(f, cert); });
}

fs::path index_path(const fs::path& dir) { return dir / "certificates.tsv"; }

int64_t unix_time(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

CertificateRecord record_of(X509* cert, const std::string& name, const std::string& role) {
  CertificateRecord r;
  r.serial = serial_hex(X509_get0_serialNumber(cert));
  r.name = name;
  r.role = role;
  r.not_after = unix_time(X509_get0_notAfter(cert));
  return r;
}

// Replaces `path` with `text` in one rename, so a reader (the scheduler reading
// crl.pem) or a crash never sees half a file.
void replace_file(const fs::path& path, const std::string& text, mode_t mode) {
  fs::path tmp = path;
  tmp += ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw std::runtime_error(fmt::format("cannot write '{}'", tmp.string()));
  ::chmod(tmp.c_str(), mode);
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = std::fflush(f) == 0 && ::fsync(fileno(f)) == 0 && ok;
  ok = std::fclose(f) == 0 && ok;
  std::error_code ec;
  if (ok) fs::rename(tmp, path, ec);
  if (!ok || ec) {
    fs::remove(tmp, ec);
    throw std::runtime_error(fmt::format("cannot write '{}'", path.string()));
  }
}

void write_index(const fs::path& dir, const std::vector<CertificateRecord>& records) {
  std::string text = "# serial\tname\trole\tnot_after\tstate\trevoked_at (written by hil certs)\n";
  for (const auto& r : records) {
    text += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\n", r.serial, r.name, r.role, r.not_after,
                        certificate_state_name(r.state), r.revoked_at);
  }
  replace_file(index_path(dir), text, 0644);
}

// Holds an exclusive lock on the PKI folder, so that two `hil certs` at once
// cannot both append to the index or both rewrite the revocation list.
class PkiLock {
 public:
  explicit PkiLock(const fs::path& dir) {
    if (!fs::exists(dir / "ca.key")) {
      throw std::invalid_argument(fmt::format(
          "'{}' holds no rack CA (ca.key): make one with hil certs init", dir.string()));
    }
    fd_ = ::open((dir / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0 || ::flock(fd_, LOCK_EX) != 0)
      throw std::runtime_error(fmt::format("cannot lock '{}'", (dir / ".lock").string()));
  }
  ~PkiLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  PkiLock(const PkiLock&) = delete;
  PkiLock& operator=(const PkiLock&) = delete;

 private:
  int fd_ = -1;
};

template <typename T, typename Read>
T read_pem(const fs::path& path, const char* what, Read&& read) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error(fmt::format("cannot read {} '{}'", what, path.string()));
  T value(read(f));
  std::fclose(f);
  if (!value)
    throw std::runtime_error(
        fmt::format("{} '{}' is not valid PEM: {}", what, path.string(), openssl_error()));
  return value;
}

Cert read_certificate(const fs::path& path) {
  return read_pem<Cert>(path, "certificate",
                        [](FILE* f) { return PEM_read_X509(f, nullptr, nullptr, nullptr); });
}

Key read_key(const fs::path& path) {
  return read_pem<Key>(path, "private key",
                       [](FILE* f) { return PEM_read_PrivateKey(f, nullptr, nullptr, nullptr); });
}

struct CrlDeleter {
  void operator()(X509_CRL* c) const { X509_CRL_free(c); }
};
using Crl = std::unique_ptr<X509_CRL, CrlDeleter>;

// crl.pem lists every revoked serial, signed by the CA; it is valid for
// `days`, and rewritten at every revocation.
void write_crl(const fs::path& dir, const std::vector<CertificateRecord>& records, int days) {
  Cert ca = read_certificate(dir / "ca.pem");
  Key ca_key = read_key(dir / "ca.key");
  Crl crl(X509_CRL_new());
  check(X509_CRL_set_version(crl.get(), 1), "CRL version");
  check(X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.get())), "CRL issuer");
  std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> now(X509_gmtime_adj(nullptr, 0),
                                                            ASN1_TIME_free);
  std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> next(
      X509_gmtime_adj(nullptr, static_cast<long>(days) * 86400), ASN1_TIME_free);
  check(X509_CRL_set1_lastUpdate(crl.get(), now.get()), "CRL lastUpdate");
  check(X509_CRL_set1_nextUpdate(crl.get(), next.get()), "CRL nextUpdate");
  for (const auto& r : records) {
    if (r.state != CertificateState::kRevoked) continue;
    X509_REVOKED* revoked = X509_REVOKED_new();
    BIGNUM* bn = nullptr;
    check(BN_hex2bn(&bn, r.serial.c_str()) > 0 ? 1 : 0, "serial");
    ASN1_INTEGER* serial = BN_to_ASN1_INTEGER(bn, nullptr);
    BN_free(bn);
    std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> when(
        ASN1_TIME_set(nullptr, static_cast<time_t>(r.revoked_at)), ASN1_TIME_free);
    X509_REVOKED_set_serialNumber(revoked, serial);
    X509_REVOKED_set_revocationDate(revoked, when.get());
    ASN1_INTEGER_free(serial);
    X509_CRL_add0_revoked(crl.get(), revoked);
  }
  X509_CRL_sort(crl.get());
  if (X509_CRL_sign(crl.get(), ca_key.get(), EVP_sha256()) <= 0)
    throw std::runtime_error(fmt::format("signing the revocation list: {}", openssl_error()));
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_CRL(bio, crl.get());
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<size_t>(n));
  BIO_free(bio);
  replace_file(dir / "crl.pem", text, 0644);
}

bool valid_board_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
      return false;
  }
  return name != "." && name != "..";
}

}  // namespace

void create_rack_pki(const RackPkiOptions& options) {
  const fs::path& dir = options.dir;
  if (fs::exists(dir / "ca.key")) {
    throw std::invalid_argument(
        fmt::format("'{}' already holds a rack CA (ca.key); refusing to replace it", dir.string()));
  }
  fs::create_directories(dir);

  Key ca_key = new_key();
  Cert ca = new_certificate({"hil rack CA", ""}, ca_key.get(), nullptr, options.days);
  sign(ca.get(), ca_key.get());
  save(dir, "ca", ca.get(), ca_key.get());

  std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
  for (const auto& h : options.scheduler_hosts) {
    if (std::find(names.begin(), names.end(), h) == names.end()) names.push_back(h);
  }
  std::string alt_names;
  for (const auto& n : names) {
    boost::system::error_code ec;
    net::asio::ip::make_address(n, ec);
    alt_names += fmt::format("{}{}:{}", alt_names.empty() ? "" : ",", ec ? "DNS" : "IP", n);
  }

  std::vector<CertificateRecord> records;
  struct Leaf {
    std::string stem, common_name, role, usage;
  };
  for (const auto& leaf : {Leaf{"scheduler", "hil scheduler", "", "serverAuth"},
                           Leaf{"board", "hil board", kBoardCertRole, "clientAuth"},
                           Leaf{"client", "hil client", kClientCertRole, "clientAuth"}}) {
    Key key = new_key();
    Cert cert = new_certificate({leaf.common_name, leaf.role}, key.get(), ca.get(), options.days);
    add_extension(cert.get(), ca.get(), NID_ext_key_usage, leaf.usage);
    if (leaf.stem == "scheduler")
      add_extension(cert.get(), ca.get(), NID_subject_alt_name, alt_names);
    sign(cert.get(), ca_key.get());
    save(dir, leaf.stem, cert.get(), key.get());
    records.push_back(record_of(cert.get(), leaf.stem, leaf.role.empty() ? "server" : leaf.role));
  }
  write_index(dir, records);
}

const char* certificate_state_name(CertificateState state) {
  return state == CertificateState::kRevoked ? "revoked" : "valid";
}

std::vector<CertificateRecord> list_certificates(const fs::path& pki_dir) {
  std::vector<CertificateRecord> out;
  FILE* f = std::fopen(index_path(pki_dir).c_str(), "rb");
  if (!f) return out;  // a PKI made before enrolment existed: nothing recorded
  std::string text;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  std::fclose(f);
  size_t line_no = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    for (size_t a = 0;;) {
      size_t b = line.find('\t', a);
      fields.push_back(line.substr(a, b == std::string::npos ? std::string::npos : b - a));
      if (b == std::string::npos) break;
      a = b + 1;
    }
    auto bad = [&](const std::string& why) {
      return std::runtime_error(
          fmt::format("'{}' line {}: {}", index_path(pki_dir).string(), line_no, why));
    };
    if (fields.size() != 6) throw bad(fmt::format("{} fields, expected 6", fields.size()));
    CertificateRecord r;
    r.serial = fields[0];
    r.name = fields[1];
    r.role = fields[2];
    if (fields[4] == "valid") {
      r.state = CertificateState::kValid;
    } else if (fields[4] == "revoked") {
      r.state = CertificateState::kRevoked;
    } else {
      throw bad(fmt::format("state '{}' is neither valid nor revoked", fields[4]));
    }
    try {
      r.not_after = std::stoll(fields[3]);
      r.revoked_at = std::stoll(fields[5]);
    } catch (const std::exception&) {
      throw bad("not_after and revoked_at must be integers");
    }
    out.push_back(std::move(r));
  }
  return out;
}

IssuedCertificate issue_board_certificate(const fs::path& pki_dir, const std::string& board,
                                          int days) {
  if (!valid_board_name(board)) {
    throw std::invalid_argument(
        fmt::format("board name '{}': use 1 to 64 letters, digits, '.', '_' or '-'", board));
  }
  for (const char* reserved : {"board", "client", "scheduler", "ca"}) {
    if (board == reserved)
      throw std::invalid_argument(fmt::format("board name '{}' is reserved", board));
  }
  PkiLock lock(pki_dir);
  auto records = list_certificates(pki_dir);
  for (const auto& r : records) {
    if (r.name == board && r.state == CertificateState::kValid) {
      throw std::invalid_argument(
          fmt::format("board '{}' already holds a valid certificate (serial {}); revoke it first "
                      "(hil certs revoke {} {})",
                      board, r.serial, pki_dir.string(), board));
    }
  }
  Cert ca = read_certificate(pki_dir / "ca.pem");
  Key ca_key = read_key(pki_dir / "ca.key");
  Key key = new_key();
  Cert cert = new_certificate({board, kBoardCertRole}, key.get(), ca.get(), days);
  add_extension(cert.get(), ca.get(), NID_ext_key_usage, "clientAuth");
  sign(cert.get(), ca_key.get());

  fs::path out = pki_dir / "boards" / board;
  fs::create_directories(out);
  fs::copy_file(pki_dir / "ca.pem", out / "ca.pem", fs::copy_options::overwrite_existing);
  save(out, "board", cert.get(), key.get());
  records.push_back(record_of(cert.get(), board, kBoardCertRole));
  write_index(pki_dir, records);
  return {out, records.back().serial};
}

std::vector<std::string> revoke_certificates(const fs::path& pki_dir, const std::string& name) {
  PkiLock lock(pki_dir);
  auto records = list_certificates(pki_dir);
  std::vector<std::string> revoked;
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (auto& r : records) {
    if (r.name != name || r.state != CertificateState::kValid) continue;
    if (r.role == "server") {
      throw std::invalid_argument(
          "the scheduler's certificate is not revoked this way: make a new rack PKI");
    }
    r.state = CertificateState::kRevoked;
    r.revoked_at = now;
    revoked.push_back(r.serial);
  }
  if (revoked.empty()) {
    throw std::invalid_argument(
        fmt::format("'{}' holds no valid certificate in '{}' (hil certs list shows them)", name,
                    pki_dir.string()));
  }
  // The list first: a revocation the scheduler enforces is never missing from the index.
  write_crl(pki_dir, records, 825);
  write_index(pki_dir, records);
  return revoked;
}

RevocationList::RevocationList(fs::path crl, fs::path ca)
    : crl_(std::move(crl)), ca_(std::move(ca)) {}

void RevocationList::reload_if_changed() {
  std::error_code ec;
  if (!fs::exists(crl_, ec)) {
    serials_.clear();
    loaded_ = false;
    return;
  }
  auto time = fs::last_write_time(crl_, ec);
  auto size = fs::file_size(crl_, ec);
  if (ec)
    throw std::runtime_error(fmt::format("revocation list '{}': {}", crl_.string(), ec.message()));
  if (loaded_ && time == loaded_time_ && size == loaded_size_) return;
  Crl crl = read_pem<Crl>(crl_, "revocation list",
                          [](FILE* f) { return PEM_read_X509_CRL(f, nullptr, nullptr, nullptr); });
  Cert ca = read_certificate(ca_);
  if (X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.get())) != 1) {
    throw std::runtime_error(fmt::format("revocation list '{}' is not signed by the rack CA '{}'",
                                         crl_.string(), ca_.string()));
  }
  std::vector<std::string> serials;
  STACK_OF(X509_REVOKED)* list = X509_CRL_get_REVOKED(crl.get());
  for (int i = 0; i < sk_X509_REVOKED_num(list); ++i)
    serials.push_back(serial_hex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(list, i))));
  std::sort(serials.begin(), serials.end());
  serials_ = std::move(serials);
  loaded_time_ = time;
  loaded_size_ = size;
  loaded_ = true;
}

bool RevocationList::revoked(const std::string& serial) {
  reload_if_changed();
  return std::binary_search(serials_.begin(), serials_.end(), serial);
}

TlsConfig scheduler_tls_from_dir(const fs::path& dir, bool mutual) {
  TlsConfig c;
  c.cert = dir / "scheduler.pem";
  c.key = dir / "scheduler.key";
  if (mutual) {
    c.ca = dir / "ca.pem";
    c.crl = dir / "crl.pem";
  }
  return c;
}

namespace {
TlsConfig peer_tls_from_dir(const fs::path& dir, const std::string& stem) {
  TlsConfig c;
  c.ca = dir / "ca.pem";
  // Present a certificate when the rack issued one (needed under mTLS).
  if (fs::exists(dir / (stem + ".pem")) && fs::exists(dir / (stem + ".key"))) {
    c.cert = dir / (stem + ".pem");
    c.key = dir / (stem + ".key");
  }
  return c;
}
}  // namespace

TlsConfig board_tls_from_dir(const fs::path& dir) { return peer_tls_from_dir(dir, "board"); }
TlsConfig client_tls_from_dir(const fs::path& dir) { return peer_tls_from_dir(dir, "client"); }

}  // namespace hil::harness
