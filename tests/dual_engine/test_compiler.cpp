#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>

#include <onnx/onnx_pb.h>

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

// Softmax (or LogSoftmax) over axis 1 of x written out as ONNX's opset-13
// function body does, its ReduceSum taking the axes as an input; returns the
// node indices it adds, first to last.
std::pair<size_t, size_t> expanded_softmax(test::OnnxBuilder& b, const std::string& x,
                                           const std::string& y, bool log) {
  const auto first = static_cast<size_t>(b.model().graph().node_size());
  auto* axes = b.node("Constant", {}, y + "_axes")->add_attribute();
  axes->set_name("value");
  axes->set_type(onnx::AttributeProto_AttributeType_TENSOR);
  axes->mutable_t()->set_data_type(onnx::TensorProto_DataType_INT64);
  axes->mutable_t()->add_dims(1);
  axes->mutable_t()->add_int64_data(1);
  test::OnnxBuilder::ints(b.node("ReduceMax", {x}, y + "_max"), "axes", {1});
  b.node("Sub", {x, y + "_max"}, y + "_sub");
  b.node("Exp", {y + "_sub"}, y + "_exp");
  b.node("ReduceSum", {y + "_exp", y + "_axes"}, y + "_sum");
  if (log) {
    b.node("Log", {y + "_sum"}, y + "_log");
    b.node("Sub", {y + "_sub", y + "_log"}, y);
  } else {
    b.node("Div", {y + "_exp", y + "_sum"}, y);
  }
  return {first, static_cast<size_t>(b.model().graph().node_size()) - 1};
}

void check_split_matches_whole(const Model& model, const CompiledModel& plan) {
  auto in = input_for(model);
  const auto& out = plan.graph_outputs[0].name;
  auto whole = run_whole_model(model.bytes(), in, {out}).at(out).data;
  auto split = run_split(plan, in);
  REQUIRE(whole.size() == split.size());
  for (size_t i = 0; i < whole.size(); ++i) CHECK(split[i] == Approx(whole[i]).margin(1e-6));
}

}  // namespace

TEST_CASE("the compiler never cuts inside a softmax written out, which OpenCV DNN fuses",
          "[compiler]") {
  const auto board = load_board_type("slowed-hw3");
  SECTION("alone, the graph runs whole") {
    // ONNX's node/test_softmax_axis_1_expanded: cut anywhere, one half holds
    // a ReduceSum with its axes as an input, which OpenCV 4.6 imports only as
    // part of the fused softmax.
    for (bool log : {false, true}) {
      INFO((log ? "LogSoftmax" : "Softmax"));
      test::OnnxBuilder b;
      b.input("x", {3, 4, 5}).output("y", {3, 4, 5});
      expanded_softmax(b, "x", "y", log);
      auto model = Model::load(b.bytes(), "softmax_expanded");
      auto plan = compile(model, board);
      CHECK(plan.cut == model.nodes().size());
      check_split_matches_whole(model, plan);
    }
  }
  SECTION("between convolutions, the cut falls outside it") {
    for (bool log : {false, true}) {
      INFO((log ? "LogSoftmax" : "Softmax"));
      test::OnnxBuilder b;
      b.input("x", {1, 8, 16, 16}).output("y", {1, 8, 16, 16});
      b.weights("w1", {8, 8, 3, 3}).weights("w2", {8, 8, 3, 3});
      auto conv = [&b](const char* in, const char* w, const char* out) {
        auto* c = b.node("Conv", {in, w}, out);
        test::OnnxBuilder::ints(c, "pads", {1, 1, 1, 1});
        test::OnnxBuilder::ints(c, "kernel_shape",
                                {3, 3});  // run_whole_model reads the bytes as given
      };
      conv("x", "w1", "c1");
      b.node("Relu", {"c1"}, "r1");
      // Its Constant first, then ReduceMax .. the last node: no cut after
      // the ReduceMax and up to the last node.
      const auto [constant, last] = expanded_softmax(b, "r1", "s", log);
      conv("s", "w2", "y");
      auto model = Model::load(b.bytes(), "conv_softmax_conv");
      auto plan = compile(model, board);
      INFO("cut " << plan.cut);
      REQUIRE(plan.cut < model.nodes().size());
      CHECK((plan.cut <= constant + 1 || plan.cut > last));
      check_split_matches_whole(model, plan);
    }
  }
}

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
  CHECK_THROWS_WITH(load_board_type("emulated-hw99"),
                    Catch::Contains("emulated-hw99") && Catch::Contains("slowed-hw3"));
}

TEST_CASE("a board type with an impossible supervision is refused by file and field",
          "[compiler]") {
  const auto dir = std::filesystem::temp_directory_path() / "hil-test-boards";
  std::filesystem::create_directories(dir);
  const std::string engines =
      "engines { name: \"a\" sram_bytes: 1024 macs_per_second: 1e9 bytes_per_second: 1e9 }\n"
      "engines { name: \"b\" sram_bytes: 1024 macs_per_second: 1e9 bytes_per_second: 1e9 }\n"
      "link_bytes_per_second: 1e9\n";
  auto write = [&](const std::string& name, const std::string& text) {
    const auto path = dir / name;
    std::ofstream(path) << "name: \"t\"\n" << engines << text;
    return path.string();
  };
  CHECK_THROWS_WITH(
      load_board_type(write("neg.textproto", "supervision { heartbeat_period_ms: -1 }\n")),
      Catch::Contains("neg.textproto") && Catch::Contains("supervision.heartbeat_period_ms"));
  CHECK_THROWS_WITH(
      load_board_type(write("beats.textproto", "supervision { missed_beats: 5000 }\n")),
      Catch::Contains("beats.textproto") && Catch::Contains("supervision.missed_beats"));
  CHECK(load_board_type(
            write("ok.textproto", "supervision { heartbeat_period_ms: 5 missed_beats: 2 }\n"))
            .supervision()
            .missed_beats() == 2);
}

TEST_CASE("a camera only the commander's half reads is not an input of the extender's half",
          "[compiler]") {
  // On slowed-hw3 the three-camera sample is cut inside the third camera's
  // backbone: the extender's half reads two cameras, the commander's the third.
  // OpenCV DNN cannot build a network with an input nothing reads, so the
  // extender's half must not declare it.
  auto model = Model::load_file(std::filesystem::path(HIL_SOURCE_DIR) /
                                "dual_engine/samples/tri-cam/base-s1.onnx");
  auto plan = compile(model, load_board_type("slowed-hw3"));
  REQUIRE(plan.cut < model.nodes().size());
  REQUIRE(model.inputs().size() == 3);
  std::set<std::string> read_by_first;
  for (size_t i = 0; i < plan.cut; ++i) {
    read_by_first.insert(model.nodes()[i].inputs.begin(), model.nodes()[i].inputs.end());
  }
  CHECK(plan.first.inputs.size() < 3);
  for (const auto& in : plan.first.inputs) CHECK(read_by_first.count(in.name) == 1);

  TensorMap in;
  for (const auto& info : model.inputs()) {
    Tensor t;
    t.shape = info.shape;
    uint64_t n = 1;
    for (auto d : info.shape) n *= static_cast<uint64_t>(d);
    for (uint64_t i = 0; i < n; ++i)
      t.data.push_back(static_cast<float>((i * 7919) % 255) / 255.0f);
    in[info.name] = t;
  }
  PartitionExecutor first(plan.first), second(plan.second);
  auto mid = first.run(in);
  for (const auto& [k, v] : in) mid.emplace(k, v);
  auto split = second.run(mid);
  std::vector<std::string> names;
  for (const auto& o : plan.second.outputs) names.push_back(o.name);
  auto whole = run_whole_model(model.bytes(), in, names);
  for (const auto& name : names) {
    REQUIRE(split.at(name).data.size() == whole.at(name).data.size());
    for (size_t i = 0; i < whole.at(name).data.size(); ++i) {
      CHECK(split.at(name).data[i] == Approx(whole.at(name).data[i]).margin(1e-4));
    }
  }
}
