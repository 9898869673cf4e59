// Helpers shared by the command files.
#pragma once

#include <cstdlib>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "hil/dual_engine/model.h"
#include "hil/harness/client.h"
#include "hil/harness/submission.h"

namespace hil::app {

// A revision as `hil` uploads it: the interface file beside it (or its
// metadata's), checked against the graph and embedded.
inline harness::UploadableRevision prepare_for_upload(const std::filesystem::path& onnx) {
  auto r = dual_engine::prepare_revision(onnx);
  return {std::move(r.bytes), std::move(r.iface)};
}

inline std::string resolve_secret(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("HIL_SECRET")) return env;
  throw std::invalid_argument("no rack secret: pass --secret or set HIL_SECRET");
}

// Transport flags shared by every command that talks to a scheduler.
struct TlsFlags {
  std::string dir;  // a folder made by `hil certs init` (or HIL_TLS_DIR)
  std::string cert, key, ca;
  bool mutual = false;  // serve only
  bool plaintext = false;
};

inline void add_tls_flags(CLI::App* cmd, TlsFlags& f, bool server) {
  cmd->add_option("--tls", f.dir, "rack TLS folder made by `hil certs init` (or HIL_TLS_DIR)");
  cmd->add_option("--tls-cert", f.cert, "certificate chain (PEM); overrides the folder's");
  cmd->add_option("--tls-key", f.key, "private key (PEM); overrides the folder's");
  cmd->add_option("--tls-ca", f.ca,
                  server ? "CA whose certificates peers must present (mutual TLS)"
                         : "CA that signed the scheduler's certificate");
  if (server)
    cmd->add_flag("--mtls", f.mutual,
                  "require board and client certificates signed by the rack CA");
  cmd->add_flag("--plaintext", f.plaintext, "no TLS: allowed on loopback addresses only");
}

enum class TlsRole { kScheduler, kBoard, kClient };

// Resolves the flags into a TlsConfig; `host` is the address listened on or dialled.
inline harness::TlsConfig tls_config(const TlsFlags& f, TlsRole role, const std::string& host) {
  harness::TlsConfig c;
  std::string dir = f.dir;
  if (dir.empty() && !f.plaintext) {
    if (const char* env = std::getenv("HIL_TLS_DIR")) dir = env;
  }
  if (f.plaintext) {
    if (!dir.empty() || !f.cert.empty() || !f.ca.empty()) {
      throw std::invalid_argument("--plaintext and TLS options exclude each other");
    }
    if (!harness::is_loopback_host(host)) {
      throw std::invalid_argument(
          fmt::format("--plaintext is allowed on loopback only, and '{}' is not loopback", host));
    }
    c.plaintext_on_loopback = true;
    return c;
  }
  if (!dir.empty()) {
    c = role == TlsRole::kScheduler ? harness::scheduler_tls_from_dir(dir, f.mutual)
        : role == TlsRole::kBoard   ? harness::board_tls_from_dir(dir)
                                    : harness::client_tls_from_dir(dir);
  }
  if (!f.cert.empty()) c.cert = f.cert;
  if (!f.key.empty()) c.key = f.key;
  if (!f.ca.empty()) c.ca = f.ca;
  if (role == TlsRole::kScheduler && f.mutual && c.ca.empty()) {
    throw std::invalid_argument("--mtls needs the rack CA: --tls DIR or --tls-ca FILE");
  }
  if (dir.empty() && c.cert.empty() && c.ca.empty()) {
    throw std::invalid_argument(
        "no transport security given: pass --tls DIR (made by `hil certs init DIR`), or "
        "--plaintext on loopback");
  }
  return c;
}

// "HOST:PORT" -> client options.
inline harness::ClientOptions client_options(const std::string& address, const std::string& secret,
                                             const TlsFlags& tls) {
  harness::ClientOptions o;
  auto colon = address.rfind(':');
  if (colon == std::string::npos)
    throw std::invalid_argument(fmt::format("--scheduler '{}': expected HOST:PORT", address));
  o.host = address.substr(0, colon);
  o.port = static_cast<uint16_t>(std::stoi(address.substr(colon + 1)));
  o.secret = resolve_secret(secret);
  o.tls = tls_config(tls, TlsRole::kClient, o.host);
  return o;
}

// How a command reaches a running scheduler: address, secret, transport.
struct SchedulerAddress {
  std::string scheduler = "127.0.0.1:7600", secret;
  TlsFlags tls;
  harness::ClientOptions client_options() const {
    return app::client_options(scheduler, secret, tls);
  }
};

inline void add_scheduler_flags(CLI::App* cmd, SchedulerAddress& a,
                                const char* what = "HOST:PORT of the scheduler") {
  cmd->add_option("--scheduler", a.scheduler, what)
      ->envname("HIL_SCHEDULER")
      ->capture_default_str();
  cmd->add_option("--secret", a.secret, "rack secret (or HIL_SECRET)");
  add_tls_flags(cmd, a.tls, /*server=*/false);
}

}  // namespace hil::app
