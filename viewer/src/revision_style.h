// The colours that say "A", "B" and "ground truth" wherever the viewer draws
// them (frame overlays, charts, timeline), so a reader learns them once.
#pragma once

#include <QColor>

#include "timeline_markers.h"

namespace hil::viewer {

inline QColor side_colour(Side side) {
  return side == Side::kA ? QColor(0x1e, 0x88, 0xe5)   // blue
                          : QColor(0xff, 0x6d, 0x00);  // orange
}
inline const char* side_name(Side side) { return side == Side::kA ? "A" : "B"; }

inline QColor truth_lane_colour() { return QColor(40, 230, 60); }  // as evals::draw_labels
inline QColor road_edge_colour() { return QColor(230, 200, 40); }
inline QColor object_colour() { return QColor(255, 60, 60); }
inline QColor ignore_region_colour() { return QColor(0xbd, 0xbd, 0xbd); }
inline QColor truth_colour() { return QColor(0x61, 0x61, 0x61); }  // truth lines in charts

inline QColor marker_colour(MarkerKind kind) {
  switch (kind) {
    case MarkerKind::kDeadlineMiss:
      return QColor(0xff, 0xb3, 0x00);  // amber
    case MarkerKind::kCommandGap:
      return QColor(0xc6, 0x28, 0x28);  // red
    case MarkerKind::kFailover:
      return QColor(0x8e, 0x24, 0xaa);  // purple
  }
  return QColor(Qt::black);
}

}  // namespace hil::viewer
