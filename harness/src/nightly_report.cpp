#include "hil/harness/nightly_report.h"
#include "hil/evals/change_points.h"

#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <tuple>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "evals/proto/suite.pb.h"
#include "hil/evals/metrics.h"
#include "hil/evals/splitmix.h"

namespace hil::harness {
namespace {

using evals::SplitMix;

// The split statistic: the largest |mean after - mean before| over splits
// that leave at least `min_segment` nights on each side.
std::string svg_trend(const std::string& title, const std::vector<std::string>& nights,
                      const std::map<std::string, std::vector<double>>& series) {
  const double w = 520, h = 160, left = 56, right = 10, top = 22, bottom = 28;
  double lo = 1e300, hi = -1e300;
  for (const auto& [name, values] : series) {
    for (double v : values) {
      if (!std::isfinite(v)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (lo > hi) return "";
  if (hi - lo < 1e-12) {
    lo -= 0.5;
    hi += 0.5;
  }
  static const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"};
  auto x = [&](size_t i) {
    return left + (w - left - right) *
                      (nights.size() > 1 ? static_cast<double>(i) / (nights.size() - 1) : 0.5);
  };
  auto y = [&](double v) { return top + (h - top - bottom) * (1 - (v - lo) / (hi - lo)); };
  std::string out = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="11">)",
      w, h);
  out += fmt::format(R"(<text x="{}" y="14" font-weight="bold">{}</text>)", left, title);
  out += fmt::format(
      R"(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#999"/><line x1="{0}" y1="{2}" x2="{3}" y2="{2}" stroke="#999"/>)",
      left, top, h - bottom, w - right);
  out += fmt::format(R"(<text x="4" y="{}">{:.4g}</text><text x="4" y="{}">{:.4g}</text>)",
                     y(hi) + 4, hi, y(lo), lo);
  for (size_t i = 0; i < nights.size(); ++i) {
    if (nights.size() <= 8 || i == 0 || i + 1 == nights.size() || i % 3 == 0) {
      out += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">{}</text>)", x(i), h - 10,
                         nights[i].substr(5));
    }
  }
  size_t c = 0;
  for (const auto& [name, values] : series) {
    std::string points;
    for (size_t i = 0; i < values.size(); ++i) {
      if (std::isfinite(values[i])) points += fmt::format("{:.1f},{:.1f} ", x(i), y(values[i]));
    }
    const char* color = kColors[c % 6];
    out += fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>)", color,
                       points);
    out += fmt::format(R"(<text x="{}" y="{}" fill="{}">{}</text>)", w - right - 120,
                       top + 12 * (c + 1), color, name);
    ++c;
  }
  out += "</svg>";
  return out;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '<')
      out += "&lt;";
    else if (ch == '>')
      out += "&gt;";
    else if (ch == '&')
      out += "&amp;";
    else
      out += ch;
  }
  return out;
}

struct Sum {
  double sum = 0;
  int64_t n = 0;
};

// Metric sums of the succeeded candidate evals of a range of nights, per run,
// clip and metric: the trends, and every slice, which is a union of clips.
struct NightSums {
  struct Key {
    int64_t run, clip, metric;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<int64_t>()((k.run * 1000003 + k.clip) * 1000003 + k.metric);
    }
  };
  // By clip, run and metric: summed in this order, the same results on two
  // nights give the same means, not a change of 1e-16.
  std::vector<std::pair<Key, Sum>> ordered;
  std::map<int64_t, std::pair<std::string, std::string>> runs;  // id -> (night, revision name)
  std::map<int64_t, std::string> metrics;                       // id -> name
};

NightSums read_night_sums(db::Store& store, const std::string& first, const std::string& last,
                          const std::vector<std::string>& metrics) {
  NightSums out;
  auto& d = store.database();
  std::string ids;
  {
    auto& defs = d.cached("SELECT id, name FROM metric_defs");
    while (defs.step()) {
      auto name = defs.text(1);
      if (std::find(metrics.begin(), metrics.end(), name) == metrics.end()) continue;
      ids += fmt::format("{}{}", ids.empty() ? "" : ", ", defs.int64(0));
      out.metrics[defs.int64(0)] = name;
    }
    defs.reset();
  }
  {
    auto& runs = d.cached(
        "SELECT r.id, r.night, v.name FROM runs r JOIN revisions v ON v.id = r.candidate_id "
        "WHERE r.night BETWEEN ?1 AND ?2");
    runs.bind_all(first, last);
    while (runs.step()) out.runs[runs.int64(0)] = {runs.text(1), runs.text(2)};
    runs.reset();
  }
  if (ids.empty()) return out;
  // One pass for every metric and night, summed here: a query per metric
  // read each eval once per metric, and GROUP BY's sort of millions of rows
  // cost more than the reads (16 s against 5 s for the report of two nights
  // of 1 M evals). CROSS JOIN fixes the order: the nights' runs, their evals
  // through evals_by_run, then each eval's metrics by primary key (never a
  // scan of eval_metrics by metric).
  auto& st = d.cached(fmt::format(R"sql(
      SELECT r.id, e.clip_id, m.metric_id, m.value
      FROM runs r CROSS JOIN evals e CROSS JOIN eval_metrics m
      WHERE r.night BETWEEN ?1 AND ?2 AND e.run_id = r.id AND e.state = 'succeeded'
        AND e.revision_id = r.candidate_id AND m.eval_id = e.id AND m.metric_id IN ({}))sql",
                                  ids));
  st.bind_all(first, last);
  std::unordered_map<NightSums::Key, Sum, NightSums::KeyHash> per_clip;
  while (st.step()) {
    auto& s = per_clip[{st.int64(0), st.int64(1), st.int64(2)}];
    s.sum += st.real(3);
    ++s.n;
  }
  st.reset();
  out.ordered.assign(per_clip.begin(), per_clip.end());
  std::sort(out.ordered.begin(), out.ordered.end(), [](const auto& x, const auto& y) {
    return std::tie(x.first.clip, x.first.run, x.first.metric) <
           std::tie(y.first.clip, y.first.run, y.first.metric);
  });
  return out;
}

// A night's sums per slice kind ("condition", "class", "traffic"), then per
// (revision name, metric, slice). The tags are split once per clip.
using SliceSums =
    std::map<std::string, std::map<std::tuple<std::string, std::string, std::string>, Sum>>;

SliceSums slice_sums(db::Store& store, const NightSums& sums, const std::string& night,
                     const std::vector<std::string>& metrics) {
  SliceSums out;
  std::map<int64_t, std::vector<std::pair<std::string, std::string>>>
      clip_slices;  // clip -> (kind, slice)
  auto& clip = store.database().cached("SELECT tags FROM clips WHERE id = ?1");
  for (const auto& [key, sum] : sums.ordered) {
    const auto& [run_night, revision] = sums.runs.at(key.run);
    const auto& metric = sums.metrics.at(key.metric);
    if (run_night != night || std::find(metrics.begin(), metrics.end(), metric) == metrics.end())
      continue;
    auto slices = clip_slices.find(key.clip);
    if (slices == clip_slices.end()) {
      std::vector<std::pair<std::string, std::string>> found;
      clip.bind_all(key.clip);
      std::stringstream tags(
          clip.first([](db::Statement& row) { return row.text(0); }).value_or(""));
      for (std::string tag; std::getline(tags, tag, ',');) {
        if (tag.empty()) continue;
        if (tag.find(':') == std::string::npos) {
          found.emplace_back("condition", tag);
        } else if (tag.rfind("class:", 0) == 0) {
          found.emplace_back("class", tag.substr(6));
        } else if (tag.rfind("traffic:", 0) == 0) {
          found.emplace_back("traffic", tag.substr(8));
        }
      }
      slices = clip_slices.emplace(key.clip, std::move(found)).first;
    }
    for (const auto& [kind, slice] : slices->second) {
      auto& s = out[kind][{revision, metric, slice}];
      s.sum += sum.sum;
      s.n += sum.n;
    }
  }
  return out;
}

}  // namespace

std::string render_resolved(db::Store& store, const NightlyReportOptions& o,
                            const std::vector<std::string>& nights, std::string out, bool html);

std::string render_nightly_report(db::Store& store, const NightlyReportOptions& o) {
  auto& d = store.database();
  // The nights, oldest first, up to the chosen one.
  std::vector<std::string> nights;
  {
    auto& st = d.cached(
        "SELECT DISTINCT night FROM runs WHERE night IS NOT NULL AND (?1 = '' OR night <= ?1) "
        "ORDER BY night DESC LIMIT ?2");
    st.bind_all(o.night, o.nights);
    while (st.step()) nights.push_back(st.text(0));
    st.reset();
  }
  std::reverse(nights.begin(), nights.end());
  const bool html = o.html;
  std::string out;
  auto heading = [&](const std::string& text, int level) {
    out += html ? fmt::format("<h{0}>{1}</h{0}>\n", level, html_escape(text))
                : fmt::format("{} {}\n\n", std::string(level, '#'), text);
  };
  if (html)
    out +=
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>hil nightly report</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em "
        "auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px "
        "8px;text-align:right}td:first-child,th:first-child{text-align:left}"
        ".worse{background:#fdd}.better{background:#dfd}</style></head><body>\n";
  if (nights.empty()) {
    heading("hil nightly report: no nightly runs in this database", 1);
    if (html) out += "</body></html>\n";
    return out;
  }
  const std::string night = nights.back();
  heading(fmt::format("hil nightly report — {}", night), 1);
  out += html ? fmt::format("<p>{} night(s) of history, {} to {}.</p>\n", nights.size(),
                            nights.front(), night)
              : fmt::format("{} night(s) of history, {} to {}.\n\n", nights.size(), nights.front(),
                            night);

  std::vector<std::string> shown = o.metrics, sliced = o.slice_metrics;
  if (shown.empty() || sliced.empty()) {
    // From what the night's suites declare and gate: no per-metric code.
    std::vector<std::string> declared, gated;
    auto add = [](std::vector<std::string>& v, const std::string& name) {
      if (std::find(v.begin(), v.end(), name) == v.end()) v.push_back(name);
    };
    for (const auto& text : store.suite_texts_of_night(night)) {
      suite::Suite suite;
      if (!google::protobuf::TextFormat::ParseFromString(text, &suite)) continue;
      for (const auto& m : suite.metrics()) {
        for (const auto& def : evals::metric_defs(m)) {
          if (!def.auxiliary) add(declared, def.name);
        }
      }
      for (const auto& g : suite.gates()) {
        if (g.blocking() && !evals::is_system_metric(g.metric())) add(gated, g.metric());
      }
    }
    if (shown.empty()) {
      shown = declared;
      add(shown, "device_latency_p99_ms");
      add(shown, "command_gaps");
    }
    if (sliced.empty()) {
      sliced = gated.empty()
                   ? std::vector<std::string>(
                         declared.begin(), declared.begin() + std::min<size_t>(3, declared.size()))
                   : std::vector<std::string>(gated.begin(),
                                              gated.begin() + std::min<size_t>(4, gated.size()));
    }
  }
  NightlyReportOptions resolved = o;
  resolved.metrics = shown;
  resolved.slice_metrics = sliced;
  return render_resolved(store, resolved, nights, std::move(out), html);
}

std::string render_resolved(db::Store& store, const NightlyReportOptions& o,
                            const std::vector<std::string>& nights, std::string out, bool html) {
  auto heading = [&](const std::string& text, int level) {
    out += html ? fmt::format("<h{0}>{1}</h{0}>\n", level, html_escape(text))
                : fmt::format("{} {}\n\n", std::string(static_cast<size_t>(level), '#'), text);
  };
  auto& d = store.database();
  (void)d;
  const std::string night = nights.back();
  std::vector<std::string> wanted = o.metrics;
  wanted.insert(wanted.end(), o.slice_metrics.begin(), o.slice_metrics.end());
  const NightSums sums = read_night_sums(store, nights.front(), night, wanted);

  // Per revision (by name) and metric: nightly means.
  std::map<std::string, std::map<std::string, std::vector<Sum>>>
      totals;  // metric -> revision -> per night
  for (const auto& [key, sum] : sums.ordered) {
    const auto& [run_night, revision] = sums.runs.at(key.run);
    const auto& metric = sums.metrics.at(key.metric);
    if (std::find(o.metrics.begin(), o.metrics.end(), metric) == o.metrics.end()) continue;
    auto it = std::find(nights.begin(), nights.end(), run_night);
    if (it == nights.end()) continue;
    auto& v = totals[metric][revision];
    if (v.empty()) v.resize(nights.size());
    auto& t = v[static_cast<size_t>(it - nights.begin())];
    t.sum += sum.sum;
    t.n += sum.n;
  }
  std::map<std::string, std::map<std::string, std::vector<double>>>
      values;  // metric -> revision -> per night
  for (const auto& [metric, by_rev] : totals) {
    for (const auto& [rev, v] : by_rev) {
      auto& means = values[metric][rev];
      for (const auto& t : v) means.push_back(t.n ? t.sum / static_cast<double>(t.n) : NAN);
    }
  }
  heading("Metrics: tonight, change against the previous night, and where the history moved", 2);
  if (html) {
    out +=
        "<table><tr><th>revision</th><th>metric</th><th>tonight</th><th>previous "
        "night</th><th>change</th><th>moved on (p)</th></tr>\n";
  } else {
    out +=
        "| revision | metric | tonight | previous night | change | moved on (p) "
        "|\n|---|---|---:|---:|---:|---|\n";
  }
  // Every series of the table is tested at once: E-Divisive per series,
  // Benjamini-Hochberg across them (evals/change_points.h).
  struct Row {
    std::string metric, rev;
    double now = NAN, prev = NAN;
    std::vector<size_t> at;  // night of each history value
  };
  std::vector<Row> rows;
  std::vector<std::vector<double>> histories;
  for (const auto& [metric, by_rev] : values) {
    for (const auto& [rev, v] : by_rev) {
      Row row{metric, rev, v.back(), NAN, {}};
      if (!std::isfinite(row.now)) continue;
      for (size_t i = v.size() - 1; i-- > 0;) {
        if (std::isfinite(v[i])) {
          row.prev = v[i];
          break;
        }
      }
      std::vector<double> history;
      for (size_t i = 0; i < v.size(); ++i) {
        if (std::isfinite(v[i])) {
          history.push_back(v[i]);
          row.at.push_back(i);
        }
      }
      rows.push_back(std::move(row));
      histories.push_back(std::move(history));
    }
  }
  evals::ChangePointOptions cpo;
  cpo.seed = o.seed;
  const auto found = evals::change_points_across(histories, cpo);
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto& [metric, rev, now, prev, at] = rows[r];
    std::vector<std::string> moves;
    for (const auto& cp : found[r]) {
      const bool spread = std::abs(std::log(cp.spread_ratio)) > std::log(2.0);
      moves.push_back(fmt::format(
          "{} ({:+.4g}{}, p={:.3f})", nights[at[static_cast<size_t>(cp.index)]], cp.shift,
          spread ? fmt::format(", spread x{:.2g}", cp.spread_ratio) : std::string(), cp.p_value));
    }
    const std::string moved =
        moves.empty() ? std::string(1, '-') : fmt::format("{}", fmt::join(moves, "; "));
    {
      std::string change = std::isfinite(prev) ? fmt::format("{:+.4g}", now - prev) : "-";
      if (html) {
        out += fmt::format(
            "<tr><td>{}</td><td>{}</td><td>{:.4g}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            html_escape(rev), metric, now, std::isfinite(prev) ? fmt::format("{:.4g}", prev) : "-",
            change, moved);
      } else {
        out += fmt::format("| `{}` | `{}` | {:.4g} | {} | {} | {} |\n", rev, metric, now,
                           std::isfinite(prev) ? fmt::format("{:.4g}", prev) : "-", change, moved);
      }
    }
  }
  out += html ? "</table>\n" : "\n";

  if (html) {
    heading("Trends", 2);
    for (const auto& [metric, by_rev] : values) out += svg_trend(metric, nights, by_rev) + "\n";
  }

  // Slices tonight, against the previous night: by condition, object class
  // and traffic pattern (the clip tags `snow`, `class:pedestrian`,
  // `traffic:cut-in`). A clip carries several class tags, so it counts in
  // each of its classes.
  {
    auto tonight = slice_sums(store, sums, night, o.slice_metrics);
    SliceSums before;
    if (nights.size() >= 2)
      before = slice_sums(store, sums, nights[nights.size() - 2], o.slice_metrics);
    std::map<std::string, bool> lower_is_better;
    for (const auto& def : store.metric_defs())
      lower_is_better[def.name] = def.direction == "lower";
    struct Kind {
      const char* key;
      const char* heading;
      const char* column;
    };
    static constexpr Kind kKinds[] = {{"condition", "Tonight by condition", "condition"},
                                      {"class", "Tonight by object class", "object class"},
                                      {"traffic", "Tonight by traffic pattern", "traffic"}};
    for (const auto& kind : kKinds) {
      auto rows = tonight.find(kind.key);
      // Clips without class or traffic tags (older generators, imported clips) leave those tables
      // out.
      if (rows == tonight.end() && std::string(kind.key) != "condition") continue;
      heading(kind.heading, 2);
      out += html ? fmt::format(
                        "<table><tr><th>revision</th><th>metric</th><th>{}</th><th>tonight</"
                        "th><th>previous night</th>"
                        "<th>change</th><th>evals</th></tr>\n",
                        kind.column)
                  : fmt::format(
                        "| revision | metric | {} | tonight | previous night | change | evals |\n"
                        "|---|---|---|---:|---:|---:|---:|\n",
                        kind.column);
      if (rows != tonight.end()) {
        const auto prev_kind = before.find(kind.key);
        for (const auto& [key, s] : rows->second) {
          const auto& [rev, metric, slice] = key;
          const double now = s.sum / static_cast<double>(s.n);
          double prev = NAN;
          if (prev_kind != before.end()) {
            auto p = prev_kind->second.find(key);
            if (p != prev_kind->second.end())
              prev = p->second.sum / static_cast<double>(p->second.n);
          }
          const std::string prev_text = std::isfinite(prev) ? fmt::format("{:.4g}", prev) : "-";
          const std::string change = std::isfinite(prev) ? fmt::format("{:+.4g}", now - prev) : "-";
          if (html) {
            std::string cls;
            auto dir = lower_is_better.find(metric);
            if (std::isfinite(prev) && now != prev && dir != lower_is_better.end()) {
              cls = (now > prev) == dir->second ? " class=\"worse\"" : " class=\"better\"";
            }
            out += fmt::format(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.4g}</td><td>{}</td><td{}>{}</"
                "td><td>{}</td></tr>\n",
                html_escape(rev), metric, html_escape(slice), now, prev_text, cls, change, s.n);
          } else {
            out += fmt::format("| `{}` | `{}` | {} | {:.4g} | {} | {} | {} |\n", rev, metric, slice,
                               now, prev_text, change, s.n);
          }
        }
      }
      out += html ? "</table>\n" : "\n";
    }
  }

  // The clips that got worse since the previous night, per revision run tonight.
  if (nights.size() >= 2) {
    heading("Clips that got worse since the previous night (lane_offset_mae)", 2);
    auto& runs = d.cached(
        "SELECT r.candidate_id, v.name, v.sha256, r.night FROM runs r JOIN revisions v ON v.id = "
        "r.candidate_id "
        "WHERE r.night IN (?1, ?2) ORDER BY r.night");
    runs.bind_all(nights[nights.size() - 2], night);
    std::vector<std::tuple<int64_t, std::string, std::string, std::string>> rows;
    while (runs.step()) rows.emplace_back(runs.int64(0), runs.text(1), runs.text(2), runs.text(3));
    runs.reset();
    std::map<std::string, std::pair<int64_t, std::string>> before, after;  // by revision name
    for (const auto& [id, name, sha, n] : rows) (n == night ? after : before)[name] = {id, sha};
    for (const auto& [name, now] : after) {
      // The same revision name last night (retrained nightly), else the first revision of last
      // night.
      auto prev = before.count(name) ? before[name] : before.empty() ? now : before.begin()->second;
      if (prev.first == now.first) continue;
      auto diff = store.diff_revisions(prev.first, now.first, std::nullopt, {"lane_offset_mae"});
      size_t shown = 0;
      for (const auto& r : diff) {
        if (r.delta <= 0 || shown++ >= 5) break;
        std::string cmd =
            fmt::format("hil-viewer {} --a {} --b {} --clip {}", o.viewer_db,
                        prev.second.substr(0, 12), now.second.substr(0, 12), r.clip_sha);
        out += html ? fmt::format("<p>{}: {} [{}] {:.4g} → {:.4g}<br><code>{}</code></p>\n",
                                  html_escape(name), html_escape(r.clip_name), r.scenario, r.a, r.b,
                                  cmd)
                    : fmt::format("- `{}`: {} [{}] {:.4g} → {:.4g} — `{}`\n", name, r.clip_name,
                                  r.scenario, r.a, r.b, cmd);
      }
    }
    out += "\n";
  }

  heading("Boards", 2);
  auto boards = store.board_stats();
  out += html ? "<table><tr><th>board</th><th>health</th><th>evals</th><th>failed</th><th>mean "
                "s/eval</th><th>quarantine</th></tr>\n"
              : "| board | health | evals | failed | mean s/eval | quarantine "
                "|\n|---|---|---:|---:|---:|---|\n";
  for (const auto& b : boards) {
    out +=
        html ? fmt::format(
                   "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3f}</td><td>{}</td></"
                   "tr>\n",
                   b.name, b.health, b.evals_done, b.evals_failed, b.mean_host_seconds,
                   html_escape(b.quarantine_reason))
             : fmt::format("| {} | {} | {} | {} | {:.3f} | {} |\n", b.name, b.health, b.evals_done,
                           b.evals_failed, b.mean_host_seconds, b.quarantine_reason);
  }
  if (html) out += "</table></body></html>\n";
  return out;
}

}  // namespace hil::harness
