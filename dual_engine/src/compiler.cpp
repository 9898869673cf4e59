#include "hil/dual_engine/compiler.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <onnx/checker.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include <fmt/format.h>

#include "hil/evals/sha256.h"
#include "model_impl.h"

namespace hil::dual_engine {
namespace {

std::filesystem::path boards_dir() {
  if (const char* env = std::getenv("HIL_BOARDS")) return env;
  return HIL_BOARDS_DIR;
}

class TextErrors : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (first.empty()) first = fmt::format("{}:{}: {}", line + 1, column + 1, message);
  }
  std::string first;
};

int64_t attr_int(const onnx::NodeProto& n, const char* name, int64_t fallback) {
  for (const auto& a : n.attribute()) {
    if (a.name() == name) return a.i();
  }
  return fallback;
}

uint64_t elements(const TensorInfo& t) {
  uint64_t n = 1;
  for (auto d : t.shape) n *= static_cast<uint64_t>(std::max<int64_t>(d, 1));
  return n;
}

NodeCost cost_node(const Model& model, const NodeInfo& node) {
  const auto& impl = model.impl();
  const onnx::NodeProto& proto = *impl.node_protos.at(node.name);
  NodeCost c;
  c.node = node.name;
  c.op_type = node.op_type;
  uint64_t out_elems = 0;
  for (const auto& o : node.outputs) {
    if (impl.tensors.count(o)) {
      c.output_bytes += impl.tensors.at(o).bytes();
      out_elems += elements(impl.tensors.at(o));
    }
  }
  uint64_t in_bytes = 0;
  for (const auto& i : node.inputs) {
    if (i.empty() || !impl.tensors.count(i)) continue;
    if (model.is_initializer(i)) {
      c.weight_bytes += impl.tensors.at(i).bytes();
    } else {
      in_bytes += impl.tensors.at(i).bytes();
    }
  }
  c.bytes_moved = in_bytes + c.output_bytes + c.weight_bytes;
  const auto& op = node.op_type;
  if ((op == "Conv" || op == "ConvTranspose") && node.inputs.size() >= 2 &&
      impl.tensors.count(node.inputs[1])) {
    const auto& w = impl.tensors.at(node.inputs[1]).shape;  // [M, C/group, kh, kw]
    uint64_t per_out = 1;
    for (size_t i = 1; i < w.size(); ++i)
      per_out *= static_cast<uint64_t>(std::max<int64_t>(w[i], 1));
    c.macs = out_elems * per_out;
  } else if ((op == "Gemm" || op == "MatMul") && node.inputs.size() >= 2 &&
             impl.tensors.count(node.inputs[0])) {
    const auto& a = impl.tensors.at(node.inputs[0]).shape;
    uint64_t k = a.empty() ? 1 : static_cast<uint64_t>(std::max<int64_t>(a.back(), 1));
    if (op == "Gemm" && attr_int(proto, "transA", 0) && a.size() == 2)
      k = static_cast<uint64_t>(std::max<int64_t>(a[0], 1));
    c.macs = out_elems * k;
  } else if (op == "AveragePool" || op == "MaxPool") {
    uint64_t window = 1;
    for (const auto& a : proto.attribute()) {
      if (a.name() == "kernel_shape") {
        for (auto k : a.ints()) window *= static_cast<uint64_t>(std::max<int64_t>(k, 1));
      }
    }
    c.macs = out_elems * window;
  } else if (op == "GlobalAveragePool" || op == "GlobalMaxPool" || op.rfind("Reduce", 0) == 0) {
    c.macs = in_bytes / 4;
  } else {
    c.macs = out_elems;  // element-wise and data movement: about one op per output
  }
  return c;
}

double node_time_us(const NodeCost& c, const board::EngineSpec& e) {
  // Roofline: compute-bound or bandwidth-bound, plus the launch overhead.
  double compute = static_cast<double>(c.macs) / e.macs_per_second() * 1e6;
  double memory = static_cast<double>(c.bytes_moved - c.weight_bytes) / e.bytes_per_second() * 1e6;
  return e.per_op_overhead_us() + std::max(compute, memory);
}

// Nodes whose outputs are constants: Constant nodes and nodes reading only
// initializers and other constants (shape arithmetic, weight transposes).
std::vector<bool> constant_nodes(const Model& model) {
  const auto& nodes = model.nodes();
  std::vector<bool> constant(nodes.size(), false);
  std::set<std::string> constant_tensors;
  for (size_t i = 0; i < nodes.size(); ++i) {
    bool all_constant = nodes[i].op_type == "Constant" || !nodes[i].inputs.empty();
    for (const auto& in : nodes[i].inputs) {
      const bool known = in.empty() || model.is_initializer(in) || constant_tensors.count(in);
      all_constant = all_constant && known;
    }
    if (!all_constant) continue;
    constant[i] = true;
    constant_tensors.insert(nodes[i].outputs.begin(), nodes[i].outputs.end());
  }
  return constant;
}

// Spans of nodes, [first, last] in node order, that the compiler never cuts
// inside: softmax written out in elementary operators, as ONNX defines Softmax
// and LogSoftmax (opset 13) by function bodies and as exporters expand them:
// ReduceMax(x), Sub(x, max), Exp, ReduceSum, then Div(exp, sum) or Log(sum)
// and Sub(sub, log); also Exp, ReduceSum, Div without the max. OpenCV DNN
// fuses each back into one Softmax or LogSoftmax layer at import, so the
// engine never materialises the tensors inside. Cut apart, the halves lose
// the fusion and, from opset 13 where ReduceSum takes its axes as an input
// (which OpenCV 4.6 imports only inside the fused pattern), do not build.
std::vector<std::pair<size_t, size_t>> fused_spans(const Model& model) {
  const auto& nodes = model.nodes();
  std::map<std::string, size_t> producer;
  std::map<std::string, std::vector<size_t>> consumers;
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const auto& o : nodes[i].outputs) producer[o] = i;
    for (const auto& in : nodes[i].inputs) consumers[in].push_back(i);
  }
  constexpr size_t kNone = static_cast<size_t>(-1);
  // The node of type op that produces tensor t, or kNone.
  auto made_by = [&](const std::string& t, const char* op) {
    auto p = producer.find(t);
    return p == producer.end() || nodes[p->second].op_type != op || nodes[p->second].outputs.empty()
               ? kNone
               : p->second;
  };
  // The nodes of type op that read tensor t, with exactly these inputs.
  auto used_by = [&](const std::string& t, const char* op, const std::vector<std::string>& inputs) {
    std::set<size_t> found;
    auto c = consumers.find(t);
    if (c == consumers.end()) return found;
    for (size_t i : c->second) {
      if (nodes[i].op_type == op && nodes[i].inputs == inputs && !nodes[i].outputs.empty())
        found.insert(i);
    }
    return found;
  };
  std::vector<std::pair<size_t, size_t>> spans;
  auto add = [&](std::initializer_list<size_t> body) {
    spans.emplace_back(std::min(body), std::max(body));
  };
  for (size_t sum = 0; sum < nodes.size(); ++sum) {
    if (nodes[sum].op_type != "ReduceSum" || nodes[sum].inputs.empty() ||
        nodes[sum].outputs.empty())
      continue;
    const std::string& exp_out = nodes[sum].inputs[0];
    const std::string& sum_out = nodes[sum].outputs[0];
    const size_t exp = made_by(exp_out, "Exp");
    if (exp == kNone || nodes[exp].inputs.size() != 1) continue;
    // The max subtracted first, for numerical stability: Sub(x, ReduceMax(x)).
    const size_t sub = made_by(nodes[exp].inputs[0], "Sub");
    size_t max = kNone;
    if (sub != kNone && nodes[sub].inputs.size() == 2) {
      max = made_by(nodes[sub].inputs[1], "ReduceMax");
      if (max != kNone &&
          (nodes[max].inputs.empty() || nodes[max].inputs[0] != nodes[sub].inputs[0]))
        max = kNone;
    }
    for (size_t div : used_by(sum_out, "Div", {exp_out, sum_out})) {
      if (max != kNone) {
        add({max, sub, exp, sum, div});
      } else {
        add({exp, sum, div});
      }
    }
    if (max == kNone) continue;
    const std::string& sub_out = nodes[sub].outputs[0];
    for (size_t log : used_by(sum_out, "Log", {sum_out})) {
      for (size_t last : used_by(nodes[log].outputs[0], "Sub", {sub_out, nodes[log].outputs[0]})) {
        add({max, sub, exp, sum, log, last});
      }
    }
  }
  return spans;
}

// Builds a self-contained ONNX model of a subset of the nodes.
std::string extract(const Model& model, const std::vector<size_t>& nodes,
                    const std::vector<TensorInfo>& inputs, const std::vector<TensorInfo>& outputs,
                    const std::string& role) {
  const auto& impl = model.impl();
  onnx::ModelProto sub;
  sub.set_ir_version(impl.proto.ir_version());
  *sub.mutable_opset_import() = impl.proto.opset_import();
  sub.set_producer_name("hil");
  auto* g = sub.mutable_graph();
  g->set_name(fmt::format("{}_{}", impl.proto.graph().name(), role));
  // Constant-valued tensors never cross a cut: OpenCV DNN folds nodes that
  // read only constants into weights at import, so no layer would produce
  // them. A partition reading one computed elsewhere carries its own copy of
  // the constant subgraph instead.
  const auto constant = constant_nodes(model);
  std::set<std::string> available, needed;
  for (const auto& t : inputs) available.insert(t.name);
  for (size_t i : nodes) {
    available.insert(impl.nodes[i].outputs.begin(), impl.nodes[i].outputs.end());
    needed.insert(impl.nodes[i].inputs.begin(), impl.nodes[i].inputs.end());
  }
  for (const auto& t : outputs) needed.insert(t.name);
  std::vector<bool> copy(impl.nodes.size(), false);
  for (size_t i = impl.nodes.size(); i-- > 0;) {  // reverse topological order: consumers first
    if (!constant[i]) continue;
    for (const auto& out : impl.nodes[i].outputs) {
      copy[i] = copy[i] || (needed.count(out) && !available.count(out));
    }
    if (copy[i]) needed.insert(impl.nodes[i].inputs.begin(), impl.nodes[i].inputs.end());
  }
  std::vector<size_t> emitted;
  for (size_t i = 0; i < impl.nodes.size(); ++i) {
    if (copy[i]) emitted.push_back(i);
  }
  emitted.insert(emitted.end(), nodes.begin(), nodes.end());
  std::set<std::string> used;
  for (size_t i : emitted) {
    const auto& n = *impl.node_protos.at(impl.nodes[i].name);
    *g->add_node() = n;
    for (const auto& in : n.input()) used.insert(in);
  }
  for (const auto& init : impl.proto.graph().initializer()) {
    if (used.count(init.name())) *g->add_initializer() = init;
  }
  auto add_value = [&](google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>* list,
                       const TensorInfo& t) {
    auto* v = list->Add();
    v->set_name(t.name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(t.elem_type);
    // The checker requires a shape on every graph input and output; no
    // dimension is a scalar (rank 0), e.g. Clip's min and max.
    auto* shape = tt->mutable_shape();
    for (auto d : t.shape) shape->add_dim()->set_dim_value(d);
  };
  for (const auto& t : inputs) add_value(g->mutable_input(), t);
  // Before IR version 4 every initializer must also be a graph input; such
  // models list them, so the partition keeps their declarations.
  if (impl.proto.ir_version() < 4) {
    for (const auto& in : impl.proto.graph().input()) {
      if (used.count(in.name()) && model.is_initializer(in.name())) *g->add_input() = in;
    }
  }
  for (const auto& t : outputs) add_value(g->mutable_output(), t);
  try {
    onnx::checker::check_model(sub);
  } catch (const std::exception& e) {
    throw ModelError(
        fmt::format("{}: the {} partition does not check: {}", model.name(), role, e.what()));
  }
  std::string out;
  sub.SerializeToString(&out);
  return out;
}

struct Costed {
  uint64_t macs = 0, weights = 0, peak = 0;
  double us = 0;
};

// Time, SRAM and spill of running nodes [lo, hi) on one engine.
Costed cost_range(const Model& model, const std::vector<NodeCost>& costs, size_t lo, size_t hi,
                  const board::EngineSpec& e, uint64_t* spill) {
  Costed c;
  const auto& nodes = model.nodes();
  // Peak live activations: a tensor lives from its producer to its last use in the range.
  std::map<std::string, size_t> last_use;
  for (size_t i = lo; i < hi; ++i) {
    for (const auto& in : nodes[i].inputs) last_use[in] = i;
  }
  std::map<std::string, uint64_t> live;
  for (size_t i = lo; i < hi; ++i) {
    for (const auto& in : nodes[i].inputs) {
      if (!in.empty() && !model.is_initializer(in) && !live.count(in) &&
          model.impl().tensors.count(in)) {
        live[in] =
            model.tensor(in).bytes();  // produced before the range: an input of the partition
      }
    }
    for (const auto& out : nodes[i].outputs) {
      if (model.impl().tensors.count(out)) live[out] = model.tensor(out).bytes();
    }
    uint64_t now = 0;
    for (const auto& [name, bytes] : live) now += bytes;
    c.peak = std::max(c.peak, now);
    for (auto it = live.begin(); it != live.end();) {
      auto lu = last_use.find(it->first);
      bool dead = lu != last_use.end() && lu->second <= i;
      it = dead ? live.erase(it) : std::next(it);
    }
    c.macs += costs[i].macs;
    c.weights += costs[i].weight_bytes;
    c.us += node_time_us(costs[i], e);
  }
  uint64_t need = c.weights + c.peak;
  uint64_t over = need > e.sram_bytes() ? need - e.sram_bytes() : 0;
  if (spill) *spill = over;
  // Whatever does not fit in SRAM is streamed from DRAM on every frame.
  c.us += static_cast<double>(over) / e.bytes_per_second() * 1e6;
  return c;
}

}  // namespace

double CompiledModel::split_period_us() const {
  return std::max(first.device_us, second.device_us + transfer_us);
}
double CompiledModel::split_latency_us() const {
  return first.device_us + transfer_us + second.device_us;
}

std::vector<std::string> list_board_types() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(boards_dir(), ec)) {
    if (e.path().extension() == ".textproto") out.push_back(e.path().stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

board::BoardType load_board_type(const std::string& name_or_path) {
  std::filesystem::path path = name_or_path;
  if (!std::filesystem::exists(path)) path = boards_dir() / (name_or_path + ".textproto");
  if (!std::filesystem::exists(path)) {
    throw std::runtime_error(fmt::format("unknown board type '{}' (known: {})", name_or_path,
                                         fmt::join(list_board_types(), ", ")));
  }
  board::BoardType b;
  google::protobuf::TextFormat::Parser parser;
  TextErrors errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(evals::read_file(path), &b)) {
    throw std::runtime_error(fmt::format("{}:{}", path.string(), errors.first));
  }
  if (b.engines_size() != 2) {
    throw std::runtime_error(
        fmt::format("{}: field 'engines': a dual-engine board needs exactly 2, found {}",
                    path.string(), b.engines_size()));
  }
  for (const auto& e : b.engines()) {
    if (e.macs_per_second() <= 0 || e.bytes_per_second() <= 0 || e.sram_bytes() == 0) {
      throw std::runtime_error(fmt::format(
          "{}: engine '{}': macs_per_second, bytes_per_second and sram_bytes must be positive",
          path.string(), e.name()));
    }
  }
  if (b.link_bytes_per_second() <= 0)
    throw std::runtime_error(
        fmt::format("{}: field 'link_bytes_per_second' must be positive", path.string()));
  const auto& sup = b.supervision();
  for (const auto& [field, value] : {std::pair{"heartbeat_period_ms", sup.heartbeat_period_ms()},
                                     std::pair{"crash_detect_ms", sup.crash_detect_ms()},
                                     std::pair{"standby_warmup_ms", sup.standby_warmup_ms()},
                                     std::pair{"ftti_ms", sup.ftti_ms()}}) {
    if (!(value >= 0 && value < 1e6)) {
      throw std::runtime_error(
          fmt::format("{}: field 'supervision.{}' must be between 0 and 1e6 ms, got {}",
                      path.string(), field, value));
    }
  }
  if (sup.missed_beats() > 1000) {
    throw std::runtime_error(
        fmt::format("{}: field 'supervision.missed_beats' must be at most 1000, got {}",
                    path.string(), sup.missed_beats()));
  }
  return b;
}

CompiledModel compile(const Model& model, const board::BoardType& board) {
  CompiledModel plan;
  plan.revision_sha = model.sha256();
  plan.board_type = board.name();
  plan.graph_inputs = model.inputs();
  plan.graph_outputs = model.outputs();
  const auto& nodes = model.nodes();
  for (const auto& n : nodes) plan.costs.push_back(cost_node(model, n));
  const size_t n = nodes.size();
  const auto& e0 = board.engines(0);
  const auto& e1 = board.engines(1);

  std::set<std::string> graph_inputs, graph_outputs;
  for (const auto& t : model.inputs()) graph_inputs.insert(t.name);
  for (const auto& t : model.outputs()) graph_outputs.insert(t.name);
  // producer[t] = index of the node producing tensor t.
  std::map<std::string, size_t> producer;
  for (size_t i = 0; i < n; ++i) {
    for (const auto& o : nodes[i].outputs) producer[o] = i;
  }
  const auto constant = constant_nodes(model);
  // Crossing tensors of cut k: produced in [0, k) and used in [k, n) or a
  // graph output. Valid for any DAG in topological order: branches and skip
  // connections simply add their tensors to the crossing set.
  auto crossing = [&](size_t k) {
    std::vector<TensorInfo> out;
    std::set<std::string> seen;
    auto consider = [&](const std::string& t) {
      if (t.empty() || seen.count(t)) return;
      auto p = producer.find(t);
      if (p == producer.end() || p->second >= k) return;
      if (constant[p->second]) return;  // extract() copies it into the consumer
      seen.insert(t);
      out.push_back(model.tensor(t));
    };
    for (size_t i = k; i < n; ++i) {
      for (const auto& in : nodes[i].inputs) consider(in);
    }
    for (const auto& o : model.outputs()) consider(o.name);
    return out;
  };

  // Linear scan over cut positions (Neurosurgeon-style), prefix by prefix.
  struct Candidate {
    size_t k;
    double period, latency;
    uint64_t bytes;
    bool fits;
  };
  std::vector<Candidate> candidates;
  // The commander emits the graph outputs produced at or after the cut;
  // outputs produced before it cross the cut and are passed through by the
  // runtime. A cut after every output leaves the commander nothing to emit.
  size_t last_output_producer = 0;
  for (const auto& o : model.outputs()) {
    auto p = producer.find(o.name);
    if (p != producer.end()) last_output_producer = std::max(last_output_producer, p->second);
  }
  const auto fused = fused_spans(model);
  for (size_t k = 1; k < n; ++k) {
    if (k > last_output_producer) break;
    // A cut inside a span the engine fuses into one layer is no cut at all.
    if (std::any_of(fused.begin(), fused.end(),
                    [k](const auto& s) { return s.first < k && k <= s.second; }))
      continue;
    auto x = crossing(k);
    // Nothing crossing: the first partition holds only constant nodes (which
    // the second copies) or dead ones; no work to split, no output to emit.
    if (x.empty()) continue;
    uint64_t bytes = 0;
    for (const auto& t : x) bytes += t.bytes();
    uint64_t spill_a = 0, spill_b = 0;
    auto a = cost_range(model, plan.costs, 0, k, e0, &spill_a);
    auto b = cost_range(model, plan.costs, k, n, e1, &spill_b);
    double xfer = static_cast<double>(bytes) / board.link_bytes_per_second() * 1e6;
    candidates.push_back(
        {k, std::max(a.us, b.us + xfer), a.us + xfer + b.us, bytes, spill_a == 0 && spill_b == 0});
  }
  if (candidates.empty()) {
    // A graph that cannot be split (one node, constants then one node, or
    // every cut inside a fused span):
    // both "partitions" are the whole graph.
    candidates.push_back({n, 0, 0, 0, true});
  }
  bool any_fits =
      std::any_of(candidates.begin(), candidates.end(), [](const Candidate& c) { return c.fits; });
  const Candidate* best = nullptr;
  for (const auto& c : candidates) {
    if (any_fits && !c.fits) continue;  // spills are charged in the time when nothing fits
    if (!best || c.period < best->period - 1e-9 ||
        (std::abs(c.period - best->period) <= 1e-9 && c.bytes < best->bytes)) {
      best = &c;
    }
  }
  plan.cut = best->k;

  auto make_plan = [&](const std::string& role, size_t lo, size_t hi,
                       const std::vector<TensorInfo>& inputs,
                       const std::vector<TensorInfo>& outputs, const board::EngineSpec& engine) {
    PartitionPlan p;
    p.role = role;
    for (size_t i = lo; i < hi; ++i) p.nodes.push_back(i);
    p.inputs = inputs;
    p.outputs = outputs;
    auto c = cost_range(model, plan.costs, lo, hi, engine, &p.spill_bytes);
    p.macs = c.macs;
    p.weight_bytes = c.weights;
    p.peak_activation_bytes = c.peak;
    p.device_us = c.us;
    p.onnx = extract(model, p.nodes, inputs, outputs, role);
    return p;
  };

  if (plan.cut >= n) {
    plan.first = make_plan("extender", 0, n, model.inputs(), model.outputs(), e0);
    plan.second = plan.first;
    plan.second.role = "commander";
  } else {
    plan.cut_tensors = crossing(plan.cut);
    for (const auto& t : plan.cut_tensors) plan.cut_bytes += t.bytes();
    plan.transfer_us = static_cast<double>(plan.cut_bytes) / board.link_bytes_per_second() * 1e6;
    // The commander's partition reads the cut tensors and any graph input it uses
    // (camera data reaches both engines).
    std::vector<TensorInfo> second_inputs = plan.cut_tensors;
    std::set<std::string> have;
    for (const auto& t : second_inputs) have.insert(t.name);
    for (size_t i = plan.cut; i < n; ++i) {
      for (const auto& in : nodes[i].inputs) {
        if (graph_inputs.count(in) && !have.count(in)) {
          have.insert(in);
          second_inputs.push_back(model.tensor(in));
        }
      }
    }
    std::vector<TensorInfo> second_outputs;
    for (const auto& o : model.outputs()) {
      auto p = producer.find(o.name);
      if (p != producer.end() && p->second >= plan.cut) second_outputs.push_back(o);
    }
    // The extender's partition declares only the graph inputs it reads: OpenCV
    // DNN cannot build a network with an input nothing consumes (a camera the
    // commander's half alone reads).
    std::vector<TensorInfo> first_inputs;
    std::set<std::string> read_by_first;
    for (size_t i = 0; i < plan.cut; ++i)
      read_by_first.insert(nodes[i].inputs.begin(), nodes[i].inputs.end());
    for (const auto& t : model.inputs()) {
      if (read_by_first.count(t.name)) first_inputs.push_back(t);
    }
    plan.first = make_plan("extender", 0, plan.cut, first_inputs, plan.cut_tensors, e0);
    plan.second = make_plan("commander", plan.cut, n, second_inputs, second_outputs, e1);
  }
  plan.standby[0] = make_plan("standby", 0, n, model.inputs(), model.outputs(), e0);
  plan.standby[1] = make_plan("standby", 0, n, model.inputs(), model.outputs(), e1);
  return plan;
}

std::string describe_plan(const Model& model, const CompiledModel& plan) {
  auto shape = [](const TensorInfo& t) {
    std::string s;
    for (size_t i = 0; i < t.shape.size(); ++i) s += fmt::format("{}{}", i ? "x" : "", t.shape[i]);
    return s;
  };
  std::string out = fmt::format("revision {}  ({})\nboard type {}\n{} nodes, {} parameters\n\n",
                                plan.revision_sha, model.name(), plan.board_type,
                                model.nodes().size(), model.parameter_count());
  out += fmt::format("{:<4} {:<28} {:<18} {:>12} {:>12} {:>10}  {}\n", "#", "node", "op", "MACs",
                     "bytes", "weights", "partition");
  for (size_t i = 0; i < plan.costs.size(); ++i) {
    const auto& c = plan.costs[i];
    out +=
        fmt::format("{:<4} {:<28} {:<18} {:>12} {:>12} {:>10}  {}\n", i, c.node, c.op_type, c.macs,
                    c.bytes_moved, c.weight_bytes, i < plan.cut ? "1 (extender)" : "2 (commander)");
  }
  out += fmt::format("\ncut after node {}: {} tensor(s), {} bytes, {:.1f} us transfer\n",
                     plan.cut == 0 ? 0 : plan.cut - 1, plan.cut_tensors.size(), plan.cut_bytes,
                     plan.transfer_us);
  for (const auto& t : plan.cut_tensors)
    out += fmt::format("  {} [{}] {} bytes\n", t.name, shape(t), t.bytes());
  auto part = [&](const char* label, const PartitionPlan& p) {
    return fmt::format(
        "{:<22} {:>4} nodes  {:>10} MACs  SRAM weights {:>8} B + peak activations {:>8} B  spill "
        "{:>6} B  "
        "device {:>8.1f} us\n",
        label, p.nodes.size(), p.macs, p.weight_bytes, p.peak_activation_bytes, p.spill_bytes,
        p.device_us);
  };
  out += "\n";
  out += part("partition 1 extender", plan.first);
  out += part("partition 2 commander", plan.second);
  out += part("standby engine 0", plan.standby[0]);
  out += part("standby engine 1", plan.standby[1]);
  out += fmt::format(
      "\nsplit mode: period {:.1f} us/frame ({:.1f} fps), latency {:.1f} us; single mode: {:.1f} "
      "us/frame; "
      "speed-up {:.2f}x\n",
      plan.split_period_us(), 1e6 / plan.split_period_us(), plan.split_latency_us(),
      plan.standby[0].device_us, plan.standby[0].device_us / plan.split_period_us());
  return out;
}

}  // namespace hil::dual_engine
