#include "hil/harness/tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
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

std::string peer_certificate_role(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return "";
  std::string role;
  X509_NAME* name = X509_get_subject_name(cert);
  int index = X509_NAME_get_index_by_NID(name, NID_organizationalUnitName, -1);
  if (index >= 0) {
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
    role.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                ASN1_STRING_length(data));
  }
  X509_free(cert);
  return role;
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
  }
}

TlsConfig scheduler_tls_from_dir(const fs::path& dir, bool mutual) {
  TlsConfig c;
  c.cert = dir / "scheduler.pem";
  c.key = dir / "scheduler.key";
  if (mutual) c.ca = dir / "ca.pem";
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
