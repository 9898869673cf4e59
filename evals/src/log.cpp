#include "hil/evals/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace hil::log {
namespace {
std::atomic<Level> g_level{Level::kWarn};
constexpr const char* kNames[] = {"debug", "info", "warn", "error", "off"};
}  // namespace

void set_level(Level l) { g_level.store(l); }
Level level() { return g_level.load(std::memory_order_relaxed); }

Level parse_level(std::string_view name) {
  for (int i = 0; i <= 4; ++i) {
    if (name == kNames[i]) return static_cast<Level>(i);
  }
  return Level::kInfo;
}

void write(Level l, std::string_view component, std::string_view message) {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  // One fmt::print call per line keeps lines from different threads whole.
  fmt::print(stderr, "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z {} [{}] {}\n", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms,
             kNames[static_cast<int>(l)], component, message);
}

}  // namespace hil::log
