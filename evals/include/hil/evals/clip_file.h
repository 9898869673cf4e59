// The clip file: a seekable sequence of CRC-protected Protobuf records.
//
//   "HILCLIP1"                                  8-byte magic
//   record(ClipHeader)                          at byte 8
//   record(Frame) * frame_count
//   record(FrameIndex)                          byte offset of every frame
//   u64 LE offset of the FrameIndex record, "HILCEND1"   16-byte trailer
//
// record = u32 LE payload length, u32 LE CRC32 (zlib) of the payload, payload.
// The trailer lets a reader seek to any frame without reading from the start;
// a file whose trailer or index is damaged is scanned from the start and the
// frames before the damage stay readable.
//
// Format 2 (this version) adds, all in the Protobuf messages: several
// cameras each with its own size, intrinsics and extrinsics; frames stored
// per camera as raw RGB8, JPEG or PNG (each frame compressed on its own, so
// random access stays); 2D boxes per camera; ignore regions; and the list of
// ground truth the clip carries (ClipHeader.truth). Format 1 clips (raw
// frames) read as they are; a newer format is refused with its number.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "evals/proto/clip.pb.h"
#include "hil/evals/image.h"

namespace hil::evals {

inline constexpr uint32_t kClipFormatVersion = 2;

// Ground truth a clip can carry, as listed in ClipHeader.truth; suites are
// checked against it before any board is used.
namespace truth {
inline constexpr const char* kEgo = "ego";  // labels.ego: lane offset, heading, curvature, lead
inline constexpr const char* kControl = "control";       // the ego's steering and acceleration
inline constexpr const char* kOdometry = "odometry";     // ego speed and yaw rate
inline constexpr const char* kLanes = "lanes";           // lane lines in the ego frame
inline constexpr const char* kObjects3d = "objects.3d";  // objects with cuboids in the ego frame
inline constexpr const char* kObjects2d = "objects.2d";  // objects with boxes per camera
}  // namespace truth

// What the clip's frames carry: header.truth, or for format 1 clips (which
// predate the list) ego, control, odometry, lanes and 3D objects.
std::vector<std::string> clip_truth(const clip::ClipHeader& header);
bool has_truth(const clip::ClipHeader& header, const std::string& token);

const clip::Camera* find_camera(const clip::ClipHeader& header, const std::string& name);
inline constexpr uint32_t kMaxClipRecordBytes = 64u << 20;

// A damaged or unreadable clip. what() names the file, the frame and the byte
// offset where the damage was found.
class ClipError : public std::runtime_error {
 public:
  ClipError(std::string file, int64_t frame, uint64_t offset, const std::string& what);
  const std::string& file() const { return file_; }
  int64_t frame() const { return frame_; }  // -1 for the header, -2 for the index
  uint64_t offset() const { return offset_; }

 private:
  std::string file_;
  int64_t frame_;
  uint64_t offset_;
};

class ClipWriter {
 public:
  // Creates (truncates) the file and writes the magic and header.
  ClipWriter(const std::filesystem::path& path, const clip::ClipHeader& header);
  ~ClipWriter();
  ClipWriter(const ClipWriter&) = delete;
  ClipWriter& operator=(const ClipWriter&) = delete;

  void write_frame(const clip::Frame& frame);
  // Writes the index and trailer and closes the file. Called by the destructor
  // if not called before (errors there are swallowed: call finish()).
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Serialises a whole clip into memory (the same bytes ClipWriter produces).
std::string encode_clip(const clip::ClipHeader& header, const std::vector<clip::Frame>& frames);

class ClipReader {
 public:
  // Opens a clip file; throws ClipError if not even the header is readable.
  explicit ClipReader(const std::filesystem::path& path);
  // Reads a clip held in memory; `name` is used in error messages.
  ClipReader(std::string bytes, std::string name);
  ~ClipReader();
  ClipReader(ClipReader&&) noexcept;
  ClipReader& operator=(ClipReader&&) noexcept;

  const clip::ClipHeader& header() const;
  // Frames readable through the index (or, for a damaged file, before the damage).
  uint32_t frame_count() const;
  // Reads frame k (seek through the index); throws ClipError on damage.
  clip::Frame frame(uint32_t k) const;
  // Set when the file was damaged: the error found while scanning it.
  const std::optional<std::string>& damage() const;
  const std::string& name() const;
  // Camera `camera`'s image in frame `frame` (read with frame()), decoded to
  // RGB8; throws ClipError naming the clip, frame and camera when the frame
  // has no such image, or it does not decode to the camera's size. `reduce`
  // (2, 4, 8) decodes a JPEG frame at that fraction of its size (other
  // encodings come whole: check the result's size).
  Image image(const clip::Frame& frame, const std::string& camera, uint32_t reduce = 1) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hil::evals
