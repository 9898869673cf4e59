// Preparing a run on the client side: resolve the suite's clips (generated
// ones are made once and cached by content hash), upload the revisions and
// clips the scheduler lacks, and build the SubmitRun message.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "evals/proto/model.pb.h"
#include "hil/harness/client.h"

namespace hil::harness {

// A revision as it is uploaded: its bytes (the model interface embedded) and
// that interface, checked against the graph by whoever prepared it (the `hil`
// command line does it with dual_engine::prepare_revision).
struct UploadableRevision {
  std::string bytes;
  model::ModelInterface iface;
};

struct RunRequest {
  std::filesystem::path candidate;            // ONNX file
  std::filesystem::path baseline;             // ONNX file, or empty for a plain eval run
  std::string candidate_name, baseline_name;  // default: file stem
  std::string git_sha, pr, author;
  std::string suite = "pr-smoke";  // name or path
  std::string priority = "gate";
  std::string label;
  std::string night;  // nightly sweeps
  std::filesystem::path clip_cache = "hil-clips";
  // Turns a revision file into what is uploaded. The harness knows nothing
  // of ONNX graphs: the `hil` command line supplies one that embeds the
  // interface file beside the revision and checks it against the graph.
  // Default: read_revision.
  std::function<UploadableRevision(const std::filesystem::path&)> prepare_revision;
};

// The revision file as it is, with the interface it carries in its metadata;
// throws evals::InterfaceError naming the file when it carries none.
UploadableRevision read_revision(const std::filesystem::path& file);

// Generates or finds the suite's clips, checks the suite against the
// revisions' interfaces and the clips (evals::check_suite_fit, so a mismatch
// is refused before anything is uploaded), uploads what is missing and
// returns the message to submit. `status` receives one-line progress notes.
// Throws evals::SuiteError, evals::InterfaceError or std::runtime_error naming
// the file at fault.
wire::SubmitRun prepare_run(Client& client, const RunRequest& request,
                            const std::function<void(const std::string&)>& status = {});

}  // namespace hil::harness
