#include <catch2/catch.hpp>

#include "fixtures.h"
#include "hil/dual_engine/model.h"
#include "onnx_builder.h"

using namespace hil;
using dual_engine::Model;
using dual_engine::ModelError;

TEST_CASE("a valid model loads with inferred shapes and its SHA-256", "[model]") {
  auto bytes = test::residual_model();
  auto m = Model::load(bytes, "residual.onnx");
  CHECK(m.sha256().size() == 64);
  CHECK(m.nodes().size() == 8);
  CHECK(m.tensor("r1").shape == std::vector<int64_t>{1, 8, 16, 32});
  CHECK(m.tensor("flat").shape == std::vector<int64_t>{1, 8});
  CHECK(m.parameter_count() == 8 * 3 * 9 + 8 * 8 * 9 + 4 * 8 + 4);
}

TEST_CASE("bad models are refused at load time naming what is wrong", "[model]") {
  SECTION("not ONNX at all") {
    CHECK_THROWS_WITH(Model::load("hello", "junk.onnx"), Catch::Contains("junk.onnx") && Catch::Contains("not an ONNX"));
  }
  SECTION("an unsupported operator names the node and the operator") {
    test::OnnxBuilder b;
    b.input("x", {1, 4}).output("y", {1, 4});
    b.node("Hardmax", {"x"}, "y");
    CHECK_THROWS_WITH(Model::load(b.bytes(), "hm.onnx"), Catch::Contains("'y'") && Catch::Contains("Hardmax") &&
                                                             Catch::Contains("not supported"));
  }
  SECTION("a missing input names the node and the input") {
    test::OnnxBuilder b;
    b.input("x", {1, 4}).output("y", {1, 4});
    b.node("Add", {"x", "ghost"}, "y");
    CHECK_THROWS_WITH(Model::load(b.bytes(), "ghost.onnx"), Catch::Contains("ghost"));
  }
  SECTION("inconsistent shapes fail shape inference") {
    test::OnnxBuilder b;
    b.input("x", {1, 4}).output("y", {1, 5});
    b.node("Relu", {"x"}, "y");
    CHECK_THROWS_WITH(Model::load(b.bytes(), "shape.onnx"), Catch::Contains("shape.onnx"));
  }
  SECTION("huge dimensions are refused") {
    test::OnnxBuilder b;
    b.input("x", {1, 100000, 100000, 100}).output("y", {1, 100000, 100000, 100});
    b.node("Relu", {"x"}, "y");
    CHECK_THROWS_WITH(Model::load(b.bytes(), "huge.onnx"), Catch::Contains("too large"));
  }
  SECTION("non-float inputs are refused") {
    test::OnnxBuilder b;
    b.input("x", {1, 4}, 7).output("y", {1, 4}, 7);
    b.node("Identity", {"x"}, "y");
    CHECK_THROWS_WITH(Model::load(b.bytes(), "int.onnx"), Catch::Contains("'x'"));
  }
}
