// Feeding a network: its graph inputs built from a clip's camera images as
// its model interface says (camera or stack of cameras, frame history, crop,
// resize, colour order, layout, scale, per-channel mean and std). One
// implementation for the boards, the benchmarks and sample-network training
// data, so a network is trained on exactly what it is evaluated on.
//
//   InputBuilder inputs(iface, model.inputs(), clip.header());
//   for (t...) TensorMap in = inputs.build(t, [&](uint32_t k) -> const clip::Frame& { ... });
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "evals/proto/clip.pb.h"
#include "evals/proto/model.pb.h"
#include "hil/dual_engine/executor.h"
#include "hil/dual_engine/model.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/image.h"

namespace hil::dual_engine {

// One camera image preprocessed for one input binding: float planes (or
// interleaved channels for NHWC), ready to be copied into the input tensor.
// `reduced`: the image was decoded at 1/reduced of the camera's size (the
// binding's crop is in the camera's pixels).
std::vector<float> preprocess_image(const evals::Image& image, const model::InputBinding& binding,
                                    uint32_t width, uint32_t height, uint32_t reduced = 1);

// How much smaller than the camera a JPEG frame can be decoded for this
// binding without decoding fewer pixels than the network takes (1, 2, 4, 8;
// 1 for other encodings, or a crop not on the reduced grid).
uint32_t decode_reduction(const clip::Camera& camera, const model::InputBinding& binding,
                          uint32_t width, uint32_t height);

// A camera's image for a binding: decoded (reduced where decode_reduction
// allows) and preprocessed. What boards run and training data are made with.
std::vector<float> camera_input(const evals::ClipReader& clip, const clip::Frame& frame,
                                const std::string& camera, const model::InputBinding& binding,
                                uint32_t width, uint32_t height, double* decode_seconds = nullptr,
                                double* preprocess_seconds = nullptr);

// The input shape a binding gives for the network's image size: NCHW
// [1, C*n, H, W] or [1, n, C, H, W] (STACK_AXIS), NHWC [1, H, W, C*n] or
// [1, n, H, W, C], with C = 3 (1 for GRAY) and n = cameras x history.
std::vector<int64_t> binding_shape(const model::InputBinding& binding, uint32_t width,
                                   uint32_t height);

class InputBuilder {
 public:
  // `graph_inputs` gives each bound input's image size (the interface has
  // been checked against the graph); throws evals::InterfaceError when a
  // camera is not in the clip.
  InputBuilder(const model::ModelInterface& iface, const std::vector<TensorInfo>& graph_inputs,
               const evals::ClipReader& clip);

  using FrameSource = std::function<const clip::Frame&(uint32_t)>;
  // The inputs of frame t; earlier frames come from `frame_at` (history),
  // the first frame standing in for frames before the clip starts.
  // Throws evals::ClipError when an image is missing or does not decode.
  TensorMap build(uint32_t t, const FrameSource& frame_at);

  // Time spent decoding images and preprocessing them, for benchmarks.
  double decode_seconds() const { return decode_seconds_; }
  double preprocess_seconds() const { return preprocess_seconds_; }

 private:
  struct Bound {
    model::InputBinding binding;
    uint32_t width = 0, height = 0;
    std::vector<int64_t> shape;
  };
  const std::vector<float>& plane(const Bound& b, const std::string& camera, uint32_t frame,
                                  const FrameSource& frame_at);

  const evals::ClipReader& clip_;
  std::vector<Bound> bound_;
  // Preprocessed images by (input, camera, frame); frames older than any
  // history needs are dropped as the clip advances.
  std::map<std::tuple<std::string, std::string, uint32_t>, std::vector<float>> planes_;
  double decode_seconds_ = 0, preprocess_seconds_ = 0;
};

}  // namespace hil::dual_engine
