#include <catch2/catch.hpp>

#include <onnx/onnx_pb.h>

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

TEST_CASE("a Constant typed beyond what its opset allows loads as an initializer", "[model]") {
  // PyTorch 0.3 wrote Reshape shapes as int64 Constants at opset 6, where
  // Constant takes float types only (ONNX's pytorch-converted/test_PixelShuffle).
  test::OnnxBuilder b;
  b.model().set_ir_version(3);  // before IR 4, initializers are graph inputs too
  b.model().mutable_opset_import(0)->set_version(6);
  b.input("x", {2, 6}).output("y", {3, 4});
  auto* shape = b.node("Constant", {}, "shape")->add_attribute();
  shape->set_name("value");
  shape->set_type(onnx::AttributeProto_AttributeType_TENSOR);
  shape->mutable_t()->set_data_type(onnx::TensorProto_DataType_INT64);
  shape->mutable_t()->add_dims(2);
  shape->mutable_t()->add_int64_data(3);
  shape->mutable_t()->add_int64_data(4);
  b.node("Reshape", {"x", "shape"}, "y");
  auto m = Model::load(b.bytes(), "pixel_shuffle.onnx");
  REQUIRE(m.nodes().size() == 1);
  CHECK(m.nodes()[0].op_type == "Reshape");
  CHECK(m.is_initializer("shape"));
  CHECK(m.tensor("shape").elem_type == onnx::TensorProto_DataType_INT64);
  CHECK(m.tensor("y").shape == std::vector<int64_t>{3, 4});
  REQUIRE(m.inputs().size() == 1);  // the initializer's graph input is not a model input
  CHECK(m.inputs()[0].name == "x");

  SECTION("a float Constant at the same opset stays a node") {
    test::OnnxBuilder f;
    f.model().mutable_opset_import(0)->set_version(6);
    f.input("x", {1, 4}).output("y", {1, 4});
    auto* c = f.node("Constant", {}, "c")->add_attribute();
    c->set_name("value");
    c->set_type(onnx::AttributeProto_AttributeType_TENSOR);
    c->mutable_t()->set_data_type(onnx::TensorProto_DataType_FLOAT);
    for (int i = 0; i < 4; ++i) c->mutable_t()->add_float_data(1.0f);
    c->mutable_t()->add_dims(1);
    c->mutable_t()->add_dims(4);
    f.node("Add", {"x", "c"}, "y");
    auto fm = Model::load(f.bytes(), "float_constant.onnx");
    CHECK(fm.nodes().size() == 2);
    CHECK_FALSE(fm.is_initializer("c"));
  }
  SECTION("other type errors still fail shape inference") {
    test::OnnxBuilder t;
    t.input("x", {1, 4}).output("y", {1, 4});
    t.weights("w", {1, 4});
    t.model().mutable_graph()->mutable_initializer(0)->set_data_type(
        onnx::TensorProto_DataType_DOUBLE);
    t.model().mutable_graph()->mutable_initializer(0)->clear_float_data();
    for (int i = 0; i < 4; ++i)
      t.model().mutable_graph()->mutable_initializer(0)->add_double_data(1.0);
    t.node("Add", {"x", "w"}, "y");
    CHECK_THROWS_WITH(Model::load(t.bytes(), "mixed.onnx"), Catch::Contains("shape inference"));
  }
}

TEST_CASE("bad models are refused at load time naming what is wrong", "[model]") {
  SECTION("not ONNX at all") {
    CHECK_THROWS_WITH(Model::load("hello", "junk.onnx"),
                      Catch::Contains("junk.onnx") && Catch::Contains("not an ONNX"));
  }
  SECTION("an unsupported operator names the node and the operator") {
    test::OnnxBuilder b;
    b.input("x", {1, 4}).output("y", {1, 4});
    b.node("Hardmax", {"x"}, "y");
    CHECK_THROWS_WITH(Model::load(b.bytes(), "hm.onnx"), Catch::Contains("'y'") &&
                                                             Catch::Contains("Hardmax") &&
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
