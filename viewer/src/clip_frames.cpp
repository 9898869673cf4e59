#include "clip_frames.h"

#include <algorithm>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

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
    if (header.cameras_size() == 0 || frame.images_size() == 0) {
      throw std::runtime_error(fmt::format("frame {}: no camera image", k));
    }
    const auto& camera = header.cameras(0);
    const std::string& pixels = frame.images(0).pixels();
    const auto width = static_cast<int>(camera.width()), height = static_cast<int>(camera.height());
    if (camera.channels() != 3 || pixels.size() != static_cast<size_t>(width) * height * 3) {
      throw std::runtime_error(fmt::format("frame {}: image has {} bytes, expected {}x{}x3", k,
                                           pixels.size(), width, height));
    }
    // A deep copy: the QImage must not point into the protobuf's buffer.
    decoded.image = QImage(reinterpret_cast<const uchar*>(pixels.data()), width, height, width * 3,
                           QImage::Format_RGB888)
                        .copy();
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
