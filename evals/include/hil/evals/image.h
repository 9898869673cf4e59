// An 8-bit interleaved image; PNG and JPEG encoding and decoding (OpenCV's
// codecs, private to this library), resizing for the renderer and exports.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace hil::evals {

struct Image {
  uint32_t width = 0;
  uint32_t height = 0;
  uint32_t channels = 3;
  std::vector<uint8_t> pixels;  // row-major, interleaved

  Image() = default;
  Image(uint32_t w, uint32_t h, uint32_t c)
      : width(w), height(h), channels(c), pixels(size_t{w} * h * c) {}
  uint8_t* at(uint32_t x, uint32_t y) { return &pixels[(size_t{y} * width + x) * channels]; }
  const uint8_t* at(uint32_t x, uint32_t y) const {
    return &pixels[(size_t{y} * width + x) * channels];
  }
};

// PNG bytes of an 8-bit gray (1), RGB (3) or RGBA (4) image.
std::string encode_png(const Image& image);
// JPEG bytes of a gray or RGB image at quality 1..100 (4:2:0 chroma).
std::string encode_jpeg(const Image& image, int quality);
// Decodes PNG or JPEG bytes into RGB (channels 3) or gray (channels 1); throws
// std::runtime_error when the bytes are not an image either codec reads.
// `reduce` 2, 4 or 8 decodes a JPEG at that fraction of its size in the DCT
// domain (libjpeg's scaled decoding: several times faster than decoding the
// whole image and shrinking it); the result is ceil(width / reduce) wide.
Image decode_image(const std::string& bytes, uint32_t channels = 3, uint32_t reduce = 1);
// Reads an image file (PNG, JPEG, ...) as RGB; throws naming the file.
Image read_image(const std::filesystem::path& path);
void write_png(const std::filesystem::path& path, const Image& image);

// Nearest-neighbour upscale by an integer factor (for looking at small frames).
Image upscale(const Image& image, uint32_t factor);
// Area-averaged (shrinking) or bilinear (growing) resize.
Image resize(const Image& image, uint32_t width, uint32_t height);

// Anti-aliased line in image coordinates (Xiaolin Wu), alpha-blended.
void draw_line(Image& image, double x0, double y0, double x1, double y1, const uint8_t rgb[3],
               double alpha = 1.0);

}  // namespace hil::evals
