// Fuzz target: the suite textproto parser and validator (evals/src/suite.cpp).
// SuiteError is the expected way to refuse a suite; any other exception, or
// a sanitizer report, is a bug. A suite that validates must have finite gate
// numbers, and must validate again, unchanged, after a round trip through the
// text format. libFuzzer: use suite.dict (docs/fuzzing.md).
#include <google/protobuf/text_format.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "hil/evals/suite.h"

using namespace hil;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  suite::Suite s;
  try {
    s = evals::parse_suite(text, "fuzz.textproto");
  } catch (const evals::SuiteError&) {
    return 0;
  }
  HIL_FUZZ_CHECK(!s.name().empty() && !s.board_type().empty() && s.scenarios_size() > 0,
                 "an invalid suite was accepted");
  // The validator's range checks must hold for what it accepts: a NaN passes
  // every comparison, and a NaN or infinite margin makes a gate that can
  // never pass or never fail.
  for (const auto& g : s.gates()) {
    HIL_FUZZ_CHECK(std::isfinite(g.confidence()) && std::isfinite(g.max_abs_degradation()) &&
                       std::isfinite(g.max_rel_degradation()),
                   "gate '%s' accepted with confidence %g, margins %g and %g", g.metric().c_str(),
                   g.confidence(), g.max_abs_degradation(), g.max_rel_degradation());
  }
  std::string printed;
  HIL_FUZZ_CHECK(google::protobuf::TextFormat::PrintToString(s, &printed),
                 "cannot print the suite");
  try {
    auto again = evals::parse_suite(printed, "fuzz-printed.textproto");
    HIL_FUZZ_CHECK(again.SerializeAsString() == s.SerializeAsString(),
                   "round trip changed the suite");
  } catch (const evals::SuiteError& e) {
    HIL_FUZZ_CHECK(false, "a valid suite does not parse after printing: %s", e.what());
  }
  return 0;
}
