#include "margin_bars.h"

namespace hil::viewer {

std::vector<MarginBar> margin_bars_of(const std::vector<hil::db::GateRow>& rows) {
  std::vector<MarginBar> bars;
  for (const auto& row : rows) {
    // Advisory slices never decide the verdict; the chart is about what did.
    if (!row.blocking) continue;
    MarginBar bar;
    bar.metric = QString::fromStdString(row.metric);
    bar.verdict = verdict_kind(row.verdict);
    bar.has_margin = row.margin > 0;
    if (bar.has_margin) {
      bar.degradation = row.degradation / row.margin;
      bar.lo = row.lo / row.margin;
      bar.hi = row.hi / row.margin;
    }
    bars.push_back(bar);
  }
  return bars;
}

}  // namespace hil::viewer
