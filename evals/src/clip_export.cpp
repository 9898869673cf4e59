#include "hil/evals/clip_export.h"

#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <fstream>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "evals/proto/labels.pb.h"
#include "hil/evals/camera.h"
#include "hil/evals/clip_generator.h"
#include "hil/evals/model_interface.h"

namespace hil::evals {
namespace fs = std::filesystem;

namespace {

const char* occlusion_name(clip::Visibility v) {
  switch (v) {
    case clip::VISIBLE:
      return "visible";
    case clip::PARTLY_OCCLUDED:
      return "partly";
    case clip::FULLY_OCCLUDED:
      return "fully";
    default:
      return "unknown";
  }
}

const char* kitti_type(clip::ObjectClass c) {
  switch (c) {
    case clip::CLASS_CAR:
      return "Car";
    case clip::CLASS_TRUCK:
      return "Truck";
    case clip::CLASS_PEDESTRIAN:
      return "Pedestrian";
    case clip::CLASS_CYCLIST:
      return "Cyclist";
    default:
      return "Misc";
  }
}

int kitti_occlusion(clip::Visibility v) {
  switch (v) {
    case clip::VISIBLE:
      return 0;
    case clip::PARTLY_OCCLUDED:
      return 1;
    case clip::FULLY_OCCLUDED:
      return 2;
    default:
      return 3;
  }
}

std::string json(const google::protobuf::Message& m, const fs::path& file) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(m, &out, o).ok())
    throw ImportError(file, "cannot write JSON");
  return out;
}

labels::Line jsonl_frame(const clip::Frame& f) {
  labels::Line line;
  line.set_frame(f.index());
  line.set_timestamp(f.timestamp());
  if (f.has_odometry()) {
    line.mutable_ego()->set_speed(f.odometry().speed());
    line.mutable_ego()->set_yaw_rate(f.odometry().yaw_rate());
  }
  if (f.has_control()) {
    line.mutable_ego()->set_steering(f.control().steering());
    line.mutable_ego()->set_acceleration(f.control().acceleration());
  }
  auto lanes = [&](const google::protobuf::RepeatedPtrField<clip::LaneLine>& in, bool edges) {
    for (const auto& l : in) {
      auto* out = line.add_lanes();
      out->set_type(edges                           ? "road_edge"
                    : l.type() == clip::LINE_DASHED ? "dashed"
                    : l.type() == clip::LINE_SOLID  ? "solid"
                                                    : "");
      *out->mutable_points() = l.points();
    }
  };
  lanes(f.labels().lanes(), false);
  lanes(f.labels().road_edges(), true);
  for (const auto& o : f.labels().objects()) {
    auto* out = line.add_objects();
    out->set_track_id(o.track_id());
    out->set_cls(object_class_name(o.cls()));
    if (o.has_cuboid()) *out->mutable_cuboid() = o.cuboid();
    double truncation = 0;
    for (const auto& b : o.boxes()) {
      auto* box = out->add_boxes();
      box->set_camera(b.camera());
      box->set_x0(b.x0()), box->set_y0(b.y0()), box->set_x1(b.x1()), box->set_y1(b.y1());
      truncation = std::max(truncation, b.truncation());
    }
    out->set_occlusion(occlusion_name(o.visibility()));
    out->set_truncation(truncation);
  }
  for (const auto& r : f.labels().ignore_regions()) {
    auto* box = line.add_ignore_regions();
    box->set_camera(r.camera());
    box->set_x0(r.x0()), box->set_y0(r.y0()), box->set_x1(r.x1()), box->set_y1(r.y1());
  }
  return line;
}

// The KITTI camera frame (rectified: x right, y down, z forward) of a hil
// camera: rows are the camera's right, down and forward axes in the ego frame.
Matrix3 ego_to_rect(const clip::Camera& cam) {
  const Matrix3 r = camera_to_ego_rotation(cam.extrinsics());  // columns: forward, left, up
  Matrix3 out{};
  for (int j = 0; j < 3; ++j) {
    out[0][j] = -r[j][1];  // right = -left
    out[1][j] = -r[j][2];  // down = -up
    out[2][j] = r[j][0];   // forward
  }
  return out;
}

std::array<double, 3> apply(const Matrix3& m, const std::array<double, 3>& v) {
  return {m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
          m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
          m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2]};
}

}  // namespace

ExportedDrive export_drive(const ClipReader& clip, const fs::path& out_dir,
                           const ExportOptions& o) {
  const auto& header = clip.header();
  if (header.cameras_size() == 0) throw ImportError(clip.name(), "the clip has no camera");
  fs::create_directories(out_dir);
  ExportedDrive drive;
  drive.fps = header.fps() > 0 ? header.fps() : 10;

  // Frames: one writer per camera, every frame in order.
  std::vector<cv::VideoWriter> writers(static_cast<size_t>(header.cameras_size()));
  for (int c = 0; c < header.cameras_size(); ++c) {
    const auto& cam = header.cameras(c);
    fs::path path = out_dir / cam.name();
    if (o.frames == ExportOptions::Frames::kPng) {
      fs::create_directories(path);
    } else {
      path += o.frames == ExportOptions::Frames::kMp4 ? ".mp4" : ".avi";
      const int fourcc = o.frames == ExportOptions::Frames::kMp4
                             ? cv::VideoWriter::fourcc('m', 'p', '4', 'v')
                             : cv::VideoWriter::fourcc('M', 'J', 'P', 'G');
      writers[static_cast<size_t>(c)].open(
          path.string(), cv::CAP_FFMPEG, fourcc, drive.fps,
          cv::Size(static_cast<int>(cam.width()), static_cast<int>(cam.height())));
      if (!writers[static_cast<size_t>(c)].isOpened()) {
        writers[static_cast<size_t>(c)].open(
            path.string(), fourcc, drive.fps,
            cv::Size(static_cast<int>(cam.width()), static_cast<int>(cam.height())));
      }
      if (!writers[static_cast<size_t>(c)].isOpened())
        throw ImportError(path, "OpenCV cannot write this video");
    }
    drive.cameras.push_back({cam.name(), path});
  }
  std::vector<clip::Frame> frames;
  for (uint32_t k = 0; k < clip.frame_count(); ++k) {
    auto f = clip.frame(k);
    for (int c = 0; c < header.cameras_size(); ++c) {
      const auto& cam = header.cameras(c);
      Image img = clip.image(f, cam.name());
      if (o.frames == ExportOptions::Frames::kPng) {
        write_png(drive.cameras[static_cast<size_t>(c)].path / fmt::format("{:06}.png", k), img);
      } else {
        cv::Mat rgb(static_cast<int>(img.height), static_cast<int>(img.width), CV_8UC3,
                    img.pixels.data()),
            bgr;
        cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
        writers[static_cast<size_t>(c)].write(bgr);
      }
    }
    f.clear_images();
    frames.push_back(std::move(f));
  }
  for (auto& w : writers) w.release();

  if (o.format == LabelFormat::kJsonl) {
    drive.labels = out_dir / "labels.jsonl";
    std::ofstream out(drive.labels);
    labels::Line info;
    auto* ci = info.mutable_clip();
    ci->set_name(header.name());
    ci->set_fps(drive.fps);
    for (const auto& t : header.tags()) ci->add_tags(t);
    for (const auto& cam : header.cameras()) {
      auto* c = ci->add_cameras();
      c->set_name(cam.name());
      *c->mutable_intrinsics() = cam.intrinsics();
      *c->mutable_extrinsics() = cam.extrinsics();
    }
    out << json(info, drive.labels) << "\n";
    for (const auto& f : frames) out << json(jsonl_frame(f), drive.labels) << "\n";
    if (!out) throw ImportError(drive.labels, "write failed");
    return drive;
  }

  // KITTI: the chosen camera is camera 2 with R_rect = I and no baseline; the
  // velodyne is the ego frame raised by the lidar height.
  const clip::Camera* cam =
      o.kitti_camera.empty() ? &header.cameras(0) : find_camera(header, o.kitti_camera);
  if (!cam)
    throw ImportError(clip.name(),
                      fmt::format("no camera '{}' to write KITTI labels for", o.kitti_camera));
  const Matrix3 r = ego_to_rect(*cam);
  const auto& ex = cam->extrinsics();
  // rect = R (velo + (0, 0, h) - camera position) = R velo + t.
  const auto t = apply(r, {-ex.x(), -ex.y(), o.kitti_lidar_height - ex.z()});
  const auto& in = cam->intrinsics();
  drive.calib = out_dir / "calib.txt";
  {
    std::ofstream calib(drive.calib);
    const std::string p =
        fmt::format("{} 0 {} 0 0 {} {} 0 0 0 1 0", in.fx(), in.cx(), in.fy(), in.cy());
    for (int k = 0; k < 4; ++k) calib << fmt::format("P{}: {}\n", k, p);
    calib << "R_rect 1 0 0 0 1 0 0 0 1\n";
    calib << fmt::format("Tr_velo_cam {} {} {} {} {} {} {} {} {} {} {} {}\n", r[0][0], r[0][1],
                         r[0][2], t[0], r[1][0], r[1][1], r[1][2], t[1], r[2][0], r[2][1], r[2][2],
                         t[2]);
    calib << "Tr_imu_velo 1 0 0 0 0 1 0 0 0 0 1 0\n";
    if (!calib) throw ImportError(drive.calib, "write failed");
  }
  drive.labels = out_dir / "labels.txt";
  std::ofstream out(drive.labels);
  for (const auto& f : frames) {
    for (const auto& obj : f.labels().objects()) {
      const clip::Box2D* box = nullptr;
      for (const auto& b : obj.boxes()) {
        if (b.camera() == cam->name()) box = &b;
      }
      if (!box || !obj.has_cuboid()) continue;
      const auto& c = obj.cuboid();
      // The bottom centre in velodyne coordinates (the ego's, lowered by the
      // lidar height), then rectified: R velo + t.
      const auto loc = apply(r, {c.x(), c.y(), c.z() - c.height() / 2 - o.kitti_lidar_height});
      const std::array<double, 3> bottom{loc[0] + t[0], loc[1] + t[1], loc[2] + t[2]};
      const auto heading = apply(r, {std::cos(c.yaw()), std::sin(c.yaw()), 0});
      const double ry = std::atan2(-heading[2], heading[0]);
      const double alpha = ry - std::atan2(bottom[0], bottom[2]);
      out << fmt::format(
          "{} {} {} {:.4f} {} {:.4f} {:.2f} {:.2f} {:.2f} {:.2f} {:.4f} {:.4f} {:.4f} {:.4f} "
          "{:.4f} "
          "{:.4f} {:.6f}\n",
          f.index(), obj.track_id(), kitti_type(obj.cls()), box->truncation(),
          kitti_occlusion(obj.visibility()), alpha, box->x0(), box->y0(), box->x1(), box->y1(),
          c.height(), c.width(), c.length(), bottom[0], bottom[1], bottom[2], ry);
    }
    for (const auto& reg : f.labels().ignore_regions()) {
      if (reg.camera() != cam->name()) continue;
      out << fmt::format(
          "{} -1 DontCare -1 -1 -10 {:.2f} {:.2f} {:.2f} {:.2f} -1 -1 -1 -1000 -1000 -1000 -10\n",
          f.index(), reg.x0(), reg.y0(), reg.x1(), reg.y1());
    }
  }
  if (!out) throw ImportError(drive.labels, "write failed");
  return drive;
}

}  // namespace hil::evals
