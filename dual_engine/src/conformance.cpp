#include "hil/dual_engine/conformance.h"

#include <onnx/onnx_pb.h>
#include <opencv2/core/utils/logger.hpp>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "hil/dual_engine/compiler.h"
#include "hil/dual_engine/executor.h"
#include "hil/dual_engine/model.h"
#include "hil/evals/sha256.h"

namespace hil::dual_engine {
namespace {

// raw_data is little-endian by the ONNX spec; it is copied as is.
static_assert(std::endian::native == std::endian::little,
              "raw_data decoding assumes a little-endian host");

constexpr int64_t kMaxTensorElements = int64_t{1} << 28;  // as Model::load's limit

// Test data hil cannot take (non-float tensors, sequences, external data):
// the case is refused, on both the hil and the OpenCV-alone side.
class DataRefusal : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct NamedTensor {
  std::string file;  // "test_data_set_0/input_1.pb", for messages
  Tensor tensor;
};

struct DataSet {
  std::string name;
  std::vector<NamedTensor> inputs, outputs;
};

struct CaseData {
  std::vector<DataSet> sets;
  std::string refusal;  // non-empty when the data cannot be fed to hil
};

// The directory's name even when it was given with a trailing slash.
std::string leaf_name(const std::filesystem::path& dir) {
  auto p = dir.lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

// Entries named PREFIX<N><suffix>, in numeric order (input_10 after input_9).
std::vector<std::filesystem::path> numbered_entries(const std::filesystem::path& dir,
                                                    const std::string& prefix,
                                                    const std::string& suffix) {
  std::vector<std::pair<long, std::filesystem::path>> found;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= prefix.size() + suffix.size() ||
        name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    const std::string digits =
        name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    found.emplace_back(std::stol(digits), entry.path());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::filesystem::path> out;
  for (auto& [index, path] : found) out.push_back(std::move(path));
  return out;
}

Tensor read_tensor(const std::filesystem::path& file, const std::string& label) {
  onnx::TensorProto proto;
  if (!proto.ParseFromString(evals::read_file(file))) {
    throw DataRefusal(fmt::format(
        "{}: not a TensorProto (sequence, map and optional test data are not supported)", label));
  }
  if (proto.data_type() != onnx::TensorProto_DataType_FLOAT) {
    throw DataRefusal(
        fmt::format("{}: tensor '{}' has element type {}; hil supports float tensors only", label,
                    proto.name(), onnx::TensorProto_DataType_Name(proto.data_type())));
  }
  if (proto.data_location() == onnx::TensorProto_DataLocation_EXTERNAL) {
    throw DataRefusal(
        fmt::format("{}: tensor '{}' keeps its data in an external file, which hil does not read",
                    label, proto.name()));
  }
  Tensor t;
  int64_t count = 1;
  for (auto d : proto.dims()) {
    if (d < 0 || d > kMaxTensorElements || count * std::max<int64_t>(d, 1) > kMaxTensorElements) {
      throw DataRefusal(
          fmt::format("{}: tensor '{}' has dimension {} out of range", label, proto.name(), d));
    }
    count *= d;
    t.shape.push_back(d);
  }
  const auto elements = static_cast<size_t>(count);
  if (!proto.raw_data().empty()) {
    if (proto.raw_data().size() != elements * sizeof(float)) {
      throw DataRefusal(
          fmt::format("{}: tensor '{}' holds {} bytes of raw data, its shape needs {}", label,
                      proto.name(), proto.raw_data().size(), elements * sizeof(float)));
    }
    t.data.resize(elements);
    std::memcpy(t.data.data(), proto.raw_data().data(), proto.raw_data().size());
  } else {
    if (static_cast<size_t>(proto.float_data_size()) != elements) {
      throw DataRefusal(fmt::format("{}: tensor '{}' holds {} values, its shape needs {}", label,
                                    proto.name(), proto.float_data_size(), elements));
    }
    t.data.assign(proto.float_data().begin(), proto.float_data().end());
  }
  return t;
}

CaseData read_case_data(const std::filesystem::path& case_dir) {
  CaseData data;
  try {
    for (const auto& set_dir : numbered_entries(case_dir, "test_data_set_", "")) {
      DataSet set;
      set.name = set_dir.filename().string();
      for (const auto& file : numbered_entries(set_dir, "input_", ".pb")) {
        auto label = fmt::format("{}/{}", set.name, file.filename().string());
        set.inputs.push_back({label, read_tensor(file, label)});
      }
      for (const auto& file : numbered_entries(set_dir, "output_", ".pb")) {
        auto label = fmt::format("{}/{}", set.name, file.filename().string());
        set.outputs.push_back({label, read_tensor(file, label)});
      }
      data.sets.push_back(std::move(set));
    }
    if (data.sets.empty()) throw DataRefusal("no test_data_set_* directory");
  } catch (const DataRefusal& e) {
    data.refusal = e.what();
  }
  return data;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, "x"));
}

// One data set's outputs against the expected ones, at the backend-test tolerance.
struct Comparison {
  size_t compared = 0;  // values held against the expected ones
  double max_abs_error = 0;
  std::string problem;  // the first output found wrong; empty when all pass
};

void compare_output(const NamedTensor& expected, const std::string& tensor_name,
                    const Tensor* actual, Comparison& c) {
  auto fail = [&](std::string why) {
    if (c.problem.empty()) c.problem = std::move(why);
  };
  const auto where = fmt::format("output '{}' ({})", tensor_name, expected.file);
  if (!actual) {
    fail(fmt::format("{}: not produced", where));
    return;
  }
  if (actual->data.size() != expected.tensor.data.size()) {
    // A shape that differs with the same element count is accepted: the
    // executor hands back OpenCV's buffer under the plan's declared shape.
    fail(fmt::format("{}: {} values {}, expected {} {}", where, actual->data.size(),
                     shape_text(actual->shape), expected.tensor.data.size(),
                     shape_text(expected.tensor.shape)));
    return;
  }
  size_t bad = 0, worst = 0;
  double worst_error = -1;
  for (size_t i = 0; i < actual->data.size(); ++i) {
    const double want = expected.tensor.data[i], got = actual->data[i];
    double error = 0;
    bool within = true;
    if (std::isnan(want) || std::isnan(got)) {
      within = std::isnan(want) && std::isnan(got);  // assert_allclose's equal_nan
      error = within ? 0 : std::numeric_limits<double>::infinity();
    } else if (std::isinf(want) || std::isinf(got)) {
      within = want == got;
      error = within ? 0 : std::numeric_limits<double>::infinity();
    } else {
      error = std::abs(got - want);
      within = error <= kConformanceAtol + kConformanceRtol * std::abs(want);
    }
    ++c.compared;
    c.max_abs_error = std::max(c.max_abs_error, error);
    if (!within) {
      ++bad;
      if (error > worst_error) {
        worst_error = error;
        worst = i;
      }
    }
  }
  if (bad > 0) {
    fail(fmt::format("{}: {} of {} values beyond tolerance; worst [{}]: got {}, expected {}", where,
                     bad, actual->data.size(), worst, actual->data[worst],
                     expected.tensor.data[worst]));
  }
}

// Pairs input files with graph inputs by position, as the backend tests do.
TensorMap bind_inputs(const std::vector<std::string>& graph_inputs, const DataSet& set) {
  if (graph_inputs.size() != set.inputs.size()) {
    throw std::runtime_error(fmt::format("{}: {} input file(s) for {} graph input(s)", set.name,
                                         set.inputs.size(), graph_inputs.size()));
  }
  TensorMap out;
  for (size_t i = 0; i < graph_inputs.size(); ++i) out[graph_inputs[i]] = set.inputs[i].tensor;
  return out;
}

Comparison compare_outputs(const std::vector<std::string>& graph_outputs, const DataSet& set,
                           const TensorMap& actual) {
  if (graph_outputs.size() != set.outputs.size()) {
    throw std::runtime_error(fmt::format("{}: {} output file(s) for {} graph output(s)", set.name,
                                         set.outputs.size(), graph_outputs.size()));
  }
  Comparison c;
  for (size_t i = 0; i < graph_outputs.size(); ++i) {
    auto it = actual.find(graph_outputs[i]);
    compare_output(set.outputs[i], graph_outputs[i], it == actual.end() ? nullptr : &it->second, c);
  }
  return c;
}

void set_outcome(ConformanceResult& r, ConformanceOutcome outcome, std::string message) {
  r.outcome = outcome;
  r.message = std::move(message);
}

// hil's pipeline: load, compile, extender partition then commander partition.
void run_partitioned(const std::filesystem::path& model_file, const CaseData& data,
                     const board::BoardType& board, ConformanceResult& r) {
  std::optional<Model> model;
  try {
    model.emplace(Model::load_file(model_file));
  } catch (const ModelError& e) {
    return set_outcome(r, ConformanceOutcome::kRefused, fmt::format("at load: {}", e.what()));
  }
  r.nodes = model->nodes().size();
  if (!data.refusal.empty()) return set_outcome(r, ConformanceOutcome::kRefused, data.refusal);

  std::optional<CompiledModel> plan;
  const auto start = std::chrono::steady_clock::now();
  try {
    plan.emplace(compile(*model, board));
  } catch (const ModelError& e) {
    return set_outcome(r, ConformanceOutcome::kRefused, fmt::format("at compile: {}", e.what()));
  }
  r.compile_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  r.split = plan->cut < model->nodes().size();

  std::optional<PartitionExecutor> first, second;
  for (auto [executor, partition] :
       {std::pair{&first, &plan->first}, std::pair{&second, &plan->second}}) {
    try {
      executor->emplace(*partition);
    } catch (const ModelError& e) {
      // The executor's own messages may already start with the partition's role.
      std::string why = e.what();
      const std::string role_prefix = partition->role + " partition: ";
      if (why.rfind(role_prefix, 0) == 0) why.erase(0, role_prefix.size());
      return set_outcome(r, ConformanceOutcome::kRefused,
                         fmt::format("at network construction (OpenCV DNN), {} partition: {}",
                                     partition->role, why));
    }
  }

  std::vector<std::string> input_names, output_names;
  for (const auto& t : model->inputs()) input_names.push_back(t.name);
  for (const auto& t : model->outputs()) output_names.push_back(t.name);
  Comparison all;
  for (const auto& set : data.sets) {
    const TensorMap inputs = bind_inputs(input_names, set);
    TensorMap mid, outputs;
    try {
      mid = first->run(inputs);
    } catch (const ModelError& e) {
      return set_outcome(
          r, ConformanceOutcome::kMismatch,
          fmt::format("{}: extender partition failed at execution: {}", set.name, e.what()));
    }
    // The commander reads the cut tensors and any graph input it uses.
    for (const auto& [name, tensor] : inputs) mid.emplace(name, tensor);
    try {
      outputs = second->run(mid);
    } catch (const ModelError& e) {
      return set_outcome(
          r, ConformanceOutcome::kMismatch,
          fmt::format("{}: commander partition failed at execution: {}", set.name, e.what()));
    }
    auto c = compare_outputs(output_names, set, outputs);
    all.compared += c.compared;
    all.max_abs_error = std::max(all.max_abs_error, c.max_abs_error);
    if (all.problem.empty() && !c.problem.empty()) {
      all.problem = fmt::format("{}: {}", set.name, c.problem);
    }
  }
  if (all.compared > 0) r.max_abs_error = all.max_abs_error;
  if (all.problem.empty()) {
    set_outcome(r, ConformanceOutcome::kPass, "");
  } else {
    set_outcome(r, ConformanceOutcome::kMismatch, all.problem);
  }
}

// The baseline: OpenCV DNN on the model file as shipped, whole graph, no hil.
void run_opencv_whole(const std::string& model_bytes, const CaseData& data, ConformanceResult& r) {
  if (!data.refusal.empty()) {
    r.opencv_whole_message = data.refusal;
    return;
  }
  onnx::ModelProto proto;
  if (!proto.ParseFromString(model_bytes)) {
    r.opencv_whole_message = "model.onnx: not an ONNX model";
    return;
  }
  std::set<std::string> initializers;
  for (const auto& init : proto.graph().initializer()) initializers.insert(init.name());
  std::vector<std::string> input_names, output_names;
  for (const auto& in : proto.graph().input()) {
    if (!initializers.count(in.name())) input_names.push_back(in.name());
  }
  for (const auto& out : proto.graph().output()) output_names.push_back(out.name());
  for (const auto& set : data.sets) {
    TensorMap outputs;
    try {
      outputs = run_whole_model(model_bytes, bind_inputs(input_names, set), output_names);
    } catch (const std::exception& e) {
      r.opencv_whole_message = fmt::format("{}: {}", set.name, e.what());
      return;
    }
    auto c = compare_outputs(output_names, set, outputs);
    if (!c.problem.empty()) {
      r.opencv_whole_message = fmt::format("{}: {}", set.name, c.problem);
      return;
    }
  }
  r.opencv_whole_pass = true;
}

// OpenCV logs importer and layer errors to stderr before throwing; the runner
// reports them per case, so the console keeps only the report.
class QuietOpenCvLog {
 public:
  QuietOpenCvLog()
      : previous_(cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT)) {}
  ~QuietOpenCvLog() { cv::utils::logging::setLogLevel(previous_); }
  QuietOpenCvLog(const QuietOpenCvLog&) = delete;
  QuietOpenCvLog& operator=(const QuietOpenCvLog&) = delete;

 private:
  cv::utils::logging::LogLevel previous_;
};

std::vector<std::filesystem::path> case_dirs_under(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir)) {
    throw std::invalid_argument(fmt::format("{}: not a directory", dir.string()));
  }
  if (std::filesystem::exists(dir / "model.onnx")) return {dir};
  std::vector<std::filesystem::path> cases;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_directory() && std::filesystem::exists(entry.path() / "model.onnx"))
      cases.push_back(entry.path());
  }
  if (cases.empty()) {
    throw std::invalid_argument(fmt::format(
        "{}: neither a case directory (model.onnx and test_data_set_*) nor a directory of them",
        dir.string()));
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

}  // namespace

const char* outcome_name(ConformanceOutcome outcome) {
  switch (outcome) {
    case ConformanceOutcome::kPass:
      return "pass";
    case ConformanceOutcome::kMismatch:
      return "mismatch";
    case ConformanceOutcome::kRefused:
      return "refused";
    default:
      return "error";
  }
}

void ConformanceTotals::add(const ConformanceResult& result) {
  ++cases;
  switch (result.outcome) {
    case ConformanceOutcome::kPass:
      ++pass;
      break;
    case ConformanceOutcome::kMismatch:
      ++mismatch;
      break;
    case ConformanceOutcome::kRefused:
      ++refused;
      break;
    default:
      ++error;
      break;
  }
  if (result.outcome == ConformanceOutcome::kPass && result.split) ++split_pass;
  if (result.opencv_whole_pass) ++opencv_whole_pass;
}

const ConformanceResult* ConformanceReport::largest_compiled() const {
  const ConformanceResult* largest = nullptr;
  for (const auto& set : sets) {
    for (const auto& r : set.results) {
      if (r.compile_ms < 0) continue;
      if (!largest || r.nodes > largest->nodes ||
          (r.nodes == largest->nodes && r.model_bytes > largest->model_bytes)) {
        largest = &r;
      }
    }
  }
  return largest;
}

ConformanceResult run_conformance_case(const std::filesystem::path& case_dir,
                                       const board::BoardType& board) {
  QuietOpenCvLog quiet;
  ConformanceResult r;
  r.name = leaf_name(case_dir);
  r.dir = case_dir;
  // Each side catches everything on its own, so a failure of one never hides
  // the other's result.
  CaseData data;
  std::string model_bytes;
  try {
    model_bytes = evals::read_file(case_dir / "model.onnx");
    r.model_bytes = model_bytes.size();
    data = read_case_data(case_dir);
    r.float_data = data.refusal.empty();
  } catch (const std::exception& e) {
    set_outcome(r, ConformanceOutcome::kError, fmt::format("reading the case: {}", e.what()));
    r.opencv_whole_message = r.message;
    return r;
  }
  try {
    run_partitioned(case_dir / "model.onnx", data, board, r);
  } catch (const std::exception& e) {
    set_outcome(r, ConformanceOutcome::kError, fmt::format("unexpected exception: {}", e.what()));
  } catch (...) {
    set_outcome(r, ConformanceOutcome::kError, "unexpected exception of unknown type");
  }
  // hil names the model by its full path; the result already names the case.
  const std::string model_path = (case_dir / "model.onnx").string();
  for (size_t at; (at = r.message.find(model_path)) != std::string::npos;) {
    r.message.replace(at, model_path.size(), "model.onnx");
  }
  try {
    run_opencv_whole(model_bytes, data, r);
  } catch (const std::exception& e) {
    r.opencv_whole_message = fmt::format("unexpected exception: {}", e.what());
  } catch (...) {
    r.opencv_whole_message = "unexpected exception of unknown type";
  }
  return r;
}

ConformanceReport run_conformance(const std::vector<std::filesystem::path>& dirs,
                                  const board::BoardType& board,
                                  const std::function<void(const ConformanceResult&)>& on_result) {
  // Every directory is checked before the first case runs: a typo in the last
  // argument should not cost a full run.
  std::vector<std::vector<std::filesystem::path>> cases;
  for (const auto& dir : dirs) cases.push_back(case_dirs_under(dir));
  ConformanceReport report;
  for (size_t i = 0; i < dirs.size(); ++i) {
    ConformanceSet set;
    set.dir = dirs[i];
    for (const auto& case_dir : cases[i]) {
      const auto& r = set.results.emplace_back(run_conformance_case(case_dir, board));
      set.totals.add(r);
      report.totals.add(r);
      if (r.float_data) {
        set.float_totals.add(r);
        report.float_totals.add(r);
      }
      if (on_result) on_result(r);
    }
    report.sets.push_back(std::move(set));
  }
  return report;
}

}  // namespace hil::dual_engine
