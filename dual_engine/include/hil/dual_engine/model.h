// Loading and checking ONNX revisions with the ONNX library: the checker,
// shape inference (strict), and hil's supported-operator list, so that a bad
// model is refused at load time with the node at fault, never at frame 500.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace hil::dual_engine {

class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // symbolic dimensions resolved to 1 (batch)
  int32_t elem_type = 1;       // onnx::TensorProto_DataType, 1 = float
  uint64_t bytes() const;
};

struct NodeInfo {
  std::string name;
  std::string op_type;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
};

// ONNX operators the compiler can cost and OpenCV DNN 4.6 can execute.
const std::vector<std::string>& supported_ops();

class Model {
 public:
  // Parses, checks and shape-infers; throws ModelError naming the model and
  // the node, input or attribute at fault.
  static Model load(std::string bytes, const std::string& name);
  static Model load_file(const std::filesystem::path& path);

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  const std::string& name() const;
  const std::string& sha256() const;
  const std::string& bytes() const;  // as loaded (the revision's identity)
  const std::vector<TensorInfo>& inputs() const;
  const std::vector<TensorInfo>& outputs() const;
  const std::vector<NodeInfo>& nodes() const;  // topological order
  // Shape of any tensor (inputs, initializers, intermediates); throws if unknown.
  const TensorInfo& tensor(const std::string& name) const;
  bool is_initializer(const std::string& name) const;
  uint64_t parameter_count() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hil::dual_engine
