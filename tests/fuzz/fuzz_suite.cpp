// Fuzz target: the suite textproto parser and validator (evals/src/suite.cpp).
// SuiteError is the expected way to refuse a suite; any other exception, or
// a sanitizer report, is a bug. A suite that validates must validate again
// after a round trip through the text format (what the scheduler stores).
#include <google/protobuf/text_format.h>

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
  std::string printed;
  HIL_FUZZ_CHECK(google::protobuf::TextFormat::PrintToString(s, &printed), "cannot print the suite");
  try {
    auto again = evals::parse_suite(printed, "fuzz-printed.textproto");
    HIL_FUZZ_CHECK(again.SerializeAsString() == s.SerializeAsString(), "round trip changed the suite");
  } catch (const evals::SuiteError& e) {
    HIL_FUZZ_CHECK(false, "a valid suite does not parse after printing: %s", e.what());
  }
  return 0;
}
