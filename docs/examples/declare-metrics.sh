#!/usr/bin/env bash
# docs/metrics.md's worked example: a suite that declares its metrics from the
# catalogue (detection AP per distance band, lane error, a regression) and a
# plugin of its own (the example plugin libsteering_jerk.so), gated on a
# local emulated rack. CI runs it (ctest: docs-example-declare-metrics).
#   HIL=build/release/bin/hil HIL_METRIC_PLUGINS=build/release/plugins \
#     bash docs/examples/declare-metrics.sh [WORK_DIR]
set -euo pipefail
hil=${HIL:-build/release/bin/hil}
samples=${HIL_SAMPLES:-$(cd "$(dirname "$0")/../.." && pwd)/dual_engine/samples/tri-cam}
export HIL_METRIC_PLUGINS=${HIL_METRIC_PLUGINS:-$(dirname "$hil")/../plugins}
work=${1:-$(mktemp -d)}
mkdir -p "$work"
cd "$work"
cat > my-suite.textproto <<'SUITE'
name: "my-suite"
board_type: "fsd-hw3"
clips { generated { count: 8 frames: 16 seed: 900 rig: "tri" width: 256 height: 128
                    encoding: ENCODING_JPEG conditions: ["clear", "rain", "night", "fog"] } }
scenarios { name: "split" mode: "split" }
metrics { name: "near_ap50"
          detection { head: "objects_front" classes: ["car", "truck"] interpolation: KITTI_40
                      min_distance: 0 max_distance: 30 min_height_px: 8 } }
metrics { name: "lane_err_20m" lane { head: "lanes" x: 20 } }
metrics { name: "accel_mae" regression { head: "control" field: "acceleration" truth: "control.acceleration" } }
metrics { name: "steering_jerk"
          plugin { library: "steering_jerk" params: "head=control" direction: LOWER_IS_BETTER unit: "rad/frame" } }
gates { metric: "near_ap50"     max_abs_degradation: 0.1  min_clips: 4 blocking: true }
gates { metric: "lane_err_20m"  max_abs_degradation: 0.1  min_clips: 4 blocking: true }
gates { metric: "steering_jerk" max_abs_degradation: 0.01 min_clips: 4 blocking: true }
gates { metric: "accel_mae"     max_abs_degradation: 0.5  min_clips: 4 blocking: false }
SUITE
rc=0
"$hil" gate --local 2 --local-dir rack --candidate "$samples/base-s2.onnx" --baseline "$samples/base-s1.onnx" \
  --suite my-suite.textproto --markdown summary.md > verdict.txt || rc=$?
cat verdict.txt
[ "$rc" -le 2 ] || { echo "the gate failed with exit code $rc"; exit 1; }
grep -q "^steering_jerk" verdict.txt
grep -q "^near_ap50" verdict.txt
# The same names in the database, per eval.
sqlite3 rack/hil.db "SELECT name, unit FROM metric_defs WHERE name IN ('near_ap50', 'steering_jerk') ORDER BY name" | tee defs.txt
grep -q "steering_jerk|rad/frame" defs.txt
echo "declare-metrics: ok (gate exit code $rc)"
