// hil models dataset: training data for the multi-camera sample network
// (ci/train/train_sample.py), from generated clips, as NumPy .npy files.
//
// Images are written after the interface's crop and resize (dual_engine's
// preprocess, the one boards run), as uint8, so that the network trains on
// exactly the pixels it is evaluated on; the script applies the interface's
// scale, mean and std itself. Targets: control (steering, acceleration),
// lane lines at fixed stations, and 2D boxes per camera.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "commands.h"
#include "hil/dual_engine/preprocess.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/clip_generator.h"
#include "hil/evals/model_interface.h"
#include "hil/evals/sha256.h"

namespace hil::app {
namespace {

// Lane slots the sample network predicts, nearest lines first: the ego
// lane's left and right boundaries, then the next ones out.
constexpr int kLaneSlots = 4;
constexpr double kStations[] = {5, 10, 20, 30, 40};
constexpr int kStationCount = 5;

struct DatasetArgs {
  std::string out = "dataset";
  std::string interface_file;
  uint32_t width = 128, height = 64;  // network input size per camera
  uint32_t clips = 200, frames = 24, stride = 2;
  uint64_t seed = 5000000;
  uint32_t render_width = 256, render_height = 128;
  std::vector<std::string> conditions{"clear", "rain", "snow", "fog", "night", "spray"};
  std::string cache = "";
};

// A .npy file (format 1.0): a header naming dtype and shape, then the data.
void write_npy(const std::filesystem::path& path, const std::string& dtype,
               const std::vector<size_t>& shape, const void* data, size_t bytes) {
  std::string dims;
  for (size_t d : shape) dims += fmt::format("{}, ", d);
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", dtype, dims);
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const auto len = static_cast<uint16_t>(header.size());
  const char le[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  out.write(le, 2);
  out << header;
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  if (!out) throw std::runtime_error(fmt::format("{}: write failed", path.string()));
}

double line_y(const clip::LaneLine& line, double x) {
  for (int k = 1; k < line.points_size(); ++k) {
    const auto &a = line.points(k - 1), &b = line.points(k);
    if (x >= a.x() && x <= b.x() && b.x() > a.x())
      return a.y() + (x - a.x()) / (b.x() - a.x()) * (b.y() - a.y());
  }
  return NAN;
}

struct Sample {
  std::vector<uint8_t> pixels;  // cameras x H x W x 3
  float control[2];
  float lanes[kLaneSlots][kStationCount + 1];
  std::vector<std::array<float, 6>> boxes;  // camera, class, x0, y0, x1, y1 (normalized)
  std::string condition;
};

int make_dataset(const DatasetArgs& a) {
  const auto iface = evals::parse_interface(evals::read_file(a.interface_file), a.interface_file);
  const auto cameras = evals::interface_cameras(iface);
  const auto* binding = &iface.inputs(0);
  std::vector<std::string> classes;
  for (const auto& o : iface.outputs()) {
    if (o.has_objects()) classes.assign(o.objects().classes().begin(), o.objects().classes().end());
  }
  std::filesystem::create_directories(a.out);
  const std::filesystem::path cache =
      a.cache.empty() ? std::filesystem::path(a.out) / "clips" : std::filesystem::path(a.cache);

  std::vector<std::vector<Sample>> per_clip(a.clips);
  std::atomic<uint32_t> next{0};
  std::mutex mu;
  std::exception_ptr error;
  auto work = [&] {
    for (uint32_t i; (i = next++) < a.clips;) {
      try {
        evals::ClipSpec spec;
        spec.seed = a.seed + i;
        spec.frames = a.frames;
        spec.condition = a.conditions[i % a.conditions.size()];
        spec.rig = "tri";
        spec.width = a.render_width;
        spec.height = a.render_height;
        spec.encoding = clip::ENCODING_JPEG;
        evals::ClipReader reader(cache / (evals::generate_clip_file(spec, cache) + ".clip"));
        for (uint32_t k = 0; k < reader.frame_count(); k += std::max<uint32_t>(a.stride, 1)) {
          const auto frame = reader.frame(k);
          Sample s;
          s.condition = spec.condition;
          for (const auto& cam : cameras) {
            // The interface's crop and resize, without its normalisation: uint8 pixels.
            model::InputBinding raw = *binding;
            raw.mutable_preprocess()->set_scale(1.0f);
            raw.mutable_preprocess()->clear_mean();
            raw.mutable_preprocess()->clear_std();
            raw.mutable_preprocess()->set_layout(model::NHWC);
            raw.mutable_preprocess()->set_color(model::RGB);
            auto v = dual_engine::camera_input(reader, frame, cam, raw, a.width, a.height);
            for (float f : v)
              s.pixels.push_back(static_cast<uint8_t>(std::lround(std::clamp(f, 0.0f, 255.0f))));
          }
          s.control[0] = static_cast<float>(frame.control().steering());
          s.control[1] = static_cast<float>(frame.control().acceleration());
          std::vector<std::pair<double, const clip::LaneLine*>> left, right;
          for (const auto& line : frame.labels().lanes()) {
            double y = line_y(line, 10);
            if (!std::isfinite(y)) continue;
            (y > 0 ? left : right).emplace_back(std::abs(y), &line);
          }
          std::sort(left.begin(), left.end());
          std::sort(right.begin(), right.end());
          const clip::LaneLine* slots[kLaneSlots] = {left.size() > 0 ? left[0].second : nullptr,
                                                     right.size() > 0 ? right[0].second : nullptr,
                                                     left.size() > 1 ? left[1].second : nullptr,
                                                     right.size() > 1 ? right[1].second : nullptr};
          for (int l = 0; l < kLaneSlots; ++l) {
            for (int k2 = 0; k2 < kStationCount; ++k2) {
              double y = slots[l] ? line_y(*slots[l], kStations[k2]) : NAN;
              s.lanes[l][k2] = std::isfinite(y) ? static_cast<float>(y) : 0.0f;
            }
            s.lanes[l][kStationCount] = slots[l] ? 1.0f : 0.0f;
          }
          for (const auto& o : frame.labels().objects()) {
            if (o.visibility() == clip::FULLY_OCCLUDED || o.visibility() == clip::OUT_OF_VIEW)
              continue;
            auto it = std::find(classes.begin(), classes.end(), evals::object_class_name(o.cls()));
            if (it == classes.end()) continue;
            for (const auto& b : o.boxes()) {
              auto cam = std::find(cameras.begin(), cameras.end(), b.camera());
              if (cam == cameras.end() || b.visible_fraction() < 0.3) continue;
              const auto* c = evals::find_camera(reader.header(), b.camera());
              s.boxes.push_back({static_cast<float>(cam - cameras.begin()),
                                 static_cast<float>(it - classes.begin()),
                                 static_cast<float>(b.x0() / c->width()),
                                 static_cast<float>(b.y0() / c->height()),
                                 static_cast<float>(b.x1() / c->width()),
                                 static_cast<float>(b.y1() / c->height())});
            }
          }
          per_clip[i].push_back(std::move(s));
        }
      } catch (...) {
        std::lock_guard lock(mu);
        if (!error) error = std::current_exception();
        next = a.clips;
      }
    }
  };
  std::vector<std::thread> workers;
  for (unsigned w = 1; w < std::max(1u, std::thread::hardware_concurrency()); ++w)
    workers.emplace_back(work);
  work();
  for (auto& t : workers) t.join();
  if (error) std::rethrow_exception(error);

  std::vector<uint8_t> images;
  std::vector<float> control, lanes, boxes;
  std::string conditions;
  size_t n = 0;
  for (const auto& clip_samples : per_clip) {
    for (const auto& s : clip_samples) {
      images.insert(images.end(), s.pixels.begin(), s.pixels.end());
      control.insert(control.end(), s.control, s.control + 2);
      for (const auto& l : s.lanes) lanes.insert(lanes.end(), l, l + kStationCount + 1);
      for (const auto& b : s.boxes) {
        boxes.push_back(static_cast<float>(n));
        boxes.insert(boxes.end(), b.begin(), b.end());
      }
      conditions += s.condition + "\n";
      ++n;
    }
  }
  const std::filesystem::path out = a.out;
  write_npy(out / "images.npy", "|u1", {n, cameras.size(), a.height, a.width, 3}, images.data(),
            images.size());
  write_npy(out / "control.npy", "<f4", {n, 2}, control.data(), control.size() * 4);
  write_npy(out / "lanes.npy", "<f4", {n, kLaneSlots, kStationCount + 1}, lanes.data(),
            lanes.size() * 4);
  write_npy(out / "boxes.npy", "<f4", {boxes.size() / 7, 7}, boxes.data(), boxes.size() * 4);
  evals::write_file_atomic(out / "conditions.txt", conditions);
  fmt::print("{}: {} samples from {} clips, {} cameras at {}x{}, {} boxes\n", a.out, n, a.clips,
             cameras.size(), a.width, a.height, boxes.size() / 7);
  return 0;
}

}  // namespace

void add_dataset_command(CLI::App* models) {
  auto a = std::make_shared<DatasetArgs>();
  auto* cmd = models->add_subcommand(
      "dataset",
      "training data for the multi-camera sample network (NumPy files; ci/train/train_sample.py)");
  cmd->add_option("--out", a->out)->capture_default_str();
  cmd->add_option("--interface", a->interface_file,
                  "the network's interface (cameras, crop, resize)")
      ->required();
  cmd->add_option("--width", a->width, "network input width per camera")->capture_default_str();
  cmd->add_option("--height", a->height, "network input height per camera")->capture_default_str();
  cmd->add_option("--clips", a->clips)->capture_default_str();
  cmd->add_option("--frames", a->frames, "frames per clip")->capture_default_str();
  cmd->add_option("--stride", a->stride, "take every k-th frame")->capture_default_str();
  cmd->add_option("--seed", a->seed, "first clip seed (keep it apart from the suites')")
      ->capture_default_str();
  cmd->add_option("--conditions", a->conditions, "conditions, cycled over the clips")
      ->capture_default_str();
  cmd->add_option("--render-width", a->render_width, "camera width the clips are rendered at")
      ->capture_default_str();
  cmd->add_option("--render-height", a->render_height)->capture_default_str();
  cmd->add_option("--cache", a->cache, "clip cache (default: OUT/clips)");
  cmd->callback([a] { exit_code() = make_dataset(*a); });
}

}  // namespace hil::app
