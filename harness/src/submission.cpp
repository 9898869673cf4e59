#include "hil/harness/submission.h"

#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "hil/evals/clip_file.h"
#include "hil/evals/clip_generator.h"
#include "hil/evals/sha256.h"
#include "hil/evals/suite.h"
#include "hil/harness/progress.h"

namespace hil::harness {

wire::SubmitRun prepare_run(Client& client, const RunRequest& req,
                            const std::function<void(const std::string&)>& status) {
  auto note = [&](const std::string& s) {
    if (status) status(s);
  };
  auto suite = evals::load_suite(req.suite);
  std::filesystem::path suite_path = req.suite;
  if (!std::filesystem::exists(suite_path))
    suite_path = evals::suites_dir() / (req.suite + ".textproto");
  std::string suite_text = evals::read_file(suite_path);

  wire::SubmitRun run;
  run.set_label(req.label);
  run.set_suite_name(suite.name());
  run.set_suite_text(suite_text);
  run.set_priority(req.priority);
  run.set_night(req.night);

  auto revision = [&](const std::filesystem::path& file, const std::string& name,
                      wire::RevisionRef* ref) {
    note(fmt::format("uploading revision {}", file.string()));
    ref->set_sha256(client.upload_file(file));
    ref->set_name(name.empty() ? file.stem().string() : name);
    ref->set_git_sha(req.git_sha);
    ref->set_pr(req.pr);
    ref->set_author(req.author);
    ref->set_bytes(std::filesystem::file_size(file));
  };
  revision(req.candidate, req.candidate_name, run.mutable_candidate());
  if (!req.baseline.empty()) revision(req.baseline, req.baseline_name, run.mutable_baseline());

  std::vector<std::filesystem::path> clip_files;
  for (const auto& sha : suite.clips().sha256()) {
    auto p = req.clip_cache / (sha + ".clip");
    if (!std::filesystem::exists(p)) {
      throw std::runtime_error(fmt::format("suite {} names clip {}, which is not in {}",
                                           suite.name(), sha, req.clip_cache.string()));
    }
    clip_files.push_back(p);
  }
  std::vector<evals::ClipSpec> specs;
  for (const auto& g : suite.clips().generated()) {
    for (uint32_t i = 0; i < g.count(); ++i) {
      evals::ClipSpec spec;
      spec.seed = g.seed() + i;
      spec.frames = g.frames() ? g.frames() : 48;
      if (g.conditions_size()) {
        spec.condition =
            g.conditions(static_cast<int>(i % static_cast<uint32_t>(g.conditions_size())));
      }
      specs.push_back(spec);
    }
  }
  // Rendering is CPU-bound and each clip independent: one worker per core.
  std::vector<std::string> shas(specs.size());
  ProgressBar bar("clips", static_cast<uint32_t>(specs.size()));
  std::mutex mu;
  std::atomic<size_t> next{0};
  uint32_t done = 0;
  std::exception_ptr error;
  auto work = [&] {
    for (size_t i; (i = next++) < specs.size();) {
      try {
        shas[i] = evals::generate_clip_file(specs[i], req.clip_cache);
      } catch (...) {
        std::lock_guard lock(mu);
        if (!error) error = std::current_exception();
        next = specs.size();
        return;
      }
      std::lock_guard lock(mu);
      bar.update(++done);
    }
  };
  std::vector<std::thread> workers;
  const size_t n =
      std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), specs.size());
  for (size_t w = 1; w < n; ++w) workers.emplace_back(work);
  work();
  for (auto& t : workers) t.join();
  if (error) std::rethrow_exception(error);
  for (const auto& sha : shas) clip_files.push_back(req.clip_cache / (sha + ".clip"));
  bar.finish();
  note(fmt::format("uploading {} clips", clip_files.size()));
  for (const auto& file : clip_files) {
    evals::ClipReader reader(file);
    auto* c = run.add_clips();
    c->set_sha256(client.upload_file(file));
    c->set_name(reader.header().name());
    for (const auto& t : reader.header().tags()) c->add_tags(t);
    c->set_frames(reader.frame_count());
    c->set_fps(reader.header().fps());
  }
  return run;
}

}  // namespace hil::harness
