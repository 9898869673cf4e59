#include <catch2/catch.hpp>

#include <cmath>

#include "fixtures.h"
#include "hil/dual_engine/compiler.h"
#include "hil/dual_engine/executor.h"
#include "hil/dual_engine/model.h"
#include "onnx_builder.h"

using namespace hil;
using namespace hil::dual_engine;

namespace {

TensorMap input_for(const Model& m) {
  const auto& in = m.inputs()[0];
  Tensor t;
  t.shape = in.shape;
  uint64_t n = 1;
  for (auto d : in.shape) n *= static_cast<uint64_t>(d);
  for (uint64_t i = 0; i < n; ++i) t.data.push_back(static_cast<float>((i * 7919) % 255) / 255.0f);
  return {{in.name, t}};
}

std::vector<float> run_split(const CompiledModel& plan, const TensorMap& in) {
  PartitionExecutor a(plan.first), b(plan.second);
  auto mid = a.run(in);
  for (const auto& [k, v] : in) mid.emplace(k, v);
  return b.run(mid).at(plan.graph_outputs[0].name).data;
}

}  // namespace

TEST_CASE("the compiler cuts any DAG validly, skip connections included", "[compiler]") {
  auto model = Model::load(test::residual_model(), "residual");
  auto board = load_board_type("slowed-hw3");
  auto plan = compile(model, board);
  REQUIRE(plan.cut > 0);
  REQUIRE(plan.cut < model.nodes().size());
  CHECK(plan.first.nodes.size() + plan.second.nodes.size() == model.nodes().size());
  // Every tensor the second partition reads is a cut tensor or a graph input.
  for (size_t i : plan.second.nodes) {
    for (const auto& in : model.nodes()[i].inputs) {
      if (model.is_initializer(in)) continue;
      bool produced_inside = false;
      for (size_t j : plan.second.nodes) {
        for (const auto& o : model.nodes()[j].outputs) produced_inside |= o == in;
      }
      bool provided = false;
      for (const auto& t : plan.second.inputs) provided |= t.name == in;
      INFO("tensor " << in);
      CHECK((produced_inside || provided));
    }
  }
  // A cut between c1 and the Add must carry r1 across (the skip connection).
  if (plan.cut == 2 || plan.cut == 3) {
    bool r1 = false;
    for (const auto& t : plan.cut_tensors) r1 |= t.name == "r1";
    CHECK(r1);
  }
  CHECK(plan.standby[0].nodes.size() == model.nodes().size());
  CHECK(plan.split_period_us() < plan.standby[0].device_us);
}

TEST_CASE("partitioned execution gives the outputs of whole-graph execution", "[compiler]") {
  SECTION("residual model") {
    auto model = Model::load(test::residual_model(), "residual");
    auto plan = compile(model, load_board_type("slowed-hw3"));
    auto in = input_for(model);
    auto whole = run_whole_model(model.bytes(), in, {"y"}).at("y").data;
    auto split = run_split(plan, in);
    REQUIRE(whole.size() == split.size());
    for (size_t i = 0; i < whole.size(); ++i) CHECK(split[i] == Approx(whole[i]).margin(1e-6));
  }
  SECTION("sample perception revision, bit for bit") {
    auto model = Model::load(test::tiny_revision(), "tiny");
    auto plan = compile(model, load_board_type("slowed-hw3"));
    auto in = input_for(model);
    auto whole = run_whole_model(model.bytes(), in, {"outputs"}).at("outputs").data;
    auto split = run_split(plan, in);
    CHECK(split == whole);
  }
}

TEST_CASE("the cost model charges spills when nothing fits in SRAM", "[compiler]") {
  auto model = Model::load(test::residual_model(), "residual");
  auto board = load_board_type("slowed-hw3");
  auto roomy = compile(model, board);
  for (auto& e : *board.mutable_engines()) e.set_sram_bytes(1024);
  auto tight = compile(model, board);
  CHECK(tight.standby[0].spill_bytes > 0);
  CHECK(tight.standby[0].device_us > roomy.standby[0].device_us);
}

TEST_CASE("an unknown board type is refused with the known ones", "[compiler]") {
  CHECK_THROWS_WITH(load_board_type("emulated-hw99"), Catch::Contains("emulated-hw99") && Catch::Contains("slowed-hw3"));
}
