// SplitMix64: a small, fast, seedable generator whose sequence is the same on
// every platform (std's distributions are not), so bootstraps reproduce.
#pragma once

#include <cstdint>
#include <string_view>

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

// FNV-1a, 64 bits: a string's seed, the same with every standard library
// (std::hash is not).
inline uint64_t fnv1a64(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

}  // namespace hil::evals
