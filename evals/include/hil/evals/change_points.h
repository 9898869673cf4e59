// Change points in a series of nightly values: E-Divisive (Matteson and
// James, JASA 2014), which finds several change points and changes in spread
// as well as in level, because it compares distributions (the energy
// distance), not means.
//
// Hierarchical: the best split of each current segment (the largest scaled
// energy distance between its two sides) is a candidate; the strongest
// candidate is tested by permutation (values shuffled within each current
// segment, the strongest split recomputed); if significant it is kept and the
// search goes on in the pieces, otherwise it stops. Randomness is SplitMix64
// from a seed: the same series gives the same answer everywhere.
//
// Many series at once (every revision and metric of a night) are a multiple
// test: change_points_across() adjusts the series' first-step p-values with
// Benjamini-Hochberg and keeps change points only in the series it rejects.
#pragma once

#include <cstdint>
#include <vector>

namespace hil::evals {

struct ChangePoint {
  int index = -1;           // the first value of the new segment
  double shift = 0;         // mean after minus mean before (within the two segments around it)
  double spread_ratio = 1;  // standard deviation after over before (1 when either is 0)
  double p_value = 1;       // the permutation p-value of the step that found it
};

struct ChangePointOptions {
  double alpha = 0.05;     // significance of each step
  int min_segment = 2;     // values on each side of a change, at least
  int permutations = 199;  // per step
  uint64_t seed = 7;
};

// Change points in order of position; empty when none is significant.
std::vector<ChangePoint> find_change_points(const std::vector<double>& values,
                                            const ChangePointOptions& options);

// The p-value of the series' strongest split (the first step), whether or not
// it is significant: the evidence that the series changed at all.
double first_step_p_value(const std::vector<double>& values, const ChangePointOptions& options);

// Several series: change points per series, kept only where Benjamini-Hochberg
// across the series' first-step p-values rejects at options.alpha.
std::vector<std::vector<ChangePoint>> change_points_across(
    const std::vector<std::vector<double>>& series, const ChangePointOptions& options);

// Null series (independent normal values, one level and one spread) of the
// given length: the share in which find_change_points reports a change.
double change_point_false_alarm_rate(int series, int length, const ChangePointOptions& options);

}  // namespace hil::evals
