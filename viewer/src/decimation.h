// Decimation for drawing long per-frame series (never for values shown):
// per pixel column keep the first, minimum, maximum and last value, so every
// spike survives and a chart gets about 4 points per column whatever the
// series' length. Missing values (NaN) split the line into segments: a gap is
// drawn as a gap, never bridged.
#pragma once

#include <vector>

#include <QPointF>

namespace hil::viewer {

using Polyline = std::vector<QPointF>;

// x is the frame index. Only frames in [first, last] are drawn (plus one
// neighbour on each side, so lines reach the chart's edges). With at most
// 2 * columns frames in view every point is kept.
std::vector<Polyline> decimate_min_max(const std::vector<float>& values, double first, double last,
                                       int columns);

// Total points over all segments.
size_t point_count(const std::vector<Polyline>& segments);

}  // namespace hil::viewer
