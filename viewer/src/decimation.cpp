#include "decimation.h"

#include <algorithm>
#include <cmath>

namespace hil::viewer {

std::vector<Polyline> decimate_min_max(const std::vector<float>& values, double first, double last,
                                       int columns) {
  std::vector<Polyline> segments;
  if (values.empty() || last < first) return segments;
  const auto n = static_cast<int64_t>(values.size());
  const int64_t begin = std::clamp<int64_t>(static_cast<int64_t>(std::floor(first)) - 1, 0, n - 1);
  const int64_t end = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(last)) + 1, 0, n - 1);
  columns = std::max(columns, 1);
  const double per_column = static_cast<double>(end - begin + 1) / columns;
  const bool keep_all = end - begin + 1 <= 2 * static_cast<int64_t>(columns);

  Polyline current;
  auto flush = [&] {
    if (!current.empty()) segments.push_back(std::move(current));
    current.clear();
  };
  auto point = [&](int64_t k) {
    return QPointF(static_cast<double>(k), values[static_cast<size_t>(k)]);
  };

  int64_t k = begin;
  while (k <= end) {
    if (std::isnan(values[static_cast<size_t>(k)])) {
      flush();
      ++k;
      continue;
    }
    if (keep_all) {
      current.push_back(point(k));
      ++k;
      continue;
    }
    // One column: frames up to the column's right edge, stopping at a gap.
    const auto column = static_cast<int64_t>(static_cast<double>(k - begin) / per_column);
    const auto column_end = std::min<int64_t>(
        end, begin + static_cast<int64_t>(std::ceil((column + 1) * per_column)) - 1);
    int64_t lo = k, hi = k, j = k;
    for (; j <= std::max(column_end, k) && !std::isnan(values[static_cast<size_t>(j)]); ++j) {
      if (values[static_cast<size_t>(j)] < values[static_cast<size_t>(lo)]) lo = j;
      if (values[static_cast<size_t>(j)] > values[static_cast<size_t>(hi)]) hi = j;
    }
    const int64_t tail = j - 1;
    // First, then min and max in frame order, then last: no duplicates.
    int64_t picks[4] = {k, std::min(lo, hi), std::max(lo, hi), tail};
    int64_t previous = -1;
    for (int64_t p : picks) {
      if (p == previous) continue;
      current.push_back(point(p));
      previous = p;
    }
    k = j;
  }
  flush();
  return segments;
}

size_t point_count(const std::vector<Polyline>& segments) {
  size_t n = 0;
  for (const auto& s : segments) n += s.size();
  return n;
}

}  // namespace hil::viewer
