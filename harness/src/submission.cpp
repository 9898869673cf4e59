#include "hil/harness/submission.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "hil/evals/clip_file.h"
#include "hil/evals/clip_generator.h"
#include "hil/evals/model_interface.h"
#include "hil/evals/sha256.h"
#include "hil/evals/suite.h"
#include "hil/harness/progress.h"

namespace hil::harness {

UploadableRevision read_revision(const std::filesystem::path& file) {
  UploadableRevision r;
  r.bytes = evals::read_file(file);
  auto text = evals::onnx_interface_text(r.bytes);
  if (!text) {
    throw evals::InterfaceError(
        fmt::format("{}: the revision carries no model interface; put one beside it as "
                    "{}.interface.textproto (docs/models.md)",
                    file.string(), file.stem().string()));
  }
  r.iface = evals::parse_interface(*text, file.string() + " (embedded interface)");
  return r;
}

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

  // A suite that plays no frame (noop) needs no interface: its revisions are
  // named blobs no board loads.
  const bool plays = evals::plays_frames(suite);
  const auto as_is = [](const std::filesystem::path& f) {
    return UploadableRevision{evals::read_file(f), {}};
  };
  const std::function<UploadableRevision(const std::filesystem::path&)> prepare =
      !plays                 ? as_is
      : req.prepare_revision ? req.prepare_revision
                             : read_revision;
  struct Revision {
    std::filesystem::path file;
    std::string name;
    UploadableRevision prepared;
    wire::RevisionRef* ref;
  };
  std::vector<Revision> revisions;
  revisions.push_back(
      {req.candidate,
       req.candidate_name.empty() ? req.candidate.stem().string() : req.candidate_name,
       prepare(req.candidate), run.mutable_candidate()});
  if (!req.baseline.empty()) {
    revisions.push_back(
        {req.baseline, req.baseline_name.empty() ? req.baseline.stem().string() : req.baseline_name,
         prepare(req.baseline), run.mutable_baseline()});
  }

  std::vector<std::filesystem::path> clip_files;
  const auto suite_dir =
      std::filesystem::exists(suite_path) ? suite_path.parent_path() : std::filesystem::path();
  for (const auto& p : suite.clips().paths()) {
    std::filesystem::path path = p;
    if (path.is_relative()) path = suite_dir / path;
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      std::vector<std::filesystem::path> found;
      for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
        if (e.path().extension() == ".clip") found.push_back(e.path());
      }
      if (found.empty()) {
        throw std::runtime_error(fmt::format("suite {}: clips.paths '{}': {} holds no .clip file",
                                             suite.name(), p, path.string()));
      }
      std::sort(found.begin(), found.end());
      clip_files.insert(clip_files.end(), found.begin(), found.end());
    } else if (std::filesystem::exists(path, ec)) {
      clip_files.push_back(path);
    } else {
      throw std::runtime_error(
          fmt::format("suite {}: clips.paths '{}': no such file or folder ({})", suite.name(), p,
                      path.string()));
    }
  }
  for (const auto& sha : suite.clips().sha256()) {
    auto p = req.clip_cache / (sha + ".clip");
    if (!std::filesystem::exists(p)) {
      throw std::runtime_error(fmt::format("suite {} names clip {}, which is not in {}",
                                           suite.name(), sha, req.clip_cache.string()));
    }
    clip_files.push_back(p);
  }
  const std::vector<evals::ClipSpec> specs = evals::generated_clip_specs(suite);
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

  // Refuse a mismatch before anything is uploaded.
  std::vector<std::pair<std::string, clip::ClipHeader>> headers;
  std::vector<evals::ClipReader> readers;
  for (const auto& file : clip_files) {
    readers.emplace_back(file);
    headers.emplace_back(file.filename().string(), readers.back().header());
  }
  if (plays) {
    for (const auto& r : revisions)
      evals::check_suite_fit(suite, r.prepared.iface, r.name, headers);
  }

  for (auto& r : revisions) {
    note(fmt::format("uploading revision {}", r.file.string()));
    r.ref->set_sha256(client.upload_bytes(r.prepared.bytes, r.file.string()));
    r.ref->set_name(r.name);
    r.ref->set_git_sha(req.git_sha);
    r.ref->set_pr(req.pr);
    r.ref->set_author(req.author);
    r.ref->set_bytes(r.prepared.bytes.size());
  }
  note(fmt::format("uploading {} clips", clip_files.size()));
  const auto clip_shas = client.upload_files(clip_files);
  for (size_t i = 0; i < clip_files.size(); ++i) {
    const auto& reader = readers[i];
    auto* c = run.add_clips();
    c->set_sha256(clip_shas[i]);
    c->set_name(reader.header().name());
    for (const auto& t : reader.header().tags()) c->add_tags(t);
    c->set_frames(reader.frame_count());
    c->set_fps(reader.header().fps());
  }
  return run;
}

}  // namespace hil::harness
