// SplitMix64: a small, fast, seedable generator whose sequence is the same on
// every platform (std's distributions are not), so bootstraps reproduce.
#pragma once

#include <cstdint>

namespace hil::evals {

struct SplitMix {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

}  // namespace hil::evals
