#include "clip_frames.h"

#include <algorithm>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

#include "hil/evals/clip_generator.h"

namespace hil::viewer {
namespace {

std::filesystem::path located(const std::filesystem::path& blob_dir, const std::string& sha256) {
  auto file = ClipFrames::locate(blob_dir, sha256);
  if (!file) {
    throw std::runtime_error(
        fmt::format("clip {}: not in the blob folder {}", sha256, blob_dir.string()));
  }
  return *file;
}

}  // namespace

std::optional<std::filesystem::path> ClipFrames::locate(const std::filesystem::path& blob_dir,
                                                        const std::string& sha256) {
  std::error_code ec;
  for (const auto& name : {sha256, sha256 + ".clip"}) {
    const auto path = blob_dir / name;
    if (std::filesystem::is_regular_file(path, ec)) return path;
  }
  return std::nullopt;
}

ClipFrames::ClipFrames(const std::filesystem::path& blob_dir, const std::string& sha256)
    : sha256_(sha256), file_(located(blob_dir, sha256)), reader_(file_) {}

const DecodedFrame* ClipFrames::frame(int64_t k) {
  error_.clear();
  if (auto hit = cache_.find(k); hit != cache_.end()) {
    recent_.remove(k);
    recent_.push_front(k);
    return &hit->second;
  }
  if (k < 0 || k >= static_cast<int64_t>(reader_.frame_count())) {
    error_ = QStringLiteral("frame %1 is not in the clip (%2 readable frames)")
                 .arg(k)
                 .arg(reader_.frame_count());
    return nullptr;
  }
  DecodedFrame decoded;
  try {
    hil::clip::Frame frame = reader_.frame(static_cast<uint32_t>(k));
    const auto& header = reader_.header();
    for (int c = 0; c < header.cameras_size(); ++c) {
      QImage image;
      QString error;
      try {
        const hil::evals::Image decoded_image =
            hil::evals::frame_image(header, frame, static_cast<uint32_t>(c));
        const auto width = static_cast<int>(decoded_image.width);
        const auto height = static_cast<int>(decoded_image.height);
        const uint32_t channels = decoded_image.channels;
        const QImage::Format format = channels == 1   ? QImage::Format_Grayscale8
                                      : channels == 3 ? QImage::Format_RGB888
                                      : channels == 4 ? QImage::Format_RGBA8888
                                                      : QImage::Format_Invalid;
        if (format == QImage::Format_Invalid) {
          throw std::runtime_error(fmt::format("frame {}: camera '{}' has {} channels", k,
                                               header.cameras(c).name(), channels));
        }
        // Converted once here: QPainter draws RGB32 without converting each
        // time (and the conversion is a deep copy, so the QImage does not
        // point into the decoded buffer).
        image = QImage(decoded_image.pixels.data(), width, height,
                       width * static_cast<int>(channels), format)
                    .convertToFormat(QImage::Format_RGB32);
      } catch (const std::exception& e) {
        error = QString::fromStdString(e.what());
      }
      decoded.images.push_back(std::move(image));
      decoded.errors.push_back(std::move(error));
    }
    frame.clear_images();
    decoded.labels = std::move(frame);
  } catch (const std::exception& e) {
    error_ = QString::fromStdString(e.what());
    return nullptr;
  }
  if (cache_.size() >= kCacheFrames) {
    cache_.erase(recent_.back());
    recent_.pop_back();
  }
  recent_.push_front(k);
  return &cache_.emplace(k, std::move(decoded)).first->second;
}

}  // namespace hil::viewer
