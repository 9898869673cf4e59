// Loading and checking ONNX revisions with the ONNX library: the checker,
// shape inference (strict), and hil's supported-operator list, so that a bad
// model is refused at load time with the node at fault, never at frame 500.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "evals/proto/model.pb.h"

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
  // The model interface text carried in metadata_props ("hil.interface"), if any.
  std::optional<std::string> interface_text() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Checks an interface against the graph: every graph input bound exactly
// once, float32, with the shape its cameras, history, stacking, colour and
// layout give; every graph output bound to a head or listed as ignored; every
// binding names a real input or output; each head's output holds what its
// decoder reads. Throws evals::InterfaceError naming the input, output or head.
void check_interface(const Model& model, const model::ModelInterface& iface);

// The interface a revision carries (embedded), parsed and checked against its
// graph; throws evals::InterfaceError when it has none or it does not fit.
model::ModelInterface revision_interface(const Model& model);

// NAME.interface.textproto beside NAME.onnx.
std::filesystem::path interface_path_for(const std::filesystem::path& onnx);

// The ONNX bytes with `interface_text` in metadata_props (replacing any).
std::string embed_interface(const std::string& onnx_bytes, const std::string& interface_text);

// A revision as it is uploaded: its interface from the file beside it (which
// wins, and is then embedded) or from its metadata, checked against the graph.
struct PreparedRevision {
  std::string bytes;  // what is uploaded and named by its SHA-256
  model::ModelInterface iface;
  std::string interface_source;  // the file it came from, or "metadata"
};
// Throws ModelError (bad ONNX) or evals::InterfaceError (no interface, or one
// that does not fit), naming the file.
PreparedRevision prepare_revision(
    const std::filesystem::path& onnx,
    const std::optional<std::filesystem::path>& interface_file = std::nullopt);

}  // namespace hil::dual_engine
