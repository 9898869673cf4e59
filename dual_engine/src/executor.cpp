#include "hil/dual_engine/executor.h"

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include <fmt/format.h>

namespace hil::dual_engine {
namespace {

cv::Mat to_mat(const Tensor& t, const std::string& name) {
  std::vector<int> sizes;
  size_t n = 1;
  for (auto d : t.shape) {
    sizes.push_back(static_cast<int>(d));
    n *= static_cast<size_t>(d);
  }
  if (n != t.data.size()) {
    throw ModelError(fmt::format("input '{}': {} values do not match its shape ({} expected)", name,
                                 t.data.size(), n));
  }
  if (sizes.empty()) sizes.push_back(1);
  if (sizes.size() == 1) sizes.push_back(1);  // cv::Mat needs at least two dimensions
  cv::Mat m(static_cast<int>(sizes.size()), sizes.data(), CV_32F);
  std::copy(t.data.begin(), t.data.end(), m.ptr<float>());
  return m;
}

Tensor from_mat(const cv::Mat& m, const std::vector<int64_t>& expected_shape) {
  Tensor t;
  cv::Mat c = m.isContinuous() ? m : m.clone();
  size_t n = c.total();
  t.data.assign(c.ptr<float>(), c.ptr<float>() + n);
  uint64_t want = 1;
  for (auto d : expected_shape) want *= static_cast<uint64_t>(std::max<int64_t>(d, 1));
  if (want == n) {
    t.shape = expected_shape;
  } else {
    for (int i = 0; i < c.dims; ++i) t.shape.push_back(c.size[i]);
  }
  return t;
}

// OpenCV names a layer after its node's first output; map tensor names to it.
std::vector<cv::String> layer_names(cv::dnn::Net& net, const std::vector<std::string>& tensors) {
  std::vector<cv::String> out;
  for (const auto& t : tensors) {
    if (net.getLayerId(t) < 0)
      throw ModelError(fmt::format("OpenCV DNN has no layer producing tensor '{}'", t));
    out.push_back(t);
  }
  return out;
}

cv::dnn::Net read_net(const std::string& bytes, const std::string& what) {
  try {
    cv::dnn::Net net = cv::dnn::readNetFromONNX(bytes.data(), bytes.size());
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    return net;
  } catch (const cv::Exception& e) {
    throw ModelError(fmt::format("{}: OpenCV DNN refuses the model: {}", what, e.msg));
  }
}

TensorMap forward(cv::dnn::Net& net, const std::vector<TensorInfo>& inputs, const TensorMap& values,
                  const std::vector<TensorInfo>& outputs, const std::vector<cv::String>& names) {
  for (const auto& in : inputs) {
    auto it = values.find(in.name);
    if (it == values.end()) throw ModelError(fmt::format("missing input '{}'", in.name));
    net.setInput(to_mat(it->second, in.name), in.name);
  }
  std::vector<cv::Mat> mats;
  try {
    net.forward(mats, names);
  } catch (const cv::Exception& e) {
    throw ModelError(fmt::format("OpenCV DNN forward failed: {}", e.msg));
  }
  TensorMap out;
  for (size_t i = 0; i < outputs.size() && i < mats.size(); ++i)
    out[outputs[i].name] = from_mat(mats[i], outputs[i].shape);
  return out;
}

}  // namespace

struct PartitionExecutor::Impl {
  PartitionPlan plan;
  cv::dnn::Net net;
  std::vector<cv::String> output_layers;
};

PartitionExecutor::PartitionExecutor(const PartitionPlan& plan) : impl_(std::make_unique<Impl>()) {
  impl_->plan = plan;
  impl_->net = read_net(plan.onnx, fmt::format("{} partition", plan.role));
  std::vector<std::string> names;
  for (const auto& o : plan.outputs) names.push_back(o.name);
  impl_->output_layers = layer_names(impl_->net, names);
}

PartitionExecutor::~PartitionExecutor() = default;
PartitionExecutor::PartitionExecutor(PartitionExecutor&&) noexcept = default;
PartitionExecutor& PartitionExecutor::operator=(PartitionExecutor&&) noexcept = default;
const PartitionPlan& PartitionExecutor::plan() const { return impl_->plan; }

TensorMap PartitionExecutor::run(const TensorMap& inputs) {
  return forward(impl_->net, impl_->plan.inputs, inputs, impl_->plan.outputs, impl_->output_layers);
}

TensorMap run_whole_model(const std::string& onnx_bytes, const TensorMap& inputs,
                          const std::vector<std::string>& output_names) {
  cv::dnn::Net net = read_net(onnx_bytes, "model");
  std::vector<TensorInfo> in_info, out_info;
  for (const auto& [name, t] : inputs) in_info.push_back({name, t.shape, 1});
  for (const auto& n : output_names) out_info.push_back({n, {}, 1});
  return forward(net, in_info, inputs, out_info, layer_names(net, output_names));
}

void use_single_thread_kernels() { cv::setNumThreads(1); }

}  // namespace hil::dual_engine
