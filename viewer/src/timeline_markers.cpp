#include "timeline_markers.h"

#include <algorithm>
#include <cmath>

namespace hil::viewer {

const char* marker_kind_name(MarkerKind kind) {
  switch (kind) {
    case MarkerKind::kDeadlineMiss:
      return "deadline miss";
    case MarkerKind::kCommandGap:
      return "no outputs";
    case MarkerKind::kFailover:
      return "failover";
  }
  return "?";
}

std::vector<TimelineMarker> timeline_markers(const EvalSeries& series, Side side, double fps) {
  std::vector<TimelineMarker> out;
  const std::vector<float> device = series.series("device_ms");
  const std::vector<float> commander = series.series("commander");
  const double period_ms = fps > 0 ? 1000.0 / fps : 0;
  const size_t frames = std::max(device.size(), commander.size());
  float last_commander = NAN;  // the last engine that commanded
  for (size_t k = 0; k < frames; ++k) {
    const auto frame = static_cast<int64_t>(k);
    if (period_ms > 0 && k < device.size() && device[k] > period_ms) {
      out.push_back({frame, MarkerKind::kDeadlineMiss, side});
    }
    if (k >= commander.size() || std::isnan(commander[k])) continue;
    if (commander[k] < 0) {
      out.push_back({frame, MarkerKind::kCommandGap, side});
      continue;
    }
    if (!std::isnan(last_commander) && commander[k] != last_commander) {
      out.push_back({frame, MarkerKind::kFailover, side});
    }
    last_commander = commander[k];
  }
  return out;
}

}  // namespace hil::viewer
