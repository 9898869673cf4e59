// The metric catalogue: definitions and checks of each kind of declared
// metric (regression, detection, lane, lead, plugin). The computation of
// each kind over an eval is in metric_compute.cpp.
#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "hil/evals/clip_file.h"
#include "hil/evals/detection.h"
#include "hil/evals/metrics.h"
#include "hil/evals/model_interface.h"
#include "metric_compute.h"

namespace hil::evals {

namespace {

using suite::HIGHER_IS_BETTER;
using suite::LOWER_IS_BETTER;

const char* statistic_label(suite::Statistic s) {
  switch (s) {
    case suite::RMSE:
      return "root mean square error";
    case suite::P95:
      return "95th percentile absolute error";
    default:
      return "mean absolute error";
  }
}

const char* filter_label(suite::FrameFilter f) {
  switch (f) {
    case suite::LEAD_PRESENT:
      return ", frames with a lead vehicle";
    case suite::LEAD_ABSENT:
      return ", frames without a lead vehicle";
    case suite::LEAD_VISIBLE:
      return ", frames with a fully visible lead vehicle";
    case suite::LEAD_OCCLUDED:
      return ", frames with an occluded lead vehicle";
    default:
      return "";
  }
}

std::string detection_scope(const suite::DetectionMetric& d) {
  std::string s =
      fmt::format("{} {} {:g}", matching_label(d.matching()),
                  d.matching() == suite::CENTER_DISTANCE ? "<=" : ">=", detection_threshold(d));
  if (d.matching() == suite::CENTER_DISTANCE) s += " m";
  if (d.classes_size()) s += fmt::format(", classes {}", fmt::join(d.classes(), "+"));
  if (d.min_distance() > 0 || d.max_distance() > 0) {
    s += d.max_distance() > 0 ? fmt::format(", {:g}-{:g} m", d.min_distance(), d.max_distance())
                              : fmt::format(", beyond {:g} m", d.min_distance());
  }
  if (d.min_height_px() > 0) s += fmt::format(", boxes >= {:g} px high", d.min_height_px());
  if (d.max_truncation() > 0) s += fmt::format(", truncation <= {:g}", d.max_truncation());
  if (d.max_occlusion() != clip::VISIBILITY_UNKNOWN) {
    s += fmt::format(", occlusion up to {}", clip::Visibility_Name(d.max_occlusion()));
  }
  return s;
}

// What compute_metric() writes per frame ("frame.NAME") when it is not in
// the metric's unit (MetricDef::series_unit).
std::string per_frame_unit(const suite::MetricSpec& spec) {
  switch (spec.kind_case()) {
    case suite::MetricSpec::kDetection:
    case suite::MetricSpec::kLead:
      return "errors";
    case suite::MetricSpec::kLane:
      return spec.lane().output() == suite::LATERAL_ERROR ? "" : "errors";
    default:
      return "";
  }
}

MetricDef base_def(const suite::MetricSpec& spec, std::string unit, suite::Direction direction,
                   std::string what) {
  MetricDef d;
  d.name = spec.name();
  d.unit = std::move(unit);
  d.direction = direction;
  d.description = spec.description().empty() ? std::move(what) : spec.description();
  d.series = "frame." + spec.name();
  d.series_unit = per_frame_unit(spec);
  return d;
}

// A ratio metric and its two counts.
std::vector<MetricDef> ratio_defs(MetricDef def, const std::string& numerator,
                                  const std::string& other, const std::string& numerator_what,
                                  const std::string& other_what) {
  def.ratio_numerator = def.name + "." + numerator;
  def.ratio_other = def.name + "." + other;
  MetricDef n{def.ratio_numerator, "count", HIGHER_IS_BETTER, numerator_what};
  MetricDef o{def.ratio_other, "count", LOWER_IS_BETTER, other_what};
  n.auxiliary = o.auxiliary = true;
  return {def, n, o};
}

bool valid_truth_field(const std::string& f) {
  static const std::set<std::string> kFields{
      "control.steering",  "control.acceleration", "ego.lane_offset", "ego.lane_heading",
      "ego.lead_distance", "ego.curvature",        "odometry.speed",  "odometry.yaw_rate"};
  return kFields.count(f) > 0;
}

}  // namespace

std::vector<MetricDef> metric_defs(const suite::MetricSpec& spec) {
  switch (spec.kind_case()) {
    case suite::MetricSpec::kRegression: {
      const auto& r = spec.regression();
      auto d = base_def(spec, truth_unit(r.truth()), LOWER_IS_BETTER,
                        fmt::format("{} of {}.{} against {}{}", statistic_label(r.statistic()),
                                    r.head(), r.field(), r.truth(), filter_label(r.filter())));
      d.series = fmt::format("out.{}.{}", r.head(), r.field());
      return {d};
    }
    case suite::MetricSpec::kDetection: {
      const auto& det = spec.detection();
      const std::string scope = detection_scope(det);
      switch (det.output()) {
        case suite::PRECISION:
          return ratio_defs(
              base_def(spec, "ratio", HIGHER_IS_BETTER,
                       fmt::format("detection precision of head '{}' at score {:g} ({})",
                                   det.head(), detection_score_threshold(det), scope)),
              "tp", "fp", "detections matched to an object", "detections matching nothing");
        case suite::RECALL:
          return ratio_defs(
              base_def(spec, "ratio", HIGHER_IS_BETTER,
                       fmt::format("detection recall of head '{}' at score {:g} ({})", det.head(),
                                   detection_score_threshold(det), scope)),
              "tp", "fn", "objects detected", "objects missed");
        default:
          return {base_def(
              spec, "AP", HIGHER_IS_BETTER,
              fmt::format("average precision of head '{}' per clip, mean over classes ({}, {})",
                          det.head(), interpolation_label(det.interpolation()), scope))};
      }
    }
    case suite::MetricSpec::kLane: {
      const auto& l = spec.lane();
      const std::string rule =
          fmt::format("lines matched within {:g} m mean lateral distance", lane_tolerance(l));
      switch (l.output()) {
        case suite::LANE_F1:
          return ratio_defs(base_def(spec, "ratio", HIGHER_IS_BETTER,
                                     fmt::format("lane-line F1 of head '{}' ({})", l.head(), rule)),
                            "tp2", "errors", "twice the matched lines",
                            "unmatched lines, predicted or labelled");
        case suite::LANE_PRECISION:
          return ratio_defs(
              base_def(spec, "ratio", HIGHER_IS_BETTER,
                       fmt::format("lane-line precision of head '{}' ({})", l.head(), rule)),
              "tp", "fp", "predicted lines matched", "predicted lines matching none");
        case suite::LANE_RECALL:
          return ratio_defs(
              base_def(spec, "ratio", HIGHER_IS_BETTER,
                       fmt::format("lane-line recall of head '{}' ({})", l.head(), rule)),
              "tp", "fn", "labelled lines matched", "labelled lines missed");
        default:
          return {base_def(
              spec, "m", LOWER_IS_BETTER,
              fmt::format("mean lateral error of head '{}' at {:g} m over matched lines ({})",
                          l.head(), l.x(), rule))};
      }
    }
    case suite::MetricSpec::kLead: {
      const auto& l = spec.lead();
      if (l.output() == suite::LEAD_DISTANCE_MAE) {
        return {base_def(
            spec, "m", LOWER_IS_BETTER,
            fmt::format(
                "mean absolute lead distance error of head '{}' where truth and head agree a lead "
                "is present{}",
                l.head(), filter_label(l.filter())))};
      }
      const bool precision = l.output() == suite::LEAD_PRECISION;
      auto d = base_def(
          spec, "ratio", HIGHER_IS_BETTER,
          fmt::format("lead-vehicle {} of head '{}', frame by frame{}",
                      precision ? "precision" : "recall", l.head(), filter_label(l.filter())));
      d.frame_binary = true;
      return precision ? ratio_defs(d, "tp", "fp", "frames with a lead, detected",
                                    "frames without a lead, one reported")
                       : ratio_defs(d, "tp", "fn", "frames with a lead, detected",
                                    "frames with a lead, missed");
    }
    case suite::MetricSpec::kPlugin: {
      const auto& p = spec.plugin();
      auto d = base_def(spec, p.unit(),
                        p.direction() == HIGHER_IS_BETTER ? HIGHER_IS_BETTER : LOWER_IS_BETTER,
                        fmt::format("metric plugin {}{}", p.library(),
                                    p.params().empty() ? "" : fmt::format(" ({})", p.params())));
      d.plugin = true;
      d.series.clear();
      return {d};
    }
    default:
      return {};
  }
}

std::string metric_spec_error(const suite::MetricSpec& spec) {
  if (spec.name().empty()) return "a metric needs a name";
  if (is_system_metric(spec.name()))
    return fmt::format("'{}' is a system metric's name", spec.name());
  if (spec.name().find_first_of(" \t\n,\"'") != std::string::npos) {
    return fmt::format("metric name '{}' has a space, comma or quote", spec.name());
  }
  switch (spec.kind_case()) {
    case suite::MetricSpec::kRegression: {
      const auto& r = spec.regression();
      if (r.head().empty() || r.field().empty()) return "regression: set head and field";
      if (!valid_truth_field(r.truth())) {
        return fmt::format(
            "regression: unknown truth field '{}' (control.steering, control.acceleration, "
            "ego.lane_offset, "
            "ego.lane_heading, ego.lead_distance, ego.curvature, odometry.speed, "
            "odometry.yaw_rate)",
            r.truth());
      }
      return "";
    }
    case suite::MetricSpec::kDetection: {
      const auto& d = spec.detection();
      if (d.head().empty()) return "detection: set head";
      if (!std::isfinite(d.threshold()) || d.threshold() < 0 ||
          (d.matching() != suite::CENTER_DISTANCE && d.threshold() > 1)) {
        return fmt::format("detection: threshold {} out of range", d.threshold());
      }
      if (!std::isfinite(d.score_threshold()) || d.score_threshold() < 0 ||
          d.score_threshold() > 1) {
        return "detection: score_threshold must be in [0, 1]";
      }
      for (const auto& c : d.classes()) {
        if (!parse_object_class(c)) return fmt::format("detection: unknown class '{}'", c);
      }
      if (d.min_distance() < 0 || d.max_distance() < 0 ||
          (d.max_distance() > 0 && d.max_distance() <= d.min_distance())) {
        return "detection: the distance band needs 0 <= min_distance < max_distance";
      }
      return "";
    }
    case suite::MetricSpec::kLane: {
      const auto& l = spec.lane();
      if (l.head().empty()) return "lane: set head";
      if (l.output() == suite::LATERAL_ERROR && !(l.x() > 0))
        return "lane: LATERAL_ERROR needs the station x (metres)";
      if (l.tolerance() < 0) return "lane: tolerance must not be negative";
      return "";
    }
    case suite::MetricSpec::kLead:
      if (spec.lead().head().empty()) return "lead: set head";
      return "";
    case suite::MetricSpec::kPlugin:
      if (spec.plugin().library().empty()) return "plugin: set library";
      if (spec.plugin().direction() == suite::DIRECTION_UNKNOWN) {
        return "plugin: set direction (LOWER_IS_BETTER or HIGHER_IS_BETTER), so the gate knows "
               "without loading it";
      }
      return "";
    default:
      return fmt::format("metric '{}' has no kind (regression, detection, lane, lead or plugin)",
                         spec.name());
  }
}

std::vector<std::string> required_truth(const suite::MetricSpec& spec,
                                        const model::ModelInterface& iface) {
  switch (spec.kind_case()) {
    case suite::MetricSpec::kRegression: {
      const auto& r = spec.regression();
      std::vector<std::string> out{truth_token_of(r.truth())};
      if (r.filter() != suite::ALL_FRAMES) out.push_back(truth::kEgo);
      if (r.filter() == suite::LEAD_VISIBLE || r.filter() == suite::LEAD_OCCLUDED)
        out.push_back(truth::kObjects3d);
      return out;
    }
    case suite::MetricSpec::kDetection: {
      const auto* head = find_head(iface, spec.detection().head());
      bool image =
          head && head->has_objects() && head->objects().space() == model::ObjectsDecoder::IMAGE_2D;
      std::vector<std::string> out{image ? truth::kObjects2d : truth::kObjects3d};
      // A distance band on 2D boxes places the labelled objects by their cuboids.
      if (image && (spec.detection().min_distance() > 0 || spec.detection().max_distance() > 0)) {
        out.push_back(truth::kObjects3d);
      }
      return out;
    }
    case suite::MetricSpec::kLane:
      return {truth::kLanes};
    case suite::MetricSpec::kLead: {
      std::vector<std::string> out{truth::kEgo};
      if (spec.lead().filter() == suite::LEAD_VISIBLE ||
          spec.lead().filter() == suite::LEAD_OCCLUDED) {
        out.push_back(truth::kObjects3d);
      }
      return out;
    }
    default:
      return {};
  }
}

std::string metric_head_error(const suite::MetricSpec& spec, const model::ModelInterface& iface) {
  const std::string head = metric_head(spec);
  std::vector<HeadKind> kinds;
  switch (spec.kind_case()) {
    case suite::MetricSpec::kRegression:
      kinds = {HeadKind::kControl, HeadKind::kLead, HeadKind::kTensor};
      break;
    case suite::MetricSpec::kDetection:
      kinds = {HeadKind::kObjects};
      break;
    case suite::MetricSpec::kLane:
      kinds = {HeadKind::kLanes};
      break;
    case suite::MetricSpec::kLead:
      kinds = {HeadKind::kLead};
      break;
    default:
      return "";
  }
  const auto* b = find_head(iface, head);
  if (!b) {
    std::vector<std::string> names;
    for (const auto& o : iface.outputs()) names.push_back(o.head());
    return fmt::format("metric '{}' reads head '{}', which the model does not have (its heads: {})",
                       spec.name(), head, fmt::join(names, ", "));
  }
  const HeadKind kind = head_kind(*b);
  if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) {
    return fmt::format("metric '{}' reads head '{}', a {} head, which it cannot score", spec.name(),
                       head, head_kind_name(kind));
  }
  if (spec.has_regression() && head_field_index(*b, spec.regression().field()) < 0) {
    return fmt::format("metric '{}' reads field '{}' of head '{}', which has no such field ({})",
                       spec.name(), spec.regression().field(), head,
                       fmt::join(head_field_names(*b), ", "));
  }
  return "";
}

}  // namespace hil::evals
