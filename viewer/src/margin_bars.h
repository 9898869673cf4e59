// What the margin chart shows: each blocking metric's degradation measured in
// units of its margin, so metrics of different units share one axis and 1.0
// is the line a regression must cross to fail the gate.
#pragma once

#include <vector>

#include <QString>

#include "hil/db/store.h"
#include "verdict_style.h"

namespace hil::viewer {

struct MarginBar {
  QString metric;
  VerdictKind verdict = VerdictKind::kNone;
  // False when the suite set no margin (0): nothing to divide by, the bar
  // stays at 0 and the ratios below are 0.
  bool has_margin = false;
  double degradation = 0;  // degradation / margin; positive is worse
  double lo = 0;           // bootstrap interval, / margin
  double hi = 0;
};

// The bars for a run's gate rows: its blocking metrics, in the given order.
std::vector<MarginBar> margin_bars_of(const std::vector<hil::db::GateRow>& rows);

}  // namespace hil::viewer
