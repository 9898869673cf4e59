// The frames of one clip, read from the scheduler's blob folder beside the
// database (`<db>.blobs/<sha256>`; a `<sha256>.clip` file there is found
// too), every camera's image decoded (raw, JPEG or PNG, evals::frame_image)
// to a QImage on demand and kept in a small cache so that scrubbing back and
// forth decodes each frame once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <QImage>
#include <QString>

#include "evals/proto/clip.pb.h"
#include "hil/evals/clip_file.h"

namespace hil::viewer {

struct DecodedFrame {
  // One per camera of the header, in its order; a null image where that
  // camera's image is missing or does not decode (why: in `errors`).
  std::vector<QImage> images;  // RGB32
  std::vector<QString> errors;
  hil::clip::Frame labels;  // the frame without its pixels (ground truth, control)
};

class ClipFrames {
 public:
  static constexpr size_t kCacheFrames = 256;

  // Where the blob of `sha256` would be, or nullopt when no file is there.
  static std::optional<std::filesystem::path> locate(const std::filesystem::path& blob_dir,
                                                     const std::string& sha256);

  // Opens the clip; throws hil::evals::ClipError (naming the file) when it is
  // unreadable, std::runtime_error when it is not in `blob_dir`.
  ClipFrames(const std::filesystem::path& blob_dir, const std::string& sha256);

  const std::string& sha256() const { return sha256_; }
  const hil::clip::ClipHeader& header() const { return reader_.header(); }
  uint32_t frame_count() const { return reader_.frame_count(); }
  const std::filesystem::path& file() const { return file_; }

  // Frame k, from the cache or decoded now; nullptr (and error() set) when k
  // is past the readable frames or its record is damaged. A camera image
  // that does not decode leaves the frame readable (DecodedFrame::errors).
  const DecodedFrame* frame(int64_t k);
  const QString& error() const { return error_; }

 private:
  std::string sha256_;
  std::filesystem::path file_;
  hil::evals::ClipReader reader_;
  std::list<int64_t> recent_;  // most recently used first
  std::unordered_map<int64_t, DecodedFrame> cache_;
  QString error_;
};

}  // namespace hil::viewer
