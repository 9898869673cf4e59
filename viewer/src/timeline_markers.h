// Events worth marking on the timeline, found in an eval's per-frame series:
// deadline misses (device time over the frame period), gaps (a frame without
// outputs: "commander" is -1) and failovers (the commanding engine changed).
#pragma once

#include <cstdint>
#include <vector>

#include "eval_series.h"

namespace hil::viewer {

// kCommandGap: a frame without outputs (so without a command either).
enum class MarkerKind { kDeadlineMiss, kCommandGap, kFailover };
const char* marker_kind_name(MarkerKind kind);

enum class Side { kA = 0, kB = 1 };

struct TimelineMarker {
  int64_t frame = 0;
  MarkerKind kind = MarkerKind::kDeadlineMiss;
  Side side = Side::kA;
  bool operator==(const TimelineMarker&) const = default;
};

// Markers of one eval, in frame order. `fps` gives the frame period a
// deadline is measured against (a device time above 1000 / fps ms misses).
std::vector<TimelineMarker> timeline_markers(const EvalSeries& series, Side side, double fps);

}  // namespace hil::viewer
