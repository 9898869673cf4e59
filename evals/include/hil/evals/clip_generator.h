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
#include "hil/evals/image.h"

namespace hil::evals {

inline constexpr uint32_t kGeneratorVersion = 4;

struct ClipSpec {
  uint64_t seed = 1;
  uint32_t frames = 48;
  std::string condition = "clear";  // clear, rain, snow, fog, night, spray
  std::string road = "";            // straight, gentle, sharp, s-bend; "" picks from the seed
  std::string traffic = "";         // free, lead-brake, cut-in, parked, pedestrian; "" from the seed
  uint32_t lanes = 0;               // 2..4; 0 picks from the seed
  uint32_t width = 128;
  uint32_t height = 64;
  double fps = 36.0;
};

const std::vector<std::string>& known_conditions();
const std::vector<std::string>& known_roads();
const std::vector<std::string>& known_traffic();

// Fills unset fields of the spec from its seed; throws std::invalid_argument
// naming an unknown condition, road or traffic pattern.
ClipSpec resolve_spec(ClipSpec spec);

// The whole clip as file bytes (see clip_file.h).
std::string generate_clip_bytes(const ClipSpec& spec);

// Writes the clip to `dir/<sha256>.clip` and returns the SHA-256; an existing
// file with that name is kept (content addressing makes it identical).
std::string generate_clip_file(const ClipSpec& spec, const std::filesystem::path& dir);

// The camera image of a frame as an Image.
Image frame_image(const clip::ClipHeader& header, const clip::Frame& frame, uint32_t camera = 0);

// Draws the frame's ground truth (lane lines, cuboids; occluded objects dashed
// and dimmer) over the image, projected with the header's camera.
void draw_labels(Image& image, const clip::ClipHeader& header, const clip::Frame& frame,
                 uint32_t scale = 1);

// Projects an ego-frame point (x forward, y left, z up) to pixel coordinates
// with the header's front camera; returns false behind the camera.
bool project_point(const clip::Camera& camera, double x, double y, double z, double* u, double* v);

}  // namespace hil::evals
