#include "hil/evals/image.h"

#include <zlib.h>

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

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
  put_be32(out, static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(body.data()),
                                            static_cast<uInt>(body.size()))));
}

}  // namespace

std::string encode_png(const Image& image) {
  if (image.channels != 1 && image.channels != 3 && image.channels != 4) {
    throw std::invalid_argument(
        fmt::format("encode_png: unsupported channel count {}", image.channels));
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
  if (compress2(reinterpret_cast<Bytef*>(z.data()), &bound,
                reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()),
                6) != Z_OK) {
    throw std::runtime_error("encode_png: zlib compress failed");
  }
  z.resize(bound);
  put_chunk(out, "IDAT", z);
  put_chunk(out, "IEND", "");
  return out;
}

namespace {

// A view of the image for OpenCV (no copy); OpenCV's codecs want BGR order.
cv::Mat as_mat(const Image& image) {
  int type = image.channels == 1 ? CV_8UC1 : image.channels == 3 ? CV_8UC3 : CV_8UC4;
  return cv::Mat(static_cast<int>(image.height), static_cast<int>(image.width), type,
                 const_cast<uint8_t*>(image.pixels.data()));
}

Image from_mat(const cv::Mat& m) {
  Image out(static_cast<uint32_t>(m.cols), static_cast<uint32_t>(m.rows),
            static_cast<uint32_t>(m.channels()));
  cv::Mat dst(m.rows, m.cols, m.type(), out.pixels.data());
  m.copyTo(dst);
  return out;
}

}  // namespace

std::string encode_jpeg(const Image& image, int quality) {
  if (image.channels != 1 && image.channels != 3) {
    throw std::invalid_argument(
        fmt::format("encode_jpeg: unsupported channel count {}", image.channels));
  }
  if (quality < 1 || quality > 100)
    throw std::invalid_argument(fmt::format("JPEG quality {} is not 1..100", quality));
  cv::Mat src = as_mat(image), bgr;
  if (image.channels == 3) {
    cv::cvtColor(src, bgr, cv::COLOR_RGB2BGR);
  } else {
    bgr = src;
  }
  std::vector<uint8_t> buf;
  if (!cv::imencode(".jpg", bgr, buf, {cv::IMWRITE_JPEG_QUALITY, quality})) {
    throw std::runtime_error("encode_jpeg: the encoder refused the image");
  }
  return std::string(buf.begin(), buf.end());
}

Image decode_image(const std::string& bytes, uint32_t channels, uint32_t reduce) {
  if (channels != 1 && channels != 3)
    throw std::invalid_argument(fmt::format("decode_image: {} channels", channels));
  int flags = channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR;
  switch (reduce) {
    case 1:
      break;
    case 2:
      flags = channels == 1 ? cv::IMREAD_REDUCED_GRAYSCALE_2 : cv::IMREAD_REDUCED_COLOR_2;
      break;
    case 4:
      flags = channels == 1 ? cv::IMREAD_REDUCED_GRAYSCALE_4 : cv::IMREAD_REDUCED_COLOR_4;
      break;
    case 8:
      flags = channels == 1 ? cv::IMREAD_REDUCED_GRAYSCALE_8 : cv::IMREAD_REDUCED_COLOR_8;
      break;
    default:
      throw std::invalid_argument(
          fmt::format("decode_image: reduce {} is not 1, 2, 4 or 8", reduce));
  }
  cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
  cv::Mat m;
  try {
    m = cv::imdecode(raw, flags);
  } catch (const cv::Exception& e) {
    throw std::runtime_error(fmt::format("image does not decode: {}", e.what()));
  }
  if (m.empty())
    throw std::runtime_error(
        fmt::format("{} bytes do not decode as a PNG or JPEG image", bytes.size()));
  if (channels == 3) cv::cvtColor(m, m, cv::COLOR_BGR2RGB);
  return from_mat(m);
}

Image read_image(const std::filesystem::path& path) {
  std::string bytes;
  try {
    bytes = read_file(path);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: {}", path.string(), e.what()));
  }
  try {
    return decode_image(bytes);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: {}", path.string(), e.what()));
  }
}

Image resize(const Image& image, uint32_t width, uint32_t height) {
  if (width == 0 || height == 0) throw std::invalid_argument("resize: empty target size");
  cv::Mat out;
  bool shrink = width < image.width && height < image.height;
  cv::resize(as_mat(image), out, cv::Size(static_cast<int>(width), static_cast<int>(height)), 0, 0,
             shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  return from_mat(out);
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
    if (x < 0 || y < 0 || x >= static_cast<long>(image.width) ||
        y >= static_cast<long>(image.height))
      return;
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
