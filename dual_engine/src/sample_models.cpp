#include "hil/dual_engine/sample_models.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "hil/dual_engine/executor.h"
#include "hil/dual_engine/model.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/clip_generator.h"
#include "hil/evals/metrics.h"

namespace hil::dual_engine {
namespace {

// The sample networks' one output: six values in this order. Their model
// interface (embedded in every trained revision) says so to the rest of hil.
enum SampleOutput : size_t {
  kLaneOffset = 0,    // metres, positive left
  kLaneHeading = 1,   // radians
  kLeadScore = 2,     // > 0.5: a lead vehicle is present
  kLeadDistance = 3,  // metres
  kSteering = 4,      // radians
  kAcceleration = 5,  // m/s^2
  kSampleOutputs = 6,
};

constexpr const char* kSampleInterface =
    R"pb(name: "hil sample perception network (one camera, six values)"
         inputs { input: "image" cameras: "front" }
         outputs {
           output: "outputs"
           head: "control"
           control { steering: 4 acceleration: 5 }
         }
         outputs {
           output: "outputs"
           head: "lead"
           lead { score: 2 distance: 3 }
         }
         outputs {
           output: "outputs"
           head: "ego"
           tensor { fields: [ "lane_offset", "lane_heading" ] }
         }
    )pb";

constexpr uint32_t kWidth = 128, kHeight = 64;

struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Irwin-Hall(12) - 6: a deterministic, portable approximate standard normal.
  double normal() {
    double sum = 0;
    for (int i = 0; i < 12; ++i) sum += uniform();
    return sum - 6.0;
  }
};

struct Layer {
  uint32_t in, out;
};

class GraphBuilder {
 public:
  explicit GraphBuilder(const std::string& name) {
    model_.set_ir_version(8);
    auto* op = model_.add_opset_import();
    op->set_domain("");
    op->set_version(13);
    model_.set_producer_name("hil models train");
    g_ = model_.mutable_graph();
    g_->set_name(name);
  }
  void input(const std::string& name, std::vector<int64_t> shape) {
    value(g_->add_input(), name, shape);
  }
  void output(const std::string& name, std::vector<int64_t> shape) {
    value(g_->add_output(), name, shape);
  }
  void initializer(const std::string& name, std::vector<int64_t> dims,
                   const std::vector<float>& data) {
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto_DataType_FLOAT);
    for (auto d : dims) t->add_dims(d);
    for (float v : data) t->add_float_data(v);
  }
  onnx::NodeProto* node(const std::string& op, const std::string& name, std::vector<std::string> in,
                        std::string out) {
    auto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(name);
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
  static void integer(onnx::NodeProto* n, const std::string& name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto_AttributeType_INT);
    a->set_i(v);
  }
  std::string bytes() const {
    std::string out;
    model_.SerializeToString(&out);
    return out;
  }

 private:
  static void value(onnx::ValueInfoProto* v, const std::string& name,
                    const std::vector<int64_t>& shape) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto_DataType_FLOAT);
    for (auto d : shape) tt->mutable_shape()->add_dim()->set_dim_value(d);
  }
  onnx::ModelProto model_;
  onnx::GraphProto* g_;
};

std::vector<Layer> layers_of(const Recipe& r) { return {{3, 8}, {8, 16}, {16, r.channels}}; }
uint32_t feature_count(const Recipe& r) { return r.channels * (kHeight / 16) * (kWidth / 16); }

// The convolutional trunk (fixed random features), optionally with the head.
std::string build(const Recipe& r, const std::vector<float>* head_w,
                  const std::vector<float>* head_b) {
  GraphBuilder b(fmt::format("hil_perception_{}", r.name));
  b.input("image", {1, 3, kHeight, kWidth});
  Rng rng{r.seed * 7919 + 17};
  std::string x = "image";
  int64_t h = kHeight, w = kWidth;
  int k = 0;
  for (const auto& l : layers_of(r)) {
    ++k;
    double scale = std::sqrt(2.0 / (l.in * 9));  // He initialisation
    std::vector<float> wts(size_t{l.out} * l.in * 9), bias(l.out);
    for (auto& v : wts) v = static_cast<float>(rng.normal() * scale);
    for (auto& v : bias) v = static_cast<float>(0.05 * rng.normal());
    b.initializer(fmt::format("conv{}.w", k), {l.out, l.in, 3, 3}, wts);
    b.initializer(fmt::format("conv{}.b", k), {l.out}, bias);
    auto* conv = b.node("Conv", fmt::format("conv{}", k),
                        {x, fmt::format("conv{}.w", k), fmt::format("conv{}.b", k)},
                        fmt::format("conv{}", k));
    GraphBuilder::ints(conv, "kernel_shape", {3, 3});
    GraphBuilder::ints(conv, "strides", {2, 2});
    GraphBuilder::ints(conv, "pads", {1, 1, 1, 1});
    b.node("Relu", fmt::format("relu{}", k), {fmt::format("conv{}", k)}, fmt::format("relu{}", k));
    x = fmt::format("relu{}", k);
    h /= 2;
    w /= 2;
  }
  auto* pool = b.node("AveragePool", "pool", {x}, "pool");
  GraphBuilder::ints(pool, "kernel_shape", {2, 2});
  GraphBuilder::ints(pool, "strides", {2, 2});
  b.node("Flatten", "features", {"pool"}, "features");
  uint32_t f = feature_count(r);
  if (!head_w) {
    b.output("features", {1, f});
    return b.bytes();
  }
  b.initializer("head.w", {kSampleOutputs, f}, *head_w);
  b.initializer("head.b", {kSampleOutputs}, *head_b);
  auto* gemm = b.node("Gemm", "head", {"features", "head.w", "head.b"}, "outputs");
  GraphBuilder::integer(gemm, "transB", 1);
  b.output("outputs", {1, kSampleOutputs});
  return embed_interface(b.bytes(), kSampleInterface);
}

// Solves (A) x = b for symmetric positive definite A (n x n, row-major) by Cholesky.
void cholesky_solve(std::vector<double>& a, size_t n, std::vector<double>& rhs, size_t cols) {
  for (size_t j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (size_t k = 0; k < j; ++k) d -= a[j * n + k] * a[j * n + k];
    if (d <= 0) throw std::runtime_error("ridge system is not positive definite");
    d = std::sqrt(d);
    a[j * n + j] = d;
    for (size_t i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (size_t k = 0; k < j; ++k) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / d;
    }
  }
  for (size_t c = 0; c < cols; ++c) {
    for (size_t i = 0; i < n; ++i) {  // L y = b
      double s = rhs[i * cols + c];
      for (size_t k = 0; k < i; ++k) s -= a[i * n + k] * rhs[k * cols + c];
      rhs[i * cols + c] = s / a[i * n + i];
    }
    for (size_t i = n; i-- > 0;) {  // L^T x = y
      double s = rhs[i * cols + c];
      for (size_t k = i + 1; k < n; ++k) s -= a[k * n + i] * rhs[k * cols + c];
      rhs[i * cols + c] = s / a[i * n + i];
    }
  }
}

std::array<double, kSampleOutputs> targets_of(const hil::clip::Frame& f) {
  const auto& e = f.labels().ego();
  return {e.lane_offset(),
          e.lane_heading(),
          e.lead_present() ? 1.0 : 0.0,
          e.lead_present() ? e.lead_distance() : 60.0,
          f.control().steering(),
          f.control().acceleration()};
}

}  // namespace

std::vector<std::string> recipe_names() { return {"base", "better", "snowblind", "wide"}; }

Recipe recipe_by_name(const std::string& name) {
  Recipe r;
  r.name = name;
  if (name == "base") return r;
  if (name == "better") {
    r.train_clips = 216;
    return r;
  }
  if (name == "snowblind") {
    r.conditions = {"clear", "rain", "night"};
    return r;
  }
  if (name == "wide") {
    r.channels = 48;
    r.ridge = 30.0;
    return r;
  }
  throw std::invalid_argument(
      fmt::format("unknown recipe '{}' (known: base, better, snowblind, wide)", name));
}

std::vector<float> image_to_input(const uint8_t* rgb, uint32_t width, uint32_t height) {
  std::vector<float> out(size_t{3} * width * height);
  size_t plane = size_t{width} * height;
  for (size_t i = 0; i < plane; ++i) {
    for (size_t c = 0; c < 3; ++c) out[c * plane + i] = rgb[i * 3 + c] * (1.0f / 255.0f);
  }
  return out;
}

std::string train_revision(const Recipe& recipe, const std::filesystem::path& clip_cache,
                           TrainingReport* report) {
  auto start = std::chrono::steady_clock::now();
  use_single_thread_kernels();
  std::string trunk = build(recipe, nullptr, nullptr);
  Model trunk_model = Model::load(trunk, recipe.name + "-trunk");
  const uint32_t f = feature_count(recipe);

  // Training data: generated clips, conditions cycled; the data seed is
  // disjoint from the seeds suites use for evaluation clips.
  std::vector<std::vector<float>> features;
  std::vector<std::array<double, kSampleOutputs>> targets;
  std::vector<std::string> kTraffic = evals::known_traffic();
  for (uint32_t i = 0; i < recipe.train_clips; ++i) {
    evals::ClipSpec spec;
    spec.seed = recipe.data_seed + i;
    spec.frames = recipe.frames_per_clip;
    spec.condition = recipe.conditions[i % recipe.conditions.size()];
    std::string sha = evals::generate_clip_file(spec, clip_cache);
    evals::ClipReader reader(clip_cache / (sha + ".clip"));
    for (uint32_t k = 0; k < reader.frame_count();
         k += std::max<uint32_t>(recipe.frame_stride, 1)) {
      auto frame = reader.frame(k);
      const auto& px = frame.images(0).pixels();
      TensorMap in{
          {"image",
           {{1, 3, kHeight, kWidth},
            image_to_input(reinterpret_cast<const uint8_t*>(px.data()), kWidth, kHeight)}}};
      auto out = run_whole_model(trunk, in, {"features"});
      features.push_back(std::move(out.at("features").data));
      targets.push_back(targets_of(frame));
    }
  }
  const size_t n = features.size();
  // Data order matters for nothing in a closed-form fit, but the seed changes
  // the features themselves (initialisation), giving same-quality siblings.
  std::vector<double> mean(f, 0), sd(f, 0);
  for (const auto& x : features) {
    for (size_t j = 0; j < f; ++j) mean[j] += x[j];
  }
  for (auto& m : mean) m /= static_cast<double>(n);
  for (const auto& x : features) {
    for (size_t j = 0; j < f; ++j) sd[j] += (x[j] - mean[j]) * (x[j] - mean[j]);
  }
  for (auto& s : sd) s = std::sqrt(s / static_cast<double>(n)) + 1e-3;
  std::array<double, kSampleOutputs> ymean{};
  for (const auto& y : targets) {
    for (size_t c = 0; c < y.size(); ++c) ymean[c] += y[c] / static_cast<double>(n);
  }
  constexpr size_t kOut = kSampleOutputs;
  std::vector<double> ata(size_t{f} * f, 0), atb(size_t{f} * kOut, 0);
  std::vector<double> z(f);
  for (size_t r = 0; r < n; ++r) {
    for (size_t j = 0; j < f; ++j) z[j] = (features[r][j] - mean[j]) / sd[j];
    for (size_t i = 0; i < f; ++i) {
      double zi = z[i];
      if (zi == 0) continue;
      double* row = &ata[i * f];
      for (size_t j = 0; j <= i; ++j) row[j] += zi * z[j];
      for (size_t c = 0; c < kOut; ++c) atb[i * kOut + c] += zi * (targets[r][c] - ymean[c]);
    }
  }
  for (size_t i = 0; i < f; ++i) {
    for (size_t j = 0; j < i; ++j) ata[j * f + i] = ata[i * f + j];
    ata[i * f + i] += recipe.ridge * static_cast<double>(n) / 100.0;
  }
  cholesky_solve(ata, f, atb, kOut);
  // Fold the standardisation into the head: y = W (x - mean) / sd + ymean.
  std::vector<float> w(kOut * f), b(kOut);
  for (size_t c = 0; c < kOut; ++c) {
    double bias = ymean[c];
    for (size_t j = 0; j < f; ++j) {
      double wj = atb[j * kOut + c] / sd[j];
      w[c * f + j] = static_cast<float>(wj);
      bias -= wj * mean[j];
    }
    b[c] = static_cast<float>(bias);
  }
  std::string onnx = build(recipe, &w, &b);
  if (report) {
    report->recipe = recipe.name;
    report->seed = recipe.seed;
    report->frames = static_cast<uint32_t>(n);
    report->features = f;
    double lane = 0, steer = 0;
    for (size_t r = 0; r < n; ++r) {
      double pl = b[kLaneOffset], ps = b[kSteering];
      for (size_t j = 0; j < f; ++j) {
        pl += w[kLaneOffset * f + j] * features[r][j];
        ps += w[kSteering * f + j] * features[r][j];
      }
      lane += std::abs(pl - targets[r][kLaneOffset]);
      steer += std::abs(ps - targets[r][kSteering]);
    }
    report->train_lane_offset_mae = lane / static_cast<double>(n);
    report->train_steering_mae = steer / static_cast<double>(n);
    report->seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return onnx;
}

}  // namespace hil::dual_engine
