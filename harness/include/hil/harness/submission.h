// Preparing a run on the client side: resolve the suite's clips (generated
// ones are made once and cached by content hash), upload the revisions and
// clips the scheduler lacks, and build the SubmitRun message.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "hil/harness/client.h"

namespace hil::harness {

struct RunRequest {
  std::filesystem::path candidate;   // ONNX file
  std::filesystem::path baseline;    // ONNX file, or empty for a plain eval run
  std::string candidate_name, baseline_name;  // default: file stem
  std::string git_sha, pr, author;
  std::string suite = "pr-smoke";    // name or path
  std::string priority = "gate";
  std::string label;
  std::string night;                 // nightly sweeps
  std::filesystem::path clip_cache = "hil-clips";
};

// Generates or finds the suite's clips, uploads what is missing and returns
// the message to submit. `status` receives one-line progress notes.
wire::SubmitRun prepare_run(Client& client, const RunRequest& request,
                            const std::function<void(const std::string&)>& status = {});

}  // namespace hil::harness
