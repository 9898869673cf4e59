#include "hil/dual_engine/runtime.h"

#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "hil/dual_engine/sample_models.h"

namespace hil::dual_engine {

CompiledRevision::CompiledRevision(const Model& model, const board::BoardType& board)
    : board_(board),
      plan_(compile(model, board)),
      first_(plan_.first),
      second_(plan_.second),
      standby_{PartitionExecutor(plan_.standby[0]), PartitionExecutor(plan_.standby[1])} {}

namespace {

std::array<float, evals::kNetworkOutputCount> to_outputs(const TensorMap& out, const CompiledModel& plan) {
  std::array<float, evals::kNetworkOutputCount> o{};
  const auto& t = out.at(plan.graph_outputs.at(0).name);
  for (size_t i = 0; i < o.size() && i < t.data.size(); ++i) o[i] = t.data[i];
  return o;
}

}  // namespace

EvalRun play_eval(CompiledRevision& revision, const evals::ClipReader& clip, const suite::Scenario& scenario,
                  const FrameProgress& progress) {
  using Clock = std::chrono::steady_clock;
  EvalRun run;
  run.mode = scenario.mode().empty() ? "split" : scenario.mode();
  const auto& plan = revision.plan();
  const auto& header = clip.header();
  double fps = scenario.fps() > 0 ? scenario.fps() : header.fps() > 0 ? header.fps() : revision.board().default_fps();
  const double period_ms = 1000.0 / fps;
  const int commander = scenario.commander() == 1 ? 1 : 0;
  if (header.cameras_size() == 0) throw evals::ClipError(clip.name(), -1, 8, "the header has no camera");
  const auto& cam = header.cameras(0);
  const auto& input = plan.graph_inputs.at(0);
  if (input.shape.size() != 4 || input.shape[1] != 3 || input.shape[2] != cam.height() || input.shape[3] != cam.width()) {
    throw ModelError(fmt::format("revision input '{}' expects shape [{}], the clip's camera gives 1x3x{}x{}", input.name,
                                 fmt::join(input.shape, "x"), cam.height(), cam.width()));
  }
  auto eval_start = Clock::now();
  for (uint32_t k = 0; k < clip.frame_count(); ++k) {
    auto frame = clip.frame(k);
    const auto& px = frame.images(0).pixels();
    TensorMap in{{input.name, {input.shape, image_to_input(reinterpret_cast<const uint8_t*>(px.data()), cam.width(), cam.height())}}};
    auto t0 = Clock::now();
    evals::FrameRecord rec;
    rec.commander = commander;
    if (run.mode == "single") {
      rec.outputs = to_outputs(revision.standby(commander).run(in), plan);
      rec.device_ms = plan.standby[commander].device_us / 1000.0;
    } else if (run.mode == "redundant") {
      auto a = to_outputs(revision.standby(commander).run(in), plan);
      auto b = to_outputs(revision.standby(1 - commander).run(in), plan);
      if (a != b) run.events.push_back(fmt::format("frame {}: redundant engines disagree", k));
      rec.outputs = a;
      rec.device_ms = plan.standby[commander].device_us / 1000.0;
    } else {
      // Split: the extender's partition feeds the commander's.
      auto mid = revision.first().run(in);
      for (const auto& [name, t] : in) mid.emplace(name, t);
      rec.outputs = to_outputs(revision.second().run(mid), plan);
      rec.device_ms = plan.split_latency_us() / 1000.0;
    }
    rec.host_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    rec.deadline_missed = rec.device_ms > period_ms;
    for (float v : rec.outputs) {
      if (!std::isfinite(v)) {
        rec.has_command = false;
        run.events.push_back(fmt::format("frame {}: non-finite output", k));
        break;
      }
    }
    run.scorer.add_frame(frame, rec);
    run.frames.push_back(rec);
    if (progress && !progress(k + 1)) break;
  }
  run.host_seconds = std::chrono::duration<double>(Clock::now() - eval_start).count();
  return run;
}

}  // namespace hil::dual_engine
