#include "hil/dual_engine/model.h"

#include <onnx/checker.h>
#include <onnx/defs/data_type_utils.h>
#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "hil/dual_engine/preprocess.h"
#include "hil/evals/model_interface.h"
#include "hil/evals/sha256.h"
#include "model_impl.h"

namespace hil::dual_engine {
namespace {

constexpr int64_t kMaxElements = int64_t{1} << 28;  // 1 GiB of float per tensor

TensorInfo info_of(const std::string& model, const onnx::ValueInfoProto& v) {
  TensorInfo t;
  t.name = v.name();
  if (!v.type().has_tensor_type()) {
    throw ModelError(fmt::format("{}: value '{}' is not a tensor", model, v.name()));
  }
  const auto& tt = v.type().tensor_type();
  t.elem_type = tt.elem_type();
  int64_t elements = 1;
  for (const auto& d : tt.shape().dim()) {
    int64_t n = d.has_dim_value() ? d.dim_value() : 1;  // symbolic (batch) dimensions run as 1
    if (n < 0 || n > kMaxElements) {
      throw ModelError(
          fmt::format("{}: tensor '{}' has dimension {} out of range", model, v.name(), n));
    }
    elements *= std::max<int64_t>(n, 1);
    if (elements > kMaxElements) {
      throw ModelError(fmt::format("{}: tensor '{}' is too large ({} elements; the limit is {})",
                                   model, v.name(), elements, kMaxElements));
    }
    t.shape.push_back(n);
  }
  return t;
}

TensorInfo info_of(const std::string& model, const onnx::TensorProto& init) {
  TensorInfo t;
  t.name = init.name();
  t.elem_type = init.data_type();
  int64_t elements = 1;
  for (auto d : init.dims()) {
    if (d < 0 || d > kMaxElements)
      throw ModelError(
          fmt::format("{}: initializer '{}' has dimension {} out of range", model, init.name(), d));
    elements *= std::max<int64_t>(d, 1);
    if (elements > kMaxElements)
      throw ModelError(fmt::format("{}: initializer '{}' is too large", model, init.name()));
    t.shape.push_back(d);
  }
  return t;
}

// Node names are how hil reports problems and plans; unnamed nodes get one.
void name_nodes(onnx::GraphProto& g) {
  std::set<std::string> used;
  for (const auto& n : g.node()) used.insert(n.name());
  int k = 0;
  for (auto& n : *g.mutable_node()) {
    if (!n.name().empty()) continue;
    std::string name;
    do name = fmt::format("{}_{}", n.op_type(), k++);
    while (used.count(name));
    used.insert(name);
    n.set_name(name);
  }
}

// ONNX lets Conv infer kernel_shape from its weights; OpenCV DNN needs it
// spelled out, so hil adds it (the revision's bytes and hash are unchanged).
void add_kernel_shapes(onnx::GraphProto& g) {
  std::map<std::string, const onnx::TensorProto*> inits;
  for (const auto& t : g.initializer()) inits[t.name()] = &t;
  for (auto& n : *g.mutable_node()) {
    if (n.op_type() != "Conv" && n.op_type() != "ConvTranspose") continue;
    bool has = false;
    for (const auto& a : n.attribute()) has |= a.name() == "kernel_shape";
    if (has || n.input_size() < 2 || !inits.count(n.input(1))) continue;
    const auto* w = inits[n.input(1)];
    auto* a = n.add_attribute();
    a->set_name("kernel_shape");
    a->set_type(onnx::AttributeProto_AttributeType_INTS);
    for (int i = 2; i < w->dims_size(); ++i) a->add_ints(w->dims(i));
  }
}

// Window attributes of Conv, ConvTranspose and the pools must be positive.
// ONNX 1.12's checker does not check them and its shape inference divides by
// the strides: a stride of 0 kills the process with SIGFPE (found by fuzzing;
// tests/fuzz/corpus/model/crash-conv-stride-zero.onnx).
void check_window_attributes(const std::string& model, const onnx::GraphProto& g) {
  for (const auto& n : g.node()) {
    for (const auto& a : n.attribute()) {
      if (a.name() != "strides" && a.name() != "dilations" && a.name() != "kernel_shape") continue;
      for (auto v : a.ints()) {
        if (v < 1) {
          throw ModelError(
              fmt::format("{}: node '{}': attribute '{}' has a value of {}; it must be at least 1",
                          model, n.name().empty() ? n.op_type() : n.name(), a.name(), v));
        }
      }
    }
  }
}

// Constant nodes whose value has a type that the model's opset does not allow
// a Constant become initializers of the same name and value. PyTorch 0.3
// exported Reshape shapes as int64 Constants at opset 6, where Constant takes
// float types only (all types from opset 9): ONNX's checker accepts them, its
// type-checking shape inference does not, and OpenCV DNN reads them as the
// constants they are. An initializer holds the same tensor with no type
// constraint, so the graph keeps its meaning and shape inference stays strict
// for every other node. A Constant that is itself a graph output stays.
void hoist_mistyped_constants(onnx::ModelProto& m) {
  int opset = -1;
  for (const auto& op : m.opset_import()) {
    if (op.domain().empty() || op.domain() == "ai.onnx") opset = static_cast<int>(op.version());
  }
  if (opset < 0) return;
  const auto* schema = onnx::OpSchemaRegistry::Schema("Constant", opset, "");
  if (!schema || schema->outputs().size() != 1) return;
  std::set<std::string> allowed;
  for (const auto& c : schema->typeConstraintParams()) {
    if (c.type_param_str == schema->outputs()[0].GetTypeStr())
      allowed.insert(c.allowed_type_strs.begin(), c.allowed_type_strs.end());
  }
  if (allowed.empty()) return;
  auto& g = *m.mutable_graph();
  std::set<std::string> graph_outputs;
  for (const auto& o : g.output()) graph_outputs.insert(o.name());
  auto* nodes = g.mutable_node();
  for (int i = 0; i < nodes->size();) {
    const auto& n = nodes->Get(i);
    const bool hoistable = n.op_type() == "Constant" &&
                           (n.domain().empty() || n.domain() == "ai.onnx") && n.input_size() == 0 &&
                           n.output_size() == 1 && !n.output(0).empty() &&
                           !graph_outputs.count(n.output(0)) && n.attribute_size() == 1 &&
                           n.attribute(0).name() == "value" && n.attribute(0).has_t();
    std::string type;
    if (hoistable) {
      try {
        type = "tensor(" +
               onnx::Utils::DataTypeUtils::ToDataTypeString(n.attribute(0).t().data_type()) + ")";
      } catch (const std::exception&) {
        type.clear();  // an invalid element type: shape inference reports it
      }
    }
    if (type.empty() || allowed.count(type)) {
      ++i;
      continue;
    }
    auto* init = g.add_initializer();
    *init = n.attribute(0).t();
    init->set_name(n.output(0));
    // Before IR version 4 every initializer is also a graph input.
    if (m.ir_version() < 4) {
      auto* in = g.add_input();
      in->set_name(init->name());
      auto* tt = in->mutable_type()->mutable_tensor_type();
      tt->set_elem_type(init->data_type());
      auto* shape = tt->mutable_shape();
      for (auto d : init->dims()) shape->add_dim()->set_dim_value(d);
    }
    nodes->DeleteSubrange(i, 1);
  }
}

}  // namespace

uint64_t TensorInfo::bytes() const {
  uint64_t n = 1;
  for (auto d : shape) n *= static_cast<uint64_t>(std::max<int64_t>(d, 1));
  int width = elem_type == 11 || elem_type == 7                    ? 8
              : elem_type == 10 || elem_type == 5                  ? 2
              : elem_type == 2 || elem_type == 3 || elem_type == 9 ? 1
                                                                   : 4;
  return n * static_cast<uint64_t>(width);
}

const std::vector<std::string>& supported_ops() {
  static const std::vector<std::string> k{
      "Add", "AveragePool", "BatchNormalization", "Clip", "Concat", "Conv", "Div", "Dropout",
      "Flatten", "Gemm", "GlobalAveragePool", "GlobalMaxPool", "Identity", "LeakyRelu", "MatMul",
      "MaxPool", "Mul", "Relu", "Reshape", "Sigmoid", "Softmax", "Sub", "Sum", "Tanh", "Transpose",
      "Abs", "Exp", "Log", "Sqrt", "Neg", "Pad", "Elu", "PRelu", "Squeeze", "Unsqueeze",
      "ConvTranspose", "LRN", "Max", "Min", "Pow", "Slice", "Split", "Upsample", "Resize",
      "Constant", "Erf", "Floor", "Ceil", "HardSigmoid", "Softplus", "ReduceMean", "ReduceMax",
      "ReduceSum", "InstanceNormalization", "Shape", "Gather", "Cast", "Expand",
      // Added after the conformance run: OpenCV DNN 4.6 executes these correctly.
      "LogSoftmax", "ReduceSumSquare", "ReduceProd", "ReduceMin", "ReduceLogSum", "ReduceL1",
      "ReduceL2", "Selu", "DepthToSpace", "SpaceToDepth", "ThresholdedRelu", "Softsign", "Shrink",
      "Reciprocal", "Sign", "Round", "HardSwish", "Celu", "Sin", "Cos", "Tan", "Asin", "Acos",
      "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh"};
  return k;
}

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::load_file(const std::filesystem::path& path) {
  std::string bytes;
  try {
    bytes = evals::read_file(path);
  } catch (const std::exception& e) {
    throw ModelError(e.what());
  }
  return load(std::move(bytes), path.string());
}

Model Model::load(std::string bytes, const std::string& name) {
  auto impl = std::make_unique<Impl>();
  impl->name = name;
  impl->sha256 = evals::sha256_hex(bytes);
  if (bytes.size() > (size_t{1} << 30))
    throw ModelError(
        fmt::format("{}: {} bytes is larger than the 1 GiB limit", name, bytes.size()));
  if (!impl->proto.ParseFromString(bytes)) {
    throw ModelError(fmt::format("{}: not an ONNX model (ModelProto does not parse)", name));
  }
  impl->bytes = std::move(bytes);
  auto& g = *impl->proto.mutable_graph();
  if (g.node_size() == 0) throw ModelError(fmt::format("{}: the graph has no node", name));
  // Operators first: an unsupported operator is the most useful message.
  const auto& ops = supported_ops();
  for (const auto& n : g.node()) {
    if (!n.domain().empty() && n.domain() != "ai.onnx") {
      throw ModelError(fmt::format(
          "{}: node '{}' uses operator domain '{}', only the default ONNX domain is supported",
          name, n.name(), n.domain()));
    }
    if (std::find(ops.begin(), ops.end(), n.op_type()) == ops.end()) {
      throw ModelError(
          fmt::format("{}: node '{}': operator '{}' is not supported (see docs/operators.md)", name,
                      n.name().empty() ? n.op_type() : n.name(), n.op_type()));
    }
  }
  try {
    onnx::checker::check_model(impl->proto);
  } catch (const std::exception& e) {
    throw ModelError(fmt::format("{}: ONNX checker: {}", name, e.what()));
  }
  check_window_attributes(name, g);
  hoist_mistyped_constants(impl->proto);
  if (g.node_size() == 0)
    throw ModelError(
        fmt::format("{}: the graph computes nothing (its only nodes are Constants)", name));
  try {
    onnx::ShapeInferenceOptions options(/*check_type=*/true, /*error_mode=*/1, /*data_prop=*/true);
    onnx::shape_inference::InferShapes(impl->proto, onnx::OpSchemaRegistry::Instance(), options);
  } catch (const std::exception& e) {
    throw ModelError(fmt::format("{}: shape inference: {}", name, e.what()));
  }
  name_nodes(g);
  add_kernel_shapes(g);

  std::set<std::string> init_names;
  for (const auto& init : g.initializer()) {
    init_names.insert(init.name());
    impl->tensors[init.name()] = info_of(name, init);
    impl->initializers[init.name()] = &init;
  }
  for (const auto& in : g.input()) {
    if (init_names.count(in.name())) continue;  // old-style models list initializers as inputs
    auto t = info_of(name, in);
    impl->inputs.push_back(t);
    impl->tensors[t.name] = t;
  }
  for (const auto& v : g.value_info()) impl->tensors[v.name()] = info_of(name, v);
  for (const auto& out : g.output()) {
    auto t = info_of(name, out);
    impl->outputs.push_back(t);
    impl->tensors[t.name] = t;
  }
  if (impl->inputs.empty()) throw ModelError(fmt::format("{}: the graph has no input", name));

  // Every node's outputs must have inferred shapes: the cost model needs them.
  std::set<std::string> available(init_names);
  for (const auto& in : impl->inputs) available.insert(in.name);
  for (const auto& n : g.node()) {
    for (const auto& i : n.input()) {
      if (!i.empty() && !available.count(i)) {
        throw ModelError(fmt::format(
            "{}: node '{}': input '{}' is not produced before it (graph not in topological order)",
            name, n.name(), i));
      }
    }
    for (const auto& o : n.output()) {
      available.insert(o);
      if (n.op_type() != "Constant" && !impl->tensors.count(o)) {
        throw ModelError(
            fmt::format("{}: node '{}': shape inference left output '{}' without a static shape",
                        name, n.name(), o));
      }
    }
    impl->nodes.push_back({n.name(),
                           n.op_type(),
                           {n.input().begin(), n.input().end()},
                           {n.output().begin(), n.output().end()}});
    impl->node_protos[n.name()] = &n;
  }
  for (const auto& in : impl->inputs) {
    if (in.elem_type != onnx::TensorProto_DataType_FLOAT) {
      throw ModelError(
          fmt::format("{}: input '{}' has element type {}, only float inputs are supported", name,
                      in.name, in.elem_type));
    }
  }
  return Model(std::move(impl));
}

const std::string& Model::name() const { return impl_->name; }
const std::string& Model::sha256() const { return impl_->sha256; }
const std::string& Model::bytes() const { return impl_->bytes; }
const std::vector<TensorInfo>& Model::inputs() const { return impl_->inputs; }
const std::vector<TensorInfo>& Model::outputs() const { return impl_->outputs; }
const std::vector<NodeInfo>& Model::nodes() const { return impl_->nodes; }
bool Model::is_initializer(const std::string& name) const {
  return impl_->initializers.count(name) > 0;
}

const TensorInfo& Model::tensor(const std::string& name) const {
  auto it = impl_->tensors.find(name);
  if (it == impl_->tensors.end())
    throw ModelError(fmt::format("{}: no shape known for tensor '{}'", impl_->name, name));
  return it->second;
}

uint64_t Model::parameter_count() const {
  uint64_t n = 0;
  for (const auto& [name, init] : impl_->initializers) {
    uint64_t e = 1;
    for (auto d : init->dims()) e *= static_cast<uint64_t>(std::max<int64_t>(d, 1));
    n += e;
  }
  return n;
}

std::optional<std::string> Model::interface_text() const {
  for (const auto& p : impl_->proto.metadata_props()) {
    if (p.key() == evals::kInterfaceMetadataKey) return p.value();
  }
  return std::nullopt;
}

void check_interface(const Model& model, const model::ModelInterface& iface) {
  using evals::InterfaceError;
  std::map<std::string, const TensorInfo*> inputs, outputs;
  for (const auto& t : model.inputs()) inputs[t.name] = &t;
  for (const auto& t : model.outputs()) outputs[t.name] = &t;
  auto names = [](const std::map<std::string, const TensorInfo*>& m) {
    std::vector<std::string> out;
    for (const auto& [n, t] : m) out.push_back(n);
    return fmt::format("{}", fmt::join(out, ", "));
  };
  auto shape_text = [](const std::vector<int64_t>& s) {
    return fmt::format("[{}]", fmt::join(s, ", "));
  };
  std::set<std::string> bound_inputs;
  for (const auto& b : iface.inputs()) {
    auto it = inputs.find(b.input());
    if (it == inputs.end()) {
      throw InterfaceError(fmt::format(
          "{}: the interface binds input '{}', which the graph does not have (its inputs: {})",
          model.name(), b.input(), names(inputs)));
    }
    bound_inputs.insert(b.input());
    const auto& shape = it->second->shape;
    const bool nchw = b.preprocess().layout() == model::NCHW;
    if (shape.size() < 4) {
      throw InterfaceError(fmt::format(
          "{}: input '{}' has shape {}; an image input needs 4 dimensions (5 when stacked "
          "on their own axis)",
          model.name(), b.input(), shape_text(shape)));
    }
    const size_t rank = shape.size();
    const auto height = static_cast<uint32_t>(shape[nchw ? rank - 2 : rank - 3]);
    const auto width = static_cast<uint32_t>(shape[nchw ? rank - 1 : rank - 2]);
    const auto expected = binding_shape(b, width, height);
    if (expected != shape) {
      throw InterfaceError(
          fmt::format("{}: input '{}' has shape {}, but {} camera(s) x {} frame(s) of {} "
                      "channel(s), {}, {} give {}",
                      model.name(), b.input(), shape_text(shape), b.cameras_size(),
                      std::max<uint32_t>(b.history(), 1), evals::input_channels(b),
                      model::Layout_Name(b.preprocess().layout()), model::Stack_Name(b.stack()),
                      shape_text(expected)));
    }
  }
  for (const auto& [name, t] : inputs) {
    if (!bound_inputs.count(name)) {
      throw InterfaceError(fmt::format(
          "{}: graph input '{}' is not bound to any camera by the interface", model.name(), name));
    }
  }
  std::set<std::string> read;
  for (const auto& b : iface.outputs()) {
    auto it = outputs.find(b.output());
    if (it == outputs.end()) {
      throw InterfaceError(fmt::format(
          "{}: head '{}' reads output '{}', which the graph does not have (its outputs: {})",
          model.name(), b.head(), b.output(), names(outputs)));
    }
    read.insert(b.output());
    const auto& shape = it->second->shape;
    uint64_t elements = 1;
    for (auto d : shape) elements *= static_cast<uint64_t>(std::max<int64_t>(d, 1));
    const uint64_t need = evals::decoder_fields(b);
    const auto kind = evals::head_kind(b);
    if (it->second->elem_type != 1) {
      throw InterfaceError(fmt::format("{}: output '{}' (head '{}') is not float32", model.name(),
                                       b.output(), b.head()));
    }
    if (kind == evals::HeadKind::kObjects) {
      const bool grid = b.objects().form() == model::ObjectsDecoder::GRID;
      const bool ok = grid ? shape.size() == 4 && shape[1] == static_cast<int64_t>(need)
                           : !shape.empty() && shape.back() == static_cast<int64_t>(need);
      if (!ok) {
        throw InterfaceError(
            fmt::format("{}: output '{}' has shape {}; head '{}' (objects {}) needs {} with F = {} "
                        "fields per candidate",
                        model.name(), b.output(), shape_text(shape), b.head(),
                        grid ? "GRID" : "TOP_K", grid ? "[1, F, H, W]" : "[1, K, F]", need));
      }
    } else if (kind == evals::HeadKind::kLanes ? elements != need : elements < need) {
      throw InterfaceError(fmt::format(
          "{}: output '{}' has {} values (shape {}); head '{}' ({}) reads {}{}", model.name(),
          b.output(), elements, shape_text(shape), b.head(), evals::head_kind_name(kind),
          kind == evals::HeadKind::kLanes ? "" : "at least ", need));
    }
  }
  for (const auto& o : iface.ignored_outputs()) {
    if (!outputs.count(o)) {
      throw InterfaceError(fmt::format(
          "{}: the interface ignores output '{}', which the graph does not have", model.name(), o));
    }
    read.insert(o);
  }
  for (const auto& [name, t] : outputs) {
    if (!read.count(name)) {
      throw InterfaceError(fmt::format(
          "{}: graph output '{}' is neither bound to a head nor listed in ignored_outputs",
          model.name(), name));
    }
  }
}

model::ModelInterface revision_interface(const Model& model) {
  auto text = model.interface_text();
  if (!text) {
    throw evals::InterfaceError(
        fmt::format("{}: the revision carries no model interface (metadata_props \"{}\"); give one "
                    "beside it as {} "
                    "(docs/models.md)",
                    model.name(), evals::kInterfaceMetadataKey,
                    interface_path_for(model.name()).filename().string()));
  }
  auto iface = evals::parse_interface(*text, model.name() + " (embedded interface)");
  check_interface(model, iface);
  return iface;
}

std::filesystem::path interface_path_for(const std::filesystem::path& onnx) {
  auto p = onnx;
  p.replace_extension(".interface.textproto");
  return p;
}

std::string embed_interface(const std::string& onnx_bytes, const std::string& interface_text) {
  onnx::ModelProto proto;
  if (!proto.ParseFromString(onnx_bytes))
    throw ModelError("not an ONNX model (ModelProto does not parse)");
  auto* props = proto.mutable_metadata_props();
  for (int i = props->size() - 1; i >= 0; --i) {
    if (props->Get(i).key() == evals::kInterfaceMetadataKey) props->DeleteSubrange(i, 1);
  }
  auto* p = props->Add();
  p->set_key(evals::kInterfaceMetadataKey);
  p->set_value(interface_text);
  std::string out;
  proto.SerializeToString(&out);
  return out;
}

PreparedRevision prepare_revision(const std::filesystem::path& onnx,
                                  const std::optional<std::filesystem::path>& interface_file) {
  PreparedRevision r;
  std::string bytes;
  try {
    bytes = evals::read_file(onnx);
  } catch (const std::exception& e) {
    throw ModelError(e.what());
  }
  const auto side = interface_file ? *interface_file : interface_path_for(onnx);
  std::error_code ec;
  if (std::filesystem::exists(side, ec)) {
    const std::string text = evals::read_file(side);
    r.iface = evals::parse_interface(text, side.string());
    r.interface_source = side.string();
    r.bytes = embed_interface(bytes, evals::interface_text(r.iface));
    check_interface(Model::load(r.bytes, onnx.string()), r.iface);
    return r;
  }
  if (interface_file)
    throw evals::InterfaceError(fmt::format("{}: no such interface file", side.string()));
  auto model = Model::load(bytes, onnx.string());
  r.iface = revision_interface(model);
  r.interface_source = "metadata";
  r.bytes = std::move(bytes);
  return r;
}

}  // namespace hil::dual_engine
