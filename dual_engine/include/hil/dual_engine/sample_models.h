// The sample revisions hil evaluates in its demo, tests and nightly sweep: a
// small perception CNN (camera frame in; lane offset and heading, lead
// presence and distance, steering and acceleration out) built as a real ONNX
// graph and trained deterministically on generated clips in C++: fixed
// random convolutional features, a linear head fitted in closed form (ridge
// regression). Recipes differ in data, conditions and width, so that their
// differences are real and explainable.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace hil::dual_engine {

struct Recipe {
  std::string name = "base";
  uint32_t channels = 16;  // width of the last convolution
  uint32_t train_clips = 72;
  uint32_t frames_per_clip = 40;
  uint32_t frame_stride = 1;  // use every k-th frame
  std::vector<std::string> conditions{"clear", "rain", "snow", "fog", "night", "spray"};
  uint64_t seed = 1;             // feature initialisation and data order
  uint64_t data_seed = 1000000;  // first clip seed of the training set (disjoint from eval clips)
  double ridge = 10.0;
};

// base, better (more data), snowblind (no snow, fog or spray in training),
// wide (3x channels: similar accuracy, higher latency).
Recipe recipe_by_name(const std::string& name);
std::vector<std::string> recipe_names();

struct TrainingReport {
  std::string recipe;
  uint64_t seed = 0;
  uint32_t frames = 0;
  uint32_t features = 0;
  double train_lane_offset_mae = 0;
  double train_steering_mae = 0;
  double seconds = 0;
};

// Trains a recipe and returns the ONNX bytes; `clip_cache` holds the generated
// training clips (content-addressed, reused across calls).
std::string train_revision(const Recipe& recipe, const std::filesystem::path& clip_cache,
                           TrainingReport* report = nullptr);

// Preprocessing shared by training and the runtime: RGB8 HWC -> float CHW in [0, 1].
std::vector<float> image_to_input(const uint8_t* rgb, uint32_t width, uint32_t height);

}  // namespace hil::dual_engine
