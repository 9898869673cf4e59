// One small logger: levels, a component tag, fmt formatting, one line per
// event written atomically to stderr, greppable as key=value pairs.
#pragma once

#include <string_view>

#include <fmt/format.h>

namespace hil::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

void set_level(Level level);
Level level();
Level parse_level(std::string_view name);  // debug, info, warn, error, off
void write(Level level, std::string_view component, std::string_view message);

template <typename... Args>
void debug(std::string_view component, fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::kDebug)
    write(Level::kDebug, component, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(std::string_view component, fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::kInfo)
    write(Level::kInfo, component, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(std::string_view component, fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::kWarn)
    write(Level::kWarn, component, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(std::string_view component, fmt::format_string<Args...> f, Args&&... args) {
  if (level() <= Level::kError)
    write(Level::kError, component, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace hil::log
