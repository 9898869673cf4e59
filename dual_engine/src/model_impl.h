// Private: the ONNX side of Model, shared by the compiler.
#pragma once

#include <onnx/onnx_pb.h>

#include <map>
#include <set>

#include "hil/dual_engine/model.h"

namespace hil::dual_engine {

struct Model::Impl {
  std::string name;
  std::string sha256;
  std::string bytes;
  onnx::ModelProto proto;  // with inferred value_info
  std::vector<TensorInfo> inputs, outputs;
  std::vector<NodeInfo> nodes;
  std::map<std::string, TensorInfo> tensors;
  std::map<std::string, const onnx::TensorProto*> initializers;
  std::map<std::string, const onnx::NodeProto*> node_protos;  // by node name
};

}  // namespace hil::dual_engine
