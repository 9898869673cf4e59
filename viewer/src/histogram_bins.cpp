#include "histogram_bins.h"

#include <algorithm>
#include <cmath>

namespace hil::viewer {

std::vector<HistogramBin> delta_histogram(const std::vector<double>& deltas, Direction direction,
                                          int bins) {
  bins = std::max(bins, 3);
  if (bins % 2 == 0) ++bins;
  double range = 0;
  for (double d : deltas) {
    if (!std::isnan(d)) range = std::max(range, std::abs(d));
  }
  if (range == 0) range = 1e-9;  // all equal: everything lands in the centre bin
  const double width = 2 * range / bins;
  std::vector<HistogramBin> out(static_cast<size_t>(bins));
  const int centre = bins / 2;
  for (int i = 0; i < bins; ++i) {
    HistogramBin& bin = out[static_cast<size_t>(i)];
    bin.lo = -range + i * width;
    bin.hi = bin.lo + width;
    const bool b_larger = i > centre;
    if (i == centre) {
      bin.side = BinSide::kSame;
    } else {
      const bool worse = (direction == Direction::kLowerIsBetter) == b_larger;
      bin.side = worse ? BinSide::kWorse : BinSide::kBetter;
    }
  }
  for (double d : deltas) {
    if (std::isnan(d)) continue;
    const int i = std::clamp(static_cast<int>(std::floor((d + range) / width)), 0, bins - 1);
    ++out[static_cast<size_t>(i)].count;
  }
  return out;
}

}  // namespace hil::viewer
