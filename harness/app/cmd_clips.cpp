// hil clips generate | import | info | render
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "commands.h"
#include "hil/evals/clip_export.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/clip_generator.h"
#include "hil/evals/clip_import.h"
#include "hil/harness/progress.h"

namespace hil::app {
namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

const char* visibility_name(int v) {
  static constexpr const char* kNames[] = {"unknown", "visible", "partly", "occluded",
                                           "out-of-view"};
  return v >= 0 && v <= 4 ? kNames[v] : "?";
}
const char* class_name(int c) {
  static constexpr const char* kNames[] = {"unknown",    "car",     "truck",
                                           "pedestrian", "cyclist", "cone"};
  return c >= 0 && c <= 5 ? kNames[c] : "?";
}

std::string encoding_name(const clip::Camera& c) {
  switch (c.encoding()) {
    case clip::ENCODING_JPEG:
      return fmt::format("jpeg q{}", c.quality());
    case clip::ENCODING_PNG:
      return "png";
    default:
      return "raw";
  }
}

struct ImportArgs {
  std::vector<std::string> cameras;  // NAME=PATH
  std::string labels, format, kitti_calib, kitti_camera, encoding = "jpeg", name, out;
  uint32_t quality = 90;
  double fps = 0;
  double kitti_lidar_height = 1.73;
  std::vector<std::string> tags;
};

struct ExportArgs {
  std::string clip, out, frames = "avi", labels = "jsonl", kitti_camera;
  double kitti_lidar_height = 1.73;
};

// hil clips export: the clip as a recorded drive (videos or image folders,
// labels as JSON lines or KITTI), and the import command that reads it back.
int export_clip(const ExportArgs& a) {
  evals::ExportOptions o;
  o.frames = a.frames == "mp4"   ? evals::ExportOptions::Frames::kMp4
             : a.frames == "png" ? evals::ExportOptions::Frames::kPng
                                 : evals::ExportOptions::Frames::kMjpegAvi;
  o.format = a.labels == "kitti" ? evals::LabelFormat::kKittiTracking : evals::LabelFormat::kJsonl;
  o.kitti_camera = a.kitti_camera;
  o.kitti_lidar_height = a.kitti_lidar_height;
  evals::ClipReader reader(a.clip);
  auto drive = evals::export_drive(reader, a.out, o);
  std::string cmd = "hil clips import";
  for (const auto& c : drive.cameras)
    cmd += fmt::format(" --camera {}={}", c.name, c.path.string());
  cmd += fmt::format(" --labels {}", drive.labels.string());
  if (!drive.calib.empty()) {
    cmd += fmt::format(" --kitti-calib {} --kitti-camera {}", drive.calib.string(),
                       a.kitti_camera.empty() ? reader.header().cameras(0).name() : a.kitti_camera);
  }
  cmd += fmt::format(" --fps {} --out CLIPS", drive.fps);
  fmt::print("{} frames of {} camera(s) in {}\nto import it again:\n  {}\n", reader.frame_count(),
             drive.cameras.size(), a.out, cmd);
  return 0;
}

// hil clips import: prints the clip's path, SHA-256, frames, cameras and
// truth; bad input is reported (file and line or frame) with exit code 3.
int import_clip(const ImportArgs& a) {
  evals::ImportOptions o;
  for (const auto& spec : a.cameras) {
    auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
      fmt::print(stderr, "hil: error: --camera '{}': expected NAME=PATH\n", spec);
      return kExitError;
    }
    o.cameras.push_back({spec.substr(0, eq), spec.substr(eq + 1)});
  }
  o.labels = a.labels;
  // Without --format: KITTI when a calib file is given, else JSON lines.
  const std::string format = !a.format.empty()       ? a.format
                             : a.kitti_calib.empty() ? "jsonl"
                                                     : "kitti";
  o.format = format == "kitti" ? evals::LabelFormat::kKittiTracking : evals::LabelFormat::kJsonl;
  o.kitti_calib = a.kitti_calib;
  o.kitti_camera = a.kitti_camera;
  o.kitti_lidar_height = a.kitti_lidar_height;
  o.encoding = a.encoding == "png" ? clip::ENCODING_PNG : clip::ENCODING_JPEG;
  o.quality = a.quality;
  o.fps = a.fps;
  o.name = a.name;
  o.tags = a.tags;
  o.note = [](const std::string& s) { fmt::print(stderr, "note: {}\n", s); };
  std::string sha;
  try {
    sha = evals::import_clip(o, a.out);
  } catch (const evals::ImportError& e) {
    fmt::print(stderr, "hil: error: {}\n", e.what());
    return kExitError;
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "hil: error: {}\n", e.what());
    return kExitError;
  }
  const auto path = std::filesystem::path(a.out) / (sha + ".clip");
  evals::ClipReader r(path);
  const auto& h = r.header();
  fmt::print("clip      {}\nsha256    {}\nname      {}\nframes    {} at {} fps\n", path.string(),
             sha, h.name(), r.frame_count(), h.fps());
  for (const auto& c : h.cameras()) {
    fmt::print("camera    {} {}x{} {}\n", c.name(), c.width(), c.height(), encoding_name(c));
  }
  fmt::print("truth     {}\n",
             h.truth_size() ? fmt::format("{}", fmt::join(h.truth(), ", ")) : "(none)");
  return kExitPass;
}

}  // namespace

void add_clips_commands(CLI::App& app) {
  auto* clips = app.add_subcommand("clips", "make and inspect clips");
  clips->require_subcommand(1);

  struct Generate {
    uint32_t count = 8, frames = 48, width = 128, height = 64;
    std::string conditions = "clear,rain,snow,fog,night,spray", out = "clips", road, traffic;
    std::string rig = "front", encoding = "raw";
    uint32_t quality = 90;
    uint64_t seed = 1;
    double fps = 36;
  };
  auto g = std::make_shared<Generate>();
  auto* gen = clips->add_subcommand("generate", "generate procedural clips with ground truth");
  gen->add_option("--count", g->count, "number of clips")->capture_default_str();
  gen->add_option("--frames", g->frames, "frames per clip")->capture_default_str();
  gen->add_option("--conditions", g->conditions, "conditions, cycled over the clips")
      ->capture_default_str();
  gen->add_option("--road", g->road, "straight, gentle, sharp, s-bend (default: from the seed)");
  gen->add_option("--traffic", g->traffic,
                  "free, lead-brake, cut-in, parked, pedestrian (default: from the seed)");
  gen->add_option("--seed", g->seed, "first seed; clip i uses seed + i")->capture_default_str();
  gen->add_option("--width", g->width)->capture_default_str();
  gen->add_option("--height", g->height)->capture_default_str();
  gen->add_option("--fps", g->fps)->capture_default_str();
  gen->add_option("--rig", g->rig, "cameras: front, or tri (front, left, right)")
      ->capture_default_str();
  gen->add_option("--encoding", g->encoding, "frame storage: raw, jpeg or png")
      ->check(CLI::IsMember({"raw", "jpeg", "png"}))
      ->capture_default_str();
  gen->add_option("--quality", g->quality, "JPEG quality (1..100)")->capture_default_str();
  gen->add_option("--out", g->out, "output directory")->capture_default_str();
  gen->callback([g] {
    auto conditions = split_list(g->conditions);
    if (conditions.empty()) throw std::invalid_argument("--conditions: empty list");
    harness::ProgressBar bar("clips", g->count);
    auto start = std::chrono::steady_clock::now();
    for (uint32_t i = 0; i < g->count; ++i) {
      evals::ClipSpec spec;
      spec.seed = g->seed + i;
      spec.frames = g->frames;
      spec.condition = conditions[i % conditions.size()];
      spec.road = g->road;
      spec.traffic = g->traffic;
      spec.width = g->width;
      spec.height = g->height;
      spec.fps = g->fps;
      spec.rig = g->rig;
      spec.encoding = g->encoding == "jpeg"  ? clip::ENCODING_JPEG
                      : g->encoding == "png" ? clip::ENCODING_PNG
                                             : clip::ENCODING_RAW;
      spec.quality = g->quality;
      auto sha = evals::generate_clip_file(spec, g->out);
      bar.update(i + 1);
      if (!bar.interactive()) fmt::print("{}/{}.clip\n", g->out, sha);
    }
    bar.finish();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print(stderr, "{} clips, {} frames in {:.2f} s ({:.0f} frames/s)\n", g->count,
               uint64_t{g->count} * g->frames, secs, g->count * g->frames / std::max(secs, 1e-9));
  });

  auto im = std::make_shared<ImportArgs>();
  auto* imp = clips->add_subcommand(
      "import",
      "make a clip from a recorded drive: a video or image folder per camera, "
      "plus JSON-lines or KITTI tracking labels");
  imp->add_option("--camera", im->cameras,
                  "NAME=PATH: a camera's video (MP4, MKV, MJPEG AVI, ...) or folder of .png/.jpg "
                  "frames; repeatable")
      ->required();
  imp->add_option("--labels", im->labels,
                  "labels file (evals/proto/labels.proto JSON lines, or KITTI label_02/NNNN.txt)")
      ->required();
  imp->add_option("--format", im->format,
                  "jsonl or kitti (default: kitti with --kitti-calib, else jsonl)")
      ->check(CLI::IsMember({"jsonl", "kitti"}));
  imp->add_option("--kitti-calib", im->kitti_calib, "KITTI calib file (calib/NNNN.txt)");
  imp->add_option("--kitti-camera", im->kitti_camera,
                  "camera the KITTI boxes and P2 belong to (default: the first)");
  imp->add_option("--kitti-lidar-height", im->kitti_lidar_height,
                  "KITTI: the velodyne's height above the ground, added to every height (KITTI's "
                  "car: 1.73 m)")
      ->capture_default_str();
  imp->add_option("--encoding", im->encoding, "frame storage: jpeg or png")
      ->check(CLI::IsMember({"jpeg", "png"}))
      ->capture_default_str();
  imp->add_option("--quality", im->quality, "JPEG quality")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  imp->add_option("--fps", im->fps,
                  "frame rate (default: the labels' clip line, else the video's, else 10)")
      ->check(CLI::NonNegativeNumber);
  imp->add_option("--name", im->name,
                  "clip name (default: the labels' clip line, else the labels file's stem)");
  imp->add_option("--tag", im->tags, "a tag for the clip; repeatable");
  imp->add_option("--out", im->out, "output directory (the clip is <out>/<sha256>.clip)")
      ->required();
  imp->callback([im] { exit_code() = import_clip(*im); });

  auto ex = std::make_shared<ExportArgs>();
  auto* exp =
      clips->add_subcommand("export",
                            "write a clip out as a recorded drive (a video per camera, labels as "
                            "JSON lines or KITTI tracking): what `hil clips import` reads");
  exp->add_option("clip", ex->clip, "clip file")->required();
  exp->add_option("--out", ex->out, "output folder")->required();
  exp->add_option("--frames", ex->frames,
                  "avi (Motion JPEG), mp4 (mp4v) or png (a folder per camera)")
      ->check(CLI::IsMember({"avi", "mp4", "png"}))
      ->capture_default_str();
  exp->add_option("--labels", ex->labels, "jsonl or kitti")
      ->check(CLI::IsMember({"jsonl", "kitti"}))
      ->capture_default_str();
  exp->add_option("--kitti-camera", ex->kitti_camera,
                  "KITTI: the camera whose boxes are written (default: the first)");
  exp->add_option("--kitti-lidar-height", ex->kitti_lidar_height,
                  "KITTI: the velodyne's height above the ground")
      ->capture_default_str();
  exp->callback([ex] { exit_code() = export_clip(*ex); });

  auto info_file = std::make_shared<std::string>();
  auto* info = clips->add_subcommand("info", "print a clip's header and label statistics");
  info->add_option("file", *info_file)->required();
  info->callback([info_file] {
    evals::ClipReader r(*info_file);
    const auto& h = r.header();
    fmt::print(
        "clip      {}\nname      {}\ntags      {}\nfps       {}\nframes    {} (header says {})\n",
        *info_file, h.name(), fmt::join(h.tags(), ", "), h.fps(), r.frame_count(), h.frame_count());
    for (const auto& c : h.cameras()) {
      const auto& ex = c.extrinsics();
      fmt::print(
          "camera    {} {}x{}x{} {} fx={} fy={} cx={} cy={} k1={} at x={:.3f} y={:.3f} z={:.3f} m "
          "yaw={:.4f} pitch={:.4f} roll={:.4f}\n",
          c.name(), c.width(), c.height(), c.channels(), encoding_name(c), c.intrinsics().fx(),
          c.intrinsics().fy(), c.intrinsics().cx(), c.intrinsics().cy(), c.intrinsics().k1(),
          ex.x(), ex.y(), ex.z(), ex.yaw(), ex.pitch(), ex.roll());
    }
    const auto truth = evals::clip_truth(h);
    fmt::print("truth     {}\n",
               truth.empty() ? std::string("(none)") : fmt::format("{}", fmt::join(truth, ", ")));
    if (h.has_source()) {
      const auto& s = h.source();
      fmt::print("imported  {} labels at {} (hil {}) from {}\n", s.labels_format(), s.imported_at(),
                 s.hil_version(), fmt::join(s.files(), " "));
    }
    if (h.has_generator()) {
      const auto& gp = h.generator();
      fmt::print(
          "generator v{} seed={} road={} lanes={} ego_lane={} condition={} traffic={} speed={:.1f} "
          "m/s\n",
          gp.generator_version(), gp.seed(), gp.road(), gp.lanes(), gp.ego_lane(), gp.condition(),
          gp.traffic(), gp.ego_speed());
    }
    std::map<std::string, uint64_t> objects;
    std::map<uint32_t, std::string> tracks;
    uint64_t lead_frames = 0;
    double max_offset = 0;
    for (uint32_t k = 0; k < r.frame_count(); ++k) {
      auto f = r.frame(k);
      for (const auto& o : f.labels().objects()) {
        objects[fmt::format("{:<10} {}", class_name(o.cls()), visibility_name(o.visibility()))]++;
        tracks[o.track_id()] = class_name(o.cls());
      }
      lead_frames += f.labels().ego().lead_present();
      max_offset = std::max(max_offset, std::abs(f.labels().ego().lane_offset()));
    }
    fmt::print("labels    {} tracks, lead vehicle in {} of {} frames, max |lane offset| {:.2f} m\n",
               tracks.size(), lead_frames, r.frame_count(), max_offset);
    for (const auto& [k, n] : objects) fmt::print("          {:<24} {:>6} object-frames\n", k, n);
    if (r.damage()) fmt::print("DAMAGED   {}\n", *r.damage());
  });

  struct Render {
    std::string file, out = "frame.png", camera;
    uint32_t frame = 0, scale = 4;
    bool labels = false;
  };
  auto rd = std::make_shared<Render>();
  auto* render =
      clips->add_subcommand("render", "render a frame to PNG, optionally with ground truth");
  render->add_option("file", rd->file)->required();
  render->add_option("--frame", rd->frame)->capture_default_str();
  render->add_option("--out", rd->out)->capture_default_str();
  render->add_option("--scale", rd->scale, "integer upscale for viewing")->capture_default_str();
  render->add_flag("--labels", rd->labels, "draw lanes, cuboids and boxes");
  render->add_option("--camera", rd->camera,
                     "a camera's name, or 'all' side by side (default: the first)");
  render->callback([rd] {
    evals::ClipReader r(rd->file);
    auto f = r.frame(rd->frame);
    const uint32_t scale = std::max<uint32_t>(rd->scale, 1);
    std::vector<uint32_t> cameras;
    for (int c = 0; c < r.header().cameras_size(); ++c) {
      if (rd->camera == "all" || r.header().cameras(c).name() == rd->camera ||
          (rd->camera.empty() && c == 0)) {
        cameras.push_back(static_cast<uint32_t>(c));
      }
    }
    if (cameras.empty())
      throw std::invalid_argument(fmt::format("{}: no camera '{}'", rd->file, rd->camera));
    std::vector<evals::Image> views;
    for (uint32_t c : cameras) {
      auto img = evals::upscale(evals::frame_image(r.header(), f, c), scale);
      if (rd->labels) evals::draw_labels(img, r.header(), f, scale, c);
      views.push_back(std::move(img));
    }
    // Side by side, 4 px apart, top-aligned.
    uint32_t width = 0, height = 0;
    for (const auto& v : views) width += v.width + 4, height = std::max(height, v.height);
    evals::Image out(width - 4, height, 3);
    uint32_t x0 = 0;
    for (const auto& v : views) {
      for (uint32_t y = 0; y < v.height; ++y) {
        std::copy(v.at(0, y), v.at(0, y) + v.width * 3, out.at(x0, y));
      }
      x0 += v.width + 4;
    }
    evals::write_png(rd->out, out);
    fmt::print("{}\n", rd->out);
  });
}

}  // namespace hil::app
