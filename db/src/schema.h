// The schema, as forward-only migrations: kMigrations[i] takes a database
// from user_version i to i + 1. Never edit a released migration; add one.
#pragma once

namespace hil::db {

inline constexpr const char* kMigrations[] = {
    // 0 -> 1: the initial schema.
    R"sql(
CREATE TABLE revisions (
  id INTEGER PRIMARY KEY,
  sha256 TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  git_sha TEXT,
  pr TEXT,
  author TEXT,
  bytes INTEGER,
  created_at REAL NOT NULL
);
CREATE TABLE clips (
  id INTEGER PRIMARY KEY,
  sha256 TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  tags TEXT NOT NULL,            -- comma-separated condition and generator tags
  frames INTEGER NOT NULL,
  fps REAL NOT NULL
);
CREATE TABLE suites (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  text TEXT NOT NULL,            -- the suite textproto as submitted
  sha256 TEXT NOT NULL UNIQUE
);
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  label TEXT NOT NULL,
  candidate_id INTEGER NOT NULL REFERENCES revisions(id),
  baseline_id INTEGER REFERENCES revisions(id),
  suite_id INTEGER NOT NULL REFERENCES suites(id),
  priority TEXT NOT NULL CHECK (priority IN ('gate', 'interactive', 'nightly')),
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'cancelled')),
  submitted_at REAL NOT NULL,
  finished_at REAL,
  verdict TEXT,
  verdict_summary TEXT
);
CREATE TABLE evals (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  revision_id INTEGER NOT NULL REFERENCES revisions(id),
  clip_id INTEGER NOT NULL REFERENCES clips(id),
  scenario TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'succeeded', 'failed', 'cancelled')),
  attempts INTEGER NOT NULL DEFAULT 0,
  board TEXT,
  lease_id INTEGER,
  lease_deadline REAL,
  started_at REAL,
  finished_at REAL,
  host_seconds REAL,
  failure TEXT
);
-- Not on state: every result changes it, and an index on it would be
-- rewritten per eval.
CREATE INDEX evals_by_run ON evals(run_id);
CREATE INDEX evals_by_revision_clip ON evals(revision_id, clip_id);
CREATE TABLE boards (
  name TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  state TEXT NOT NULL,
  health TEXT NOT NULL DEFAULT 'unknown',
  software TEXT,
  last_seen REAL,
  evals_done INTEGER NOT NULL DEFAULT 0,
  evals_failed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE metric_defs (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  unit TEXT NOT NULL,
  direction TEXT NOT NULL CHECK (direction IN ('lower', 'higher')),
  description TEXT NOT NULL
);
CREATE TABLE eval_metrics (
  eval_id INTEGER NOT NULL REFERENCES evals(id),
  metric_id INTEGER NOT NULL REFERENCES metric_defs(id),
  value REAL NOT NULL,
  PRIMARY KEY (eval_id, metric_id)
) WITHOUT ROWID;
-- A rowid table on purpose: WITHOUT ROWID rows over ~1/20 of a page spill
-- into overflow pages, which would cost a whole page per series.
CREATE TABLE frame_series (
  id INTEGER PRIMARY KEY,
  eval_id INTEGER NOT NULL REFERENCES evals(id),
  name TEXT NOT NULL,
  codec TEXT NOT NULL,
  frames INTEGER NOT NULL,
  data BLOB NOT NULL,
  UNIQUE (eval_id, name)
);
CREATE TABLE gate_results (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  metric TEXT NOT NULL,
  slice TEXT NOT NULL,
  blocking INTEGER NOT NULL,
  verdict TEXT NOT NULL,
  clips INTEGER NOT NULL,
  baseline REAL,
  candidate REAL,
  degradation REAL,
  lo REAL,
  hi REAL,
  margin REAL,
  reason TEXT,
  PRIMARY KEY (run_id, metric, slice)
);
-- One row per eval with its key metrics, for people at a sqlite3 prompt.
CREATE VIEW eval_results AS
SELECT e.id AS eval, e.run_id AS run, r.name AS revision, c.name AS clip, c.tags AS tags, e.scenario,
       e.state, e.board, e.attempts,
       MAX(CASE WHEN d.name = 'lane_offset_mae' THEN m.value END) AS lane_offset_mae,
       MAX(CASE WHEN d.name = 'lane_heading_mae' THEN m.value END) AS lane_heading_mae,
       MAX(CASE WHEN d.name = 'steering_mae' THEN m.value END) AS steering_mae,
       MAX(CASE WHEN d.name = 'accel_mae' THEN m.value END) AS accel_mae,
       MAX(CASE WHEN d.name = 'lead_recall' THEN m.value END) AS lead_recall,
       MAX(CASE WHEN d.name = 'device_latency_p99_ms' THEN m.value END) AS device_latency_p99_ms,
       MAX(CASE WHEN d.name = 'command_gaps' THEN m.value END) AS command_gaps,
       e.failure
FROM evals e JOIN revisions r ON r.id = e.revision_id JOIN clips c ON c.id = e.clip_id
LEFT JOIN eval_metrics m ON m.eval_id = e.id LEFT JOIN metric_defs d ON d.id = m.metric_id
GROUP BY e.id;
)sql",
    // 1 -> 2: nightly sweeps are grouped by night; boards carry their health.
    R"sql(
ALTER TABLE runs ADD COLUMN night TEXT;
CREATE INDEX runs_by_night ON runs(night) WHERE night IS NOT NULL;
ALTER TABLE boards ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE boards ADD COLUMN quarantine_reason TEXT;
-- Covers the diff of two revisions (latest succeeded eval per clip and
-- scenario). Partial: an eval enters it once, when it succeeds, instead of
-- moving through it at every state change.
DROP INDEX evals_by_revision_clip;
CREATE INDEX evals_for_diff ON evals(revision_id, clip_id, scenario, id) WHERE state = 'succeeded';
-- The gate explains itself: per-frame flips of detection metrics (McNemar)...
ALTER TABLE gate_results ADD COLUMN flips_to_worse INTEGER;
ALTER TABLE gate_results ADD COLUMN flips_to_better INTEGER;
ALTER TABLE gate_results ADD COLUMN flips_p REAL;
-- ...and the clips that contribute most to each blocking metric's change,
-- with the frame where the two revisions' outputs diverge most.
CREATE TABLE gate_clips (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  metric TEXT NOT NULL,
  rank INTEGER NOT NULL,
  clip_sha TEXT NOT NULL,
  clip_name TEXT NOT NULL,
  scenario TEXT NOT NULL,
  baseline REAL,
  candidate REAL,
  degradation REAL,
  frame INTEGER,
  divergence REAL,
  series TEXT,
  eval_baseline INTEGER,
  eval_candidate INTEGER,
  PRIMARY KEY (run_id, metric, rank)
);
)sql",
    // 2 -> 3: networks bring their own heads and suites their own metrics.
    // Decoded outputs (objects, lanes) of every frame are kept per eval for
    // the viewer and metric plugins; the eval_results view lists whatever
    // metrics an eval has instead of fixed columns.
    R"sql(
CREATE TABLE frame_outputs (
  eval_id INTEGER PRIMARY KEY REFERENCES evals(id),
  codec TEXT NOT NULL,
  data BLOB NOT NULL
);
DROP VIEW eval_results;
CREATE VIEW eval_results AS
SELECT e.id AS eval, e.run_id AS run, r.name AS revision, c.name AS clip, c.tags AS tags, e.scenario,
       e.state, e.board, e.attempts,
       (SELECT GROUP_CONCAT(d.name || '=' || printf('%.4g', m.value), ' ')
          FROM eval_metrics m JOIN metric_defs d ON d.id = m.metric_id
         WHERE m.eval_id = e.id AND instr(d.name, '.') = 0) AS metrics,
       e.failure
FROM evals e JOIN revisions r ON r.id = e.revision_id JOIN clips c ON c.id = e.clip_id;
)sql",
    // 3 -> 4: boards whose device time is measured (the host board type,
    // backend plugins) say so per eval; a gate on such latency is told. NULL:
    // recorded before hil said, when every board emulated its device time.
    R"sql(
ALTER TABLE evals ADD COLUMN device_time TEXT CHECK (device_time IN ('emulated', 'measured'));
)sql",
    // 4 -> 5: health checks against known answers. A reference is an eval's
    // metrics computed on the scheduler's host (never taken from a board), so
    // a rack of wrong boards cannot agree with itself, and a restart keeps
    // them. An eval whose board failed a later health check after its verdict
    // was given is kept but marked suspect, with why.
    R"sql(
CREATE TABLE health_references (
  id INTEGER PRIMARY KEY,
  revision_sha TEXT NOT NULL,
  clip_sha TEXT NOT NULL,
  board_type TEXT NOT NULL,
  scenario TEXT NOT NULL,
  spec BLOB NOT NULL,      -- the scenario and the metrics' specs, as the scheduler serialized them
  metrics TEXT NOT NULL,   -- name=value lines, values with 17 significant digits
  created_at REAL NOT NULL,
  UNIQUE (revision_sha, clip_sha, board_type, scenario)
);
ALTER TABLE evals ADD COLUMN suspect TEXT;
)sql",
};

inline constexpr int kMigrationCount = sizeof(kMigrations) / sizeof(kMigrations[0]);

}  // namespace hil::db
