// Private: row readers shared by the query files.
#pragma once

#include <string>
#include <vector>

#include "hil/db/store.h"

namespace hil::db {

// Reads a run's first eleven columns: id, label, candidate, baseline, suite,
// priority, state, verdict, verdict summary, submitted and finished times.
inline RunRow read_run_head(Statement& st) {
  RunRow r;
  r.id = st.int64(0);
  r.label = st.text(1);
  r.candidate = st.text(2);
  r.baseline = st.text(3);
  r.suite = st.text(4);
  r.priority = st.text(5);
  r.state = st.text(6);
  r.verdict = st.text(7);
  r.verdict_summary = st.text(8);
  r.submitted_at = st.real(9);
  r.finished_at = st.real(10);
  return r;
}

// A clip and scenario evaluated by both revisions of a diff, with the two evals.
struct MatchedPair {
  int64_t clip_id;
  std::string scenario;
  int64_t eval_a, eval_b;
};

// Reads (clip_id, scenario, eval_a, eval_b) rows, then resets the statement.
inline std::vector<MatchedPair> read_matched_pairs(Statement& pairs) {
  std::vector<MatchedPair> matched;
  while (pairs.step())
    matched.push_back({pairs.int64(0), pairs.text(1), pairs.int64(2), pairs.int64(3)});
  pairs.reset();
  return matched;
}

}  // namespace hil::db
