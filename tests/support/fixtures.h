// Test helpers: real temporary directories and small real models.
#pragma once

#include <google/protobuf/util/message_differencer.h>

#include <filesystem>
#include <string>

#include "evals/proto/outputs.pb.h"

namespace hil::outputs {
// Decoded outputs compare field by field (protobuf messages have no ==).
inline bool operator==(const FrameOutputs& a, const FrameOutputs& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}
}  // namespace hil::outputs

namespace hil::test {

// Metric declarations for the sample networks' heads ('ego' lane offset and
// heading, 'control', 'lead'), as the shipped suites declare them; test
// suites that gate these names include it.
inline constexpr const char* kSampleMetrics =
    "metrics { name: \"lane_offset_mae\" regression { head: \"ego\" field: \"lane_offset\" truth: "
    "\"ego.lane_offset\" } }\n"
    "metrics { name: \"lane_heading_mae\" regression { head: \"ego\" field: \"lane_heading\" "
    "truth: "
    "\"ego.lane_heading\" } }\n"
    "metrics { name: \"steering_mae\" regression { head: \"control\" field: \"steering\" truth: "
    "\"control.steering\" } }\n"
    "metrics { name: \"accel_mae\" regression { head: \"control\" field: \"acceleration\" truth: "
    "\"control.acceleration\" } }\n"
    "metrics { name: \"lead_recall\" lead { head: \"lead\" output: LEAD_RECALL } }\n"
    "metrics { name: \"lead_precision\" lead { head: \"lead\" output: LEAD_PRECISION } }\n";

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// A sample revision trained on a few tiny clips (fast), cached per process
// and recipe in a shared temp folder. Returns the ONNX bytes.
const std::string& tiny_revision(const std::string& recipe = "base", uint64_t seed = 1);

// The path of a generated clip (cached per process).
std::filesystem::path sample_clip(uint64_t seed, const std::string& condition = "clear",
                                  uint32_t frames = 12);

// The built `hil` binary (HIL_BIN from ctest, else next to the test).
std::filesystem::path hil_binary();

// Ends this test as skipped: ctest runs each test case as its own process
// and reports the exit code kSkipReturnCode as "Skipped" (SKIP_RETURN_CODE in
// tests/CMakeLists.txt), never as a pass. For a test that cannot run on this
// machine (not root, no network namespaces, a component not built).
constexpr int kSkipReturnCode = 77;
[[noreturn]] void skip(const std::string& why);

}  // namespace hil::test
