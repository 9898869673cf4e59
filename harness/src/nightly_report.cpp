#include "hil/harness/nightly_report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include <fmt/format.h>

namespace hil::harness {
namespace {

struct SplitMix {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

// The split statistic: the largest |mean after - mean before| over splits
// that leave at least `min_segment` nights on each side.
std::pair<int, double> best_split(const std::vector<double>& v, int min_segment) {
  int n = static_cast<int>(v.size());
  int best = -1;
  double stat = 0;
  for (int k = min_segment; k <= n - min_segment; ++k) {
    double before = std::accumulate(v.begin(), v.begin() + k, 0.0) / k;
    double after = std::accumulate(v.begin() + k, v.end(), 0.0) / (n - k);
    // Weighted like E-divisive: long balanced segments count more than a spike.
    double d = std::abs(after - before) * std::sqrt(static_cast<double>(k) * (n - k) / n);
    if (d > stat) {
      stat = d;
      best = k;
    }
  }
  return {best, stat};
}

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
  auto x = [&](size_t i) { return left + (w - left - right) * (nights.size() > 1 ? static_cast<double>(i) / (nights.size() - 1) : 0.5); };
  auto y = [&](double v) { return top + (h - top - bottom) * (1 - (v - lo) / (hi - lo)); };
  std::string out = fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="11">)", w, h);
  out += fmt::format(R"(<text x="{}" y="14" font-weight="bold">{}</text>)", left, title);
  out += fmt::format(R"(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#999"/><line x1="{0}" y1="{2}" x2="{3}" y2="{2}" stroke="#999"/>)",
                     left, top, h - bottom, w - right);
  out += fmt::format(R"(<text x="4" y="{}">{:.4g}</text><text x="4" y="{}">{:.4g}</text>)", y(hi) + 4, hi, y(lo), lo);
  for (size_t i = 0; i < nights.size(); ++i) {
    if (nights.size() <= 8 || i == 0 || i + 1 == nights.size() || i % 3 == 0) {
      out += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">{}</text>)", x(i), h - 10, nights[i].substr(5));
    }
  }
  size_t c = 0;
  for (const auto& [name, values] : series) {
    std::string points;
    for (size_t i = 0; i < values.size(); ++i) {
      if (std::isfinite(values[i])) points += fmt::format("{:.1f},{:.1f} ", x(i), y(values[i]));
    }
    const char* color = kColors[c % 6];
    out += fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>)", color, points);
    out += fmt::format(R"(<text x="{}" y="{}" fill="{}">{}</text>)", w - right - 120, top + 12 * (c + 1), color, name);
    ++c;
  }
  out += "</svg>";
  return out;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '<') out += "&lt;";
    else if (ch == '>') out += "&gt;";
    else if (ch == '&') out += "&amp;";
    else out += ch;
  }
  return out;
}

}  // namespace

ChangePoint find_change_point(const std::vector<double>& values, uint64_t seed, int min_segment) {
  ChangePoint cp;
  if (static_cast<int>(values.size()) < 2 * min_segment) return cp;
  auto [k, stat] = best_split(values, min_segment);
  if (k < 0 || stat == 0) return cp;
  // Permutation test: how often does shuffled history split as strongly?
  SplitMix rng{seed};
  std::vector<double> shuffled = values;
  int as_strong = 0;
  const int permutations = 999;
  for (int p = 0; p < permutations; ++p) {
    for (size_t i = shuffled.size() - 1; i > 0; --i) std::swap(shuffled[i], shuffled[rng.next() % (i + 1)]);
    as_strong += best_split(shuffled, min_segment).second >= stat - 1e-12;
  }
  cp.index = k;
  cp.shift = std::accumulate(values.begin() + k, values.end(), 0.0) / (values.size() - k) -
             std::accumulate(values.begin(), values.begin() + k, 0.0) / k;
  cp.p_value = (as_strong + 1.0) / (permutations + 1.0);
  return cp;
}

std::string render_nightly_report(db::Store& store, const NightlyReportOptions& o) {
  auto& d = store.database();
  // The nights, oldest first, up to the chosen one.
  std::vector<std::string> nights;
  {
    auto& st = d.cached("SELECT DISTINCT night FROM runs WHERE night IS NOT NULL AND (?1 = '' OR night <= ?1) "
                        "ORDER BY night DESC LIMIT ?2");
    st.bind_all(o.night, o.nights);
    while (st.step()) nights.push_back(st.text(0));
    st.reset();
  }
  std::reverse(nights.begin(), nights.end());
  const bool html = o.html;
  std::string out;
  auto heading = [&](const std::string& text, int level) {
    out += html ? fmt::format("<h{0}>{1}</h{0}>\n", level, html_escape(text)) : fmt::format("{} {}\n\n", std::string(level, '#'), text);
  };
  if (html) out += "<!doctype html><html><head><meta charset=\"utf-8\"><title>hil nightly report</title>"
                   "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
                   "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
                   ".worse{background:#fdd}.better{background:#dfd}</style></head><body>\n";
  if (nights.empty()) {
    heading("hil nightly report: no nightly runs in this database", 1);
    if (html) out += "</body></html>\n";
    return out;
  }
  const std::string night = nights.back();
  heading(fmt::format("hil nightly report — {}", night), 1);
  out += html ? fmt::format("<p>{} night(s) of history, {} to {}.</p>\n", nights.size(), nights.front(), night)
              : fmt::format("{} night(s) of history, {} to {}.\n\n", nights.size(), nights.front(), night);

  // Per revision (by name) and metric: nightly means.
  std::map<std::string, std::map<std::string, std::vector<double>>> values;  // metric -> revision -> per night
  for (const auto& metric : o.metrics) {
    for (const auto& p : store.metric_trend(metric, o.nights * 4)) {
      auto it = std::find(nights.begin(), nights.end(), p.night);
      if (it == nights.end()) continue;
      auto& v = values[metric][p.revision];
      if (v.empty()) v.assign(nights.size(), NAN);
      v[static_cast<size_t>(it - nights.begin())] = p.mean;
    }
  }
  heading("Metrics: tonight, change against the previous night, and where the history moved", 2);
  if (html) {
    out += "<table><tr><th>revision</th><th>metric</th><th>tonight</th><th>previous night</th><th>change</th><th>moved on (p)</th></tr>\n";
  } else {
    out += "| revision | metric | tonight | previous night | change | moved on (p) |\n|---|---|---:|---:|---:|---|\n";
  }
  uint64_t seed = o.seed;
  for (const auto& [metric, by_rev] : values) {
    for (const auto& [rev, v] : by_rev) {
      double now = v.back();
      if (!std::isfinite(now)) continue;
      double prev = NAN;
      for (size_t i = v.size() - 1; i-- > 0;) {
        if (std::isfinite(v[i])) {
          prev = v[i];
          break;
        }
      }
      std::vector<double> history;
      std::vector<size_t> at;
      for (size_t i = 0; i < v.size(); ++i) {
        if (std::isfinite(v[i])) {
          history.push_back(v[i]);
          at.push_back(i);
        }
      }
      auto cp = find_change_point(history, seed++);
      std::string moved = cp.index >= 0 && cp.p_value <= 0.05
                              ? fmt::format("{} ({:+.4g}, p={:.3f})", nights[at[static_cast<size_t>(cp.index)]], cp.shift, cp.p_value)
                              : "-";
      std::string change = std::isfinite(prev) ? fmt::format("{:+.4g}", now - prev) : "-";
      if (html) {
        out += fmt::format("<tr><td>{}</td><td>{}</td><td>{:.4g}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", html_escape(rev),
                           metric, now, std::isfinite(prev) ? fmt::format("{:.4g}", prev) : "-", change, moved);
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

  // Slices by condition tonight: the mean of each metric per revision and condition.
  heading("Tonight by condition", 2);
  {
    auto& st = d.cached(R"sql(
      SELECT v.name, c.tags, d.name, m.value FROM runs r
      JOIN evals e ON e.run_id = r.id AND e.state = 'succeeded' AND e.revision_id = r.candidate_id
      JOIN revisions v ON v.id = e.revision_id JOIN clips c ON c.id = e.clip_id
      JOIN eval_metrics m ON m.eval_id = e.id JOIN metric_defs d ON d.id = m.metric_id
      WHERE r.night = ?1 AND d.name IN ('lane_offset_mae', 'steering_mae', 'lead_recall'))sql");
    st.bind_all(night);
    std::map<std::tuple<std::string, std::string, std::string>, std::pair<double, int>> sums;
    while (st.step()) {
      std::stringstream tags(st.text(1));
      for (std::string tag; std::getline(tags, tag, ',');) {
        if (tag.find(':') != std::string::npos) continue;
        auto& s = sums[{st.text(0), st.text(2), tag}];
        s.first += st.real(3);
        s.second++;
      }
    }
    st.reset();
    out += html ? "<table><tr><th>revision</th><th>metric</th><th>condition</th><th>mean</th><th>evals</th></tr>\n"
                : "| revision | metric | condition | mean | evals |\n|---|---|---|---:|---:|\n";
    for (const auto& [key, s] : sums) {
      const auto& [rev, metric, tag] = key;
      out += html ? fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.4g}</td><td>{}</td></tr>\n", html_escape(rev), metric, tag,
                                s.first / s.second, s.second)
                  : fmt::format("| `{}` | `{}` | {} | {:.4g} | {} |\n", rev, metric, tag, s.first / s.second, s.second);
    }
    out += html ? "</table>\n" : "\n";
  }

  // The clips that got worse since the previous night, per revision run tonight.
  if (nights.size() >= 2) {
    heading("Clips that got worse since the previous night (lane_offset_mae)", 2);
    auto& runs = d.cached("SELECT r.candidate_id, v.name, v.sha256, r.night FROM runs r JOIN revisions v ON v.id = r.candidate_id "
                          "WHERE r.night IN (?1, ?2) ORDER BY r.night");
    runs.bind_all(nights[nights.size() - 2], night);
    std::vector<std::tuple<int64_t, std::string, std::string, std::string>> rows;
    while (runs.step()) rows.emplace_back(runs.int64(0), runs.text(1), runs.text(2), runs.text(3));
    runs.reset();
    std::map<std::string, std::pair<int64_t, std::string>> before, after;  // by revision name
    for (const auto& [id, name, sha, n] : rows) (n == night ? after : before)[name] = {id, sha};
    for (const auto& [name, now] : after) {
      // The same revision name last night (retrained nightly), else the first revision of last night.
      auto prev = before.count(name) ? before[name] : before.empty() ? now : before.begin()->second;
      if (prev.first == now.first) continue;
      auto diff = store.diff_revisions(prev.first, now.first, std::nullopt, {"lane_offset_mae"});
      size_t shown = 0;
      for (const auto& r : diff) {
        if (r.delta <= 0 || shown++ >= 5) break;
        std::string cmd = fmt::format("hil-viewer {} --a {} --b {} --clip {}", o.viewer_db, prev.second.substr(0, 12),
                                      now.second.substr(0, 12), r.clip_sha);
        out += html ? fmt::format("<p>{}: {} [{}] {:.4g} → {:.4g}<br><code>{}</code></p>\n", html_escape(name), html_escape(r.clip_name),
                                  r.scenario, r.a, r.b, cmd)
                    : fmt::format("- `{}`: {} [{}] {:.4g} → {:.4g} — `{}`\n", name, r.clip_name, r.scenario, r.a, r.b, cmd);
      }
    }
    out += "\n";
  }

  heading("Boards", 2);
  auto boards = store.board_stats();
  out += html ? "<table><tr><th>board</th><th>health</th><th>evals</th><th>failed</th><th>mean s/eval</th><th>quarantine</th></tr>\n"
              : "| board | health | evals | failed | mean s/eval | quarantine |\n|---|---|---:|---:|---:|---|\n";
  for (const auto& b : boards) {
    out += html ? fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3f}</td><td>{}</td></tr>\n", b.name, b.health,
                              b.evals_done, b.evals_failed, b.mean_host_seconds, html_escape(b.quarantine_reason))
                : fmt::format("| {} | {} | {} | {} | {:.3f} | {} |\n", b.name, b.health, b.evals_done, b.evals_failed,
                              b.mean_host_seconds, b.quarantine_reason);
  }
  if (html) out += "</table></body></html>\n";
  return out;
}

}  // namespace hil::harness
