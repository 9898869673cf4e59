// Suites are text-format Protobuf files (evals/suites/*.textproto). Loading
// validates them and names the file, line and field of anything wrong.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "evals/proto/clip.pb.h"
#include "evals/proto/model.pb.h"
#include "evals/proto/suite.pb.h"
#include "hil/evals/clip_generator.h"

namespace hil::evals {

class SuiteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A scenario that cannot be played as written (an unknown mode, fault kind
// or engine): the submitter's error, never the board's. parse_suite refuses
// it at submission; a board that meets one anyway (a suite from an older
// scheduler) reports a bad eval, which fails once and blames no board.
class ScenarioError : public SuiteError {
 public:
  using SuiteError::SuiteError;
};

// A scenario's mode; "" is split.
enum class ScenarioMode { kSplit, kSingle, kRedundant, kNoop };
// Throws ScenarioError naming the scenario and the mode.
ScenarioMode scenario_mode(const suite::Scenario& scenario);

// A fault a scenario injects, checked (suite.proto `Fault`).
enum class FaultKind { kCrash, kHang, kSlow, kNonFinite, kEcc };
enum class FaultEngine { kCommander, kExtender, kEngine0, kEngine1 };
struct FaultSpec {
  FaultEngine engine = FaultEngine::kCommander;
  FaultKind kind = FaultKind::kCrash;
  double slow_factor = 1;  // kSlow: how many times slower (slow:N; "slow" is 2)
  uint32_t frame = 0;
};
// Throws ScenarioError naming the field (engine or kind) and its value.
FaultSpec fault_spec(const suite::Fault& fault);

// Parses and validates suite text; `name` is used in error messages. Every
// field a board acts on is checked here (modes, faults, metrics, clip
// selections, gates), so that a bad suite is the submitter's error at once.
suite::Suite parse_suite(const std::string& text, const std::string& name);

// Whether any scenario plays frames (not every one "noop"): only then do
// revisions need a model interface and clips the truth metrics read.
bool plays_frames(const suite::Suite& suite);

// Checks a suite against a revision's interface and the headers of the
// clips it will play, before any board is used: every metric's head exists
// with the right kind and field; every camera the interface reads, and every
// ground truth the metrics need, is in every clip; command gaps are gated
// only for a network with a control head. Throws SuiteError naming the
// metric, head, camera, truth or clip at fault.
void check_suite_fit(const suite::Suite& suite, const model::ModelInterface& iface,
                     const std::string& revision,
                     const std::vector<std::pair<std::string, clip::ClipHeader>>& clips);

// Loads a suite by path, or by name from the shipped suites directory
// (HIL_SUITES_DIR, overridable with the HIL_SUITES environment variable).
suite::Suite load_suite(const std::string& name_or_path);

// The clips a suite's `generated` selections render, in order. With `scale`
// above 1, each selection renders scale times as many clips, its own first
// (more clips of the same kind, e.g. a pool for gate calibration). With
// `first_set` above 0, the first first_set x count clips are skipped: a pool
// of clips disjoint from the suite's own (held out to check calibrated margins).
std::vector<ClipSpec> generated_clip_specs(const suite::Suite& suite, uint32_t scale = 1,
                                           uint32_t first_set = 0);

std::filesystem::path suites_dir();
std::vector<std::string> list_suites();

}  // namespace hil::evals
