// The procedural driving simulator: parametric roads, traffic with exact
// vector-space ground truth, conditions that change the rendered image, and an
// ego driven by lane-keeping and adaptive-cruise control whose commands are the
// ground-truth control. Deterministic: the same spec gives the same bytes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "evals/proto/clip.pb.h"
#include "hil/evals/camera.h"
#include "hil/evals/image.h"

namespace hil::evals {

// 5: format 2 clips (camera rigs, compressed frames, 2D boxes per camera, truth list).
inline constexpr uint32_t kGeneratorVersion = 5;

struct ClipSpec {
  uint64_t seed = 1;
  uint32_t frames = 48;
  std::string condition = "clear";  // clear, rain, snow, fog, night, spray
  std::string road = "";            // straight, gentle, sharp, s-bend; "" picks from the seed
  std::string traffic = "";  // free, lead-brake, cut-in, parked, pedestrian; "" from the seed
  uint32_t lanes = 0;        // 2..4; 0 picks from the seed
  uint32_t width = 128;      // per camera
  uint32_t height = 64;
  double fps = 36.0;
  std::string rig = "front";  // front; tri: front, left and right
  clip::ImageEncoding encoding = clip::ENCODING_RAW;
  uint32_t quality = 90;  // JPEG quality
};

const std::vector<std::string>& known_conditions();
const std::vector<std::string>& known_roads();
const std::vector<std::string>& known_traffic();
const std::vector<std::string>& known_rigs();

// Fills unset fields of the spec from its seed; throws std::invalid_argument
// naming an unknown condition, road, traffic pattern or rig.
ClipSpec resolve_spec(ClipSpec spec);

// The whole clip as file bytes (see clip_file.h).
std::string generate_clip_bytes(const ClipSpec& spec);

// Writes the clip to `dir/<sha256>.clip` and returns the SHA-256; an existing
// file with that name is kept (content addressing makes it identical).
std::string generate_clip_file(const ClipSpec& spec, const std::filesystem::path& dir);

// The image of the header's camera `camera` (an index) in a frame, decoded.
Image frame_image(const clip::ClipHeader& header, const clip::Frame& frame, uint32_t camera = 0);

// Draws the frame's ground truth (lane lines, cuboids, and 2D boxes where
// there is no cuboid; occluded objects dimmer) over camera `camera`'s image.
void draw_labels(Image& image, const clip::ClipHeader& header, const clip::Frame& frame,
                 uint32_t scale = 1, uint32_t camera = 0);

}  // namespace hil::evals
