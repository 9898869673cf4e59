#include "hil/evals/change_points.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "hil/evals/gate.h"
#include "hil/evals/splitmix.h"

namespace hil::evals {
namespace {

// Sums of |x_i - x_j| over rectangles of index pairs, in O(1) each after an
// O(n^2) prefix table: the energy statistic of every split of a segment then
// costs O(n) in all.
class PairwiseSums {
 public:
  explicit PairwiseSums(const std::vector<double>& x)
      : n_(static_cast<int>(x.size())), p_((n_ + 1) * (n_ + 1), 0.0) {
    for (int i = 0; i < n_; ++i) {
      for (int j = 0; j < n_; ++j) {
        at(i + 1, j + 1) = std::abs(x[i] - x[j]) + at(i, j + 1) + at(i + 1, j) - at(i, j);
      }
    }
  }
  // Sum over i in [r0, r1), j in [c0, c1).
  double rect(int r0, int r1, int c0, int c1) const {
    return get(r1, c1) - get(r0, c1) - get(r1, c0) + get(r0, c0);
  }

 private:
  double& at(int i, int j) { return p_[static_cast<size_t>(i) * (n_ + 1) + j]; }
  double get(int i, int j) const { return p_[static_cast<size_t>(i) * (n_ + 1) + j]; }
  int n_;
  std::vector<double> p_;
};

// The best split of x[a, b): Matteson and James's scaled energy distance
// Q = m n / (m + n) * (2 E|X - Y| - E|X - X'| - E|Y - Y'|), alpha = 1.
std::pair<int, double> best_split(const PairwiseSums& s, int a, int b, int min_segment) {
  int best = -1;
  double stat = 0;
  for (int t = a + min_segment; t <= b - min_segment; ++t) {
    const double m = t - a, n = b - t;
    const double between = s.rect(a, t, t, b) / (m * n);
    const double within_x = m > 1 ? s.rect(a, t, a, t) / (m * (m - 1))
                                  : 0;  // each pair twice, over m(m-1) ordered pairs
    const double within_y = n > 1 ? s.rect(t, b, t, b) / (n * (n - 1)) : 0;
    const double q = m * n / (m + n) * (2 * between - within_x - within_y);
    if (q > stat + 1e-12) {
      stat = q;
      best = t;
    }
  }
  return {best, stat};
}

struct Candidate {
  int index = -1;
  double stat = 0;
};

Candidate strongest(const std::vector<double>& x, const std::vector<int>& bounds, int min_segment) {
  const PairwiseSums sums(x);
  Candidate c;
  for (size_t k = 0; k + 1 < bounds.size(); ++k) {
    auto [t, q] = best_split(sums, bounds[k], bounds[k + 1], min_segment);
    if (t >= 0 && q > c.stat) c = {t, q};
  }
  return c;
}

double mean(const std::vector<double>& x, int a, int b) {
  return std::accumulate(x.begin() + a, x.begin() + b, 0.0) / (b - a);
}

double stddev(const std::vector<double>& x, int a, int b) {
  const double m = mean(x, a, b);
  double ss = 0;
  for (int i = a; i < b; ++i) ss += (x[i] - m) * (x[i] - m);
  return b - a > 1 ? std::sqrt(ss / (b - a - 1)) : 0;
}

// One step: the strongest split given the current segments, and its
// permutation p-value (values shuffled within each segment).
std::pair<Candidate, double> step(const std::vector<double>& x, const std::vector<int>& bounds,
                                  const ChangePointOptions& o, SplitMix& rng) {
  const auto found = strongest(x, bounds, o.min_segment);
  if (found.index < 0) return {found, 1.0};
  std::vector<double> shuffled = x;
  int as_strong = 0;
  for (int p = 0; p < o.permutations; ++p) {
    for (size_t k = 0; k + 1 < bounds.size(); ++k) {
      for (int i = bounds[k + 1] - 1; i > bounds[k]; --i) {
        std::swap(shuffled[i],
                  shuffled[bounds[k] + static_cast<int>(rng.next() % (i - bounds[k] + 1))]);
      }
    }
    as_strong += strongest(shuffled, bounds, o.min_segment).stat >= found.stat - 1e-12;
  }
  return {found, (as_strong + 1.0) / (o.permutations + 1.0)};
}

}  // namespace

std::vector<ChangePoint> find_change_points(const std::vector<double>& x,
                                            const ChangePointOptions& o) {
  std::vector<ChangePoint> out;
  const int n = static_cast<int>(x.size());
  if (n < 2 * o.min_segment) return out;
  std::vector<int> bounds{0, n};
  SplitMix rng{o.seed};
  std::vector<std::pair<int, double>> kept;
  for (;;) {
    auto [c, p] = step(x, bounds, o, rng);
    if (c.index < 0 || p > o.alpha) break;
    kept.emplace_back(c.index, p);
    bounds.insert(std::upper_bound(bounds.begin(), bounds.end(), c.index), c.index);
  }
  // Shifts and spreads between neighbouring segments of the final split.
  for (const auto& [index, p] : kept) {
    const auto at = std::find(bounds.begin(), bounds.end(), index) - bounds.begin();
    const int a = bounds[at - 1], b = bounds[at + 1];
    ChangePoint cp;
    cp.index = index;
    cp.p_value = p;
    cp.shift = mean(x, index, b) - mean(x, a, index);
    const double before = stddev(x, a, index), after = stddev(x, index, b);
    cp.spread_ratio = before > 0 && after > 0 ? after / before : 1;
    out.push_back(cp);
  }
  std::sort(out.begin(), out.end(),
            [](const ChangePoint& l, const ChangePoint& r) { return l.index < r.index; });
  return out;
}

double first_step_p_value(const std::vector<double>& x, const ChangePointOptions& o) {
  const int n = static_cast<int>(x.size());
  if (n < 2 * o.min_segment) return 1.0;
  SplitMix rng{o.seed};
  return step(x, {0, n}, o, rng).second;
}

std::vector<std::vector<ChangePoint>> change_points_across(
    const std::vector<std::vector<double>>& series, const ChangePointOptions& o) {
  // Enough permutations that the smallest p-value (1 / (R + 1)) can survive
  // the adjustment for the number of series.
  ChangePointOptions across = o;
  across.permutations =
      std::max(o.permutations,
               static_cast<int>(std::ceil(2.0 * static_cast<double>(series.size()) / o.alpha)));
  std::vector<double> p;
  for (size_t i = 0; i < series.size(); ++i) {
    auto oi = across;
    oi.seed = o.seed + i;
    p.push_back(first_step_p_value(series[i], oi));
  }
  const auto adjusted = benjamini_hochberg(p);
  std::vector<std::vector<ChangePoint>> out(series.size());
  for (size_t i = 0; i < series.size(); ++i) {
    // A BH-adjusted p is never below the raw one, so a series BH keeps passes
    // its own first step at alpha too (the same seed gives the same first
    // step); its later steps are tested within the series, at alpha.
    if (adjusted[i] > o.alpha) continue;
    auto oi = across;
    oi.seed = o.seed + i;
    out[i] = find_change_points(series[i], oi);
  }
  return out;
}

double change_point_false_alarm_rate(int series, int length, const ChangePointOptions& o) {
  SplitMix rng{o.seed ^ 0x5eedull};
  int alarms = 0;
  for (int s = 0; s < series; ++s) {
    std::vector<double> x(static_cast<size_t>(length));
    for (auto& v : x) {
      // Box-Muller from SplitMix: the same draws everywhere.
      const double u1 = 1.0 - static_cast<double>(rng.next() >> 11) * 0x1.0p-53;
      const double u2 = static_cast<double>(rng.next() >> 11) * 0x1.0p-53;
      v = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
    }
    auto os = o;
    os.seed = o.seed + static_cast<uint64_t>(s);
    alarms += !find_change_points(x, os).empty();
  }
  return static_cast<double>(alarms) / series;
}

}  // namespace hil::evals
