#include "hil/evals/suite.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "hil/evals/clip_file.h"
#include "hil/evals/clip_generator.h"
#include "hil/evals/metrics.h"
#include "hil/evals/model_interface.h"
#include "hil/evals/sha256.h"
#include "text_format.h"

namespace hil::evals {
using detail::line_of;
using google::protobuf::TextFormat;

// Plays of a clip on a board that measures device time: bounded, so that a
// typo cannot hold a board for hours.
constexpr uint32_t kMaxLatencyRepeats = 100;

namespace {

// What is wrong with a field of a scenario: the field (relative to the
// scenario) and why, or nullopt when it is fine.
struct FieldError {
  std::string field, what;
};

std::optional<FieldError> mode_error(const suite::Scenario& sc, ScenarioMode& mode) {
  const std::string& m = sc.mode();
  if (m.empty() || m == "split") {
    mode = ScenarioMode::kSplit;
  } else if (m == "single") {
    mode = ScenarioMode::kSingle;
  } else if (m == "redundant") {
    mode = ScenarioMode::kRedundant;
  } else if (m == "noop") {
    mode = ScenarioMode::kNoop;
  } else {
    return FieldError{"mode", fmt::format("unknown mode '{}' (split, single, redundant, noop)", m)};
  }
  return std::nullopt;
}

std::optional<FieldError> fault_error(const suite::Fault& f, FaultSpec& spec) {
  const std::string& e = f.engine();
  if (e == "commander") {
    spec.engine = FaultEngine::kCommander;
  } else if (e == "extender") {
    spec.engine = FaultEngine::kExtender;
  } else if (e == "0" || e == "1") {
    spec.engine = e == "0" ? FaultEngine::kEngine0 : FaultEngine::kEngine1;
  } else {
    return FieldError{"faults.engine",
                      fmt::format("unknown engine '{}' (commander, extender, 0, 1)", e)};
  }
  const std::string& k = f.kind();
  spec.slow_factor = 1;
  if (k == "crash") {
    spec.kind = FaultKind::kCrash;
  } else if (k == "hang") {
    spec.kind = FaultKind::kHang;
  } else if (k == "nan") {
    spec.kind = FaultKind::kNonFinite;
  } else if (k == "ecc") {
    spec.kind = FaultKind::kEcc;
  } else if (k == "slow" || k.rfind("slow:", 0) == 0) {
    spec.kind = FaultKind::kSlow;
    spec.slow_factor = 2;
    if (k.size() > 5) {
      char* end = nullptr;
      spec.slow_factor = std::strtod(k.c_str() + 5, &end);
      if (end == k.c_str() + 5 || *end != '\0') {
        return FieldError{"faults.kind", fmt::format("fault kind '{}': slow:N needs a number", k)};
      }
    }
    if (!(spec.slow_factor >= 1 && spec.slow_factor <= 1000))
      return FieldError{"faults.kind", fmt::format("fault kind '{}': N must be 1..1000", k)};
  } else {
    return FieldError{"faults.kind",
                      fmt::format("unknown fault kind '{}' (crash, hang, slow:N, nan, ecc)", k)};
  }
  spec.frame = f.frame();
  return std::nullopt;
}

[[noreturn]] void throw_scenario_error(const suite::Scenario& sc, const FieldError& err) {
  throw ScenarioError(
      fmt::format("scenario '{}': field 'scenarios.{}': {}", sc.name(), err.field, err.what));
}

}  // namespace

ScenarioMode scenario_mode(const suite::Scenario& scenario) {
  ScenarioMode mode = ScenarioMode::kSplit;
  if (auto err = mode_error(scenario, mode)) throw_scenario_error(scenario, *err);
  return mode;
}

FaultSpec fault_spec(const suite::Fault& fault) {
  FaultSpec spec;
  if (auto err = fault_error(fault, spec)) {
    throw ScenarioError(fmt::format("field 'scenarios.{}': {}", err->field, err->what));
  }
  return spec;
}

suite::Suite parse_suite(const std::string& text, const std::string& name) {
  suite::Suite s;
  TextFormat::ParseInfoTree tree;
  if (auto err = detail::parse_text(text, name, &s, &tree); !err.empty()) throw SuiteError(err);
  auto fail = [&](int line, const std::string& field, const std::string& what) {
    throw SuiteError(fmt::format("{}:{}: field '{}': {}", name, line, field, what));
  };
  if (s.name().empty()) fail(1, "name", "required");
  if (s.board_type().empty()) fail(1, "board_type", "required (e.g. \"slowed-hw3\")");
  for (int i = 0; i < s.clips().sha256_size(); ++i) {
    if (!is_sha256_hex(s.clips().sha256(i))) {
      const auto* sub = tree.GetTreeForNested(s.GetDescriptor()->FindFieldByName("clips"), -1);
      fail(line_of(sub, s.clips(), "sha256", i), "clips.sha256",
           fmt::format("'{}' is not a SHA-256 hex digest", s.clips().sha256(i)));
    }
  }
  const auto* clips_tree = tree.GetTreeForNested(s.GetDescriptor()->FindFieldByName("clips"), -1);
  for (int i = 0; i < s.clips().generated_size(); ++i) {
    const auto& g = s.clips().generated(i);
    const auto* gt = clips_tree ? clips_tree->GetTreeForNested(
                                      s.clips().GetDescriptor()->FindFieldByName("generated"), i)
                                : nullptr;
    int line = line_of(clips_tree, s.clips(), "generated", i);
    if (g.count() == 0) fail(line, "clips.generated.count", "must be at least 1");
    if (g.frames() > 100000) fail(line, "clips.generated.frames", "at most 100000");
    if (!g.rig().empty()) {
      const auto& rigs = known_rigs();
      if (std::find(rigs.begin(), rigs.end(), g.rig()) == rigs.end()) {
        fail(line, "clips.generated.rig", fmt::format("unknown rig '{}' (front, tri)", g.rig()));
      }
    }
    if ((g.width() && (g.width() < 32 || g.width() > 4096)) ||
        (g.height() && (g.height() < 16 || g.height() > 4096))) {
      fail(line, "clips.generated.width/height", "out of range (32..4096 x 16..4096)");
    }
    if (g.quality() > 100) fail(line, "clips.generated.quality", "JPEG quality is 1..100");
    for (int c = 0; c < g.conditions_size(); ++c) {
      const auto& known = known_conditions();
      if (std::find(known.begin(), known.end(), g.conditions(c)) == known.end()) {
        fail(line_of(gt, g, "conditions", c), "clips.generated.conditions",
             fmt::format("unknown condition '{}' (known: clear, rain, snow, fog, night, spray)",
                         g.conditions(c)));
      }
    }
  }
  for (int i = 0; i < s.clips().paths_size(); ++i) {
    if (s.clips().paths(i).empty())
      fail(line_of(clips_tree, s.clips(), "paths", i), "clips.paths", "an empty path");
  }
  if (s.clips().sha256_size() == 0 && s.clips().generated_size() == 0 &&
      s.clips().paths_size() == 0) {
    fail(1, "clips", "selects no clip");
  }
  if (s.scenarios_size() == 0) fail(1, "scenarios", "at least one scenario is required");
  std::set<std::string> scenario_names;
  for (int i = 0; i < s.scenarios_size(); ++i) {
    const auto& sc = s.scenarios(i);
    int line = line_of(&tree, s, "scenarios", i);
    const auto* st = detail::nested(&tree, s, "scenarios", i);
    if (sc.name().empty()) fail(line, "scenarios.name", "required");
    if (!scenario_names.insert(sc.name()).second)
      fail(line, "scenarios.name", fmt::format("scenario '{}' named twice", sc.name()));
    ScenarioMode mode;
    if (auto err = mode_error(sc, mode))
      fail(line_of(st, sc, "mode"), "scenarios." + err->field, err->what);
    for (int j = 0; j < sc.faults_size(); ++j) {
      FaultSpec spec;
      if (auto err = fault_error(sc.faults(j), spec)) {
        const int at = line_of(detail::nested(st, sc, "faults", j), sc.faults(j), "kind");
        fail(at ? at : line_of(st, sc, "faults", j), "scenarios." + err->field, err->what);
      }
    }
    if (sc.commander() > 1) {
      fail(line_of(st, sc, "commander"), "scenarios.commander",
           fmt::format("engine {} does not exist (0 or 1)", sc.commander()));
    }
    for (const auto& [field, value] :
         {std::pair{"fps", sc.fps()}, std::pair{"heartbeat_period_ms", sc.heartbeat_period_ms()},
          std::pair{"ftti_ms", sc.ftti_ms()}}) {
      if (!(value >= 0) || !std::isfinite(value))
        fail(line, fmt::format("scenarios.{}", field),
             fmt::format("must be a finite number, not negative; got {}", value));
    }
    if (sc.latency_repeats() > kMaxLatencyRepeats) {
      fail(line_of(st, sc, "latency_repeats"), "scenarios.latency_repeats",
           fmt::format("{} is more than {}", sc.latency_repeats(), kMaxLatencyRepeats));
    }
  }
  if (!(s.missing_evals_allowed() >= 0 && s.missing_evals_allowed() <= 1)) {
    fail(line_of(&tree, s, "missing_evals_allowed"), "missing_evals_allowed",
         fmt::format("{} is not a fraction in [0, 1]", s.missing_evals_allowed()));
  }
  std::set<std::string> declared;
  for (int i = 0; i < s.metrics_size(); ++i) {
    const auto& m = s.metrics(i);
    int line = line_of(&tree, s, "metrics", i);
    if (auto err = metric_spec_error(m); !err.empty())
      fail(line, fmt::format("metrics '{}'", m.name()), err);
    if (!declared.insert(m.name()).second)
      fail(line, "metrics.name", fmt::format("metric '{}' declared twice", m.name()));
  }
  const auto defs = suite_metrics(s);
  for (int i = 0; i < s.gates_size(); ++i) {
    const auto& g = s.gates(i);
    int line = line_of(&tree, s, "gates", i);
    if (!find_metric(defs, g.metric())) {
      std::vector<std::string> names;
      for (const auto& m : s.metrics()) names.push_back(m.name());
      fail(line, "gates.metric",
           fmt::format(
               "unknown metric '{}': declare it under metrics (declared: {}) or gate a system "
               "metric "
               "(device_latency_p99_ms, command_gaps, deadline_misses, ...)",
               g.metric(),
               names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "))));
    }
    // NaN passes every comparison, so the range checks test for it first
    // (found by fuzzing: a NaN margin made a gate that can never pass).
    if (std::isnan(g.confidence()) ||
        (g.confidence() != 0 && (g.confidence() <= 0.5 || g.confidence() >= 1))) {
      fail(line, "gates.confidence", fmt::format("{} is not in (0.5, 1)", g.confidence()));
    }
    if (!std::isfinite(g.max_abs_degradation()) || !std::isfinite(g.max_rel_degradation())) {
      fail(line, "gates.max_*_degradation", "must be a finite number");
    }
    if (g.max_abs_degradation() < 0 || g.max_rel_degradation() < 0)
      fail(line, "gates.max_*_degradation", "must not be negative");
  }
  return s;
}

bool plays_frames(const suite::Suite& s) {
  return std::any_of(s.scenarios().begin(), s.scenarios().end(),
                     [](const suite::Scenario& sc) { return sc.mode() != "noop"; });
}

void check_suite_fit(const suite::Suite& s, const model::ModelInterface& iface,
                     const std::string& revision,
                     const std::vector<std::pair<std::string, clip::ClipHeader>>& clips) {
  for (const auto& m : s.metrics()) {
    if (auto err = metric_head_error(m, iface); !err.empty()) {
      throw SuiteError(fmt::format("suite {}, revision {}: {}", s.name(), revision, err));
    }
  }
  if (!has_control_head(iface)) {
    for (const auto& g : s.gates()) {
      if (g.metric() == "command_gaps") {
        throw SuiteError(fmt::format(
            "suite {} gates command_gaps, but revision {} has no control head (it commands "
            "nothing, so it has no command gaps)",
            s.name(), revision));
      }
    }
  }
  const auto cameras = interface_cameras(iface);
  for (const auto& [clip_name, header] : clips) {
    for (const auto& cam : cameras) {
      if (!find_camera(header, cam)) {
        std::vector<std::string> have;
        for (const auto& c : header.cameras()) have.push_back(c.name());
        throw SuiteError(fmt::format(
            "revision {} reads camera '{}', which clip {} does not have (its cameras: {})",
            revision, cam, clip_name, fmt::join(have, ", ")));
      }
    }
    for (const auto& b : iface.outputs()) {
      if (b.has_objects() && b.objects().space() == model::ObjectsDecoder::IMAGE_2D &&
          !find_camera(header, b.objects().camera())) {
        throw SuiteError(fmt::format(
            "revision {}: head '{}' has boxes in camera '{}', which clip {} does not have",
            revision, b.head(), b.objects().camera(), clip_name));
      }
    }
    for (const auto& m : s.metrics()) {
      for (const auto& t : required_truth(m, iface)) {
        if (!has_truth(header, t)) {
          auto all = clip_truth(header);
          throw SuiteError(fmt::format(
              "metric '{}' needs ground truth '{}', which clip {} does not carry (it has: {})",
              m.name(), t, clip_name,
              all.empty() ? std::string("none") : fmt::format("{}", fmt::join(all, ", "))));
        }
      }
    }
  }
}

std::filesystem::path suites_dir() {
  if (const char* env = std::getenv("HIL_SUITES")) return env;
  return HIL_SUITES_DIR;
}

std::vector<std::string> list_suites() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(suites_dir(), ec)) {
    if (e.path().extension() == ".textproto") out.push_back(e.path().stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

suite::Suite load_suite(const std::string& name_or_path) {
  std::filesystem::path path = name_or_path;
  if (!std::filesystem::exists(path)) path = suites_dir() / (name_or_path + ".textproto");
  if (!std::filesystem::exists(path)) {
    auto known = list_suites();
    throw SuiteError(fmt::format("unknown suite '{}': no such file, and none in {} (known: {})",
                                 name_or_path, suites_dir().string(), fmt::join(known, ", ")));
  }
  return parse_suite(read_file(path), path.string());
}

std::vector<ClipSpec> generated_clip_specs(const suite::Suite& suite, uint32_t scale,
                                           uint32_t first_set) {
  std::vector<ClipSpec> specs;
  for (const auto& g : suite.clips().generated()) {
    const uint32_t first = g.count() * first_set;
    const uint32_t count = g.count() * std::max(1u, scale);
    for (uint32_t i = first; i < first + count; ++i) {
      ClipSpec spec;
      spec.seed = g.seed() + i;
      spec.frames = g.frames() ? g.frames() : 48;
      if (!g.rig().empty()) spec.rig = g.rig();
      if (g.width()) spec.width = g.width();
      if (g.height()) spec.height = g.height();
      spec.encoding = g.encoding();
      if (g.quality()) spec.quality = g.quality();
      if (g.conditions_size()) {
        spec.condition =
            g.conditions(static_cast<int>(i % static_cast<uint32_t>(g.conditions_size())));
      }
      specs.push_back(spec);
    }
  }
  return specs;
}

}  // namespace hil::evals
