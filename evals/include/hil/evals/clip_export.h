// hil clips export: a clip written out as a recorded drive, the inverse of
// `hil clips import`: one video (or image folder) per camera, and the labels
// as JSON lines (labels.proto) or as one KITTI tracking sequence with its
// calib file. For handing clips to other tools, and for the import's tests
// and worked example (docs/clips.md): a generated clip exported and imported
// again gives hil the same ground truth and nearly the same pixels.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "hil/evals/clip_file.h"
#include "hil/evals/clip_import.h"

namespace hil::evals {

struct ExportOptions {
  enum class Frames {
    kMjpegAvi,  // camera.avi, Motion JPEG (OpenCV writes it without FFmpeg)
    kMp4,       // camera.mp4, MPEG-4 part 2 (mp4v) through FFmpeg
    kPng,       // camera/000000.png ... (lossless)
  };
  Frames frames = Frames::kMjpegAvi;
  LabelFormat format = LabelFormat::kJsonl;
  // KITTI: the camera whose 2D boxes are written (default the first); its
  // calibration becomes P2, and objects it does not see are left out.
  std::string kitti_camera;
  double kitti_lidar_height = 1.73;  // as ImportOptions: the velodyne's height above the ground
};

struct ExportedDrive {
  std::vector<CameraSource> cameras;
  std::filesystem::path labels;
  std::filesystem::path calib;  // KITTI only
  double fps = 0;
};

// Writes the drive into `out_dir` (created if needed). Throws ImportError
// naming the file that could not be written.
ExportedDrive export_drive(const ClipReader& clip, const std::filesystem::path& out_dir,
                           const ExportOptions& options);

}  // namespace hil::evals
