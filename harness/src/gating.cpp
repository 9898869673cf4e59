#include "hil/harness/gating.h"

#include <map>
#include <sstream>

#include <fmt/format.h>

#include "hil/evals/suite.h"

namespace hil::harness {

evals::GateReport gate_run(db::Store& store, int64_t run_id) {
  auto run = store.run(run_id);
  if (!run) throw std::runtime_error(fmt::format("run {} not found", run_id));
  auto suite = evals::parse_suite(store.suite_text_of_run(run_id), fmt::format("suite of run {}", run_id));
  auto rows = store.run_metrics(run_id);
  auto evals = store.evals_of_run(run_id);
  // Candidate vs baseline revision ids, from the eval rows.
  auto candidate = store.database().prepare("SELECT candidate_id, COALESCE(baseline_id, 0) FROM runs WHERE id = ?1");
  candidate.bind_all(run_id);
  candidate.step();
  int64_t cand_id = candidate.int64(0), base_id = candidate.int64(1);

  std::map<std::string, evals::PairedClip> pairs;
  for (const auto& r : rows) {
    auto key = r.clip_sha + "/" + r.scenario;
    auto& p = pairs[key];
    if (p.clip.empty()) {
      p.clip = key;
      std::stringstream ss(r.clip_tags);
      std::string t;
      while (std::getline(ss, t, ',')) p.tags.push_back(t);
    }
    if (r.revision_id == cand_id) p.candidate[r.metric] = r.value;
    if (r.revision_id == base_id) p.baseline[r.metric] = r.value;
  }
  std::vector<evals::PairedClip> paired;
  for (auto& [key, p] : pairs) {
    if (!p.candidate.empty() && !p.baseline.empty()) paired.push_back(std::move(p));
  }
  evals::GateOptions options;
  if (suite.bootstrap_resamples()) options.resamples = suite.bootstrap_resamples();
  if (suite.bootstrap_seed()) options.seed = suite.bootstrap_seed();
  for (const auto& e : evals) options.missing_evals += e.state != "succeeded";
  auto report = evals::run_gate(suite, paired, options);

  std::vector<db::GateRow> out;
  for (const auto& m : report.metrics) {
    out.push_back({m.metric, m.slice, m.blocking, evals::verdict_name(m.verdict), m.clips, m.baseline, m.candidate,
                   m.degradation, m.lo, m.hi, m.margin, m.reason});
  }
  store.store_gate(run_id, evals::verdict_name(report.overall), report.summary, out);
  return report;
}

std::string render_verdict_table(const VerdictView& v) {
  std::string out;
  out += fmt::format("run {}: candidate {} vs baseline {} on suite {}\n", v.run_id, v.candidate, v.baseline, v.suite);
  out += fmt::format("evals: {} succeeded, {} failed, of {}\n\n", v.evals_succeeded, v.evals_failed, v.evals_total);
  out += fmt::format("{:<24} {:<8} {:<13} {:>5} {:>11} {:>11} {:>11} {:>24} {:>10}\n", "metric", "slice", "verdict",
                     "clips", "baseline", "candidate", "worse by", "95% interval", "margin");
  out += std::string(124, '-') + "\n";
  bool advisory_header = false;
  for (const auto& r : v.rows) {
    if (!r.blocking && !advisory_header) {
      out += "advisory slices (not blocking):\n";
      advisory_header = true;
    }
    std::string mark = r.verdict == "fail" ? "FAIL" : r.verdict == "pass" ? "pass" : "inconclusive";
    out += fmt::format("{:<24} {:<8} {:<13} {:>5} {:>11.4g} {:>11.4g} {:>11.4g} {:>24} {:>10.4g}\n", r.metric, r.slice,
                       mark, r.clips, r.baseline, r.candidate, r.degradation,
                       fmt::format("[{:.4g}, {:.4g}]", r.lo, r.hi), r.margin);
  }
  std::string upper = v.verdict;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  out += fmt::format("\nVERDICT: {}  ({})\n", upper, v.summary);
  return out;
}

}  // namespace hil::harness
