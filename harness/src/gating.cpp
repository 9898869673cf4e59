#include "hil/harness/gating.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "hil/evals/metrics.h"
#include "hil/evals/suite.h"

namespace hil::harness {

namespace {

std::map<std::string, std::vector<float>> load_series(db::Store& store, int64_t eval_id) {
  std::map<std::string, std::vector<float>> out;
  for (const auto& s : store.frame_series(eval_id)) {
    try {
      out[s.name] = evals::decode_series(s.data, s.frames, s.codec);
    } catch (const std::exception&) {
      // An undecodable series explains nothing; the verdict does not depend on it.
    }
  }
  return out;
}

struct Pair {
  std::string clip_sha, clip_name, scenario;
  int64_t eval_baseline = 0, eval_candidate = 0;
};

}  // namespace

evals::GateReport gate_run(db::Store& store, int64_t run_id) {
  auto run = store.run(run_id);
  if (!run) throw std::runtime_error(fmt::format("run {} not found", run_id));
  auto suite =
      evals::parse_suite(store.suite_text_of_run(run_id), fmt::format("suite of run {}", run_id));
  auto& ids = store.database().cached(
      "SELECT candidate_id, COALESCE(baseline_id, 0) FROM runs WHERE id = ?1");
  ids.bind_all(run_id);
  auto revisions = ids.first(
      [](db::Statement& st) { return std::pair<int64_t, int64_t>(st.int64(0), st.int64(1)); });
  const int64_t cand_id = revisions->first, base_id = revisions->second;
  if (base_id == 0) {
    // A plain evaluation (nightly sweeps): nothing to compare, no verdict.
    store.store_gate(run_id, "none", "no baseline: evaluated, not gated", {});
    return {};
  }
  // Read only for a comparison: a nightly run's 500,000 rows took seconds.
  auto rows = store.run_metrics(run_id);
  auto evals_of_run = store.evals_of_run(run_id);

  std::map<std::string, evals::PairedClip> pairs;
  std::map<std::string, Pair> pair_evals;
  std::map<int64_t, std::string> clip_names;
  for (const auto& e : evals_of_run) clip_names[e.id] = e.clip_sha;
  for (const auto& r : rows) {
    auto key = r.clip_sha + "/" + r.scenario;
    auto& p = pairs[key];
    if (p.clip.empty()) {
      p.clip = key;
      p.cluster = r.clip_sha;
      std::stringstream ss(r.clip_tags);
      std::string t;
      while (std::getline(ss, t, ',')) p.tags.push_back(t);
    }
    auto& pe = pair_evals[key];
    pe.clip_sha = r.clip_sha;
    pe.scenario = r.scenario;
    if (r.revision_id == cand_id) {
      p.candidate[r.metric] = r.value;
      pe.eval_candidate = r.eval_id;
    }
    if (r.revision_id == base_id) {
      p.baseline[r.metric] = r.value;
      pe.eval_baseline = r.eval_id;
    }
  }
  std::vector<evals::PairedClip> paired;
  for (auto& [key, p] : pairs) {
    if (!p.candidate.empty() && !p.baseline.empty()) paired.push_back(p);
  }
  evals::GateOptions options;
  if (suite.bootstrap_resamples()) options.resamples = suite.bootstrap_resamples();
  if (suite.bootstrap_seed()) options.seed = suite.bootstrap_seed();
  options.evals_total = static_cast<uint32_t>(evals_of_run.size());
  for (const auto& e : evals_of_run) options.missing_evals += e.state != "succeeded";
  // A side without a single result cannot be compared with anything.
  for (const auto& [id, who] :
       {std::pair<int64_t, const char*>{cand_id, "candidate"}, {base_id, "baseline"}}) {
    const bool any =
        std::any_of(evals_of_run.begin(), evals_of_run.end(), [&, id = id](const db::EvalRow& e) {
          return e.revision_id == id && e.state == "succeeded";
        });
    if (!any && !evals_of_run.empty()) {
      options.invalid.push_back(
          {evals::InvalidReason::kSideWithoutResults,
           fmt::format("the {} has no succeeded eval", who),
           fmt::format("rerun; if the {}'s evals fail on their own, see their failures", who)});
    }
  }
  // Results from a board quarantined since are not to be trusted.
  std::map<std::string, std::string> quarantined;
  for (const auto& b : store.board_stats()) {
    if (b.health == "quarantined") quarantined[b.name] = b.quarantine_reason;
  }
  std::map<std::string, uint32_t> suspect;
  for (const auto& e : evals_of_run) {
    if (e.state == "succeeded" && quarantined.count(e.board)) ++suspect[e.board];
  }
  for (const auto& [board, n] : suspect) {
    options.invalid.push_back(
        {evals::InvalidReason::kQuarantinedBoard,
         fmt::format("{} result(s) came from board {}, quarantined since ({})", n, board,
                     quarantined[board]),
         "rerun on healthy boards (hil boards shows which are)"});
  }
  auto report = evals::run_gate(suite, paired, options);
  const auto defs = evals::suite_metrics(suite);
  // A network without a control head commands nothing: its evals report no
  // command gaps, and the verdict says so rather than counting zero.
  for (const auto& [id, who] :
       {std::pair<int64_t, const char*>{cand_id, "candidate"}, {base_id, "baseline"}}) {
    // id = id: clang 14 cannot capture a structured binding by reference.
    const bool played =
        std::any_of(rows.begin(), rows.end(), [&, id = id](const db::RunMetricRow& r) {
          return r.revision_id == id && r.metric == "frames" && r.value > 0;
        });
    const bool commands =
        std::any_of(rows.begin(), rows.end(), [&, id = id](const db::RunMetricRow& r) {
          return r.revision_id == id && r.metric == "command_gaps";
        });
    if (played && !commands) {
      report.summary += fmt::format(
          "; the {} has no control head: it commands nothing, so no command gaps are counted", who);
    }
  }

  // Explain: per blocking metric, the clips that moved it most (worst first),
  // each with the frame where the two revisions' outputs diverge most.
  std::map<int64_t, std::map<std::string, std::vector<float>>> series_cache;
  auto series_of = [&](int64_t eval_id) -> std::map<std::string, std::vector<float>>& {
    auto it = series_cache.find(eval_id);
    if (it == series_cache.end())
      it = series_cache.emplace(eval_id, load_series(store, eval_id)).first;
    return it->second;
  };
  auto& clip_name = store.database().cached("SELECT name FROM clips WHERE sha256 = ?1");
  std::vector<db::GateClipRow> explanations;
  for (const auto& m : report.metrics) {
    if (!m.blocking) continue;
    const auto* def = evals::find_metric(defs, m.metric);
    double sign = def && def->direction == suite::HIGHER_IS_BETTER ? -1.0 : 1.0;
    std::vector<std::pair<double, const evals::PairedClip*>> ranked;
    for (const auto& p : paired) {
      auto b = p.baseline.find(m.metric), c = p.candidate.find(m.metric);
      if (b == p.baseline.end() || c == p.candidate.end()) continue;
      ranked.emplace_back(sign * (c->second - b->second), &p);
    }
    std::sort(ranked.begin(), ranked.end(),
              [](const auto& x, const auto& y) { return x.first > y.first; });
    // The series that explains the metric frame by frame (its per-frame
    // value, the head output it scores, or device time).
    const std::string series = def && !def->series.empty() ? def->series : "device_ms";
    for (size_t k = 0; k < ranked.size() && k < 5; ++k) {
      const auto& p = *ranked[k].second;
      const auto& pe = pair_evals[p.clip];
      db::GateClipRow row;
      row.metric = m.metric;
      row.rank = static_cast<int64_t>(k + 1);
      row.clip_sha = pe.clip_sha;
      clip_name.bind_all(pe.clip_sha);
      row.clip_name =
          clip_name.first([](db::Statement& st) { return st.text(0); }).value_or(pe.clip_sha);
      row.scenario = pe.scenario;
      row.baseline = p.baseline.at(m.metric);
      row.candidate = p.candidate.at(m.metric);
      row.degradation = ranked[k].first;
      row.series = series;
      row.eval_baseline = pe.eval_baseline;
      row.eval_candidate = pe.eval_candidate;
      const auto& sa = series_of(pe.eval_baseline);
      const auto& sb = series_of(pe.eval_candidate);
      auto a = sa.find(series), b = sb.find(series);
      if (a != sa.end() && b != sb.end()) {
        for (size_t f = 0; f < std::min(a->second.size(), b->second.size()); ++f) {
          double d = std::abs(static_cast<double>(b->second[f]) - a->second[f]);
          if (std::isfinite(d) && d > row.divergence) {
            row.divergence = d;
            row.frame = static_cast<int64_t>(f);
          }
        }
      }
      explanations.push_back(std::move(row));
    }
  }

  // Flips of metrics scored right or wrong frame by frame (lead detection):
  // right in one revision and wrong in the other. Frames of one clip are
  // correlated, so each clip gives one decision (more frames flipped to wrong,
  // or to right, or a tie), and the exact McNemar test counts clips, never
  // pooled frames.
  std::map<std::string, evals::FlipTest> flips;
  for (const auto& def : defs) {
    if (!def.frame_binary) continue;
    bool gated = std::any_of(suite.gates().begin(), suite.gates().end(),
                             [&](const suite::GatingRule& g) { return g.metric() == def.name; });
    if (!gated) continue;
    std::map<std::string, std::pair<int64_t, int64_t>>
        frames_by_clip;  // clip: (to worse, to better)
    for (const auto& [key, pe] : pair_evals) {
      if (!pe.eval_baseline || !pe.eval_candidate) continue;
      const auto& sa = series_of(pe.eval_baseline);
      const auto& sb = series_of(pe.eval_candidate);
      auto a = sa.find(def.series), b = sb.find(def.series);
      if (a == sa.end() || b == sb.end()) continue;
      auto& clip = frames_by_clip[pe.clip_sha];
      for (size_t k = 0; k < std::min(a->second.size(), b->second.size()); ++k) {
        if (!std::isfinite(a->second[k]) || !std::isfinite(b->second[k])) continue;
        const bool right_a = a->second[k] == 0, right_b = b->second[k] == 0;
        clip.first += right_a && !right_b;
        clip.second += !right_a && right_b;
      }
    }
    std::vector<evals::ClipFlips> per_clip;
    for (const auto& [clip, counts] : frames_by_clip)
      per_clip.push_back({counts.first, counts.second});
    flips[def.name] = evals::flip_test(per_clip);
  }

  std::vector<db::GateRow> out;
  for (const auto& m : report.metrics) {
    db::GateRow row{m.metric, m.slice,    m.blocking,  evals::verdict_name(m.verdict),
                    m.clips,  m.baseline, m.candidate, m.degradation,
                    m.lo,     m.hi,       m.margin,    m.reason};
    if (auto f = flips.find(m.metric); f != flips.end() && m.slice == "all") {
      row.flips_to_worse = f->second.clips_worse;
      row.flips_to_better = f->second.clips_better;
      row.flips_p = f->second.p_value;
    }
    out.push_back(std::move(row));
  }
  store.store_gate(run_id, evals::verdict_name(report.overall),
                   evals::summary_with_next_steps(report.summary, report.next_steps), out);
  store.store_gate_clips(run_id, explanations);
  return report;
}

namespace {

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 forbids most control characters even escaped.
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\n' || c == '\t') out += c;
    }
  }
  return out;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<int>(c));
    } else {
      out += c;
    }
  }
  return out;
}

std::string json_number(double v) { return std::isfinite(v) ? fmt::format("{}", v) : "null"; }

std::string interval(const db::GateRow& r) { return fmt::format("[{:.4g}, {:.4g}]", r.lo, r.hi); }

using evals::split_summary;

std::string flips(const db::GateRow& r) {
  if (r.flips_to_worse < 0) return "";
  return fmt::format(
      "{} clips flipped more frames right->wrong, {} more wrong->right (exact McNemar over clips "
      "p={:.3g})",
      r.flips_to_worse, r.flips_to_better, r.flips_p);
}

std::string next_steps_json(const std::string& stored) {
  std::string out;
  for (const auto& step : split_summary(stored).next_steps)
    out += fmt::format("{}\"{}\"", out.empty() ? "" : ", ", json_escape(step));
  return out;
}

}  // namespace

LatencySource latency_source(const VerdictView& v) {
  if (v.device_time_measured == 0 && v.device_time_emulated == 0) return LatencySource::kNone;
  if (v.device_time_measured == 0) return LatencySource::kEmulated;
  if (v.device_time_emulated == 0) return LatencySource::kMeasured;
  return LatencySource::kMixed;
}

std::string latency_note(const VerdictView& v) {
  switch (latency_source(v)) {
    case LatencySource::kNone:
      return "";
    case LatencySource::kEmulated:
      return "device latency emulated by the cost model (identical run to run)";
    case LatencySource::kMeasured:
      return fmt::format("device latency measured on the boards ({} evals; it varies run to run)",
                         v.device_time_measured);
    case LatencySource::kMixed:
      return fmt::format(
          "device latency mixed: measured in {} evals, emulated in {} (latency metrics compare "
          "unlike figures)",
          v.device_time_measured, v.device_time_emulated);
  }
  return "";
}

std::string viewer_command(const VerdictView& v, const db::GateClipRow& c) {
  return fmt::format("hil-viewer {} --a {} --b {} --clip {} --frame {}", v.viewer_db,
                     v.baseline_sha.substr(0, 12), v.candidate_sha.substr(0, 12), c.clip_sha,
                     std::max<int64_t>(c.frame, 0));
}

std::string render_verdict_table(const VerdictView& v) {
  std::string out;
  out += fmt::format("run {}: candidate {} vs baseline {} on suite {}\n", v.run_id, v.candidate,
                     v.baseline, v.suite);
  out += fmt::format("evals: {} succeeded, {} failed, of {}\n", v.evals_succeeded, v.evals_failed,
                     v.evals_total);
  if (const auto note = latency_note(v); !note.empty()) out += note + "\n";
  out += "\n";
  out += fmt::format("{:<24} {:<18} {:<13} {:>5} {:>11} {:>11} {:>11} {:>24} {:>10}\n", "metric",
                     "slice", "verdict", "clips", "baseline", "candidate", "worse by",
                     "95% interval", "margin");
  out += std::string(134, '-') + "\n";
  bool advisory_header = false;
  for (const auto& r : v.rows) {
    if (!r.blocking && !advisory_header) {
      out += "advisory slices (not blocking; fails kept only where Benjamini-Hochberg rejects):\n";
      advisory_header = true;
    }
    std::string mark = r.verdict == "fail" ? "FAIL" : r.verdict == "pass" ? "pass" : "inconclusive";
    bool too_few = r.lo == r.hi && r.reason.find("paired clips") != std::string::npos;
    out +=
        fmt::format("{:<24} {:<18} {:<13} {:>5} {:>11.4g} {:>11.4g} {:>11.4g} {:>24} {:>10.4g}\n",
                    r.metric, r.slice, mark, r.clips, r.baseline, r.candidate, r.degradation,
                    too_few ? "-" : interval(r), r.margin);
  }
  for (const auto& r : v.rows) {
    if (r.slice == "all" && r.flips_to_worse >= 0)
      out += fmt::format("\n{}, frame by frame: {}\n", r.metric, flips(r));
  }
  std::string defined;
  for (const auto& r : v.rows) {
    auto d = v.definitions.find(r.metric);
    if (r.slice != "all" || d == v.definitions.end()) continue;
    defined += fmt::format("  {:<24} {}\n", r.metric, d->second);
  }
  if (!defined.empty()) out += "\nwhat the metrics measure:\n" + defined;
  std::string current;
  for (const auto& c : v.worst_clips) {
    bool regressed = false;
    for (const auto& r : v.rows)
      regressed |= r.blocking && r.metric == c.metric && r.verdict != "pass";
    if (!regressed || c.degradation <= 0) continue;
    if (c.metric != current) {
      out += fmt::format("\nworst clips for {}:\n", c.metric);
      current = c.metric;
    }
    out += fmt::format(
        "  {}. {} [{}]  {:.4g} -> {:.4g} (worse by {:.4g}); outputs diverge most at frame {} ({} "
        "by {:.4g})\n     {}\n",
        c.rank, c.clip_name, c.scenario, c.baseline, c.candidate, c.degradation, c.frame, c.series,
        c.divergence, viewer_command(v, c));
  }
  const auto parts = split_summary(v.summary);
  out += fmt::format("\nVERDICT: {}  ({})\n", upper(v.verdict), parts.summary);
  if (v.verdict == "invalid") out += "the run cannot be judged: no pass or fail is given\n";
  for (const auto& step : parts.next_steps) out += fmt::format("next: {}\n", step);
  return out;
}

std::string render_junit(const VerdictView& v) {
  auto suite_xml = [&](bool blocking) {
    std::string cases;
    int tests = 0, failures = 0, skipped = 0;
    for (const auto& r : v.rows) {
      if (r.blocking != blocking) continue;
      ++tests;
      std::string numbers = fmt::format(
          "{} {}: baseline {:.6g}, candidate {:.6g}, worse by {:.6g}, 95% interval {}, margin "
          "{:.6g}, {} clips. {}",
          r.metric, r.slice, r.baseline, r.candidate, r.degradation, interval(r), r.margin, r.clips,
          r.reason);
      if (r.flips_to_worse >= 0) numbers += ". " + flips(r);
      cases += fmt::format("    <testcase name=\"{}\" classname=\"hil.gate.{}.{}\" time=\"0\">\n",
                           xml_escape(r.metric + " [" + r.slice + "]"), xml_escape(v.suite),
                           blocking ? "blocking" : "advisory");
      if (r.verdict == "fail") {
        ++failures;
        std::string detail = numbers;
        for (const auto& c : v.worst_clips) {
          if (c.metric == r.metric && r.slice == "all" && c.degradation > 0) {
            detail +=
                fmt::format("\nworst clip {}: {} [{}] worse by {:.4g}, frame {}: {}", c.rank,
                            c.clip_name, c.scenario, c.degradation, c.frame, viewer_command(v, c));
          }
        }
        cases += fmt::format("      <failure message=\"{}\" type=\"regression\">{}</failure>\n",
                             xml_escape(numbers), xml_escape(detail));
      } else if (r.verdict != "pass") {
        ++skipped;
        cases += fmt::format("      <skipped message=\"{}\"/>\n",
                             xml_escape("inconclusive: " + numbers));
      } else {
        cases += fmt::format("      <system-out>{}</system-out>\n", xml_escape(numbers));
      }
      cases += "    </testcase>\n";
    }
    return fmt::format(
        "  <testsuite name=\"hil.gate.{}.{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" "
        "skipped=\"{}\" time=\"0\">\n{}  </testsuite>\n",
        xml_escape(v.suite), blocking ? "blocking" : "advisory", tests, failures, skipped, cases);
  };
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format(
      "<testsuites name=\"{}\">\n",
      xml_escape(fmt::format("hil gate run {}: {} vs {}", v.run_id, v.candidate, v.baseline)));
  if (v.verdict == "invalid") {
    // An invalid run is an error of the run, not a regression of the candidate.
    const auto parts = split_summary(v.summary);
    std::string steps;
    for (const auto& s : parts.next_steps) steps += "\nnext: " + s;
    out += fmt::format(
        "  <testsuite name=\"hil.gate.{}.validity\" tests=\"1\" failures=\"0\" errors=\"1\" "
        "skipped=\"0\" "
        "time=\"0\">\n    <testcase name=\"the run can be judged\" "
        "classname=\"hil.gate.{}.validity\" time=\"0\">\n"
        "      <error message=\"{}\" type=\"invalid\">{}</error>\n    </testcase>\n  "
        "</testsuite>\n",
        xml_escape(v.suite), xml_escape(v.suite), xml_escape(parts.summary),
        xml_escape(parts.summary + steps));
  }
  out += suite_xml(true);
  out += suite_xml(false);
  out += "</testsuites>\n";
  return out;
}

std::string render_markdown(const VerdictView& v) {
  const char* icon = v.verdict == "pass"      ? "✅"
                     : v.verdict == "fail"    ? "❌"
                     : v.verdict == "invalid" ? "🚫"
                                              : "⚠️";
  const auto parts = split_summary(v.summary);
  std::string out = fmt::format("## {} hil gate: **{}** — `{}` vs `{}` on `{}`\n\n", icon,
                                upper(v.verdict), v.candidate, v.baseline, v.suite);
  if (v.verdict == "invalid")
    out += "**The run cannot be judged**: it neither passes nor fails the candidate.\n\n";
  out += fmt::format("{}. Evals: {} succeeded, {} failed, of {} (run {}).", parts.summary,
                     v.evals_succeeded, v.evals_failed, v.evals_total, v.run_id);
  if (auto note = latency_note(v); !note.empty()) {
    note[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(note[0])));
    out += " " + note + ".";
  }
  out += "\n\n";
  if (!parts.next_steps.empty()) {
    out += "**What to do next:**\n\n";
    for (const auto& step : parts.next_steps) out += fmt::format("- {}\n", step);
    out += "\n";
  }
  out += "| metric | verdict | baseline | candidate | worse by | 95% interval | margin | clips |\n";
  out += "|---|---|---:|---:|---:|---|---:|---:|\n";
  for (const auto& r : v.rows) {
    if (!r.blocking) continue;
    std::string mark = r.verdict == "fail"   ? "❌ **fail**"
                       : r.verdict == "pass" ? "✅ pass"
                                             : "⚠️ inconclusive";
    out +=
        fmt::format("| `{}` | {} | {:.4g} | {:.4g} | {:.4g} | {} | {:.4g} | {} |\n", r.metric, mark,
                    r.baseline, r.candidate, r.degradation, interval(r), r.margin, r.clips);
  }
  std::string regressed_slices;
  for (const auto& r : v.rows) {
    if (r.blocking || r.verdict != "fail") continue;
    regressed_slices += fmt::format("| `{}` | `{}` | {:.4g} | {:.4g} | {:.4g} | {} |\n", r.metric,
                                    r.slice, r.baseline, r.candidate, r.degradation, interval(r));
  }
  if (!regressed_slices.empty()) {
    out += "\n**Regressed slices** (advisory, Benjamini-Hochberg at 5 % FDR):\n\n";
    out +=
        "| metric | slice | baseline | candidate | worse by | 95% interval "
        "|\n|---|---|---:|---:|---:|---|\n";
    out += regressed_slices;
  }
  for (const auto& r : v.rows) {
    if (r.slice == "all" && r.flips_to_worse >= 0)
      out += fmt::format("\n`{}`, frame by frame: {}.\n", r.metric, flips(r));
  }
  std::string defined;
  for (const auto& r : v.rows) {
    auto d = v.definitions.find(r.metric);
    if (r.slice != "all" || d == v.definitions.end()) continue;
    defined += fmt::format("- `{}`: {}\n", r.metric, d->second);
  }
  if (!defined.empty())
    out +=
        "\n<details><summary>What the metrics measure</summary>\n\n" + defined + "\n</details>\n";
  std::string worst;
  for (const auto& c : v.worst_clips) {
    bool regressed = false;
    for (const auto& r : v.rows)
      regressed |= r.blocking && r.metric == c.metric && r.verdict != "pass";
    if (!regressed || c.degradation <= 0 || c.rank > 3) continue;
    worst += fmt::format("| `{}` | {} `{}` | {:.4g} → {:.4g} | {} (`{}` Δ {:.3g}) | `{}` |\n",
                         c.metric, c.clip_name, c.scenario, c.baseline, c.candidate, c.frame,
                         c.series, c.divergence, viewer_command(v, c));
  }
  if (!worst.empty()) {
    out +=
        "\n**Where to look** — the clips that moved each regressed metric most, and the frame "
        "where the outputs "
        "diverge most:\n\n| metric | clip | baseline → candidate | frame | open in the viewer "
        "|\n|---|---|---|---|---|\n";
    out += worst;
  }
  return out;
}

std::string render_json(const VerdictView& v) {
  const char* latency = latency_source(v) == LatencySource::kMeasured   ? "measured"
                        : latency_source(v) == LatencySource::kMixed    ? "mixed"
                        : latency_source(v) == LatencySource::kEmulated ? "emulated"
                                                                        : "none";
  std::string out = fmt::format(
      "{{\"run\": {}, \"candidate\": \"{}\", \"baseline\": \"{}\", \"suite\": \"{}\", "
      "\"verdict\": \"{}\", \"summary\": \"{}\", \"next_steps\": [{}], \"device_latency\": \"{}\", "
      "\"metrics\": [\n",
      v.run_id, json_escape(v.candidate), json_escape(v.baseline), json_escape(v.suite), v.verdict,
      json_escape(split_summary(v.summary).summary), next_steps_json(v.summary), latency);
  for (size_t i = 0; i < v.rows.size(); ++i) {
    const auto& r = v.rows[i];
    out += fmt::format(
        "  {{\"metric\": \"{}\", \"slice\": \"{}\", \"blocking\": {}, \"verdict\": \"{}\", "
        "\"clips\": {}, \"baseline\": {}, "
        "\"candidate\": {}, \"degradation\": {}, \"lo\": {}, \"hi\": {}, \"margin\": {}, "
        "\"reason\": \"{}\"}}{}\n",
        r.metric, json_escape(r.slice), r.blocking, r.verdict, r.clips, json_number(r.baseline),
        json_number(r.candidate), json_number(r.degradation), json_number(r.lo), json_number(r.hi),
        json_number(r.margin), json_escape(r.reason), i + 1 < v.rows.size() ? "," : "");
  }
  out += "], \"worst_clips\": [\n";
  for (size_t i = 0; i < v.worst_clips.size(); ++i) {
    const auto& c = v.worst_clips[i];
    out += fmt::format(
        "  {{\"metric\": \"{}\", \"rank\": {}, \"clip\": \"{}\", \"name\": \"{}\", \"scenario\": "
        "\"{}\", "
        "\"degradation\": {}, \"frame\": {}, \"viewer\": \"{}\"}}{}\n",
        c.metric, c.rank, c.clip_sha, json_escape(c.clip_name), json_escape(c.scenario),
        json_number(c.degradation), c.frame, json_escape(viewer_command(v, c)),
        i + 1 < v.worst_clips.size() ? "," : "");
  }
  out += "]}\n";
  return out;
}

}  // namespace hil::harness
