#include "metric_compute.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "hil/evals/clip_file.h"
#include "hil/evals/detection.h"
#include "hil/evals/model_interface.h"

namespace hil::evals {

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

double ratio(double numerator, double other) {
  // Nothing to count (no lead, nothing reported): perfect, as the gate's
  // ratio recomputation (gate.cpp) also says.
  return numerator + other > 0 ? numerator / (numerator + other) : 1.0;
}

// A ratio metric and the two counts the gate recomputes it from
// (metric_defs names them NAME.<numerator> and NAME.<other>).
void put_ratio(MetricResult& out, const std::string& name, const char* numerator_suffix,
               double numerator, const char* other_suffix, double other) {
  out.values[name + "." + numerator_suffix] = numerator;
  out.values[name + "." + other_suffix] = other;
  out.values[name] = ratio(numerator, other);
}

// ---------------------------------------------------------------- regression

MetricResult regression(const suite::MetricSpec& spec, const model::OutputBinding& head,
                        const std::vector<clip::Frame>& truth,
                        const std::vector<FrameRecord>& records) {
  const auto& r = spec.regression();
  const int index = head_field_index(head, r.field());
  MetricResult out;
  out.per_frame.assign(records.size(), kNaN);
  std::vector<double> errors;
  for (size_t i = 0; i < records.size(); ++i) {
    if (!records[i].outputs.has_outputs() || !frame_passes(truth[i], r.filter())) continue;
    const auto* h = head_output(records[i].outputs, head.head());
    const double t = truth_value(truth[i], r.truth());
    if (!h || !std::isfinite(t)) continue;
    const double e = std::abs(static_cast<double>(head_field_value(*h, head, index)) - t);
    errors.push_back(e);
    out.per_frame[i] = static_cast<float>(e);
  }
  if (errors.empty()) return out;  // undefined on this clip
  double value = 0;
  switch (r.statistic()) {
    case suite::RMSE: {
      double sq = 0;
      for (double e : errors) sq += e * e;
      value = std::sqrt(sq / static_cast<double>(errors.size()));
      break;
    }
    case suite::P95:
      value = percentile(errors, 0.95);
      break;
    default: {
      double sum = 0;
      for (double e : errors) sum += e;
      value = sum / static_cast<double>(errors.size());
    }
  }
  out.values[spec.name()] = value;
  return out;
}

// ---------------------------------------------------------------- detection

struct DetectionFrame {
  std::vector<DetectionBox> detections;
  std::vector<TruthBox> truths;
};

MetricResult detection(const suite::MetricSpec& spec, const model::OutputBinding& head,
                       const std::vector<clip::Frame>& truth,
                       const std::vector<FrameRecord>& records) {
  const auto& d = spec.detection();
  const auto& decoder = head.objects();
  const bool image = decoder.space() == model::ObjectsDecoder::IMAGE_2D;
  const std::string& camera = decoder.camera();
  const DistanceBand band{d.min_distance(), d.max_distance()};
  const bool banded = d.min_distance() > 0 || d.max_distance() > 0;
  const double threshold = detection_threshold(d), score_threshold = detection_score_threshold(d);

  std::set<int> classes;
  for (const auto& c : d.classes()) classes.insert(*parse_object_class(c));
  if (classes.empty()) {
    // Every class the truth or the head has.
    for (const auto& c : decoder.classes()) classes.insert(*parse_object_class(c));
    for (const auto& f : truth) {
      for (const auto& o : f.labels().objects()) classes.insert(o.cls());
    }
    classes.erase(clip::CLASS_UNKNOWN);
  }

  MetricResult out;
  out.per_frame.assign(records.size(), kNaN);
  std::map<int, std::vector<std::pair<double, bool>>> scored;
  std::map<int, uint64_t> truths;
  uint64_t tp = 0, fp = 0, fn = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    if (!records[i].outputs.has_outputs()) continue;
    const auto& labels = truth[i].labels();
    std::vector<Box2> regions;
    if (image) {
      for (const auto& r : labels.ignore_regions()) {
        if (r.camera() == camera) regions.push_back({r.x0(), r.y0(), r.x1(), r.y1()});
      }
    }
    const auto* h = head_output(records[i].outputs, head.head());
    double frame_errors = 0;
    for (int cls : classes) {
      DetectionFrame frame;
      for (const auto& o : labels.objects()) {
        if (o.cls() != cls) continue;
        TruthBox t;
        if (o.has_cuboid()) t.cuboid = o.cuboid();
        bool ignored = false;
        if (image) {
          const clip::Box2D* box = nullptr;
          for (const auto& b : o.boxes()) {
            if (b.camera() == camera) box = &b;
          }
          if (!box) continue;  // not in this camera
          t.box = {box->x0(), box->y0(), box->x1(), box->y1()};
          if (d.min_height_px() > 0 && box->y1() - box->y0() < d.min_height_px()) ignored = true;
          if (d.max_truncation() > 0 && box->truncation() > d.max_truncation()) ignored = true;
        } else if (!o.has_cuboid()) {
          continue;
        }
        if (d.max_occlusion() != clip::VISIBILITY_UNKNOWN &&
            (o.visibility() == clip::VISIBILITY_UNKNOWN || o.visibility() > d.max_occlusion())) {
          ignored = true;
        }
        if (image && o.visibility() == clip::OUT_OF_VIEW) ignored = true;
        if (banded &&
            (!o.has_cuboid() || !band.contains(std::hypot(o.cuboid().x(), o.cuboid().y()))))
          ignored = true;
        t.ignored = ignored;
        frame.truths.push_back(t);
      }
      if (h) {
        for (const auto& det : h->objects()) {
          if (det.cls() != cls) continue;
          if (image && det.camera() != camera) continue;
          DetectionBox b;
          b.score = det.score();
          b.box = {det.x0(), det.y0(), det.x1(), det.y1()};
          if (det.has_cuboid()) b.cuboid = det.cuboid();
          frame.detections.push_back(b);
        }
      }
      // Ranked, every detection the decoder kept: for AP.
      const auto all = match_frame(frame.detections, frame.truths, d.matching(), threshold, regions,
                                   image ? DistanceBand{} : band);
      truths[cls] += all.truths;
      for (size_t k = 0; k < frame.detections.size(); ++k) {
        if (all.outcomes[k] == MatchOutcome::kIgnored) continue;
        scored[cls].emplace_back(frame.detections[k].score,
                                 all.outcomes[k] == MatchOutcome::kTruePositive);
      }
      // At the operating point: for precision, recall and the per-frame series.
      std::vector<DetectionBox> kept;
      for (const auto& b : frame.detections) {
        if (b.score >= score_threshold) kept.push_back(b);
      }
      const auto at = match_frame(kept, frame.truths, d.matching(), threshold, regions,
                                  image ? DistanceBand{} : band);
      uint64_t frame_fp = static_cast<uint64_t>(
          std::count(at.outcomes.begin(), at.outcomes.end(), MatchOutcome::kFalsePositive));
      tp += at.matched;
      fp += frame_fp;
      fn += at.truths - at.matched;
      frame_errors += static_cast<double>(frame_fp + at.truths - at.matched);
    }
    out.per_frame[i] = static_cast<float>(frame_errors);
  }
  switch (d.output()) {
    case suite::PRECISION:
      put_ratio(out, spec.name(), "tp", static_cast<double>(tp), "fp", static_cast<double>(fp));
      break;
    case suite::RECALL:
      put_ratio(out, spec.name(), "tp", static_cast<double>(tp), "fn", static_cast<double>(fn));
      break;
    default: {
      double sum = 0;
      int defined = 0;
      for (int cls : classes) {
        auto ap = average_precision(scored[cls], truths[cls], d.interpolation());
        if (!ap) continue;  // no labelled object of this class on this clip
        sum += *ap;
        ++defined;
      }
      if (defined) out.values[spec.name()] = sum / defined;
    }
  }
  return out;
}

// ---------------------------------------------------------------- lanes

// y of a polyline at x (linear between points), NaN outside it.
double line_y(const std::vector<std::pair<double, double>>& pts, double x) {
  if (pts.size() < 2 || x < pts.front().first || x > pts.back().first) return NAN;
  for (size_t k = 1; k < pts.size(); ++k) {
    if (x <= pts[k].first) {
      const auto &a = pts[k - 1], &b = pts[k];
      double t = b.first > a.first ? (x - a.first) / (b.first - a.first) : 0;
      return a.second + t * (b.second - a.second);
    }
  }
  return NAN;
}

MetricResult lanes(const suite::MetricSpec& spec, const model::OutputBinding& head,
                   const std::vector<clip::Frame>& truth, const std::vector<FrameRecord>& records) {
  const auto& l = spec.lane();
  const double tolerance = lane_tolerance(l);
  const auto stations = lane_stations(l);
  MetricResult out;
  out.per_frame.assign(records.size(), kNaN);
  uint64_t tp = 0, fp = 0, fn = 0;
  double error_sum = 0;
  uint64_t error_n = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    if (!records[i].outputs.has_outputs()) continue;
    std::vector<std::vector<std::pair<double, double>>> gt, pred;
    for (const auto& line : truth[i].labels().lanes()) {
      auto& pts = gt.emplace_back();
      for (const auto& p : line.points()) pts.emplace_back(p.x(), p.y());
      std::sort(pts.begin(), pts.end());
    }
    if (const auto* h = head_output(records[i].outputs, head.head())) {
      for (const auto& lane : h->lanes()) {
        auto& pts = pred.emplace_back();
        for (int k = 0; k < std::min(lane.x_size(), lane.y_size()); ++k)
          pts.emplace_back(lane.x(k), lane.y(k));
        std::sort(pts.begin(), pts.end());
      }
    }
    // Every pair within the tolerance, closest first, one to one.
    std::vector<std::tuple<double, size_t, size_t>> pairs;
    for (size_t g = 0; g < gt.size(); ++g) {
      for (size_t p = 0; p < pred.size(); ++p) {
        double sum = 0;
        int n = 0;
        for (double x : stations) {
          double a = line_y(gt[g], x), b = line_y(pred[p], x);
          if (std::isfinite(a) && std::isfinite(b)) sum += std::abs(a - b), ++n;
        }
        if (n && sum / n <= tolerance) pairs.emplace_back(sum / n, g, p);
      }
    }
    std::sort(pairs.begin(), pairs.end());
    std::vector<bool> gt_used(gt.size()), pred_used(pred.size());
    uint64_t matched = 0;
    double frame_error = 0;
    int frame_error_n = 0;
    for (const auto& [dist, g, p] : pairs) {
      if (gt_used[g] || pred_used[p]) continue;
      gt_used[g] = pred_used[p] = true;
      ++matched;
      double a = line_y(gt[g], l.x()), b = line_y(pred[p], l.x());
      if (l.output() == suite::LATERAL_ERROR && std::isfinite(a) && std::isfinite(b)) {
        frame_error += std::abs(a - b);
        ++frame_error_n;
      }
    }
    tp += matched;
    fp += pred.size() - matched;
    fn += gt.size() - matched;
    error_sum += frame_error;
    error_n += static_cast<uint64_t>(frame_error_n);
    if (l.output() == suite::LATERAL_ERROR) {
      if (frame_error_n) out.per_frame[i] = static_cast<float>(frame_error / frame_error_n);
    } else {
      out.per_frame[i] = static_cast<float>(pred.size() - matched + gt.size() - matched);
    }
  }
  const auto& n = spec.name();
  const auto tpd = static_cast<double>(tp), fpd = static_cast<double>(fp),
             fnd = static_cast<double>(fn);
  switch (l.output()) {
    case suite::LANE_F1:
      put_ratio(out, n, "tp2", 2.0 * tpd, "errors", fpd + fnd);
      break;
    case suite::LANE_PRECISION:
      put_ratio(out, n, "tp", tpd, "fp", fpd);
      break;
    case suite::LANE_RECALL:
      put_ratio(out, n, "tp", tpd, "fn", fnd);
      break;
    default:
      if (error_n) out.values[n] = error_sum / static_cast<double>(error_n);
  }
  return out;
}

// ---------------------------------------------------------------- lead

MetricResult lead(const suite::MetricSpec& spec, const model::OutputBinding& head,
                  const std::vector<clip::Frame>& truth, const std::vector<FrameRecord>& records) {
  const auto& l = spec.lead();
  MetricResult out;
  out.per_frame.assign(records.size(), kNaN);
  uint64_t tp = 0, fp = 0, fn = 0;
  double dist = 0;
  uint64_t dist_n = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    if (!records[i].outputs.has_outputs() || !frame_passes(truth[i], l.filter())) continue;
    const auto* h = head_output(records[i].outputs, head.head());
    if (!h) continue;
    const auto& ego = truth[i].labels().ego();
    const bool predicted = h->lead_present(), present = ego.lead_present();
    out.per_frame[i] = predicted == present ? 0.0f : 1.0f;
    if (predicted && present) {
      ++tp;
      dist += std::abs(static_cast<double>(h->lead_distance()) - ego.lead_distance());
      ++dist_n;
    } else if (predicted) {
      ++fp;
    } else if (present) {
      ++fn;
    }
  }
  const auto& n = spec.name();
  switch (l.output()) {
    case suite::LEAD_PRECISION:
      put_ratio(out, n, "tp", static_cast<double>(tp), "fp", static_cast<double>(fp));
      break;
    case suite::LEAD_DISTANCE_MAE:
      if (dist_n) out.values[n] = dist / static_cast<double>(dist_n);
      break;
    default:
      put_ratio(out, n, "tp", static_cast<double>(tp), "fn", static_cast<double>(fn));
  }
  return out;
}

}  // namespace

std::string metric_head(const suite::MetricSpec& spec) {
  switch (spec.kind_case()) {
    case suite::MetricSpec::kRegression:
      return spec.regression().head();
    case suite::MetricSpec::kDetection:
      return spec.detection().head();
    case suite::MetricSpec::kLane:
      return spec.lane().head();
    case suite::MetricSpec::kLead:
      return spec.lead().head();
    default:
      return "";
  }
}

double detection_threshold(const suite::DetectionMetric& d) {
  if (d.threshold() > 0) return d.threshold();
  return d.matching() == suite::CENTER_DISTANCE ? 2.0 : 0.5;
}
double detection_score_threshold(const suite::DetectionMetric& d) {
  return d.score_threshold() > 0 ? d.score_threshold() : 0.5;
}
double lane_tolerance(const suite::LaneMetric& l) {
  return l.tolerance() > 0 ? l.tolerance() : 0.5;
}
std::vector<double> lane_stations(const suite::LaneMetric& l) {
  if (l.stations_size() == 0) return {10, 20, 40};
  return {l.stations().begin(), l.stations().end()};
}

std::string truth_unit(const std::string& field) {
  if (field == "control.steering" || field == "ego.lane_heading") return "rad";
  if (field == "control.acceleration") return "m/s^2";
  if (field == "ego.curvature") return "1/m";
  if (field == "odometry.speed") return "m/s";
  if (field == "odometry.yaw_rate") return "rad/s";
  return "m";
}

std::string truth_token_of(const std::string& field) {
  if (field.rfind("control.", 0) == 0) return truth::kControl;
  if (field.rfind("odometry.", 0) == 0) return truth::kOdometry;
  return truth::kEgo;
}

double truth_value(const clip::Frame& f, const std::string& field) {
  const auto& ego = f.labels().ego();
  if (field == "control.steering") return f.control().steering();
  if (field == "control.acceleration") return f.control().acceleration();
  if (field == "ego.lane_offset") return ego.lane_offset();
  if (field == "ego.lane_heading") return ego.lane_heading();
  if (field == "ego.lead_distance") return ego.lead_present() ? ego.lead_distance() : NAN;
  if (field == "ego.curvature") return ego.curvature();
  if (field == "odometry.speed") return f.odometry().speed();
  if (field == "odometry.yaw_rate") return f.odometry().yaw_rate();
  return NAN;
}

std::vector<std::string> head_field_names(const model::OutputBinding& head) {
  if (head.has_control()) return {"steering", "acceleration"};
  if (head.has_lead()) return {"score", "distance"};
  if (head.has_tensor()) {
    std::vector<std::string> out;
    for (const auto& f : head.tensor().fields()) out.push_back(f);
    return out;
  }
  return {};
}

int head_field_index(const model::OutputBinding& head, const std::string& field) {
  if (field.empty()) return -1;
  auto names = head_field_names(head);
  auto it = std::find(names.begin(), names.end(), field);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

float head_field_value(const outputs::HeadOutput& out, const model::OutputBinding& head,
                       int index) {
  if (head.has_control()) return index == 0 ? out.steering() : out.acceleration();
  if (head.has_lead()) return index == 0 ? out.lead_score() : out.lead_distance();
  return index >= 0 && index < out.values_size() ? out.values(index) : kNaN;
}

bool push_away_from_truth(outputs::HeadOutput& out, const model::OutputBinding& head,
                          const suite::RegressionMetric& spec, const clip::Frame& truth, float size,
                          float fallback_sign) {
  const int index = head_field_index(head, spec.field());
  if (index < 0) return false;
  const float value = head_field_value(out, head, index);
  const double t = truth_value(truth, spec.truth());
  const float away = std::isfinite(t) ? (value >= t ? 1.0f : -1.0f) : fallback_sign;
  const float moved = value + away * size;
  if (head.has_control()) {
    index == 0 ? out.set_steering(moved) : out.set_acceleration(moved);
  } else if (head.has_lead()) {
    index == 0 ? out.set_lead_score(moved) : out.set_lead_distance(moved);
  } else if (index < out.values_size()) {
    out.set_values(index, moved);
  } else {
    return false;
  }
  return true;
}

const outputs::HeadOutput* head_output(const outputs::FrameOutputs& frame,
                                       const std::string& head) {
  for (const auto& h : frame.heads()) {
    if (h.head() == head) return &h;
  }
  return nullptr;
}

bool lead_visible(const clip::Frame& frame) {
  const auto& ego = frame.labels().ego();
  if (!ego.lead_present()) return true;
  // The lead is the labelled vehicle whose rear is at the lead distance.
  for (const auto& o : frame.labels().objects()) {
    const auto& c = o.cuboid();
    if (o.has_cuboid() && std::abs(c.x() - c.length() / 2 - ego.lead_distance()) < 0.25 &&
        std::abs(c.y()) < 2.5) {
      return o.visibility() == clip::VISIBLE;
    }
  }
  return true;
}

bool frame_passes(const clip::Frame& frame, suite::FrameFilter filter) {
  const bool present = frame.labels().ego().lead_present();
  switch (filter) {
    case suite::LEAD_PRESENT:
      return present;
    case suite::LEAD_ABSENT:
      return !present;
    case suite::LEAD_VISIBLE:
      return present && lead_visible(frame);
    case suite::LEAD_OCCLUDED:
      return present && !lead_visible(frame);
    default:
      return true;
  }
}

MetricResult compute_metric(const suite::MetricSpec& spec, const model::OutputBinding& head,
                            const std::vector<clip::Frame>& truth,
                            const std::vector<FrameRecord>& records) {
  switch (spec.kind_case()) {
    case suite::MetricSpec::kRegression:
      return regression(spec, head, truth, records);
    case suite::MetricSpec::kDetection:
      return detection(spec, head, truth, records);
    case suite::MetricSpec::kLane:
      return lanes(spec, head, truth, records);
    case suite::MetricSpec::kLead:
      return lead(spec, head, truth, records);
    default:
      return {};
  }
}

}  // namespace hil::evals
