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

// Parses and validates suite text; `name` is used in error messages.
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
