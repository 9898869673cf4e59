// A real results database for the compare view's tests, made the way a
// scheduler makes one: generated clips stored as blobs beside the database
// (`<db>.blobs/<sha256>`), two revisions, a suite with gates, a run whose
// evals were scored by evals::EvalScorer over the clips' real ground truth,
// and per-frame series encoded with evals::encode_series. The writer stays
// open throughout, like a running scheduler.
//
// Revision A ("base") predicts close to the truth everywhere. Revision B
// ("snowblind") is far off on the snow clip (lane offset +0.6 m, heading
// -0.05 rad, steering -0.04 rad, no lead vehicle), and on that clip also
// has a deadline miss (frame 3), a command gap (frames 5 and 6) and a
// failover (engine 1 commands from frame 12); elsewhere it is slightly better
// than A.
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
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

namespace compare_test {

inline constexpr uint32_t kFrames = 24;
inline constexpr int kMissFrame = 3;
inline constexpr int kGapFrames[] = {5, 6};
inline constexpr int kFailoverFrame = 12;

inline const char* kSuiteText = R"pb(
  name: "viewer-test"
  board_type: "slowed-hw3"
  clips { generated { count: 4 frames: 24 seed: 101 } }
  scenarios { name: "split" mode: "split" }
  gates {
    metric: "lane_offset_mae"
    max_abs_degradation: 0.02
    confidence: 0.95
    min_clips: 2
    blocking: true
  }
  gates {
    metric: "steering_mae"
    max_abs_degradation: 0.002
    confidence: 0.95
    min_clips: 2
    blocking: true
  }
  gates {
    metric: "lead_recall"
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

struct TestClip {
  std::string sha256;
  std::string condition;
  std::string road;
  int64_t id = 0;
  hil::clip::ClipHeader header;
  std::vector<hil::clip::Frame> frames;
};

// What a revision "predicted" on one frame of a clip.
inline hil::evals::FrameRecord predict(const hil::clip::Frame& frame, bool snowblind, bool snow,
                                       int k) {
  hil::evals::FrameRecord r;
  const auto& ego = frame.labels().ego();
  const double noise = 0.01 * std::sin(0.7 * k + (snowblind ? 1.0 : 0.0));
  const bool off = snowblind && snow;
  r.outputs[hil::evals::kLaneOffset] = static_cast<float>(ego.lane_offset() + (off ? 0.6 : noise));
  r.outputs[hil::evals::kLaneHeading] =
      static_cast<float>(ego.lane_heading() + (off ? -0.05 : noise / 10));
  r.outputs[hil::evals::kLeadScore] = ego.lead_present() && !off ? 0.9f : 0.1f;
  r.outputs[hil::evals::kLeadDistance] =
      static_cast<float>(ego.lead_present() ? ego.lead_distance() + 0.5 : 0.0);
  r.outputs[hil::evals::kSteering] =
      static_cast<float>(frame.control().steering() + (off ? -0.04 : (snowblind ? 0.0005 : 0.001)));
  r.outputs[hil::evals::kAcceleration] = static_cast<float>(frame.control().acceleration());
  r.host_ms = 1.0;
  r.device_ms = 10.0;
  r.commander = 0;
  if (off) {
    if (k == kMissFrame) {
      r.device_ms = 40.0;  // the frame period at 36 fps is 27.8 ms
      r.deadline_missed = true;
    }
    for (int gap : kGapFrames) r.has_command = r.has_command && k != gap;
    if (k >= kFailoverFrame) r.commander = 1;
    r.failover = k == kFailoverFrame;
  }
  return r;
}

class CompareDatabase {
 public:
  explicit CompareDatabase(bool with_run = true)
      : path_(std::filesystem::path(dir_.path().toStdString()) / "hil.db"),
        blobs_(path_.string() + ".blobs"),
        writer_(std::make_unique<hil::db::Database>(path_)),
        store_(*writer_) {
    std::filesystem::create_directories(blobs_);
    std::vector<hil::db::MetricDefRow> defs;
    for (const auto& m : hil::evals::metric_registry()) {
      defs.push_back({m.name, m.unit,
                      m.direction == hil::suite::HIGHER_IS_BETTER ? "higher" : "lower",
                      m.description});
    }
    store_.sync_metric_defs(defs);
    base = store_.upsert_revision({0, std::string(64, 'a'), "base", "1111111", "", "ana", 1000});
    snowblind = store_.upsert_revision(
        {0, std::string(63, 'b') + "c", "snowblind", "2222222", "481", "bo", 1000});
    suite = store_.upsert_suite("viewer-test", kSuiteText, std::string(64, '5'));
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
  int64_t add_run(const std::string& label, const std::vector<TestClip>& run_clips) {
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
      record(e.id, clip, e.revision_id == snowblind);
    }
    store_.set_run_state(run_id, "done");
    return run_id;
  }

  void record(int64_t eval_id, const TestClip& clip, bool is_snowblind) {
    hil::evals::EvalScorer scorer;
    for (size_t k = 0; k < clip.frames.size(); ++k) {
      scorer.add_frame(clip.frames[k], predict(clip.frames[k], is_snowblind,
                                               clip.condition == "snow", static_cast<int>(k)));
    }
    hil::db::EvalOutcome outcome;
    outcome.eval_id = eval_id;
    outcome.board = "rack-001";
    outcome.succeeded = true;
    outcome.host_seconds = 0.1;
    for (const auto& [name, value] : scorer.summary()) outcome.metrics.emplace_back(name, value);
    for (const auto& s : scorer.series()) {
      outcome.series.push_back({s.name, hil::evals::kSeriesCodec,
                                static_cast<uint32_t>(s.values.size()),
                                hil::evals::encode_series(s.values)});
    }
    if (!store_.record_outcome(outcome)) throw std::runtime_error("outcome not recorded");
  }

  // The summary metrics EvalScorer gives a revision on a clip (what the
  // database must hold).
  static std::map<std::string, double> expected_metrics(const TestClip& clip, bool is_snowblind) {
    hil::evals::EvalScorer scorer;
    for (size_t k = 0; k < clip.frames.size(); ++k) {
      scorer.add_frame(clip.frames[k], predict(clip.frames[k], is_snowblind,
                                               clip.condition == "snow", static_cast<int>(k)));
    }
    return scorer.summary();
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
  QTemporaryDir dir_;
  std::filesystem::path path_;
  std::filesystem::path blobs_;
  std::unique_ptr<hil::db::Database> writer_;
  hil::db::Store store_;
};

}  // namespace compare_test
