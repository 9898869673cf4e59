// Shared by the fuzz targets: a failed invariant aborts, which libFuzzer and
// the replay driver both report as a crash (with the input saved).
#pragma once

#include <google/protobuf/stubs/logging.h>

#include <cstdio>
#include <cstdlib>

#define HIL_FUZZ_CHECK(cond, ...)                                                              \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "fuzz invariant failed at %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                       \
      std::fprintf(stderr, "\n");                                                              \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)

namespace hil::fuzz {

// Protobuf logs every string field with invalid UTF-8 it parses; fuzzed
// inputs have many. Silenced unless HIL_FUZZ_LOG is set.
inline const bool kProtobufQuiet = [] {
  if (!std::getenv("HIL_FUZZ_LOG")) google::protobuf::SetLogHandler(nullptr);
  return true;
}();

}  // namespace hil::fuzz
