#include "hil/evals/suite.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "hil/evals/clip_generator.h"
#include "hil/evals/metrics.h"
#include "hil/evals/sha256.h"

namespace hil::evals {
namespace {

class Collector : public google::protobuf::io::ErrorCollector {
 public:
  explicit Collector(std::string name) : name_(std::move(name)) {}
  void AddError(int line, int column, const std::string& message) override {
    if (first_.empty()) first_ = fmt::format("{}:{}:{}: {}", name_, line + 1, column + 1, message);
  }
  void AddWarning(int, int, const std::string&) override {}
  const std::string& first() const { return first_; }

 private:
  std::string name_;
  std::string first_;
};

using google::protobuf::TextFormat;

// Finds the line of a field (for validation errors), 1-based, or 0.
int line_of(const TextFormat::ParseInfoTree* tree, const google::protobuf::Message& msg, const char* field,
            int index = -1) {
  if (!tree) return 0;
  const auto* fd = msg.GetDescriptor()->FindFieldByName(field);
  if (!fd) return 0;
  auto loc = tree->GetLocation(fd, index);
  return loc.line + 1;
}

}  // namespace

suite::Suite parse_suite(const std::string& text, const std::string& name) {
  suite::Suite s;
  TextFormat::Parser parser;
  Collector errors(name);
  TextFormat::ParseInfoTree tree;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(text, &s)) {
    throw SuiteError(errors.first().empty() ? fmt::format("{}: does not parse as a Suite", name) : errors.first());
  }
  auto fail = [&](int line, const std::string& field, const std::string& what) {
    throw SuiteError(fmt::format("{}:{}: field '{}': {}", name, line, field, what));
  };
  if (s.name().empty()) fail(1, "name", "required");
  if (s.board_type().empty()) fail(1, "board_type", "required (e.g. \"emulated-hw3\")");
  for (int i = 0; i < s.clips().sha256_size(); ++i) {
    if (!is_sha256_hex(s.clips().sha256(i))) {
      const auto* sub = tree.GetTreeForNested(s.GetDescriptor()->FindFieldByName("clips"), -1);
      fail(line_of(sub, s.clips(), "sha256", i), "clips.sha256", fmt::format("'{}' is not a SHA-256 hex digest", s.clips().sha256(i)));
    }
  }
  const auto* clips_tree = tree.GetTreeForNested(s.GetDescriptor()->FindFieldByName("clips"), -1);
  for (int i = 0; i < s.clips().generated_size(); ++i) {
    const auto& g = s.clips().generated(i);
    const auto* gt = clips_tree ? clips_tree->GetTreeForNested(s.clips().GetDescriptor()->FindFieldByName("generated"), i) : nullptr;
    int line = line_of(clips_tree, s.clips(), "generated", i);
    if (g.count() == 0) fail(line, "clips.generated.count", "must be at least 1");
    if (g.frames() > 100000) fail(line, "clips.generated.frames", "at most 100000");
    for (int c = 0; c < g.conditions_size(); ++c) {
      const auto& known = known_conditions();
      if (std::find(known.begin(), known.end(), g.conditions(c)) == known.end()) {
        fail(line_of(gt, g, "conditions", c), "clips.generated.conditions",
             fmt::format("unknown condition '{}' (known: clear, rain, snow, fog, night, spray)", g.conditions(c)));
      }
    }
  }
  if (s.clips().sha256_size() == 0 && s.clips().generated_size() == 0) fail(1, "clips", "selects no clip");
  if (s.scenarios_size() == 0) fail(1, "scenarios", "at least one scenario is required");
  for (int i = 0; i < s.scenarios_size(); ++i) {
    const auto& sc = s.scenarios(i);
    int line = line_of(&tree, s, "scenarios", i);
    if (sc.name().empty()) fail(line, "scenarios.name", "required");
    static const std::vector<std::string> kModes{"", "split", "single", "redundant", "noop"};
    if (std::find(kModes.begin(), kModes.end(), sc.mode()) == kModes.end()) {
      fail(line, "scenarios.mode", fmt::format("unknown mode '{}' (split, single, redundant, noop)", sc.mode()));
    }
  }
  for (int i = 0; i < s.gates_size(); ++i) {
    const auto& g = s.gates(i);
    int line = line_of(&tree, s, "gates", i);
    if (!find_metric(g.metric())) fail(line, "gates.metric", fmt::format("unknown metric '{}'", g.metric()));
    // NaN passes every comparison, so the range checks test for it first
    // (found by fuzzing: a NaN margin made a gate that can never pass).
    if (std::isnan(g.confidence()) || (g.confidence() != 0 && (g.confidence() <= 0.5 || g.confidence() >= 1))) {
      fail(line, "gates.confidence", fmt::format("{} is not in (0.5, 1)", g.confidence()));
    }
    if (!std::isfinite(g.max_abs_degradation()) || !std::isfinite(g.max_rel_degradation())) {
      fail(line, "gates.max_*_degradation", "must be a finite number");
    }
    if (g.max_abs_degradation() < 0 || g.max_rel_degradation() < 0) fail(line, "gates.max_*_degradation", "must not be negative");
  }
  return s;
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
    throw SuiteError(fmt::format("unknown suite '{}': no such file, and none in {} (known: {})", name_or_path,
                                 suites_dir().string(), fmt::join(known, ", ")));
  }
  return parse_suite(read_file(path), path.string());
}

}  // namespace hil::evals
