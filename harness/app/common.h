// Helpers shared by the command files.
#pragma once

#include <cstdlib>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "hil/harness/client.h"

namespace hil::app {

inline std::string resolve_secret(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("HIL_SECRET")) return env;
  throw std::invalid_argument("no rack secret: pass --secret or set HIL_SECRET");
}

// "HOST:PORT" -> client options.
inline harness::ClientOptions client_options(const std::string& address, const std::string& secret) {
  harness::ClientOptions o;
  auto colon = address.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument(fmt::format("--scheduler '{}': expected HOST:PORT", address));
  o.host = address.substr(0, colon);
  o.port = static_cast<uint16_t>(std::stoi(address.substr(colon + 1)));
  o.secret = resolve_secret(secret);
  return o;
}

}  // namespace hil::app
