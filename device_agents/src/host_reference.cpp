#include "hil/device_agents/host_reference.h"

#include "hil/dual_engine/backend.h"
#include "hil/dual_engine/compiler.h"
#include "hil/dual_engine/executor.h"
#include "hil/dual_engine/runtime.h"
#include "hil/evals/clip_file.h"

namespace hil::device_agents {

std::vector<std::pair<std::string, double>> host_reference(const harness::ReferenceJob& job) {
  // As the boards run it: one kernel thread, so the sums come out bit for bit alike.
  dual_engine::use_single_thread_kernels();
  auto board_type = dual_engine::load_board_type(job.board_type);
  auto backend = dual_engine::make_board_backend(board_type);
  auto model = dual_engine::Model::load_file(job.revision);
  dual_engine::CompiledRevision revision(model, board_type, backend.get());
  evals::ClipReader clip(job.clip);
  auto run = dual_engine::play_eval(revision, clip, job.scenario, job.metrics);
  auto summary = run.scorer.summary();
  return {summary.begin(), summary.end()};
}

}  // namespace hil::device_agents
