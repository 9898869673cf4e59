// The histogram of per-clip deltas of one metric: bins symmetric around 0
// with a centre bin for "about the same", so every other bin lies wholly on
// the worse or the better side of the metric's direction.
#pragma once

#include <vector>

#include "clip_diff.h"

namespace hil::viewer {

enum class BinSide { kBetter, kSame, kWorse };

struct HistogramBin {
  double lo = 0, hi = 0;  // delta range [lo, hi) (the last bin includes hi)
  int count = 0;
  BinSide side = BinSide::kSame;  // by the metric's direction
};

// `bins` is made odd (at least 3). The centre bin is [-w/2, w/2) where w is
// the bin width; the range is the largest |delta|. Deltas that are NaN are
// not counted.
std::vector<HistogramBin> delta_histogram(const std::vector<double>& deltas, Direction direction,
                                          int bins = 21);

}  // namespace hil::viewer
