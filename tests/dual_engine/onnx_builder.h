// Builds small ONNX graphs for tests (valid and deliberately broken ones).
#pragma once

#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

namespace hil::test {

class OnnxBuilder {
 public:
  OnnxBuilder() {
    model_.set_ir_version(8);
    auto* op = model_.add_opset_import();
    op->set_version(13);
    model_.mutable_graph()->set_name("test");
  }
  OnnxBuilder& input(const std::string& name, std::vector<int64_t> shape, int type = 1) {
    value(model_.mutable_graph()->add_input(), name, shape, type);
    return *this;
  }
  OnnxBuilder& output(const std::string& name, std::vector<int64_t> shape, int type = 1) {
    value(model_.mutable_graph()->add_output(), name, shape, type);
    return *this;
  }
  OnnxBuilder& weights(const std::string& name, std::vector<int64_t> dims, float scale = 0.1f) {
    auto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(1);
    int64_t n = 1;
    for (auto d : dims) {
      t->add_dims(d);
      n *= d;
    }
    for (int64_t i = 0; i < n; ++i)
      t->add_float_data(scale * static_cast<float>((i * 37 % 17) - 8) / 8.0f);
    return *this;
  }
  onnx::NodeProto* node(const std::string& op, std::vector<std::string> in,
                        const std::string& out) {
    auto* n = model_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(out);
    for (auto& i : in) n->add_input(i);
    n->add_output(out);
    return n;
  }
  static void ints(onnx::NodeProto* n, const std::string& name, std::vector<int64_t> v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto_AttributeType_INTS);
    for (auto x : v) a->add_ints(x);
  }
  std::string bytes() const {
    std::string s;
    model_.SerializeToString(&s);
    return s;
  }
  onnx::ModelProto& model() { return model_; }

 private:
  static void value(onnx::ValueInfoProto* v, const std::string& name,
                    const std::vector<int64_t>& shape, int type) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(type);
    for (auto d : shape) tt->mutable_shape()->add_dim()->set_dim_value(d);
  }
  onnx::ModelProto model_;
};

// A small residual network: conv -> relu -> conv -> add(skip) -> relu -> pool -> gemm.
inline std::string residual_model() {
  OnnxBuilder b;
  b.input("x", {1, 3, 16, 32});
  b.weights("w1", {8, 3, 3, 3})
      .weights("w2", {8, 8, 3, 3})
      .weights("w3", {4, 8})
      .weights("b3", {4});
  auto* c1 = b.node("Conv", {"x", "w1"}, "c1");
  OnnxBuilder::ints(c1, "pads", {1, 1, 1, 1});
  OnnxBuilder::ints(c1, "kernel_shape", {3, 3});
  b.node("Relu", {"c1"}, "r1");
  auto* c2 = b.node("Conv", {"r1", "w2"}, "c2");
  OnnxBuilder::ints(c2, "pads", {1, 1, 1, 1});
  OnnxBuilder::ints(c2, "kernel_shape", {3, 3});
  b.node("Add", {"r1", "c2"}, "skip");  // r1 is used again after c2: a skip connection
  b.node("Relu", {"skip"}, "r2");
  b.node("GlobalAveragePool", {"r2"}, "gap");
  b.node("Flatten", {"gap"}, "flat");
  auto* g = b.node("Gemm", {"flat", "w3", "b3"}, "y");
  auto* a = g->add_attribute();
  a->set_name("transB");
  a->set_type(onnx::AttributeProto_AttributeType_INT);
  a->set_i(1);
  b.output("y", {1, 4});
  return b.bytes();
}

}  // namespace hil::test
