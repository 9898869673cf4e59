#include "hil/evals/clip_import.h"

#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <opencv2/videoio/registry.hpp>

#include "evals/proto/labels.pb.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/image.h"
#include "hil/evals/sha256.h"

#ifndef HIL_VERSION_NUMBER
#define HIL_VERSION_NUMBER 0
#endif

namespace hil::evals {
namespace fs = std::filesystem;

// ---------------------------------------------------------------- errors

ImportError::ImportError(std::string file, std::string message, int)
    : std::runtime_error(std::move(message)), file_(std::move(file)) {}

ImportError::ImportError(const fs::path& file, const std::string& what)
    : ImportError(file.string(), fmt::format("{}: {}", file.string(), what), 0) {}

ImportError ImportError::at_line(const fs::path& file, size_t line, const std::string& what) {
  return ImportError(file.string(), fmt::format("{}:{}: {}", file.string(), line, what), 0);
}

ImportError ImportError::at_frame(const fs::path& file, uint32_t frame, const std::string& what) {
  return ImportError(file.string(), fmt::format("{}: frame {}: {}", file.string(), frame, what), 0);
}

namespace {

constexpr double kLaneWidth = 3.6;  // the generator's: "in the ego lane" is within half of it
constexpr double kLeadRange = 60.0;
// Lane points farther than this from the ego (x = 0) do not locate it.
constexpr double kNearEgo = 20.0;
constexpr double kDefaultCameraHeight = 1.4;
constexpr double kDefaultFps = 10.0;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

const char* class_name(clip::ObjectClass c) {
  static constexpr const char* kNames[] = {"unknown",    "car",     "truck",
                                           "pedestrian", "cyclist", "cone"};
  return c >= 0 && c <= 5 ? kNames[c] : "unknown";
}

// ---------------------------------------------------------------- frames

// A camera's frames as the first pass found them.
struct Probe {
  bool folder = false;
  std::vector<fs::path> files;  // a folder's images, in name order
  uint32_t frames = 0;
  uint32_t width = 0, height = 0;
  double fps = 0;  // a video's nominal rate (0 when it has none)
};

bool is_image_file(const fs::path& p) {
  auto ext = lower(p.extension().string());
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

// RGB8 from what VideoCapture returns (BGR8, or gray / BGRA for a few codecs).
Image rgb_from_mat(const cv::Mat& m) {
  cv::Mat rgb;
  switch (m.channels()) {
    case 1:
      cv::cvtColor(m, rgb, cv::COLOR_GRAY2RGB);
      break;
    case 4:
      cv::cvtColor(m, rgb, cv::COLOR_BGRA2RGB);
      break;
    default:
      cv::cvtColor(m, rgb, cv::COLOR_BGR2RGB);
      break;
  }
  Image out(static_cast<uint32_t>(rgb.cols), static_cast<uint32_t>(rgb.rows), 3);
  cv::Mat dst(rgb.rows, rgb.cols, CV_8UC3, out.pixels.data());
  rgb.copyTo(dst);
  return out;
}

cv::VideoCapture open_video(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw ImportError(path, "no such video file or image folder");
  if (!cv::videoio_registry::hasBackend(cv::CAP_FFMPEG)) {
    throw ImportError(path, "cannot decode video: this OpenCV has no FFmpeg backend");
  }
  cv::VideoCapture cap;
  try {
    cap.open(path.string(), cv::CAP_FFMPEG);
  } catch (const cv::Exception& e) {
    throw ImportError(path, fmt::format("cannot open as a video: {}", e.what()));
  }
  if (!cap.isOpened())
    throw ImportError(path, "cannot open as a video (OpenCV's FFmpeg backend refused it)");
  return cap;
}

// Image bytes of a folder's frame k, decoded, or an ImportError naming the file and frame.
Image read_folder_frame(const fs::path& file, uint32_t k) {
  std::string bytes;
  try {
    bytes = read_file(file);
  } catch (const std::exception& e) {
    throw ImportError::at_frame(file, k, e.what());
  }
  try {
    return decode_image(bytes, 3);
  } catch (const std::exception& e) {
    throw ImportError::at_frame(file, k, e.what());
  }
}

// First pass: counts the frames (decoding a video through to its end, since
// containers' frame counts are estimates for some formats) and takes the size
// of the first.
Probe probe_camera(const CameraSource& cam) {
  Probe p;
  std::error_code ec;
  if (fs::is_directory(cam.path, ec)) {
    p.folder = true;
    for (const auto& entry : fs::directory_iterator(cam.path)) {
      if (entry.is_regular_file() && is_image_file(entry.path())) p.files.push_back(entry.path());
    }
    std::sort(p.files.begin(), p.files.end(),
              [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
    if (p.files.empty())
      throw ImportError(cam.path, "the folder holds no .png, .jpg or .jpeg image");
    p.frames = static_cast<uint32_t>(p.files.size());
    Image first = read_folder_frame(p.files[0], 0);
    p.width = first.width;
    p.height = first.height;
    return p;
  }
  cv::VideoCapture cap = open_video(cam.path);
  p.fps = cap.get(cv::CAP_PROP_FPS);
  try {
    cv::Mat frame;
    if (!cap.read(frame) || frame.empty())
      throw ImportError::at_frame(cam.path, 0, "does not decode");
    if (frame.depth() != CV_8U)
      throw ImportError::at_frame(cam.path, 0, "is not 8 bits per channel");
    p.width = static_cast<uint32_t>(frame.cols);
    p.height = static_cast<uint32_t>(frame.rows);
    p.frames = 1;
    while (cap.grab()) ++p.frames;
  } catch (const cv::Exception& e) {
    throw ImportError::at_frame(cam.path, p.frames, fmt::format("does not decode: {}", e.what()));
  }
  return p;
}

// Second pass: the frames in order, checked against the first pass.
class FrameReader {
 public:
  FrameReader(const CameraSource& cam, const Probe& probe) : cam_(cam), probe_(probe) {
    if (!probe.folder) cap_ = open_video(cam.path);
  }

  Image read(uint32_t k) {
    Image image;
    const fs::path& file = probe_.folder ? probe_.files[k] : cam_.path;
    if (probe_.folder) {
      image = read_folder_frame(file, k);
    } else {
      cv::Mat m;
      try {
        if (!cap_.read(m) || m.empty()) {
          throw ImportError::at_frame(
              file, k,
              fmt::format("does not decode (the first pass decoded {} frames)", probe_.frames));
        }
      } catch (const cv::Exception& e) {
        throw ImportError::at_frame(file, k, fmt::format("does not decode: {}", e.what()));
      }
      if (m.depth() != CV_8U) throw ImportError::at_frame(file, k, "is not 8 bits per channel");
      image = rgb_from_mat(m);
    }
    if (image.width != probe_.width || image.height != probe_.height) {
      throw ImportError::at_frame(
          file, k,
          fmt::format("camera '{}': the image is {}x{}, but frame 0 is {}x{}", cam_.name,
                      image.width, image.height, probe_.width, probe_.height));
    }
    return image;
  }

 private:
  const CameraSource& cam_;
  const Probe& probe_;
  cv::VideoCapture cap_;
};

// ---------------------------------------------------------------- labels

// What one frame's labels give, before it is written.
struct FrameTruth {
  size_t line = 0;  // the label line (JSONL), 0 when the frame has none
  std::optional<double> timestamp;
  bool has_control = false;   // steering and acceleration both given
  bool has_odometry = false;  // speed and yaw rate both given
  std::optional<clip::Control> control;
  std::optional<clip::Odometry> odometry;
  clip::Labels labels;
};

struct ParsedLabels {
  std::string format;  // ImportSource.labels_format
  std::vector<FrameTruth> frames;
  std::map<std::string, clip::CameraIntrinsics> intrinsics;
  std::map<std::string, clip::CameraExtrinsics> extrinsics;
  std::string name;
  double fps = 0;
  std::vector<std::string> tags;
  std::vector<std::string> truth;
  std::vector<std::string> notes;  // why truth tokens were left out
};

// Reads a text file's lines (1-based numbering by position), without '\r'.
std::vector<std::string> read_lines(const fs::path& file, const char* what) {
  std::ifstream in(file);
  if (!in) throw ImportError(file, fmt::format("cannot open the {}", what));
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  if (in.bad()) throw ImportError(file, fmt::format("cannot read the {}", what));
  return lines;
}

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

std::string join_names(const std::vector<std::string>& names) {
  return fmt::format("{}", fmt::join(names, ", "));
}

// Checks a box's camera and corners; `what` names the box in messages.
void check_box(const fs::path& file, size_t line, const std::vector<std::string>& cameras,
               const std::string& camera, double x0, double y0, double x1, double y1,
               const std::string& what) {
  if (std::find(cameras.begin(), cameras.end(), camera) == cameras.end()) {
    throw ImportError::at_line(
        file, line,
        fmt::format("{} is on camera '{}', which is not imported (cameras: {})", what, camera,
                    join_names(cameras)));
  }
  for (double v : {x0, y0, x1, y1}) {
    if (!std::isfinite(v))
      throw ImportError::at_line(file, line, fmt::format("{} has a non-finite corner", what));
  }
  if (x1 < x0 || y1 < y0) {
    throw ImportError::at_line(
        file, line,
        fmt::format("{} has x1 < x0 or y1 < y0 ({}, {}, {}, {})", what, x0, y0, x1, y1));
  }
}

clip::ObjectClass jsonl_class(const fs::path& file, size_t line, const std::string& s) {
  static const std::map<std::string, clip::ObjectClass> kClasses = {
      {"car", clip::CLASS_CAR},
      {"truck", clip::CLASS_TRUCK},
      {"pedestrian", clip::CLASS_PEDESTRIAN},
      {"cyclist", clip::CLASS_CYCLIST},
      {"cone", clip::CLASS_CONE},
      {"unknown", clip::CLASS_UNKNOWN}};
  auto it = kClasses.find(s);
  if (it == kClasses.end()) {
    throw ImportError::at_line(
        file, line,
        fmt::format("unknown class '{}' (car, truck, pedestrian, cyclist, cone, unknown)", s));
  }
  return it->second;
}

clip::Visibility jsonl_occlusion(const fs::path& file, size_t line, const std::string& s) {
  if (s.empty() || s == "unknown") return clip::VISIBILITY_UNKNOWN;
  if (s == "visible") return clip::VISIBLE;
  if (s == "partly") return clip::PARTLY_OCCLUDED;
  if (s == "fully") return clip::FULLY_OCCLUDED;
  throw ImportError::at_line(
      file, line, fmt::format("unknown occlusion '{}' (visible, partly, fully, unknown)", s));
}

// Converts one JSONL frame line into the frame's truth.
FrameTruth jsonl_frame(const fs::path& file, size_t n, const labels::Line& msg,
                       const std::vector<std::string>& cameras) {
  FrameTruth t;
  t.line = n;
  auto finite = [&](double v, const std::string& what) {
    if (!std::isfinite(v))
      throw ImportError::at_line(file, n, fmt::format("{} is not a finite number", what));
  };
  if (msg.has_timestamp()) {
    finite(msg.timestamp(), "timestamp");
    t.timestamp = msg.timestamp();
  }
  if (msg.has_ego()) {
    const auto& e = msg.ego();
    // Partial values are kept in the frame; the truth list needs both.
    if (e.has_steering() || e.has_acceleration()) {
      clip::Control c;
      if (e.has_steering()) {
        finite(e.steering(), "ego.steering");
        c.set_steering(e.steering());
      }
      if (e.has_acceleration()) {
        finite(e.acceleration(), "ego.acceleration");
        c.set_acceleration(e.acceleration());
      }
      t.control = c;
    }
    if (e.has_speed() || e.has_yaw_rate()) {
      clip::Odometry o;
      if (e.has_speed()) {
        finite(e.speed(), "ego.speed");
        o.set_speed(e.speed());
      }
      if (e.has_yaw_rate()) {
        finite(e.yaw_rate(), "ego.yaw_rate");
        o.set_yaw_rate(e.yaw_rate());
      }
      t.odometry = o;
    }
    t.has_control = e.has_steering() && e.has_acceleration();
    t.has_odometry = e.has_speed() && e.has_yaw_rate();
  }
  for (int i = 0; i < msg.lanes_size(); ++i) {
    const auto& lane = msg.lanes(i);
    clip::LaneLine* out = nullptr;
    if (lane.type() == "solid" || lane.type() == "dashed" || lane.type().empty()) {
      out = t.labels.add_lanes();
      out->set_type(lane.type() == "solid"    ? clip::LINE_SOLID
                    : lane.type() == "dashed" ? clip::LINE_DASHED
                                              : clip::LINE_UNKNOWN);
    } else if (lane.type() == "road_edge") {
      out = t.labels.add_road_edges();
      out->set_type(clip::LINE_ROAD_EDGE);
    } else {
      throw ImportError::at_line(
          file, n,
          fmt::format("lane {}: unknown type '{}' (solid, dashed, road_edge)", i, lane.type()));
    }
    if (lane.points_size() == 0)
      throw ImportError::at_line(file, n, fmt::format("lane {} has no points", i));
    std::vector<clip::Point2> points(lane.points().begin(), lane.points().end());
    for (const auto& p : points) {
      finite(p.x(), fmt::format("a point of lane {}", i));
      finite(p.y(), fmt::format("a point of lane {}", i));
    }
    std::stable_sort(points.begin(), points.end(),
                     [](const clip::Point2& a, const clip::Point2& b) { return a.x() < b.x(); });
    for (auto& p : points) *out->add_points() = std::move(p);
  }
  for (const auto& o : msg.objects()) {
    const std::string what = fmt::format("object {}", o.track_id());
    auto* obj = t.labels.add_objects();
    obj->set_track_id(o.track_id());
    obj->set_cls(jsonl_class(file, n, o.cls()));
    obj->set_visibility(jsonl_occlusion(file, n, o.occlusion()));
    if (!(o.truncation() >= 0 && o.truncation() <= 1)) {
      throw ImportError::at_line(
          file, n, fmt::format("{}: truncation {} is not in 0..1", what, o.truncation()));
    }
    if (o.has_cuboid()) {
      const auto& c = o.cuboid();
      for (double v : {c.x(), c.y(), c.z(), c.yaw()}) finite(v, what + "'s cuboid");
      if (!(c.length() > 0 && c.width() > 0 && c.height() > 0)) {
        throw ImportError::at_line(
            file, n,
            fmt::format("{}: the cuboid's length, width and height must be positive", what));
      }
      *obj->mutable_cuboid() = c;
    }
    std::set<std::string> seen;
    for (const auto& b : o.boxes()) {
      check_box(file, n, cameras, b.camera(), b.x0(), b.y0(), b.x1(), b.y1(), what + "'s box");
      if (!seen.insert(b.camera()).second) {
        throw ImportError::at_line(
            file, n, fmt::format("{} has two boxes on camera '{}'", what, b.camera()));
      }
      auto* box = obj->add_boxes();
      box->set_camera(b.camera());
      box->set_x0(b.x0());
      box->set_y0(b.y0());
      box->set_x1(b.x1());
      box->set_y1(b.y1());
      box->set_truncation(o.truncation());
      box->set_visible_fraction(1.0);  // unknown
    }
    if (!o.has_cuboid() && o.boxes_size() == 0) {
      throw ImportError::at_line(file, n, fmt::format("{} has neither a cuboid nor a box", what));
    }
  }
  for (const auto& r : msg.ignore_regions()) {
    check_box(file, n, cameras, r.camera(), r.x0(), r.y0(), r.x1(), r.y1(), "an ignore region");
    auto* box = t.labels.add_ignore_regions();
    box->set_camera(r.camera());
    box->set_x0(r.x0());
    box->set_y0(r.y0());
    box->set_x1(r.x1());
    box->set_y1(r.y1());
    box->set_visible_fraction(1.0);
  }
  return t;
}

// The truth tokens JSONL labels support: only what every frame carries.
void jsonl_truth(ParsedLabels& p) {
  auto drop = [&](const char* token, const std::string& why) {
    p.notes.push_back(fmt::format("truth '{}' left out: {}", token, why));
  };
  // The first frame without a label line, if any: every token needs them all.
  std::optional<uint32_t> unlabelled;
  for (uint32_t k = 0; k < p.frames.size() && !unlabelled; ++k) {
    if (p.frames[k].line == 0) unlabelled = k;
  }
  if (unlabelled) {
    p.notes.push_back(fmt::format("no truth listed: frame {} (of {}) has no label line",
                                  *unlabelled, p.frames.size()));
    return;
  }
  auto first = [&](auto pred) -> const FrameTruth* {
    for (const auto& f : p.frames) {
      if (pred(f)) return &f;
    }
    return nullptr;
  };
  auto where = [&](const FrameTruth* f) {
    return fmt::format("frame {} (line {})", static_cast<size_t>(f - p.frames.data()), f->line);
  };

  // Labels without any object cannot tell "nothing there" from "objects not
  // labelled", so they list no object truth.
  bool objects3d = false, objects2d = false;
  const bool any_object =
      first([](const FrameTruth& f) { return f.labels.objects_size() > 0; }) != nullptr;
  if (!any_object) {
    drop("objects.3d", "no frame has an object");
    drop("objects.2d", "no frame has an object");
  } else {
    const FrameTruth* f = first([](const FrameTruth& f) {
      return std::any_of(f.labels.objects().begin(), f.labels.objects().end(),
                         [](const clip::Object& o) { return !o.has_cuboid(); });
    });
    if (f) {
      drop("objects.3d", fmt::format("{} has an object without a cuboid", where(f)));
    } else {
      objects3d = true;
    }
    // An object with a cuboid and no box is outside every image; boxes are
    // taken to be complete once the labels have any.
    objects2d = first([](const FrameTruth& f) {
                  return std::any_of(f.labels.objects().begin(), f.labels.objects().end(),
                                     [](const clip::Object& o) { return o.boxes_size() > 0; });
                }) != nullptr;
    if (!objects2d) drop("objects.2d", "no object has a box");
  }
  const FrameTruth* no_lanes =
      first([](const FrameTruth& f) { return f.labels.lanes_size() == 0; });
  const FrameTruth* no_bracket = first([](const FrameTruth& f) {
    clip::EgoTruth ego;
    return !derive_ego_truth(f.labels, &ego);
  });
  if (no_bracket) {
    drop("ego",
         fmt::format("{} has no pair of lane lines on either side of the ego", where(no_bracket)));
  } else if (!objects3d) {
    drop("ego", "the lead vehicle needs objects.3d");
  } else {
    p.truth.push_back(truth::kEgo);
  }
  if (const auto* f = first([](const FrameTruth& f) { return !f.has_control; })) {
    drop("control", fmt::format("{} lacks ego.steering or ego.acceleration", where(f)));
  } else {
    p.truth.push_back(truth::kControl);
  }
  if (const auto* f = first([](const FrameTruth& f) { return !f.has_odometry; })) {
    drop("odometry", fmt::format("{} lacks ego.speed or ego.yaw_rate", where(f)));
  } else {
    p.truth.push_back(truth::kOdometry);
  }
  if (no_lanes) {
    drop("lanes", fmt::format("{} has no lane line (road edges aside)", where(no_lanes)));
  } else {
    p.truth.push_back(truth::kLanes);
  }
  if (objects3d) p.truth.push_back(truth::kObjects3d);
  if (objects2d) p.truth.push_back(truth::kObjects2d);
}

ParsedLabels parse_jsonl(const fs::path& file, uint32_t frame_count,
                         const std::vector<std::string>& cameras) {
  ParsedLabels p;
  p.format = "jsonl";
  p.frames.resize(frame_count);
  const auto lines = read_lines(file, "labels file");
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // a misspelt field must not drop a label silently
  bool first = true;
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t n = i + 1;
    if (blank(lines[i])) continue;
    labels::Line msg;
    auto status = google::protobuf::util::JsonStringToMessage(lines[i], &msg, options);
    if (!status.ok()) {
      throw ImportError::at_line(
          file, n, fmt::format("not a label line: {}", std::string(status.message())));
    }
    const bool was_first = first;
    first = false;
    if (msg.has_clip()) {
      if (!was_first) throw ImportError::at_line(file, n, "the clip line must be the first line");
      if (msg.has_frame() || msg.has_timestamp() || msg.has_ego() || msg.lanes_size() ||
          msg.objects_size() || msg.ignore_regions_size()) {
        throw ImportError::at_line(
            file, n, "the clip line carries frame fields: put them on a line of their own");
      }
      const auto& c = msg.clip();
      if (!(c.fps() >= 0 && std::isfinite(c.fps()))) {
        throw ImportError::at_line(file, n,
                                   fmt::format("clip fps {} is not a positive number", c.fps()));
      }
      p.name = c.name();
      p.fps = c.fps();
      p.tags.assign(c.tags().begin(), c.tags().end());
      for (const auto& cam : c.cameras()) {
        if (std::find(cameras.begin(), cameras.end(), cam.name()) == cameras.end()) {
          throw ImportError::at_line(
              file, n,
              fmt::format("calibration for camera '{}', which is not imported (cameras: {})",
                          cam.name(), join_names(cameras)));
        }
        if (p.intrinsics.count(cam.name()) || p.extrinsics.count(cam.name())) {
          throw ImportError::at_line(file, n,
                                     fmt::format("camera '{}' is calibrated twice", cam.name()));
        }
        if (cam.has_intrinsics()) {
          if (!(cam.intrinsics().fx() > 0 && cam.intrinsics().fy() > 0)) {
            throw ImportError::at_line(
                file, n, fmt::format("camera '{}': intrinsics need fx > 0 and fy > 0", cam.name()));
          }
          p.intrinsics[cam.name()] = cam.intrinsics();
        }
        if (cam.has_extrinsics()) p.extrinsics[cam.name()] = cam.extrinsics();
      }
      continue;
    }
    if (!msg.has_frame())
      throw ImportError::at_line(file, n, "a label line needs \"frame\" (or \"clip\" on line 1)");
    const uint32_t k = msg.frame();
    if (k >= frame_count) {
      throw ImportError::at_line(
          file, n,
          fmt::format("frame {} does not exist: the cameras have {} frames (0..{})", k, frame_count,
                      frame_count - 1));
    }
    if (p.frames[k].line != 0) {
      throw ImportError::at_line(
          file, n,
          fmt::format("frame {} is labelled twice (also on line {})", k, p.frames[k].line));
    }
    p.frames[k] = jsonl_frame(file, n, msg, cameras);
  }
  jsonl_truth(p);
  return p;
}

// ---------------------------------------------------------------- KITTI

using Vec3 = std::array<double, 3>;
using Mat3 = std::array<std::array<double, 3>, 3>;

Vec3 mul(const Mat3& m, const Vec3& v) {
  return {m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
          m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
          m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2]};
}

Mat3 mul(const Mat3& a, const Mat3& b) {
  Mat3 out{};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      for (int k = 0; k < 3; ++k) out[i][j] += a[i][k] * b[k][j];
    }
  }
  return out;
}

// The inverse by cofactors; nullopt when (nearly) singular.
std::optional<Mat3> inverse(const Mat3& m) {
  const double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
                     m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                     m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  if (!(std::abs(det) > 1e-12)) return std::nullopt;
  Mat3 inv;
  inv[0][0] = (m[1][1] * m[2][2] - m[1][2] * m[2][1]) / det;
  inv[0][1] = (m[0][2] * m[2][1] - m[0][1] * m[2][2]) / det;
  inv[0][2] = (m[0][1] * m[1][2] - m[0][2] * m[1][1]) / det;
  inv[1][0] = (m[1][2] * m[2][0] - m[1][0] * m[2][2]) / det;
  inv[1][1] = (m[0][0] * m[2][2] - m[0][2] * m[2][0]) / det;
  inv[1][2] = (m[0][2] * m[1][0] - m[0][0] * m[1][2]) / det;
  inv[2][0] = (m[1][0] * m[2][1] - m[1][1] * m[2][0]) / det;
  inv[2][1] = (m[0][1] * m[2][0] - m[0][0] * m[2][1]) / det;
  inv[2][2] = (m[0][0] * m[1][1] - m[0][1] * m[1][0]) / det;
  return inv;
}

std::optional<double> parse_number(const std::string& s) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::vector<std::string> split_ws(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  std::string tok;
  while (in >> tok) out.push_back(tok);
  return out;
}

// The calibration of a sequence: the rectified reference camera (KITTI's
// camera 0 after R_rect) is x right, y down, z forward; the velodyne frame,
// which is the ego frame here, is x forward, y left, z up.
struct KittiCalib {
  std::array<double, 12>
      p2{};      // 3x4, row-major: the KITTI camera's projection from rectified coordinates
  Mat3 a{};      // R_rect * Tr_velo_cam's rotation: velodyne -> rectified
  Vec3 b{};      // R_rect * Tr_velo_cam's translation
  Mat3 a_inv{};  // rectified -> velodyne
  double lidar_height = 0;  // the velodyne's height above the ground (the ego origin)

  Vec3 to_ego(const Vec3& rect) const {
    Vec3 v = mul(a_inv, Vec3{rect[0] - b[0], rect[1] - b[1], rect[2] - b[2]});
    v[2] += lidar_height;
    return v;
  }
};

KittiCalib read_kitti_calib(const fs::path& file) {
  // Key -> (numbers expected, aliases). The tracking calib files write "P0:"
  // .. "P3:" with a colon and "R_rect", "Tr_velo_cam", "Tr_imu_velo" without;
  // the devkit's readme (and the object benchmark) say R0_rect, Tr_velo_to_cam
  // and Tr_imu_to_velo.
  struct Key {
    const char* name;
    size_t count;
    std::vector<std::string> aliases;
  };
  static const std::vector<Key> kKeys = {
      {"P0", 12, {"P0"}},
      {"P1", 12, {"P1"}},
      {"P2", 12, {"P2"}},
      {"P3", 12, {"P3"}},
      {"R_rect", 9, {"R_rect", "R0_rect"}},
      {"Tr_velo_cam", 12, {"Tr_velo_cam", "Tr_velo_to_cam"}},
      {"Tr_imu_velo", 12, {"Tr_imu_velo", "Tr_imu_to_velo"}},
  };
  std::map<std::string, std::vector<double>> values;
  const auto lines = read_lines(file, "KITTI calib file");
  for (size_t i = 0; i < lines.size(); ++i) {
    auto tokens = split_ws(lines[i]);
    if (tokens.empty()) continue;
    std::string key = tokens[0];
    if (!key.empty() && key.back() == ':') key.pop_back();
    const Key* known = nullptr;
    for (const auto& k : kKeys) {
      if (std::find(k.aliases.begin(), k.aliases.end(), key) != k.aliases.end()) known = &k;
    }
    if (!known) continue;  // other calibration (raw data's S_00, ...) is not needed
    if (tokens.size() - 1 != known->count) {
      throw ImportError::at_line(
          file, i + 1,
          fmt::format("{} has {} numbers, expected {}", key, tokens.size() - 1, known->count));
    }
    if (values.count(known->name))
      throw ImportError::at_line(file, i + 1, fmt::format("{} is given twice", key));
    std::vector<double> v;
    for (size_t t = 1; t < tokens.size(); ++t) {
      auto x = parse_number(tokens[t]);
      if (!x)
        throw ImportError::at_line(file, i + 1,
                                   fmt::format("{}: '{}' is not a number", key, tokens[t]));
      v.push_back(*x);
    }
    values[known->name] = std::move(v);
  }
  for (const char* needed : {"P2", "R_rect", "Tr_velo_cam"}) {
    if (!values.count(needed)) {
      throw ImportError(file,
                        fmt::format("missing calib key {}{}", needed,
                                    std::string(needed) == "R_rect"        ? " (or R0_rect)"
                                    : std::string(needed) == "Tr_velo_cam" ? " (or Tr_velo_to_cam)"
                                                                           : ":"));
    }
  }
  KittiCalib c;
  std::copy(values["P2"].begin(), values["P2"].end(), c.p2.begin());
  Mat3 r_rect, tr;
  Vec3 t;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      r_rect[i][j] = values["R_rect"][static_cast<size_t>(3 * i + j)];
      tr[i][j] = values["Tr_velo_cam"][static_cast<size_t>(4 * i + j)];
    }
    t[i] = values["Tr_velo_cam"][static_cast<size_t>(4 * i + 3)];
  }
  c.a = mul(r_rect, tr);
  c.b = mul(r_rect, t);
  auto inv = inverse(c.a);
  if (!inv) throw ImportError(file, "R_rect * Tr_velo_cam is singular");
  c.a_inv = *inv;
  if (!(c.p2[0] > 0 && c.p2[5] > 0 && c.p2[10] != 0)) {
    throw ImportError(file,
                      "P2 is not a camera projection (needs P2[0] > 0, P2[5] > 0, P2[10] != 0)");
  }
  return c;
}

// The KITTI camera's intrinsics and its pose in the ego (velodyne) frame.
void kitti_camera(const KittiCalib& c, clip::CameraIntrinsics* in, clip::CameraExtrinsics* ex) {
  const auto& p = c.p2;
  in->set_fx(p[0]);
  in->set_cx(p[2]);
  in->set_fy(p[5]);
  in->set_cy(p[6]);
  // P2 = K [I | t]: camera 2 sits at -t in rectified coordinates (its
  // baseline to the reference camera), with the rectified axes.
  const Mat3 k = {{{p[0], p[1], p[2]}, {p[4], p[5], p[6]}, {p[8], p[9], p[10]}}};
  const auto k_inv = inverse(k);
  Vec3 t{0, 0, 0};
  if (k_inv) t = mul(*k_inv, Vec3{p[3], p[7], p[11]});
  const Vec3 pos = c.to_ego({-t[0], -t[1], -t[2]});
  ex->set_x(pos[0]);
  ex->set_y(pos[1]);
  ex->set_z(pos[2]);
  // hil's camera axes (camera.h: x along the optical axis, y left, z up) are
  // rectified z, -x and -y; their directions in the ego frame are the columns
  // of the camera-to-ego rotation Rz(yaw) * Ry(pitch) * Rx(roll).
  const Vec3 fwd = mul(c.a_inv, Vec3{0, 0, 1});
  const Vec3 left = mul(c.a_inv, Vec3{-1, 0, 0});
  const Vec3 up = mul(c.a_inv, Vec3{0, -1, 0});
  ex->set_yaw(std::atan2(fwd[1], fwd[0]));
  ex->set_pitch(std::asin(std::clamp(-fwd[2] / std::hypot(fwd[0], fwd[1], fwd[2]), -1.0, 1.0)));
  ex->set_roll(std::atan2(left[2], up[2]));
}

std::optional<clip::ObjectClass> kitti_class(const std::string& type, bool* dont_care) {
  *dont_care = false;
  if (type == "Car" || type == "Van") return clip::CLASS_CAR;
  if (type == "Truck" || type == "Tram") return clip::CLASS_TRUCK;
  if (type == "Pedestrian" || type == "Person_sitting") return clip::CLASS_PEDESTRIAN;
  if (type == "Cyclist") return clip::CLASS_CYCLIST;
  if (type == "Misc") return clip::CLASS_UNKNOWN;
  if (type == "DontCare") {
    *dont_care = true;
    return clip::CLASS_UNKNOWN;
  }
  return std::nullopt;
}

ParsedLabels parse_kitti(const fs::path& file, const fs::path& calib_file, uint32_t frame_count,
                         const std::string& camera, double lidar_height) {
  if (calib_file.empty())
    throw ImportError(file, "KITTI labels need their calib file (--kitti-calib)");
  KittiCalib calib = read_kitti_calib(calib_file);
  calib.lidar_height = lidar_height;
  ParsedLabels p;
  p.format = "kitti-tracking";
  p.frames.resize(frame_count);
  kitti_camera(calib, &p.intrinsics[camera], &p.extrinsics[camera]);

  static constexpr const char* kFields[] = {
      "frame",     "track_id",   "type",       "truncated",   "occluded",   "alpha",
      "bbox left", "bbox top",   "bbox right", "bbox bottom", "height",     "width",
      "length",    "location x", "location y", "location z",  "rotation_y", "score"};
  const auto lines = read_lines(file, "KITTI label file");
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t n = i + 1;
    auto tok = split_ws(lines[i]);
    if (tok.empty()) continue;
    if (tok.size() != 17 && tok.size() != 18) {
      throw ImportError::at_line(
          file, n,
          fmt::format("{} fields, expected 17 (frame track_id type truncated occluded alpha "
                      "bbox(4) dimensions(3) location(3) rotation_y) or 18 (with score)",
                      tok.size()));
    }
    std::array<double, 18> v{};
    for (size_t f = 0; f < tok.size(); ++f) {
      if (f == 2) continue;
      auto x = parse_number(tok[f]);
      if (!x)
        throw ImportError::at_line(file, n,
                                   fmt::format("{} '{}' is not a number", kFields[f], tok[f]));
      v[f] = *x;
    }
    auto integer = [&](size_t f) {
      if (v[f] != std::floor(v[f])) {
        throw ImportError::at_line(file, n,
                                   fmt::format("{} '{}' is not an integer", kFields[f], tok[f]));
      }
      return static_cast<int64_t>(v[f]);
    };
    const int64_t frame = integer(0);
    if (frame < 0 || frame >= frame_count) {
      throw ImportError::at_line(
          file, n,
          fmt::format("frame {} does not exist: the cameras have {} frames (0..{})", frame,
                      frame_count, static_cast<int64_t>(frame_count) - 1));
    }
    bool dont_care = false;
    const auto cls = kitti_class(tok[2], &dont_care);
    if (!cls) {
      throw ImportError::at_line(file, n,
                                 fmt::format("unknown type '{}' (Car, Van, Truck, Pedestrian, "
                                             "Person_sitting, Cyclist, Tram, Misc, DontCare)",
                                             tok[2]));
    }
    const double x0 = v[6], y0 = v[7], x1 = v[8], y1 = v[9];
    if (x1 < x0 || y1 < y0) {
      throw ImportError::at_line(
          file, n, fmt::format("bbox right < left or bottom < top ({} {} {} {})", x0, y0, x1, y1));
    }
    auto& labels = p.frames[static_cast<size_t>(frame)].labels;
    if (p.frames[static_cast<size_t>(frame)].line == 0)
      p.frames[static_cast<size_t>(frame)].line = n;
    if (dont_care) {
      auto* r = labels.add_ignore_regions();
      r->set_camera(camera);
      r->set_x0(x0);
      r->set_y0(y0);
      r->set_x1(x1);
      r->set_y1(y1);
      r->set_visible_fraction(1.0);
      continue;
    }
    const int64_t track = integer(1);
    if (track < 0)
      throw ImportError::at_line(file, n, fmt::format("track_id {} on a {}", track, tok[2]));
    // Tracking labels give truncation as 0, 1 or 2 (not, partly, heavily
    // truncated); the object benchmark's fractions are kept as they are.
    double truncation = v[3];
    if (truncation == 1.0 || truncation == 2.0 || truncation == 0.0) {
      truncation = 0.3 * truncation;
    } else if (!(truncation > 0 && truncation < 1)) {
      throw ImportError::at_line(
          file, n, fmt::format("truncated '{}' is not 0, 1, 2 or a fraction", tok[3]));
    }
    const int64_t occluded = integer(4);
    if (occluded < 0 || occluded > 3) {
      throw ImportError::at_line(file, n, fmt::format("occluded '{}' is not 0, 1, 2 or 3", tok[4]));
    }
    static constexpr clip::Visibility kVisibility[] = {
        clip::VISIBLE, clip::PARTLY_OCCLUDED, clip::FULLY_OCCLUDED, clip::VISIBILITY_UNKNOWN};
    const double h = v[10], w = v[11], l = v[12];
    if (!(h > 0 && w > 0 && l > 0)) {
      throw ImportError::at_line(file, n,
                                 fmt::format("dimensions {} {} {} are not all positive", h, w, l));
    }
    auto* o = labels.add_objects();
    o->set_track_id(static_cast<uint32_t>(track));
    o->set_cls(*cls);
    o->set_visibility(kVisibility[occluded]);
    auto* box = o->add_boxes();
    box->set_camera(camera);
    box->set_x0(x0);
    box->set_y0(y0);
    box->set_x1(x1);
    box->set_y1(y1);
    box->set_truncation(truncation);
    box->set_visible_fraction(1.0);  // unknown
    // The location is the bottom centre in rectified camera coordinates (y
    // down); the cuboid's centre is half its height above it in the ego frame.
    const Vec3 bottom = calib.to_ego({v[13], v[14], v[15]});
    // rotation_y turns the object's length axis (its heading) about the
    // camera's y axis (down) from the camera's x axis (right): the heading is
    // (cos ry, 0, -sin ry) in camera coordinates, so ry = -pi/2 drives away
    // from the camera. Turned into the ego frame, yaw = atan2 of its y and x.
    const double ry = v[16];
    const Vec3 heading = mul(calib.a_inv, Vec3{std::cos(ry), 0, -std::sin(ry)});
    auto* c = o->mutable_cuboid();
    c->set_x(bottom[0]);
    c->set_y(bottom[1]);
    c->set_z(bottom[2] + h / 2);
    c->set_length(l);
    c->set_width(w);
    c->set_height(h);
    c->set_yaw(std::atan2(heading[1], heading[0]));
  }
  p.truth = {truth::kObjects3d, truth::kObjects2d};
  return p;
}

// ---------------------------------------------------------------- header

std::string utc_now_iso8601() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Removes the temporary clip unless the import completed.
struct TempFile {
  fs::path path;
  bool keep = false;
  ~TempFile() {
    std::error_code ec;
    if (!keep && !path.empty()) fs::remove(path, ec);
  }
};

}  // namespace

bool derive_ego_truth(const clip::Labels& labels, clip::EgoTruth* ego) {
  ego->Clear();
  // Each lane line's lateral position and slope at x = 0: the segment that
  // spans x = 0, else the two points nearest it (extrapolated).
  std::optional<std::pair<double, double>> left, right;  // (y at x = 0, dy/dx)
  for (const auto& line : labels.lanes()) {
    std::vector<clip::Point2> pts(line.points().begin(), line.points().end());
    if (pts.empty()) continue;
    std::stable_sort(pts.begin(), pts.end(),
                     [](const auto& a, const auto& b) { return a.x() < b.x(); });
    double y = pts[0].y(), slope = 0;
    if (pts.size() == 1) {
      if (std::abs(pts[0].x()) > kNearEgo) continue;
    } else {
      size_t j = 0;  // the first point at or ahead of the ego
      while (j < pts.size() && pts[j].x() < 0) ++j;
      const size_t i = j == 0 ? 0 : j == pts.size() ? pts.size() - 2 : j - 1;
      const auto& a = pts[i];
      const auto& b = pts[i + 1];
      const bool spans = a.x() <= 0 && b.x() >= 0;
      if (!spans && std::min(std::abs(a.x()), std::abs(b.x())) > kNearEgo) continue;
      const double dx = b.x() - a.x();
      slope = dx > 1e-9 ? (b.y() - a.y()) / dx : 0.0;
      y = a.y() - slope * a.x();
    }
    if (y > 0) {
      if (!left || y < left->first) left = {{y, slope}};
    } else {
      if (!right || y > right->first) right = {{y, slope}};
    }
  }
  const bool bracketed = left && right;
  if (bracketed) {
    ego->set_lane_offset(-(left->first + right->first) / 2);
    // A lane turning left ahead (positive slope) means the ego points right
    // of it: ego heading minus lane heading is negative.
    ego->set_lane_heading(-std::atan((left->second + right->second) / 2));
  }
  // The lead: the nearest car, truck or cyclist whose rear is ahead within
  // range and whose centre is within the ego lane (half a lane, plus 0.2 m).
  double lead = 0;
  bool found = false;
  for (const auto& o : labels.objects()) {
    if (o.cls() != clip::CLASS_CAR && o.cls() != clip::CLASS_TRUCK &&
        o.cls() != clip::CLASS_CYCLIST)
      continue;
    if (!o.has_cuboid()) continue;
    const auto& c = o.cuboid();
    const double rear = c.x() - c.length() / 2;
    if (rear > 0 && rear < kLeadRange && std::abs(c.y()) < kLaneWidth / 2 + 0.2 &&
        (!found || rear < lead)) {
      lead = rear;
      found = true;
    }
  }
  if (found) {
    ego->set_lead_present(true);
    ego->set_lead_distance(lead);
  }
  ego->set_curvature(0);
  return bracketed;
}

std::string import_clip(const ImportOptions& options, const fs::path& out_dir) {
  if (options.cameras.empty()) throw std::invalid_argument("import: no camera given");
  std::vector<std::string> names;
  for (const auto& c : options.cameras) {
    if (c.name.empty())
      throw std::invalid_argument(fmt::format("import: camera '{}' has no name", c.path.string()));
    if (std::find(names.begin(), names.end(), c.name) != names.end()) {
      throw std::invalid_argument(fmt::format("import: camera '{}' is given twice", c.name));
    }
    names.push_back(c.name);
  }
  if (options.encoding != clip::ENCODING_JPEG && options.encoding != clip::ENCODING_PNG) {
    throw std::invalid_argument("import: frames are stored as JPEG or PNG");
  }
  if (options.quality < 1 || options.quality > 100) {
    throw std::invalid_argument(
        fmt::format("import: JPEG quality {} is not 1..100", options.quality));
  }
  if (!(options.fps >= 0 && std::isfinite(options.fps))) {
    throw std::invalid_argument(
        fmt::format("import: fps {} is not a positive number", options.fps));
  }
  if (options.labels.empty()) throw std::invalid_argument("import: no labels file given");
  const std::string kitti_cam = options.kitti_camera.empty() ? names[0] : options.kitti_camera;
  if (options.format == LabelFormat::kKittiTracking &&
      std::find(names.begin(), names.end(), kitti_cam) == names.end()) {
    throw std::invalid_argument(
        fmt::format("import: the KITTI camera '{}' is not imported (cameras: {})", kitti_cam,
                    join_names(names)));
  }

  // Pass 1: the frames there are, which must agree across cameras.
  std::vector<Probe> probes;
  for (const auto& c : options.cameras) probes.push_back(probe_camera(c));
  for (size_t i = 1; i < probes.size(); ++i) {
    if (probes[i].frames != probes[0].frames) {
      throw ImportError(
          options.cameras[i].path,
          fmt::format(
              "cameras disagree on the frame count: '{}' ({}) has {} frames, '{}' ({}) has {}",
              options.cameras[0].name, options.cameras[0].path.string(), probes[0].frames,
              options.cameras[i].name, options.cameras[i].path.string(), probes[i].frames));
    }
  }
  const uint32_t frame_count = probes[0].frames;

  // The labels, checked against the frames and cameras before anything is written.
  ParsedLabels labels;
  if (options.format == LabelFormat::kJsonl) {
    labels = parse_jsonl(options.labels, frame_count, names);
  } else {
    labels = parse_kitti(options.labels, options.kitti_calib, frame_count, kitti_cam,
                         options.kitti_lidar_height);
  }

  double fps = options.fps > 0 ? options.fps : labels.fps;
  if (!(fps > 0)) {
    for (const auto& p : probes) {
      // Containers without a rate report 0, and a few 90000 (the time base).
      if (!p.folder && p.fps > 0 && p.fps < 1000) {
        fps = p.fps;
        break;
      }
    }
  }
  if (!(fps > 0)) fps = kDefaultFps;
  // Timestamps must increase, so that frames keep their order in time.
  double prev = -std::numeric_limits<double>::infinity();
  for (uint32_t k = 0; k < frame_count; ++k) {
    const auto& f = labels.frames[k];
    const double ts = f.timestamp.value_or(k / fps);
    if (!(ts > prev)) {
      throw ImportError::at_line(
          options.labels, f.timestamp ? f.line : labels.frames[k - 1].line,
          fmt::format("frame {}'s timestamp {} does not come after frame {}'s ({})", k, ts, k - 1,
                      prev));
    }
    prev = ts;
  }

  clip::ClipHeader header;
  header.set_format_version(kClipFormatVersion);
  std::string name = !options.name.empty()  ? options.name
                     : !labels.name.empty() ? labels.name
                                            : options.labels.stem().string();
  header.set_name(name);
  header.set_clip_id("import:" + name);
  std::vector<std::string> tags = options.tags;
  tags.insert(tags.end(), labels.tags.begin(), labels.tags.end());
  // Object classes present, as the generator tags them, so that gates and
  // the nightly report can slice imported clips by class too.
  std::set<int> classes;
  for (const auto& f : labels.frames) {
    for (const auto& o : f.labels.objects()) classes.insert(o.cls());
  }
  for (int c : classes)
    tags.push_back(fmt::format("class:{}", class_name(static_cast<clip::ObjectClass>(c))));
  std::set<std::string> seen_tags;
  for (const auto& t : tags) {
    if (seen_tags.insert(t).second) header.add_tags(t);
  }
  header.set_fps(fps);
  header.set_frame_count(frame_count);
  for (size_t i = 0; i < options.cameras.size(); ++i) {
    const auto& name_i = names[i];
    auto* cam = header.add_cameras();
    cam->set_name(name_i);
    cam->set_width(probes[i].width);
    cam->set_height(probes[i].height);
    cam->set_channels(3);
    cam->set_encoding(options.encoding);
    if (options.encoding == clip::ENCODING_JPEG) cam->set_quality(options.quality);
    if (auto it = labels.intrinsics.find(name_i); it != labels.intrinsics.end()) {
      *cam->mutable_intrinsics() = it->second;
    } else {
      auto* in = cam->mutable_intrinsics();
      in->set_fx(0.8 * probes[i].width);
      in->set_fy(0.8 * probes[i].width);
      in->set_cx(0.5 * probes[i].width);
      in->set_cy(0.5 * probes[i].height);
    }
    if (auto it = labels.extrinsics.find(name_i); it != labels.extrinsics.end()) {
      *cam->mutable_extrinsics() = it->second;
    } else {
      cam->mutable_extrinsics()->set_z(kDefaultCameraHeight);
    }
  }
  for (const auto& t : labels.truth) header.add_truth(t);
  auto* src = header.mutable_source();
  src->set_labels_format(labels.format);
  for (const auto& c : options.cameras)
    src->add_files(fmt::format("{}={}", c.name, c.path.string()));
  src->add_files(options.labels.string());
  if (!options.kitti_calib.empty() && options.format == LabelFormat::kKittiTracking) {
    src->add_files(options.kitti_calib.string());
  }
  src->set_imported_at(utc_now_iso8601());
  src->set_hil_version(HIL_VERSION_NUMBER);
  if (options.note) {
    for (const auto& n : labels.notes) options.note(n);
  }

  // Pass 2: decode, encode and write the frames into a temporary file that
  // becomes the clip only when complete.
  fs::create_directories(out_dir);
  TempFile tmp;
  {
    std::random_device rd;
    tmp.path = out_dir / fmt::format(".import-{}-{:08x}.tmp", ::getpid(), rd());
  }
  {
    std::vector<FrameReader> readers;
    readers.reserve(options.cameras.size());
    for (size_t i = 0; i < options.cameras.size(); ++i)
      readers.emplace_back(options.cameras[i], probes[i]);
    ClipWriter writer(tmp.path, header);
    for (uint32_t k = 0; k < frame_count; ++k) {
      auto& t = labels.frames[k];
      clip::Frame f;
      f.set_index(k);
      f.set_timestamp(t.timestamp.value_or(k / fps));
      for (size_t i = 0; i < readers.size(); ++i) {
        const Image image = readers[i].read(k);
        auto* img = f.add_images();
        img->set_camera(names[i]);
        img->set_encoding(options.encoding);
        img->set_pixels(options.encoding == clip::ENCODING_JPEG
                            ? encode_jpeg(image, static_cast<int>(options.quality))
                            : encode_png(image));
      }
      if (t.control) *f.mutable_control() = *t.control;
      if (t.odometry) *f.mutable_odometry() = *t.odometry;
      derive_ego_truth(t.labels, t.labels.mutable_ego());
      *f.mutable_labels() = std::move(t.labels);
      writer.write_frame(f);
    }
    writer.finish();
  }
  const std::string sha = sha256_file(tmp.path);
  fs::rename(tmp.path, out_dir / (sha + ".clip"));
  tmp.keep = true;
  return sha;
}

}  // namespace hil::evals
