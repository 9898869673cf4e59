// hil clips import: every input here is written by the test itself (videos
// with cv::VideoWriter, image folders, JSONL and KITTI label and calib files).
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "fixtures.h"
#include "hil/evals/camera.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/clip_import.h"
#include "hil/evals/image.h"
#include "hil/evals/sha256.h"

using namespace hil;
namespace fs = std::filesystem;
using Catch::Contains;

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr uint32_t kW = 96, kH = 64;

// Smooth gradients (tinted per camera) and a bright 24 px block that moves
// 16 px a frame (wrapping after four): one frame's shift changes at least an
// eighth of the pixels, so a frame read out of order differs from the
// expected one by far more than codec noise.
evals::Image pattern(uint32_t k, uint32_t tint, uint32_t w = kW, uint32_t h = kH) {
  evals::Image img(w, h, 3);
  for (uint32_t y = 0; y < h; ++y) {
    for (uint32_t x = 0; x < w; ++x) {
      uint8_t* p = img.at(x, y);
      p[0] = static_cast<uint8_t>(40 + 150 * x / w);
      p[1] = static_cast<uint8_t>(40 + 150 * y / h);
      p[2] = static_cast<uint8_t>(60 + 40 * tint);
      const uint32_t x0 = 8 + (16 * k) % 64;
      if (x >= x0 && x < x0 + 24 && y >= 20 && y < 44) {
        p[0] = 230;
        p[1] = static_cast<uint8_t>(200 - 40 * tint);
        p[2] = 30;
      }
    }
  }
  return img;
}

double mean_abs_diff(const evals::Image& a, const evals::Image& b) {
  REQUIRE(a.width == b.width);
  REQUIRE(a.height == b.height);
  REQUIRE(a.pixels.size() == b.pixels.size());
  double sum = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) sum += std::abs(int(a.pixels[i]) - int(b.pixels[i]));
  return sum / static_cast<double>(a.pixels.size());
}

// Writes frames 0..n-1 of the pattern as a video; false when this OpenCV
// cannot write the codec.
bool write_video(const fs::path& path, const char* fourcc, uint32_t n, uint32_t tint,
                 double fps = 10) {
  cv::VideoWriter w(path.string(), cv::CAP_FFMPEG,
                    cv::VideoWriter::fourcc(fourcc[0], fourcc[1], fourcc[2], fourcc[3]), fps,
                    cv::Size(kW, kH));
  if (!w.isOpened()) return false;
  for (uint32_t k = 0; k < n; ++k) {
    auto img = pattern(k, tint);
    cv::Mat rgb(kH, kW, CV_8UC3, img.pixels.data()), bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    w.write(bgr);
  }
  w.release();
  return true;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

// A folder of frames 000000.png (or .jpg) ... in the pattern.
fs::path write_folder(const fs::path& dir, uint32_t n, uint32_t tint, bool jpeg) {
  fs::create_directories(dir);
  for (uint32_t k = 0; k < n; ++k) {
    auto img = pattern(k, tint);
    write_text(dir / fmt::format("{:06}.{}", k, jpeg ? "jpg" : "png"),
               jpeg ? evals::encode_jpeg(img, 95) : evals::encode_png(img));
  }
  write_text(dir / "README.txt", "not a frame: ignored");
  return dir;
}

bool empty_dir(const fs::path& dir) {
  return !fs::exists(dir) || fs::directory_iterator(dir) == fs::directory_iterator();
}

std::vector<std::string> truth_of(const evals::ClipReader& r) {
  return {r.header().truth().begin(), r.header().truth().end()};
}

// A JSONL frame line for the three-camera drive: ego state, two lane lines
// (left 1.62 m, right -1.98 m at x = 0, both with slope 0.01), a road edge, a
// car ahead in the lane, a pedestrian seen by the left camera and an ignore
// region on the right camera.
std::string jsonl_frame(uint32_t k) {
  return fmt::format(
      R"({{"frame": {0}, "timestamp": {1}, "ego": {{"speed": {2}, "steering": {3}, "acceleration": -0.5, "yaw_rate": 0.02}},)"
      R"( "lanes": [{{"type": "dashed", "points": [{{"x": 30, "y": 1.92}}, {{"x": 3, "y": 1.65}}]}},)"
      R"( {{"type": "solid", "points": [{{"x": 3, "y": -1.95}}, {{"x": 30, "y": -1.68}}]}},)"
      R"( {{"type": "road_edge", "points": [{{"x": 3, "y": -3.5}}, {{"x": 30, "y": -3.5}}]}}],)"
      R"( "objects": [{{"track_id": 7, "class": "car", "cuboid": {{"x": {4}, "y": 0.3, "z": 0.75, "length": 4.5, "width": 1.8, "height": 1.5, "yaw": 0.05}},)"
      R"( "boxes": [{{"camera": "front", "x0": 40, "y0": 20, "x1": 60, "y1": 34}}], "occlusion": "partly", "truncation": 0.1}},)"
      R"( {{"track_id": 9, "class": "pedestrian", "cuboid": {{"x": 4, "y": 6, "z": 0.85, "length": 0.6, "width": 0.6, "height": 1.7, "yaw": 1.5}},)"
      R"( "boxes": [{{"camera": "left", "x0": 10, "y0": 5, "x1": 20, "y1": 50}}], "occlusion": "visible"}}],)"
      R"( "ignore_regions": [{{"camera": "right", "x0": 0, "y0": 0, "x1": 30, "y1": 20}}]}})",
      k, 0.2 * k + 0.01, 10 + k, 0.01 * k, 20 + k);
}

const char* kClipLine =
    R"({"clip": {"name": "drive-0412", "fps": 5, "tags": ["city"], "cameras": [)"
    R"({"name": "front", "intrinsics": {"fx": 100, "fy": 101, "cx": 47, "cy": 30}, "extrinsics": {"x": 1.5, "z": 1.3, "pitch": 0.02}},)"
    R"({"name": "left", "extrinsics": {"x": 1.0, "y": 0.8, "z": 1.2, "yaw": 1.05}}]}})";

}  // namespace

TEST_CASE("derive_ego_truth: lane offset and heading from the bracketing lines, lead from cuboids",
          "[import]") {
  clip::Labels labels;
  auto line = [&](std::vector<std::pair<double, double>> pts) {
    auto* l = labels.add_lanes();
    l->set_type(clip::LINE_DASHED);
    for (auto [x, y] : pts) {
      auto* p = l->add_points();
      p->set_x(x);
      p->set_y(y);
    }
  };
  clip::EgoTruth ego;
  line({{5, 1.4}, {40, 1.4}});  // left only
  CHECK_FALSE(evals::derive_ego_truth(labels, &ego));
  line({{-10, -2.2}, {10, -2.2}});  // right, spanning the ego
  line({{5, -5.8}, {40, -5.8}});    // the next lane's line is not the bracket
  line({{5, 5.0}, {40, 5.0}});
  REQUIRE(evals::derive_ego_truth(labels, &ego));
  CHECK(ego.lane_offset() == Approx(0.4));  // left of the lane centre (-0.4 m)
  CHECK(ego.lane_heading() == Approx(0.0).margin(1e-12));
  CHECK_FALSE(ego.lead_present());

  // A lane turning left ahead (y grows with x): the ego points right of it.
  labels.clear_lanes();
  line({{2, 1.82}, {22, 2.02}});
  line({{2, -1.78}, {22, -1.58}});
  REQUIRE(evals::derive_ego_truth(labels, &ego));
  CHECK(ego.lane_offset() == Approx(0.0).margin(1e-9));
  CHECK(ego.lane_heading() == Approx(-std::atan(0.01)));

  auto object = [&](clip::ObjectClass cls, double x, double y, double length) {
    auto* o = labels.add_objects();
    o->set_cls(cls);
    o->mutable_cuboid()->set_x(x);
    o->mutable_cuboid()->set_y(y);
    o->mutable_cuboid()->set_length(length);
  };
  object(clip::CLASS_PEDESTRIAN, 8, 0, 0.5);  // not a lead
  object(clip::CLASS_CAR, 14, 2.5, 4);        // next lane
  object(clip::CLASS_TRUCK, 30, -1.9, 10);    // in the lane (|y| < 2.0), rear at 25
  object(clip::CLASS_CAR, 70, 0, 4);          // rear at 68: out of range
  object(clip::CLASS_CAR, -3, 0, 4);          // behind
  evals::derive_ego_truth(labels, &ego);
  REQUIRE(ego.lead_present());
  CHECK(ego.lead_distance() == Approx(25));
  object(clip::CLASS_CYCLIST, 12, 0.5, 2);
  evals::derive_ego_truth(labels, &ego);
  CHECK(ego.lead_distance() == Approx(11));
  CHECK(ego.curvature() == 0);
}

TEST_CASE("JSONL import: three cameras from a video and two image folders", "[import]") {
  test::TempDir dir;
  const uint32_t n = 6;
  REQUIRE(write_video(dir / "front.avi", "MJPG", n, 0));
  write_folder(dir / "left", n, 1, /*jpeg=*/false);
  write_folder(dir / "right", n, 2, /*jpeg=*/true);
  std::string jsonl = std::string(kClipLine) + "\n\n";  // a blank line is skipped
  for (uint32_t k = 0; k < n; ++k) jsonl += jsonl_frame(k) + "\n";
  write_text(dir / "labels.jsonl", jsonl);

  evals::ImportOptions o;
  o.cameras = {{"front", dir / "front.avi"}, {"left", dir / "left"}, {"right", dir / "right"}};
  o.labels = dir / "labels.jsonl";
  o.tags = {"drive", "city"};
  std::vector<std::string> notes;
  o.note = [&](const std::string& s) { notes.push_back(s); };
  const auto out = dir / "clips";
  const std::string sha = evals::import_clip(o, out);
  REQUIRE(evals::is_sha256_hex(sha));
  const auto path = out / (sha + ".clip");
  REQUIRE(fs::exists(path));
  CHECK(evals::sha256_file(path) == sha);
  CHECK(std::distance(fs::directory_iterator(out), fs::directory_iterator()) ==
        1);  // no temporary left
  CHECK(notes.empty());

  evals::ClipReader r(path);
  const auto& h = r.header();
  CHECK(h.format_version() == evals::kClipFormatVersion);
  CHECK(h.name() == "drive-0412");
  CHECK(h.fps() == 5);
  CHECK(h.frame_count() == n);
  REQUIRE(r.frame_count() == n);
  CHECK(std::vector<std::string>(h.tags().begin(), h.tags().end()) ==
        std::vector<std::string>{"drive", "city", "class:car", "class:pedestrian"});
  CHECK(truth_of(r) == std::vector<std::string>{"ego", "control", "odometry", "lanes", "objects.3d",
                                                "objects.2d"});
  REQUIRE(h.cameras_size() == 3);
  const char* names[] = {"front", "left", "right"};
  for (int i = 0; i < 3; ++i) {
    const auto& c = h.cameras(i);
    CHECK(c.name() == names[i]);
    CHECK(c.width() == kW);
    CHECK(c.height() == kH);
    CHECK(c.channels() == 3);
    CHECK(c.encoding() == clip::ENCODING_JPEG);
    CHECK(c.quality() == 90);
  }
  // Calibration from the clip line, else the default pinhole 1.4 m up.
  CHECK(h.cameras(0).intrinsics().fx() == 100);
  CHECK(h.cameras(0).intrinsics().fy() == 101);
  CHECK(h.cameras(0).extrinsics().x() == 1.5);
  CHECK(h.cameras(0).extrinsics().pitch() == 0.02);
  CHECK(h.cameras(1).intrinsics().fx() == Approx(0.8 * kW));  // left: extrinsics only
  CHECK(h.cameras(1).extrinsics().yaw() == 1.05);
  CHECK(h.cameras(2).intrinsics().fx() == Approx(0.8 * kW));
  CHECK(h.cameras(2).intrinsics().cx() == Approx(kW / 2.0));
  CHECK(h.cameras(2).intrinsics().cy() == Approx(kH / 2.0));
  CHECK(h.cameras(2).extrinsics().z() == Approx(1.4));
  CHECK(h.source().labels_format() == "jsonl");
  REQUIRE(h.source().files_size() == 4);
  CHECK(h.source().files(0) == "front=" + (dir / "front.avi").string());
  CHECK(h.source().files(3) == (dir / "labels.jsonl").string());
  CHECK(h.source().imported_at().size() == 20);  // 2024-01-02T03:04:05Z
  CHECK(h.source().hil_version() == 100);        // 0.1.0

  // JPEG at quality 90 (4:2:0) of smooth gradients and one sharp-edged block
  // differs from its source by 1-2 levels per channel on average; the MJPEG
  // video adds a second lossy pass (2.3 at worst here on OpenCV 4.6). 4
  // leaves room for other codec builds and stays well below the 8.9 levels
  // (at least) between consecutive frames, so a frame out of order fails.
  const double kJpegTolerance = 4.0;
  double worst = 0;
  for (uint32_t k = 0; k < n; ++k) {
    const auto f = r.frame(k);
    CHECK(f.index() == k);
    CHECK(f.timestamp() == Approx(0.2 * k + 0.01));
    for (uint32_t i = 0; i < 3; ++i) {
      const auto img = r.image(f, names[i]);
      const double d = mean_abs_diff(img, pattern(k, i));
      worst = std::max(worst, d);
      CHECK(d < kJpegTolerance);
      if (k + 1 < n) CHECK(mean_abs_diff(img, pattern(k + 1, i)) > 6.0);
    }
    CHECK(f.control().steering() == Approx(0.01 * k));
    CHECK(f.control().acceleration() == -0.5);
    CHECK(f.odometry().speed() == 10 + k);
    CHECK(f.odometry().yaw_rate() == 0.02);
    const auto& l = f.labels();
    REQUIRE(l.lanes_size() == 2);
    CHECK(l.lanes(0).type() == clip::LINE_DASHED);
    CHECK(l.lanes(0).points(0).x() == 3);  // sorted by x
    CHECK(l.lanes(1).type() == clip::LINE_SOLID);
    REQUIRE(l.road_edges_size() == 1);
    CHECK(l.road_edges(0).type() == clip::LINE_ROAD_EDGE);
    REQUIRE(l.objects_size() == 2);
    const auto& car = l.objects(0);
    CHECK(car.track_id() == 7);
    CHECK(car.cls() == clip::CLASS_CAR);
    CHECK(car.visibility() == clip::PARTLY_OCCLUDED);
    CHECK(car.cuboid().x() == 20 + k);
    CHECK(car.cuboid().yaw() == 0.05);
    REQUIRE(car.boxes_size() == 1);
    CHECK(car.boxes(0).camera() == "front");
    CHECK(car.boxes(0).x1() == 60);
    CHECK(car.boxes(0).truncation() == 0.1);
    const auto& ped = l.objects(1);
    CHECK(ped.cls() == clip::CLASS_PEDESTRIAN);
    CHECK(ped.visibility() == clip::VISIBLE);
    CHECK(ped.boxes(0).camera() == "left");
    REQUIRE(l.ignore_regions_size() == 1);
    CHECK(l.ignore_regions(0).camera() == "right");
    CHECK(l.ignore_regions(0).x1() == 30);
    // Derived ego truth: lines at 1.62 and -1.98 m, slope 0.01; car rear at 20 + k - 2.25.
    CHECK(l.ego().lane_offset() == Approx(0.18));
    CHECK(l.ego().lane_heading() == Approx(-std::atan(0.01)));
    CHECK(l.ego().lead_present());
    CHECK(l.ego().lead_distance() == Approx(17.75 + k));
  }
  INFO("worst mean absolute difference " << worst);
  CHECK(worst > 0);
}

TEST_CASE("PNG import of an image folder is lossless; truth lists only what every frame has",
          "[import]") {
  test::TempDir dir;
  const uint32_t n = 4;
  write_folder(dir / "cam", n, 1, /*jpeg=*/false);
  // No clip line, no timestamps: fps 10 (a folder has no rate), name from
  // the file. Objects in 2D only and no ego state: objects.2d alone.
  std::string jsonl;
  for (uint32_t k = 0; k < n; ++k) {
    jsonl += fmt::format(
        R"({{"frame": {}, "ego": {{"speed": 3}}, "objects": [{{"track_id": 1, "class": "cone", "boxes": [{{"camera": "cam", "x0": 1, "y0": 2, "x1": 3, "y1": 4}}]}}]}})"
        "\n",
        n - 1 - k);  // any order
  }
  write_text(dir / "drive7.jsonl", jsonl);
  evals::ImportOptions o;
  o.cameras = {{"cam", dir / "cam"}};
  o.labels = dir / "drive7.jsonl";
  o.encoding = clip::ENCODING_PNG;
  std::vector<std::string> notes;
  o.note = [&](const std::string& s) { notes.push_back(s); };
  const auto sha = evals::import_clip(o, dir / "out");
  evals::ClipReader r(dir / "out" / (sha + ".clip"));
  CHECK(r.header().name() == "drive7");
  CHECK(r.header().fps() == 10);
  CHECK(r.header().cameras(0).encoding() == clip::ENCODING_PNG);
  CHECK(r.header().cameras(0).quality() == 0);
  CHECK(truth_of(r) == std::vector<std::string>{"objects.2d"});
  // Why the others are left out.
  auto noted = [&](const std::string& token) {
    return std::any_of(notes.begin(), notes.end(), [&](const std::string& s) {
      return s.find("'" + token + "' left out") != std::string::npos;
    });
  };
  CHECK(noted("ego"));
  CHECK(noted("control"));
  CHECK(noted("odometry"));
  CHECK(noted("lanes"));
  CHECK(noted("objects.3d"));
  for (uint32_t k = 0; k < n; ++k) {
    const auto f = r.frame(k);
    CHECK(f.timestamp() == Approx(k / 10.0));
    CHECK(r.image(f, "cam").pixels == pattern(k, 1).pixels);
    CHECK(f.odometry().speed() == 3);  // partial ego state is kept
    CHECK(f.labels().objects(0).cls() == clip::CLASS_CONE);
    CHECK_FALSE(f.labels().objects(0).has_cuboid());
  }

  SECTION("a frame without a label line: no truth at all") {
    write_text(dir / "sparse.jsonl", R"({"frame": 1, "ego": {"speed": 3}})"
                                     "\n");
    o.labels = dir / "sparse.jsonl";
    notes.clear();
    evals::ClipReader sparse(dir / "out" / (evals::import_clip(o, dir / "out") + ".clip"));
    CHECK(sparse.header().truth_size() == 0);
    REQUIRE(notes.size() == 1);
    CHECK_THAT(notes[0], Contains("frame 0 (of 4) has no label line"));
  }
}

TEST_CASE("MP4 videos import when this OpenCV can write them", "[import]") {
  // Inter-frame codecs at OpenCV's default bit rate, then JPEG q90: 2.9 at
  // worst here for either codec; 5 is a looser bound than for MJPEG that
  // still fails a frame out of order (8.9 or more).
  struct Codec {
    const char* fourcc;
    double tolerance;
  };
  for (const Codec& codec : {Codec{"mp4v", 5.0}, Codec{"avc1", 5.0}}) {
    DYNAMIC_SECTION("codec " << codec.fourcc) {
      test::TempDir dir;
      const uint32_t n = 8;
      if (!write_video(dir / "front.mp4", codec.fourcc, n, 0, 12.5)) {
        WARN("this OpenCV cannot write " << codec.fourcc << " MP4: skipped");
        continue;
      }
      std::string jsonl;
      for (uint32_t k = 0; k < n; ++k) jsonl += fmt::format(R"({{"frame": {}}})", k) + "\n";
      write_text(dir / "labels.jsonl", jsonl);
      evals::ImportOptions o;
      o.cameras = {{"front", dir / "front.mp4"}};
      o.labels = dir / "labels.jsonl";
      evals::ClipReader r(dir / "out" / (evals::import_clip(o, dir / "out") + ".clip"));
      CHECK(r.header().fps() == Approx(12.5));  // the video's rate
      REQUIRE(r.frame_count() == n);
      double worst = 0;
      for (uint32_t k = 0; k < n; ++k) {
        const auto f = r.frame(k);
        CHECK(f.timestamp() == Approx(k / 12.5));
        const auto img = r.image(f, "front");
        const double d = mean_abs_diff(img, pattern(k, 0));
        worst = std::max(worst, d);
        CHECK(d < codec.tolerance);
        if (k + 1 < n) CHECK(mean_abs_diff(img, pattern(k + 1, 0)) > 6.0);
      }
      INFO(codec.fourcc << " worst mean absolute difference " << worst);
      CHECK(worst < codec.tolerance);
    }
  }
}

namespace {

// KITTI calib with the reference camera's axes swapped from the velodyne's
// (x_cam = -y_velo, y_cam = -z_velo, z_cam = x_velo), translated by
// (0, -0.08, -0.27) in camera coordinates, R_rect the identity, and camera 2
// 0.06 m left of the reference camera (P2[3] = fx * 0.06).
std::string axis_swap_calib(bool readme_names) {
  const char* p = "700 0 48 0 0 700 32 0 0 0 1 0";
  return fmt::format(
      "P0: {0}\nP1: 700 0 48 -378 0 700 32 0 0 0 1 0\nP2: 700 0 48 42 0 700 32 0 0 0 1 0\nP3: {0}\n"
      "{1} 1 0 0 0 1 0 0 0 1\n{2} 0 -1 0 0 0 0 -1 -0.08 1 0 0 -0.27\n{3} 1 0 0 0 0 1 0 0 0 0 1 0\n",
      p, readme_names ? "R0_rect:" : "R_rect", readme_names ? "Tr_velo_to_cam:" : "Tr_velo_cam",
      readme_names ? "Tr_imu_to_velo:" : "Tr_imu_velo");
}

}  // namespace

TEST_CASE("KITTI tracking import: classes, DontCare, and cuboids in the ego frame", "[import]") {
  test::TempDir dir;
  const uint32_t n = 4;
  write_folder(dir / "image_02", n, 0, /*jpeg=*/false);
  const bool readme_names = GENERATE(false, true);
  write_text(dir / "calib.txt", axis_swap_calib(readme_names));
  // frame track type truncated occluded alpha bbox(4) h w l x y z ry [score]
  write_text(dir / "0001.txt",
             "0 7 Car 1 2 -1.67 40.5 30.0 60.0 50.0 1.5 1.8 4.0 2.5 1.5 20.0 -1.5707963267948966\n"
             "0 -1 DontCare -1 -1 -10 5 6 15 16 -1 -1 -1 -1000 -1000 -1000 -10\n"
             "1 8 Cyclist 0 0 0.5 10 10 20 30 1.7 0.6 1.8 -1.0 1.6 9.0 0.7853981633974483 0.93\n"
             "\n"
             "2 9 Van 0.25 3 0 1 2 3 4 2.0 1.9 5.0 -3.0 1.6 12.0 0\n"
             "2 10 Person_sitting 2 1 0 1 2 3 4 1.0 0.5 0.5 1.0 1.6 8.0 3.141592653589793\n"
             "2 11 Tram 0 0 0 1 2 3 4 3.0 2.5 15.0 1.0 1.6 40.0 -1.5707963267948966\n"
             "2 12 Misc 0 0 0 1 2 3 4 1.0 1.0 1.0 1.0 1.6 30.0 0\n");
  evals::ImportOptions o;
  o.cameras = {{"cam2", dir / "image_02"}};
  o.labels = dir / "0001.txt";
  o.format = evals::LabelFormat::kKittiTracking;
  o.kitti_calib = dir / "calib.txt";
  const auto sha = evals::import_clip(o, dir / "out");
  evals::ClipReader r(dir / "out" / (sha + ".clip"));
  const auto& h = r.header();
  CHECK(truth_of(r) == std::vector<std::string>{"objects.3d", "objects.2d"});
  CHECK(h.source().labels_format() == "kitti-tracking");
  CHECK(h.source().files(2) == (dir / "calib.txt").string());
  REQUIRE(r.frame_count() == n);
  const auto& cam = h.cameras(0);
  CHECK(cam.intrinsics().fx() == 700);
  CHECK(cam.intrinsics().fy() == 700);
  CHECK(cam.intrinsics().cx() == 48);
  CHECK(cam.intrinsics().cy() == 32);
  // Camera 2's centre: (-0.06, 0, 0) in camera coordinates, minus the
  // translation (0, -0.08, -0.27) = (-0.06, 0.08, 0.27), axes swapped back:
  // x = 0.27, y = 0.06 (left), z = -0.08 below the velodyne, which is 1.73 m
  // above the ground: 1.65 m up, as on KITTI's car. It looks straight ahead.
  CHECK(cam.extrinsics().x() == Approx(0.27));
  CHECK(cam.extrinsics().y() == Approx(0.06));
  CHECK(cam.extrinsics().z() == Approx(1.65));
  CHECK(cam.extrinsics().yaw() == Approx(0).margin(1e-12));
  CHECK(cam.extrinsics().pitch() == Approx(0).margin(1e-12));
  CHECK(cam.extrinsics().roll() == Approx(0).margin(1e-12));

  auto f0 = r.frame(0);
  REQUIRE(f0.labels().objects_size() == 1);
  const auto& car = f0.labels().objects(0);
  CHECK(car.track_id() == 7);
  CHECK(car.cls() == clip::CLASS_CAR);
  CHECK(car.visibility() == clip::FULLY_OCCLUDED);  // occluded 2
  REQUIRE(car.boxes_size() == 1);
  CHECK(car.boxes(0).camera() == "cam2");
  CHECK(car.boxes(0).x0() == 40.5);
  CHECK(car.boxes(0).y1() == 50.0);
  CHECK(car.boxes(0).truncation() == Approx(0.3));  // truncated 1
  // Bottom centre (2.5, 1.5, 20) in camera coordinates: minus the translation
  // (2.5, 1.58, 20.27); in the ego frame x = 20.27, y = -2.5 (right), z = -1.58
  // below the velodyne, so 0.15 m above the ground; centre 0.75 m higher.
  // Driving away from the camera (ry = -pi/2): the ego's heading, yaw 0.
  CHECK(car.cuboid().x() == Approx(20.27));
  CHECK(car.cuboid().y() == Approx(-2.5));
  CHECK(car.cuboid().z() == Approx(0.90));
  CHECK(car.cuboid().length() == 4.0);
  CHECK(car.cuboid().width() == 1.8);
  CHECK(car.cuboid().height() == 1.5);
  CHECK(car.cuboid().yaw() == Approx(0).margin(1e-9));
  REQUIRE(f0.labels().ignore_regions_size() == 1);
  CHECK(f0.labels().ignore_regions(0).camera() == "cam2");
  CHECK(f0.labels().ignore_regions(0).x0() == 5);
  CHECK(f0.labels().ignore_regions(0).y1() == 16);
  // The projection through the imported camera lands where P2 puts the KITTI
  // location: u = (700 * 2.5 + 48 * 20 + 42) / 20 = 137.6, v = (700 * 1.5 + 32 * 20) / 20 = 84.5.
  double u = 0, v = 0;
  REQUIRE(evals::project_point(cam, car.cuboid().x(), car.cuboid().y(), car.cuboid().z() - 0.75, &u,
                               &v));
  CHECK(u == Approx(137.6));
  CHECK(v == Approx(84.5));
  CHECK_FALSE(f0.labels().ego().lead_present());  // 2.5 m right of the ego: not in its lane

  auto f1 = r.frame(1);
  REQUIRE(f1.labels().objects_size() == 1);
  const auto& cyclist = f1.labels().objects(0);
  CHECK(cyclist.cls() == clip::CLASS_CYCLIST);
  CHECK(cyclist.visibility() == clip::VISIBLE);
  CHECK(cyclist.boxes(0).truncation() == 0);
  // ry = pi/4: heading (cos, 0, -sin) = right and towards the camera, i.e.
  // backwards and right in the ego frame: yaw -3pi/4 (= -ry - pi/2).
  CHECK(cyclist.cuboid().yaw() == Approx(-3 * kPi / 4));
  CHECK(cyclist.cuboid().x() == Approx(9.27));
  CHECK(cyclist.cuboid().y() == Approx(1.0));
  // In the ego lane and ahead: the lead, rear at 9.27 - 0.9.
  CHECK(f1.labels().ego().lead_present());
  CHECK(f1.labels().ego().lead_distance() == Approx(8.37));

  auto f2 = r.frame(2);
  REQUIRE(f2.labels().objects_size() == 4);
  const auto& van = f2.labels().objects(0);
  CHECK(van.cls() == clip::CLASS_CAR);
  CHECK(van.visibility() == clip::VISIBILITY_UNKNOWN);  // occluded 3
  CHECK(van.boxes(0).truncation() == 0.25);             // a fraction is kept
  CHECK(van.cuboid().x() == Approx(12.27));
  CHECK(van.cuboid().y() == Approx(3.0));
  CHECK(van.cuboid().z() == Approx(-1.68 + 1.0 + 1.73));  // 1.73: the velodyne above the ground
  // ry = 0: heading along the camera's x (right): yaw -pi/2 in the ego frame.
  CHECK(van.cuboid().yaw() == Approx(-kPi / 2));
  const auto& person = f2.labels().objects(1);
  CHECK(person.cls() == clip::CLASS_PEDESTRIAN);
  CHECK(person.boxes(0).truncation() == Approx(0.6));  // truncated 2
  CHECK(person.visibility() == clip::PARTLY_OCCLUDED);
  CHECK(std::abs(person.cuboid().yaw()) == Approx(kPi / 2));  // ry = pi: heading left
  CHECK(person.cuboid().yaw() > 0);
  CHECK(f2.labels().objects(2).cls() == clip::CLASS_TRUCK);    // Tram
  CHECK(f2.labels().objects(3).cls() == clip::CLASS_UNKNOWN);  // Misc

  // A frame without label lines has no objects.
  auto f3 = r.frame(3);
  CHECK(f3.labels().objects_size() == 0);
  CHECK(f3.labels().ignore_regions_size() == 0);
  CHECK(h.fps() == 10);
}

TEST_CASE("KITTI calib: a rotated, offset camera's pose is recovered and projects like P2",
          "[import]") {
  // Choose a camera pose (yawed, pitched and rolled, as camera.h defines them)
  // and a rectifying rotation, write the KITTI calib that describes them, and
  // check the importer recovers the pose and projects a box where P2 does.
  clip::CameraExtrinsics chosen;
  chosen.set_x(1.2);
  chosen.set_y(0.3);
  chosen.set_z(-0.1);
  chosen.set_yaw(0.3);
  chosen.set_pitch(0.05);
  chosen.set_roll(0.02);
  const auto r_ce = evals::camera_to_ego_rotation(chosen);  // camera axes -> ego
  // Rectified axes in hil's camera axes: x = -y_cam, y = -z_cam, z = x_cam.
  // A = velodyne -> rectified = H * R_ce^T, with H the hil -> rectified swap.
  const double hswap[3][3] = {{0, -1, 0}, {0, 0, -1}, {1, 0, 0}};
  double a[3][3] = {};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      for (int k = 0; k < 3; ++k) a[i][j] += hswap[i][k] * r_ce[j][k];
    }
  }
  // R_rect: a small rotation about x by 0.01 rad; Tr = R_rect^T * A.
  const double c = std::cos(0.01), s = std::sin(0.01);
  const double rr[3][3] = {{1, 0, 0}, {0, c, -s}, {0, s, c}};
  double tr[3][3] = {};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      for (int k = 0; k < 3; ++k) tr[i][j] += rr[k][i] * a[k][j];
    }
  }
  // The reference camera sits 0.06 m right of camera 2 (P2's baseline), so
  // that camera 2 ends up at the chosen position: C0 = C2 + A^T (0.06, 0, 0).
  double c0[3], b[3] = {}, t[3] = {};
  const double pos[3] = {chosen.x(), chosen.y(), chosen.z()};
  for (int i = 0; i < 3; ++i) c0[i] = pos[i] + a[0][i] * 0.06;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) b[i] -= a[i][j] * c0[j];  // rect = A (p - C0)
  }
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) t[i] += rr[j][i] * b[j];  // Tr's translation = R_rect^T b
  }
  std::string calib = "P2: 700 0 48 42 0 700 32 0 0 0 1 0\nR_rect";
  for (auto& row : rr) calib += fmt::format(" {:.17g} {:.17g} {:.17g}", row[0], row[1], row[2]);
  calib += "\nTr_velo_cam";
  for (int i = 0; i < 3; ++i)
    calib += fmt::format(" {:.17g} {:.17g} {:.17g} {:.17g}", tr[i][0], tr[i][1], tr[i][2], t[i]);
  calib += "\n";

  test::TempDir dir;
  write_folder(dir / "img", 1, 0, false);
  write_text(dir / "calib.txt", calib);
  // A car 15 m ahead of camera 2, 1.2 m below it, driving away from it.
  write_text(dir / "labels.txt",
             "0 1 Car 0 0 0 30 20 60 40 1.5 1.8 4.0 0.5 1.2 15.0 -1.5707963267948966\n");
  evals::ImportOptions o;
  o.cameras = {{"front", dir / "img"}};
  o.labels = dir / "labels.txt";
  o.format = evals::LabelFormat::kKittiTracking;
  o.kitti_calib = dir / "calib.txt";
  o.kitti_lidar_height = 0;  // the chosen pose is relative to the velodyne itself
  evals::ClipReader r(dir / "out" / (evals::import_clip(o, dir / "out") + ".clip"));
  const auto& cam = r.header().cameras(0);
  // R_rect and Tr_velo_cam together give the chosen pose back.
  CHECK(cam.extrinsics().x() == Approx(1.2).margin(1e-9));
  CHECK(cam.extrinsics().y() == Approx(0.3).margin(1e-9));
  CHECK(cam.extrinsics().z() == Approx(-0.1).margin(1e-9));
  CHECK(cam.extrinsics().yaw() == Approx(0.3).margin(1e-9));
  CHECK(cam.extrinsics().pitch() == Approx(0.05).margin(1e-9));
  CHECK(cam.extrinsics().roll() == Approx(0.02).margin(1e-9));
  // P2's projection of the KITTI bottom centre (0.5, 1.2, 15), in pixels.
  const double u_p2 = (700 * 0.5 + 48 * 15 + 42) / 15.0, v_p2 = (700 * 1.2 + 32 * 15) / 15.0;
  const auto frame = r.frame(0);  // by value: a reference into a temporary would dangle
  const auto& car = frame.labels().objects(0);
  double u = 0, v = 0;
  REQUIRE(evals::project_point(cam, car.cuboid().x(), car.cuboid().y(), car.cuboid().z() - 0.75, &u,
                               &v));
  CHECK(u == Approx(u_p2).epsilon(1e-9));
  CHECK(v == Approx(v_p2).epsilon(1e-9));
  // Driving along the camera's optical axis: the cuboid's yaw is the
  // optical axis's heading in the ego frame.
  CHECK(car.cuboid().yaw() == Approx(cam.extrinsics().yaw()).margin(1e-9));
}

TEST_CASE("bad input is refused naming the file and line or frame, leaving nothing behind",
          "[import]") {
  test::TempDir dir;
  const uint32_t n = 6;
  REQUIRE(write_video(dir / "front.avi", "MJPG", n, 0));
  write_folder(dir / "left", n, 1, false);
  write_folder(dir / "right", n, 2, true);
  const auto out = dir / "out";
  evals::ImportOptions o;
  o.cameras = {{"front", dir / "front.avi"}, {"left", dir / "left"}, {"right", dir / "right"}};
  o.labels = dir / "labels.jsonl";
  write_text(o.labels, jsonl_frame(0) + "\n");
  REQUIRE_NOTHROW(evals::import_clip(o, dir / "good"));  // the inputs themselves are fine

  auto jsonl = [&](const std::string& text) {
    write_text(dir / "labels.jsonl", text);
    o.labels = dir / "labels.jsonl";
  };
  auto kitti = [&](const std::string& labels, const std::string& calib) {
    write_text(dir / "0003.txt", labels);
    write_text(dir / "calib.txt", calib);
    o.labels = dir / "0003.txt";
    o.kitti_calib = dir / "calib.txt";
    o.format = evals::LabelFormat::kKittiTracking;
  };
  const std::string car_line = "0 1 Car 0 0 0 1 2 3 4 1.5 1.8 4.0 0 1.6 10 0\n";

  SECTION("a video that cannot be opened") {
    write_text(dir / "garbage.mp4", "this is not a video\n");
    o.cameras[0].path = dir / "garbage.mp4";
    REQUIRE_THROWS_WITH(evals::import_clip(o, out),
                        Contains("garbage.mp4") && Contains("cannot open as a video"));
  }
  SECTION("a video that does not exist") {
    o.cameras[0].path = dir / "missing.avi";
    REQUIRE_THROWS_AS(evals::import_clip(o, out), evals::ImportError);
    REQUIRE_THROWS_WITH(evals::import_clip(o, out), Contains("missing.avi"));
  }
  SECTION("a video whose frames do not decode") {
    // Keep the AVI's headers and index, overwrite the JPEG data of every frame.
    std::string bytes = evals::read_file(dir / "front.avi");
    for (size_t pos = bytes.find("\xff\xd8\xff"); pos != std::string::npos;
         pos = bytes.find("\xff\xd8\xff", pos + 1)) {
      for (size_t i = pos; i < std::min(bytes.size(), pos + 600); ++i) bytes[i] = 0x55;
    }
    write_text(dir / "broken.avi", bytes);
    o.cameras[0].path = dir / "broken.avi";
    REQUIRE_THROWS_WITH(evals::import_clip(o, out), Contains("broken.avi") && Contains("frame 0"));
  }
  SECTION("cameras whose frame counts disagree") {
    fs::remove(dir / "left" / "000005.png");
    REQUIRE_THROWS_WITH(evals::import_clip(o, out), Contains("'front'") &&
                                                        Contains("has 6 frames") &&
                                                        Contains("'left'") && Contains("has 5"));
  }
  SECTION("images of different sizes in one folder") {
    write_text(dir / "left" / "000003.png", evals::encode_png(pattern(3, 1, kW, kH + 2)));
    REQUIRE_THROWS_WITH(evals::import_clip(o, out), Contains("000003.png") && Contains("frame 3") &&
                                                        Contains("96x66") && Contains("96x64"));
  }
  SECTION("an image that does not decode") {
    write_text(dir / "left" / "000002.png", "not a png");
    REQUIRE_THROWS_WITH(evals::import_clip(o, out), Contains("000002.png") && Contains("frame 2"));
  }
  SECTION("JSONL: a label for a frame that does not exist") {
    jsonl(jsonl_frame(0) + "\n" + jsonl_frame(9) + "\n");
    REQUIRE_THROWS_WITH(evals::import_clip(o, out),
                        Contains("labels.jsonl:2") && Contains("frame 9") && Contains("6 frames"));
  }
  SECTION("JSONL: an unknown class") {
    jsonl(
        R"({"frame": 0, "objects": [{"track_id": 1, "class": "bus", "boxes": [{"camera": "front"}]}]})");
    REQUIRE_THROWS_WITH(evals::import_clip(o, out),
                        Contains("labels.jsonl:1") && Contains("unknown class 'bus'"));
  }
  SECTION("JSONL: an unknown lane type, occlusion or camera") {
    jsonl(
        "\n"
        R"({"frame": 0, "lanes": [{"type": "double", "points": [{"x": 1}]}]})");
    REQUIRE_THROWS_WITH(evals::import_clip(o, out),
                        Contains("labels.jsonl:2") && Contains("'double'"));
    jsonl(
        R"({"frame": 0, "objects": [{"class": "car", "occlusion": "half", "boxes": [{"camera": "front"}]}]})");
    REQUIRE_THROWS_WITH(evals::import_clip(o, out),
                        Contains("labels.jsonl:1") && Contains("'half'"));
    jsonl(R"({"frame": 0, "ignore_regions": [{"camera": "rear"}]})");
    REQUIRE_THROWS_WITH(evals::import_clip(o, out),
                        Contains("labels.jsonl:1") && Contains("'rear'"));
  }
  SECTION("JSONL: a line that is not JSON") {
    jsonl(jsonl_frame(0) + "\n" + R"({"frame": 1, "ego": {"speed": )" + "\n");
    REQUIRE_THROWS_WITH(evals::import_clip(o, out),
                        Contains("labels.jsonl:2") && Contains("not a label line"));
  }
  SECTION("JSONL: an unknown field") {
    jsonl(R"({"frame": 0, "ego": {"velocity": 3}})");
    REQUIRE_THROWS_WITH(evals::import_clip(o, out),
                        Contains("labels.jsonl:1") && Contains("velocity"));
  }
  SECTION("JSONL: a frame labelled twice, a clip line not first, a line without a frame") {
    jsonl(jsonl_frame(1) + "\n" + jsonl_frame(1) + "\n");
    REQUIRE_THROWS_WITH(evals::import_clip(o, out),
                        Contains("labels.jsonl:2") && Contains("twice"));
    jsonl(jsonl_frame(0) + "\n" + kClipLine + "\n");
    REQUIRE_THROWS_WITH(evals::import_clip(o, out),
                        Contains("labels.jsonl:2") && Contains("first line"));
    jsonl(R"({"timestamp": 1})");
    REQUIRE_THROWS_WITH(evals::import_clip(o, out),
                        Contains("labels.jsonl:1") && Contains("\"frame\""));
  }
  SECTION("JSONL: timestamps that go back") {
    jsonl(R"({"frame": 0, "timestamp": 1.0})"
          "\n"
          R"({"frame": 1, "timestamp": 0.5})"
          "\n");
    REQUIRE_THROWS_WITH(evals::import_clip(o, out),
                        Contains("labels.jsonl:2") && Contains("frame 1"));
  }
  SECTION("KITTI: a label for a frame that does not exist") {
    kitti(car_line + "6 2 Car 0 0 0 1 2 3 4 1.5 1.8 4.0 0 1.6 10 0\n", axis_swap_calib(false));
    REQUIRE_THROWS_WITH(evals::import_clip(o, out),
                        Contains("0003.txt:2") && Contains("frame 6") && Contains("6 frames"));
  }
  SECTION("KITTI: an unknown type") {
    kitti("\n" + car_line + "1 2 Bus 0 0 0 1 2 3 4 1.5 1.8 4.0 0 1.6 10 0\n",
          axis_swap_calib(false));
    REQUIRE_THROWS_WITH(evals::import_clip(o, out),
                        Contains("0003.txt:3") && Contains("unknown type 'Bus'"));
  }
  SECTION("KITTI: a line with the wrong number of fields") {
    kitti("0 1 Car 0 0 0 1 2 3 4 1.5 1.8 4.0 0 1.6 10\n", axis_swap_calib(false));
    REQUIRE_THROWS_WITH(evals::import_clip(o, out),
                        Contains("0003.txt:1") && Contains("16 fields"));
  }
  SECTION("KITTI: a field that is not a number") {
    kitti(car_line + "1 2 Car 0 0 0 1 2 abc 4 1.5 1.8 4.0 0 1.6 10 0\n", axis_swap_calib(false));
    REQUIRE_THROWS_WITH(evals::import_clip(o, out),
                        Contains("0003.txt:2") && Contains("bbox right") && Contains("'abc'"));
  }
  SECTION("KITTI: a missing calib key") {
    auto calib = axis_swap_calib(false);
    calib.erase(calib.find("Tr_velo_cam"), calib.find("Tr_imu_velo") - calib.find("Tr_velo_cam"));
    kitti(car_line, calib);
    REQUIRE_THROWS_WITH(evals::import_clip(o, out),
                        Contains("calib.txt") && Contains("missing calib key Tr_velo_cam"));
  }
  SECTION("KITTI: a calib line with the wrong number of values") {
    kitti(car_line, "P2: 700 0 48 42 0 700 32 0 0 0 1\n");
    REQUIRE_THROWS_WITH(evals::import_clip(o, out),
                        Contains("calib.txt:1") && Contains("11 numbers"));
  }
  // No clip and no temporary file is left in the output folder.
  CHECK(empty_dir(out));
}
