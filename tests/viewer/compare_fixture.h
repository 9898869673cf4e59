// A real results database for the compare view's tests, made the way a
// scheduler makes one: generated three-camera clips (rig "tri", JPEG frames)
// stored as blobs beside the database (`<db>.blobs/<sha256>`), two
// revisions of a multi-head network, a suite that declares its own metrics
// (names made up here, so nothing in the viewer can know them) and gates
// some, a run whose evals were scored by evals::EvalScorer over the clips'
// real ground truth, their per-frame series encoded with
// evals::encode_series and their decoded outputs stored through
// Store::record_outcome (evals::encode_outputs). The writer stays open
// throughout, like a running scheduler.
//
// The network (kInterfaceText) has a control head, a tensor head "ego"
// (lane offset and heading), a lead head, a lanes head (polylines), a 2D
// objects head per camera and a 3D objects head. Revision A ("base")
// answers close to the truth everywhere. Revision B ("snowblind") is far off
// on the snow clip (lanes and lane offset 0.6 m to the right, heading -0.05
// rad, steering -0.04 rad, no lead vehicle, no detections), and on that clip
// also has a deadline miss (frame 3), a gap without outputs (frames 5 and 6)
// and a failover (engine 1 commands from frame 12); elsewhere it is slightly
// better than A.
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <QString>
#include <QTemporaryDir>

#include "hil/db/database.h"
#include "hil/db/store.h"
#include "hil/evals/clip_file.h"
#include "hil/evals/clip_generator.h"
#include "hil/evals/metrics.h"
#include "hil/evals/model_interface.h"
#include "hil/evals/suite.h"

namespace compare_test {

inline constexpr uint32_t kFrames = 24;
inline constexpr int kMissFrame = 3;
inline constexpr int kGapFrames[] = {5, 6};
inline constexpr int kFailoverFrame = 12;
// What the plugin metric (run by the scheduler, not the board) "measured".
inline constexpr double kComfortA = 0.8, kComfortB = 0.85, kComfortBSnow = 1.4;

inline const char* kInterfaceText = R"pb(
  name: "viewer-test three cameras"
  inputs { input: "front" cameras: "front" }
  inputs { input: "left" cameras: "left" }
  inputs { input: "right" cameras: "right" }
  outputs {
    output: "control"
    head: "control"
    control { steering: 0 acceleration: 1 }
  }
  outputs {
    output: "ego"
    head: "ego"
    tensor { fields: [ "lane_offset", "lane_heading" ] }
  }
  outputs {
    output: "lead"
    head: "lead"
    lead { score: 0 distance: 1 }
  }
  outputs {
    output: "lanes"
    head: "lanes"
    lanes {
      form: POLYLINE
      lines: 4
      x: [ 5, 10, 20, 30, 40 ]
    }
  }
  outputs {
    output: "objects_front"
    head: "objects_front"
    objects {
      space: IMAGE_2D
      camera: "front"
      classes: [ "car", "truck", "pedestrian", "cyclist" ]
    }
  }
  outputs {
    output: "objects_left"
    head: "objects_left"
    objects {
      space: IMAGE_2D
      camera: "left"
      classes: [ "car", "truck", "pedestrian", "cyclist" ]
    }
  }
  outputs {
    output: "objects_right"
    head: "objects_right"
    objects {
      space: IMAGE_2D
      camera: "right"
      classes: [ "car", "truck", "pedestrian", "cyclist" ]
    }
  }
  outputs {
    output: "objects_3d"
    head: "objects_3d"
    objects {
      space: EGO_3D
      classes: [ "car", "truck", "pedestrian", "cyclist" ]
    }
  }
)pb";

// The suite's metrics: every name is the suite's own.
inline const char* kDeclaredMetrics = R"pb(
  metrics {
    name: "drift"
    regression { head: "ego" field: "lane_offset" truth: "ego.lane_offset" }
  }
  metrics {
    name: "wobble"
    regression { head: "control" field: "steering" truth: "control.steering" }
  }
  metrics {
    name: "lead_catch"
    lead { head: "lead" }
  }
  metrics {
    name: "front_boxes_ap"
    detection { head: "objects_front" }
  }
  metrics {
    name: "kerb_error_20m"
    lane { head: "lanes" x: 20 }
  }
  metrics {
    name: "comfort_index"
    plugin { library: "libcomfort.so" direction: LOWER_IS_BETTER unit: "m/s^3" }
  }
)pb";

inline const std::string kSuiteText =
    std::string(R"pb(
      name: "viewer-test"
      board_type: "slowed-hw3"
      clips { generated { count: 4 frames: 24 seed: 101 rig: "tri" encoding: ENCODING_JPEG } }
      scenarios { name: "split" mode: "split" }
    )pb") +
    kDeclaredMetrics + R"pb(
  gates { metric: "drift" max_abs_degradation: 0.02 confidence: 0.95 min_clips: 2 blocking: true }
  gates { metric: "wobble" max_abs_degradation: 0.002 confidence: 0.95 min_clips: 2 blocking: true }
  gates {
    metric: "lead_catch"
    max_abs_degradation: 0.03
    confidence: 0.95
    min_clips: 2
    blocking: true
  }
  gates {
    metric: "device_latency_p99_ms"
    max_abs_degradation: 1.0
    confidence: 0.95
    min_clips: 2
    blocking: false
  }
)pb";

// The same metrics, none gated.
inline const std::string kDeclaredOnlySuiteText =
    std::string(R"pb(
      name: "viewer-test-declared"
      board_type: "slowed-hw3"
      clips { generated { count: 4 frames: 24 seed: 101 rig: "tri" encoding: ENCODING_JPEG } }
      scenarios { name: "split" mode: "split" }
    )pb") +
    kDeclaredMetrics;

struct TestClip {
  std::string sha256;
  std::string condition;
  std::string road;
  int64_t id = 0;
  hil::clip::ClipHeader header;
  std::vector<hil::clip::Frame> frames;
};

// The y of a ground-truth lane line at x (linear between its points).
inline double line_y_at(const hil::clip::LaneLine& line, double x) {
  for (int i = 1; i < line.points_size(); ++i) {
    const auto &a = line.points(i - 1), &b = line.points(i);
    if (a.x() <= x && x <= b.x()) return a.y() + (b.y() - a.y()) * (x - a.x()) / (b.x() - a.x());
  }
  return NAN;
}

inline constexpr float kStations[] = {5, 10, 20, 30, 40};

// What a revision "predicted" on frame k of a clip, decoded as a board
// decodes its heads.
inline hil::evals::FrameRecord predict(const hil::clip::Frame& frame, bool snowblind, bool snow,
                                       int k) {
  hil::evals::FrameRecord r;
  const auto& ego = frame.labels().ego();
  const double noise = 0.01 * std::sin(0.7 * k + (snowblind ? 1.0 : 0.0));
  const bool off = snowblind && snow;
  r.host_ms = 1.0;
  r.device_ms = 10.0;
  r.commander = 0;
  if (off) {
    if (k == kMissFrame) {
      r.device_ms = 40.0;  // the frame period at 36 fps is 27.8 ms
      r.deadline_missed = true;
    }
    if (k >= kFailoverFrame) r.commander = 1;
    r.failover = k == kFailoverFrame;
    for (int gap : kGapFrames) {
      if (k == gap) {
        r.has_command = false;  // no outputs at all this frame
        return r;
      }
    }
  }
  auto& out = r.outputs;
  out.set_frame(static_cast<uint32_t>(k));
  out.set_has_outputs(true);

  auto* control = out.add_heads();
  control->set_head("control");
  control->set_steering(static_cast<float>(frame.control().steering() +
                                           (off ? -0.04 : (snowblind ? 0.0005 : 0.001))));
  control->set_acceleration(static_cast<float>(frame.control().acceleration()));

  auto* tensor = out.add_heads();
  tensor->set_head("ego");
  tensor->add_values(static_cast<float>(ego.lane_offset() + (off ? 0.6 : noise)));
  tensor->add_values(static_cast<float>(ego.lane_heading() + (off ? -0.05 : noise / 10)));

  auto* lead = out.add_heads();
  lead->set_head("lead");
  lead->set_lead_present(ego.lead_present() && !off);
  lead->set_lead_score(lead->lead_present() ? 0.9f : 0.1f);
  lead->set_lead_distance(static_cast<float>(ego.lead_present() ? ego.lead_distance() + 0.5 : 0.0));

  // The ego lane's lines and the next ones out, shifted right 0.6 m when off.
  auto* lanes = out.add_heads();
  lanes->set_head("lanes");
  std::vector<const hil::clip::LaneLine*> lines;
  for (const auto& line : frame.labels().lanes()) lines.push_back(&line);
  std::sort(lines.begin(), lines.end(), [](const auto* x, const auto* y) {
    return std::abs(line_y_at(*x, 10)) < std::abs(line_y_at(*y, 10));
  });
  lines.resize(std::min<size_t>(lines.size(), 4));
  for (const auto* line : lines) {
    auto* lane = lanes->add_lanes();
    lane->set_score(0.9f);
    for (float x : kStations) {
      lane->add_x(x);
      lane->add_y(static_cast<float>(line_y_at(*line, x) + (off ? -0.6 : noise)));
    }
  }

  // Every visible object as it is labelled: its box on each camera, its
  // cuboid nudged 0.2 m; none at all when off.
  hil::outputs::HeadOutput* boxes[3] = {};
  const char* cameras[3] = {"front", "left", "right"};
  for (int c = 0; c < 3; ++c) {
    boxes[c] = out.add_heads();
    boxes[c]->set_head(std::string("objects_") + cameras[c]);
  }
  auto* cuboids = out.add_heads();
  cuboids->set_head("objects_3d");
  for (const auto& object : frame.labels().objects()) {
    if (off || object.visibility() == hil::clip::OUT_OF_VIEW ||
        object.visibility() == hil::clip::FULLY_OCCLUDED) {
      continue;
    }
    for (const auto& box : object.boxes()) {
      for (int c = 0; c < 3; ++c) {
        if (box.camera() != cameras[c]) continue;
        auto* d = boxes[c]->add_objects();
        d->set_cls(object.cls());
        d->set_score(0.9f);
        d->set_camera(box.camera());
        d->set_x0(static_cast<float>(box.x0()));
        d->set_y0(static_cast<float>(box.y0()));
        d->set_x1(static_cast<float>(box.x1()));
        d->set_y1(static_cast<float>(box.y1()));
      }
    }
    if (object.has_cuboid()) {
      auto* d = cuboids->add_objects();
      d->set_cls(object.cls());
      d->set_score(0.8f);
      *d->mutable_cuboid() = object.cuboid();
      d->mutable_cuboid()->set_x(object.cuboid().x() + 0.2);
    }
  }
  return r;
}

// How a revision answers on frame k of a clip (tests replace predict()).
using Predictor = std::function<hil::evals::FrameRecord(const hil::clip::Frame& frame,
                                                        bool is_snowblind, bool snow, int k)>;

struct RunOptions {
  bool store_outputs = true;  // false: as a suite with drop_frame_outputs
  Predictor predictor = predict;
};

class CompareDatabase {
 public:
  // The four tri-camera clips and, unless !with_run, a run of snowblind
  // against base over them, under `suite_text`.
  explicit CompareDatabase(bool with_run = true, const std::string& suite_text = kSuiteText)
      : path_(std::filesystem::path(dir_.path().toStdString()) / "hil.db"),
        blobs_(path_.string() + ".blobs"),
        writer_(std::make_unique<hil::db::Database>(path_)),
        store_(*writer_),
        suite_spec_(hil::evals::parse_suite(suite_text, "viewer-test.textproto")),
        interface_(hil::evals::parse_interface(kInterfaceText, "viewer-test.interface.textproto")) {
    std::filesystem::create_directories(blobs_);
    // As the scheduler does when a run is submitted.
    std::vector<hil::db::MetricDefRow> defs;
    for (const auto& m : hil::evals::suite_metrics(suite_spec_)) {
      defs.push_back({m.name, m.unit,
                      m.direction == hil::suite::HIGHER_IS_BETTER ? "higher" : "lower",
                      m.description});
    }
    store_.sync_metric_defs(defs);
    base = store_.upsert_revision({0, std::string(64, 'a'), "base", "1111111", "", "ana", 1000});
    snowblind = store_.upsert_revision(
        {0, std::string(63, 'b') + "c", "snowblind", "2222222", "481", "bo", 1000});
    suite = store_.upsert_suite(suite_spec_.name(), suite_text, std::string(64, '5'));
    const char* conditions[] = {"snow", "clear", "fog", "rain"};
    const char* roads[] = {"straight", "gentle", "straight", "s-bend"};
    const char* traffic[] = {"lead-brake", "free", "cut-in", "parked"};
    for (int i = 0; i < 4; ++i) {
      hil::evals::ClipSpec spec;
      spec.seed = 101 + static_cast<uint64_t>(i);
      spec.frames = kFrames;
      spec.condition = conditions[i];
      spec.road = roads[i];
      spec.traffic = traffic[i];
      spec.lanes = 3;
      spec.rig = "tri";
      spec.encoding = hil::clip::ENCODING_JPEG;
      clips.push_back(add_clip(spec));
    }
    if (with_run) run = add_run("pr-481 snow", clips);
  }

  // A clip generated into the blob folder as the scheduler stores it.
  TestClip add_clip(const hil::evals::ClipSpec& spec) {
    TestClip clip;
    clip.condition = spec.condition;
    clip.road = spec.road;
    clip.sha256 = hil::evals::generate_clip_file(spec, blobs_);
    std::filesystem::rename(blobs_ / (clip.sha256 + ".clip"), blobs_ / clip.sha256);
    hil::evals::ClipReader reader(blobs_ / clip.sha256);
    clip.header = reader.header();
    for (uint32_t k = 0; k < reader.frame_count(); ++k) clip.frames.push_back(reader.frame(k));
    std::vector<std::string> tags(clip.header.tags().begin(), clip.header.tags().end());
    clip.id = store_.upsert_clip(
        {0, clip.sha256, clip.header.name(), tags, reader.frame_count(), clip.header.fps()});
    return clip;
  }

  // A run of snowblind against base over `run_clips`, every eval recorded.
  int64_t add_run(const std::string& label, const std::vector<TestClip>& run_clips,
                  const RunOptions& options = {}) {
    std::vector<hil::db::NewEval> evals;
    for (const auto& c : run_clips) {
      evals.push_back({base, c.id, "split"});
      evals.push_back({snowblind, c.id, "split"});
    }
    int64_t run_id = 0;
    {
      hil::db::Transaction transaction(*writer_);
      run_id = store_.create_run(label, snowblind, base, suite, "gate", evals);
      transaction.commit();
    }
    const auto created = store_.evals_of_run(run_id);
    for (const auto& e : created) {
      const TestClip& clip = *std::find_if(run_clips.begin(), run_clips.end(),
                                           [&](const TestClip& c) { return c.id == e.clip_id; });
      record(e.id, clip, e.revision_id == snowblind, options);
    }
    store_.set_run_state(run_id, "done");
    return run_id;
  }

  void record(int64_t eval_id, const TestClip& clip, bool is_snowblind, const RunOptions& options) {
    const hil::evals::EvalScorer scorer = score(clip, is_snowblind, options.predictor);
    hil::db::EvalOutcome outcome;
    outcome.eval_id = eval_id;
    outcome.board = "rack-001";
    outcome.succeeded = true;
    outcome.host_seconds = 0.1;
    for (const auto& [name, value] : summary(scorer, clip, is_snowblind)) {
      outcome.metrics.emplace_back(name, value);
    }
    for (const auto& s : scorer.series()) {
      outcome.series.push_back({s.name, hil::evals::kSeriesCodec,
                                static_cast<uint32_t>(s.values.size()),
                                hil::evals::encode_series(s.values)});
    }
    if (options.store_outputs) {
      outcome.outputs_codec = hil::evals::kOutputsCodec;
      outcome.outputs = hil::evals::encode_outputs(scorer.outputs());
    }
    if (!store_.record_outcome(outcome)) throw std::runtime_error("outcome not recorded");
  }

  // The summary metrics a revision gets on a clip (what the database must
  // hold): EvalScorer's, and the plugin's the scheduler adds.
  std::map<std::string, double> expected_metrics(const TestClip& clip, bool is_snowblind) const {
    return summary(score(clip, is_snowblind, predict), clip, is_snowblind);
  }

  // The per-frame series a revision's eval of a clip holds, as the board scored them.
  std::map<std::string, std::vector<float>> expected_series(const TestClip& clip,
                                                            bool is_snowblind) const {
    std::map<std::string, std::vector<float>> out;
    for (auto& s : score(clip, is_snowblind, predict).series()) out[s.name] = std::move(s.values);
    return out;
  }

  const TestClip& snow_clip() const { return clips[0]; }
  hil::db::Store& store() { return store_; }
  const std::filesystem::path& path() const { return path_; }
  const std::filesystem::path& blob_dir() const { return blobs_; }
  QString qpath() const { return QString::fromStdString(path_.string()); }
  QString file_in_dir(const QString& name) const { return dir_.filePath(name); }

  int64_t base = 0, snowblind = 0, suite = 0, run = 0;
  std::vector<TestClip> clips;

 private:
  hil::evals::EvalScorer score(const TestClip& clip, bool is_snowblind,
                               const Predictor& predictor) const {
    hil::evals::EvalScorer scorer({suite_spec_.metrics().begin(), suite_spec_.metrics().end()},
                                  interface_);
    for (size_t k = 0; k < clip.frames.size(); ++k) {
      scorer.add_frame(clip.frames[k], predictor(clip.frames[k], is_snowblind,
                                                 clip.condition == "snow", static_cast<int>(k)));
    }
    return scorer;
  }

  static std::map<std::string, double> summary(const hil::evals::EvalScorer& scorer,
                                               const TestClip& clip, bool is_snowblind) {
    auto values = scorer.summary();
    values["comfort_index"] = !is_snowblind              ? kComfortA
                              : clip.condition == "snow" ? kComfortBSnow
                                                         : kComfortB;
    return values;
  }

  QTemporaryDir dir_;
  std::filesystem::path path_;
  std::filesystem::path blobs_;
  std::unique_ptr<hil::db::Database> writer_;
  hil::db::Store store_;
  hil::suite::Suite suite_spec_;
  hil::model::ModelInterface interface_;
};

}  // namespace compare_test
