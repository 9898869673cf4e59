// Fuzz target: the ONNX loader and the partitioning compiler
// (dual_engine/src/model.cpp, dual_engine/src/compiler.cpp), as `hil models
// inspect` and the agents use them: Model::load, then compile for the
// slowed-hw3 board. ModelError is the expected way to refuse a model; any
// other exception, or a sanitizer report, is a bug.
//
// Inputs above 64 KiB are skipped: the ONNX checker and shape inference run
// on the whole graph, and a large fuzzed graph makes each run slow without
// reaching new code (libFuzzer's -max_len keeps inputs below this anyway).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "hil/dual_engine/compiler.h"
#include "hil/dual_engine/model.h"

using namespace hil;

namespace {
constexpr size_t kMaxInputBytes = 64 * 1024;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInputBytes) return 0;
  static const auto board = dual_engine::load_board_type("slowed-hw3");
  std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    auto model = dual_engine::Model::load(std::move(bytes), "fuzz.onnx");
    HIL_FUZZ_CHECK(!model.nodes().empty() && !model.inputs().empty(),
                   "an empty graph was accepted");
    auto plan = dual_engine::compile(model, board);
    const size_t n = model.nodes().size();
    HIL_FUZZ_CHECK(plan.cut >= 1 && plan.cut <= n, "cut %zu of %zu nodes", plan.cut, n);
    HIL_FUZZ_CHECK(plan.first.nodes.size() + (plan.cut < n ? plan.second.nodes.size() : 0) == n,
                   "partitions of %zu + %zu nodes for %zu", plan.first.nodes.size(),
                   plan.second.nodes.size(), n);
    HIL_FUZZ_CHECK(!plan.standby[0].onnx.empty() && !plan.standby[1].onnx.empty(),
                   "no standby plan");
    (void)dual_engine::describe_plan(model, plan);
  } catch (const dual_engine::ModelError&) {
  }
  return 0;
}
