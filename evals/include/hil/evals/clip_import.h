// hil clips import: a recorded drive (a video file or a folder of images per
// camera) plus its labels (JSON lines as evals/proto/labels.proto describes,
// or one KITTI tracking sequence) into one clip.
//
// The frames are decoded sequentially (a frame's index is not always exact
// after seeking in long-GOP video) and stored one by one as JPEG or PNG, each
// with its own index and timestamp. The header lists as truth only what every
// frame can be scored on. Every problem with the input is an ImportError naming
// the file and the line or frame at fault, and leaves nothing in the output
// folder.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "evals/proto/clip.pb.h"

namespace hil::evals {

struct CameraSource {
  std::string name;  // the clip's camera name ("front")
  // A video file (anything OpenCV's FFmpeg backend reads: MP4/H.264, MKV,
  // MJPEG AVI), or a folder of .png/.jpg/.jpeg frames taken in name order.
  std::filesystem::path path;
};

enum class LabelFormat {
  kJsonl,          // labels.proto, one JSON object per line
  kKittiTracking,  // a KITTI tracking label file (label_02/NNNN.txt) and its calib file
};

struct ImportOptions {
  std::vector<CameraSource> cameras;
  std::filesystem::path labels;
  LabelFormat format = LabelFormat::kJsonl;
  std::filesystem::path kitti_calib;  // KITTI only: calib/NNNN.txt
  // KITTI only: the camera the 2D boxes and P2 belong to (the left colour
  // camera, image_02); empty: the first camera.
  std::string kitti_camera;
  // KITTI only: how high the velodyne (KITTI's reference frame) sits above
  // the ground; hil's ego origin is on the ground, so heights are raised by it.
  // 1.73 m on KITTI's car (Geiger et al., "Vision meets Robotics", 2013); 0
  // for data whose velodyne frame is already on the ground.
  double kitti_lidar_height = 1.73;
  // Frames per second; 0: the JSONL clip line's, else the first video's, else 10.
  double fps = 0;
  clip::ImageEncoding encoding = clip::ENCODING_JPEG;  // JPEG or PNG
  uint32_t quality = 90;                               // JPEG quality, 1..100
  std::string name;  // empty: the JSONL clip line's, else the labels file's stem
  std::vector<std::string> tags;
  // Told why a truth token was left out of the header, and similar notes.
  std::function<void(const std::string&)> note;
};

// Bad input. what() is "FILE:LINE: ...", "FILE: frame K: ..." or "FILE: ...".
class ImportError : public std::runtime_error {
 public:
  ImportError(const std::filesystem::path& file, const std::string& what);
  static ImportError at_line(const std::filesystem::path& file, size_t line,
                             const std::string& what);
  static ImportError at_frame(const std::filesystem::path& file, uint32_t frame,
                              const std::string& what);
  const std::string& file() const { return file_; }

 private:
  ImportError(std::string file, std::string message, int);  // message as is
  std::string file_;
};

// Imports the drive into `out_dir/<sha256>.clip` (the folder is created if
// needed) and returns the SHA-256. The clip is written to a temporary file in
// out_dir and renamed when complete; on any error the temporary file is
// removed. Throws ImportError for bad input (videos, images, labels, calib),
// std::invalid_argument for bad options (no camera, a camera named twice,
// quality out of range), std::runtime_error for I/O errors.
std::string import_clip(const ImportOptions& options, const std::filesystem::path& out_dir);

// The scalar ego truth of a frame from its labels, in the generator's meaning:
// lane offset and heading from the two lane lines bracketing the ego (y = 0)
// near x = 0, lead vehicle from the nearest car, truck or cyclist cuboid ahead
// in the ego lane; curvature 0. Returns false when no pair of lane lines
// brackets the ego (offset and heading are then left 0).
bool derive_ego_truth(const clip::Labels& labels, clip::EgoTruth* ego);

}  // namespace hil::evals
