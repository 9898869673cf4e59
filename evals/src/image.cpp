#include "hil/evals/image.h"

#include <zlib.h>

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "hil/evals/sha256.h"

namespace hil::evals {
namespace {

void put_be32(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_chunk(std::string& out, const char* type, const std::string& data) {
  put_be32(out, static_cast<uint32_t>(data.size()));
  std::string body(type, 4);
  body += data;
  out += body;
  put_be32(out, static_cast<uint32_t>(
                    crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
}

}  // namespace

std::string encode_png(const Image& image) {
  if (image.channels != 1 && image.channels != 3 && image.channels != 4) {
    throw std::invalid_argument(fmt::format("encode_png: unsupported channel count {}", image.channels));
  }
  std::string out("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  put_be32(ihdr, image.width);
  put_be32(ihdr, image.height);
  ihdr.push_back(8);  // bit depth
  ihdr.push_back(static_cast<char>(image.channels == 1 ? 0 : image.channels == 3 ? 2 : 6));
  ihdr.push_back(0);
  ihdr.push_back(0);
  ihdr.push_back(0);
  put_chunk(out, "IHDR", ihdr);

  size_t stride = size_t{image.width} * image.channels;
  std::string raw;
  raw.reserve((stride + 1) * image.height);
  for (uint32_t y = 0; y < image.height; ++y) {
    raw.push_back(0);  // filter: none
    raw.append(reinterpret_cast<const char*>(image.pixels.data() + y * stride), stride);
  }
  uLongf bound = compressBound(static_cast<uLong>(raw.size()));
  std::string z(bound, '\0');
  if (compress2(reinterpret_cast<Bytef*>(z.data()), &bound, reinterpret_cast<const Bytef*>(raw.data()),
                static_cast<uLong>(raw.size()), 6) != Z_OK) {
    throw std::runtime_error("encode_png: zlib compress failed");
  }
  z.resize(bound);
  put_chunk(out, "IDAT", z);
  put_chunk(out, "IEND", "");
  return out;
}

void write_png(const std::filesystem::path& path, const Image& image) {
  write_file_atomic(path, encode_png(image));
}

Image upscale(const Image& image, uint32_t factor) {
  Image out(image.width * factor, image.height * factor, image.channels);
  for (uint32_t y = 0; y < out.height; ++y) {
    for (uint32_t x = 0; x < out.width; ++x) {
      const uint8_t* s = image.at(x / factor, y / factor);
      uint8_t* d = out.at(x, y);
      for (uint32_t c = 0; c < image.channels; ++c) d[c] = s[c];
    }
  }
  return out;
}

void draw_line(Image& image, double x0, double y0, double x1, double y1, const uint8_t rgb[3],
               double alpha) {
  auto plot = [&](long x, long y, double a) {
    if (x < 0 || y < 0 || x >= static_cast<long>(image.width) || y >= static_cast<long>(image.height)) return;
    uint8_t* p = image.at(static_cast<uint32_t>(x), static_cast<uint32_t>(y));
    a *= alpha;
    for (uint32_t c = 0; c < std::min<uint32_t>(3, image.channels); ++c) {
      p[c] = static_cast<uint8_t>(std::lround(p[c] * (1 - a) + rgb[c] * a));
    }
  };
  bool steep = std::abs(y1 - y0) > std::abs(x1 - x0);
  if (steep) {
    std::swap(x0, y0);
    std::swap(x1, y1);
  }
  if (x0 > x1) {
    std::swap(x0, x1);
    std::swap(y0, y1);
  }
  double dx = x1 - x0, dy = y1 - y0;
  double gradient = dx == 0 ? 1 : dy / dx;
  double y = y0;
  for (long x = std::lround(x0); x <= std::lround(x1); ++x) {
    double fy = std::floor(y);
    double frac = y - fy;
    if (steep) {
      plot(static_cast<long>(fy), x, 1 - frac);
      plot(static_cast<long>(fy) + 1, x, frac);
    } else {
      plot(x, static_cast<long>(fy), 1 - frac);
      plot(x, static_cast<long>(fy) + 1, frac);
    }
    y += gradient;
  }
}

}  // namespace hil::evals
