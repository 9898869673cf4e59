#include "hil/dual_engine/preprocess.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "hil/evals/model_interface.h"

namespace hil::dual_engine {

namespace {

using Clock = std::chrono::steady_clock;

uint32_t frames_per_camera(const model::InputBinding& b) {
  return std::max<uint32_t>(b.history(), 1);
}

}  // namespace

std::vector<int64_t> binding_shape(const model::InputBinding& b, uint32_t width, uint32_t height) {
  const int64_t c = evals::input_channels(b);
  const int64_t n = static_cast<int64_t>(b.cameras_size()) * frames_per_camera(b);
  const int64_t h = height, w = width;
  const bool nchw = b.preprocess().layout() == model::NCHW;
  if (b.stack() == model::STACK_AXIS && n > 1) {
    return nchw ? std::vector<int64_t>{1, n, c, h, w} : std::vector<int64_t>{1, n, h, w, c};
  }
  return nchw ? std::vector<int64_t>{1, c * n, h, w} : std::vector<int64_t>{1, h, w, c * n};
}

uint32_t decode_reduction(const clip::Camera& camera, const model::InputBinding& b, uint32_t width,
                          uint32_t height) {
  if (camera.encoding() != clip::ENCODING_JPEG) return 1;
  const auto& p = b.preprocess();
  const uint32_t x = p.has_crop() ? p.crop().x() : 0, y = p.has_crop() ? p.crop().y() : 0;
  const uint32_t w = p.has_crop() ? p.crop().width() : camera.width();
  const uint32_t h = p.has_crop() ? p.crop().height() : camera.height();
  for (uint32_t f : {8u, 4u, 2u}) {
    const bool on_grid = x % f == 0 && y % f == 0 && w % f == 0 && h % f == 0;
    if (on_grid && w / f >= width && h / f >= height) return f;
  }
  return 1;
}

std::vector<float> camera_input(const evals::ClipReader& clip, const clip::Frame& frame,
                                const std::string& camera, const model::InputBinding& binding,
                                uint32_t width, uint32_t height, double* decode_seconds,
                                double* preprocess_seconds) {
  const auto* cam = evals::find_camera(clip.header(), camera);
  const uint32_t reduce = cam ? decode_reduction(*cam, binding, width, height) : 1;
  auto t0 = Clock::now();
  evals::Image image = clip.image(frame, camera, reduce);
  auto t1 = Clock::now();
  const uint32_t reduced = cam && image.width < cam->width() ? reduce : 1;
  auto data = preprocess_image(image, binding, width, height, reduced);
  if (decode_seconds) *decode_seconds += std::chrono::duration<double>(t1 - t0).count();
  if (preprocess_seconds)
    *preprocess_seconds += std::chrono::duration<double>(Clock::now() - t1).count();
  return data;
}

std::vector<float> preprocess_image(const evals::Image& image, const model::InputBinding& b,
                                    uint32_t width, uint32_t height, uint32_t reduced) {
  const auto& p = b.preprocess();
  cv::Mat src(static_cast<int>(image.height), static_cast<int>(image.width), CV_8UC3,
              const_cast<uint8_t*>(image.pixels.data()));
  if (p.has_crop()) {
    const auto& c = p.crop();
    const uint32_t x = c.x() / reduced, y = c.y() / reduced, w = c.width() / reduced,
                   h = c.height() / reduced;
    if (x + w > image.width || y + h > image.height) {
      throw evals::InterfaceError(fmt::format(
          "input '{}': crop {}x{} at ({}, {}) does not fit the {}x{} image", b.input(), c.width(),
          c.height(), c.x(), c.y(), image.width * reduced, image.height * reduced));
    }
    src = src(cv::Rect(static_cast<int>(x), static_cast<int>(y), static_cast<int>(w),
                       static_cast<int>(h)));
  }
  cv::Mat sized;
  const int w = static_cast<int>(width), h = static_cast<int>(height);
  if (src.cols == w && src.rows == h) {
    sized = src;
  } else if (p.resize() == model::CENTER_CROP) {
    // Cover the target keeping the aspect ratio, then take the centre.
    const double scale =
        std::max(static_cast<double>(w) / src.cols, static_cast<double>(h) / src.rows);
    const int cw = std::max(w, static_cast<int>(std::ceil(src.cols * scale))),
              ch = std::max(h, static_cast<int>(std::ceil(src.rows * scale)));
    cv::Mat covered;
    cv::resize(src, covered, cv::Size(cw, ch), 0, 0, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    sized = covered(cv::Rect((cw - w) / 2, (ch - h) / 2, w, h));
  } else {
    const bool shrink = w <= src.cols && h <= src.rows;
    cv::resize(src, sized, cv::Size(w, h), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  }
  const uint32_t channels = evals::input_channels(b);
  const float scale = p.scale() > 0 ? p.scale() : 1.0f / 255.0f;
  float mean[3] = {0, 0, 0}, inv_std[3] = {1, 1, 1};
  for (int k = 0; k < p.mean_size() && k < 3; ++k) mean[k] = p.mean(k);
  for (int k = 0; k < p.std_size() && k < 3; ++k) inv_std[k] = 1.0f / p.std(k);
  const bool nchw = p.layout() == model::NCHW;
  const size_t plane = static_cast<size_t>(w) * static_cast<size_t>(h);
  std::vector<float> out(plane * channels);
  // Colour conversion, then one vectorised y = x * a + b per channel
  // (a = scale / std, b = -mean / std): the same arithmetic for every layout.
  cv::Mat colour;
  if (channels == 1) {
    cv::cvtColor(sized, colour, cv::COLOR_RGB2GRAY);
  } else if (p.color() == model::BGR) {
    cv::cvtColor(sized, colour, cv::COLOR_RGB2BGR);
  } else {
    colour = sized.isContinuous() ? sized : sized.clone();
  }
  std::vector<cv::Mat> planes;
  cv::split(colour, planes);
  std::vector<cv::Mat> scaled(channels);
  for (uint32_t k = 0; k < channels; ++k) {
    const double a = static_cast<double>(scale * inv_std[k]),
                 c = -static_cast<double>(mean[k] * inv_std[k]);
    if (nchw) {
      // Straight into the output's plane k.
      cv::Mat dst(h, w, CV_32F, out.data() + k * plane);
      planes[k].convertTo(dst, CV_32F, a, c);
    } else {
      planes[k].convertTo(scaled[k], CV_32F, a, c);
    }
  }
  if (!nchw) {
    cv::Mat dst(h, w, CV_32FC(static_cast<int>(channels)), out.data());
    cv::merge(scaled, dst);
  }
  return out;
}

InputBuilder::InputBuilder(const model::ModelInterface& iface,
                           const std::vector<TensorInfo>& graph_inputs,
                           const evals::ClipReader& clip)
    : clip_(clip) {
  for (const auto& binding : iface.inputs()) {
    const TensorInfo* graph = nullptr;
    for (const auto& g : graph_inputs) {
      if (g.name == binding.input()) graph = &g;
    }
    if (!graph)
      throw evals::InterfaceError(fmt::format("input '{}' is not a graph input", binding.input()));
    for (const auto& cam : binding.cameras()) {
      const auto* c = evals::find_camera(clip.header(), cam);
      if (!c) {
        throw evals::InterfaceError(
            fmt::format("input '{}' reads camera '{}', which clip {} does not have",
                        binding.input(), cam, clip.name()));
      }
      if (c->channels() != 3) {
        throw evals::ClipError(clip.name(), -1, 8,
                               fmt::format("camera '{}' has {} channels; hil reads RGB cameras (3)",
                                           cam, c->channels()));
      }
    }
    Bound b;
    b.binding = binding;
    b.shape = graph->shape;
    const bool nchw = binding.preprocess().layout() == model::NCHW;
    const size_t rank = graph->shape.size();
    // The image size is the last two dimensions (NCHW) or the two before the channels (NHWC).
    b.height = static_cast<uint32_t>(graph->shape.at(nchw ? rank - 2 : rank - 3));
    b.width = static_cast<uint32_t>(graph->shape.at(nchw ? rank - 1 : rank - 2));
    bound_.push_back(std::move(b));
  }
}

const std::vector<float>& InputBuilder::plane(const Bound& b, const std::string& camera,
                                              uint32_t frame, const FrameSource& frame_at) {
  auto key = std::make_tuple(b.binding.input(), camera, frame);
  auto it = planes_.find(key);
  if (it != planes_.end()) return it->second;
  auto data = camera_input(clip_, frame_at(frame), camera, b.binding, b.width, b.height,
                           &decode_seconds_, &preprocess_seconds_);
  return planes_.emplace(key, std::move(data)).first->second;
}

TensorMap InputBuilder::build(uint32_t t, const FrameSource& frame_at) {
  TensorMap out;
  uint32_t oldest_needed = t;
  for (const auto& b : bound_) {
    const uint32_t history = frames_per_camera(b.binding);
    oldest_needed = std::min(oldest_needed, t >= history - 1 ? t - (history - 1) : 0);
    const uint32_t channels = evals::input_channels(b.binding);
    const size_t image_values = size_t{b.width} * b.height * channels;
    const size_t n = static_cast<size_t>(b.binding.cameras_size()) * history;
    Tensor tensor;
    tensor.shape = b.shape;
    tensor.data.resize(image_values * n);
    const bool nhwc_channels = b.binding.preprocess().layout() == model::NHWC &&
                               b.binding.stack() == model::STACK_CHANNELS;
    size_t slot = 0;
    for (const auto& cam : b.binding.cameras()) {
      for (uint32_t k = 0; k < history; ++k, ++slot) {
        const uint32_t frame = t + k >= history - 1 ? t + k - (history - 1) : 0;
        const auto& img = plane(b, cam, frame, frame_at);
        if (nhwc_channels && n > 1) {
          // Channels of every image interleave per pixel: [H, W, C*n].
          const size_t pixels = size_t{b.width} * b.height;
          for (size_t px = 0; px < pixels; ++px) {
            for (uint32_t c = 0; c < channels; ++c)
              tensor.data[(px * n + slot) * channels + c] = img[px * channels + c];
          }
        } else {
          std::copy(img.begin(), img.end(),
                    tensor.data.begin() + static_cast<ptrdiff_t>(slot * image_values));
        }
      }
    }
    out.emplace(b.binding.input(), std::move(tensor));
  }
  // Keep one frame more than the history needs: the runtime may build a
  // frame again after the next (a replay after a fault).
  const uint32_t keep_from = oldest_needed > 0 ? oldest_needed - 1 : 0;
  for (auto it = planes_.begin(); it != planes_.end();) {
    it = std::get<2>(it->first) < keep_from ? planes_.erase(it) : std::next(it);
  }
  return out;
}

}  // namespace hil::dual_engine
