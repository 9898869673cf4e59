#!/usr/bin/env bash
# docs/clips.md's worked example: a drive (videos and JSON-lines labels) into
# a hil clip, looked at. CI runs it (ctest: docs-example-import-drive).
#   HIL=build/release/bin/hil bash docs/examples/import-drive.sh [WORK_DIR]
set -euo pipefail
hil=${HIL:-build/release/bin/hil}
work=${1:-$(mktemp -d)}
mkdir -p "$work"
cd "$work"
# A recorded drive stands in here as a generated clip written out as one:
# three Motion JPEG videos and labels.jsonl (bring your own instead).
"$hil" clips generate --count 1 --frames 24 --seed 31 --rig tri --width 256 --height 128 --encoding jpeg --out gen
"$hil" clips export gen/*.clip --out drive
ls drive
"$hil" clips import --camera front=drive/front.avi --camera left=drive/left.avi --camera right=drive/right.avi \
  --labels drive/labels.jsonl --out drives
"$hil" clips info drives/*.clip | tee info.txt
grep -q "camera    left 256x128x3 jpeg q90" info.txt
grep -q "truth     ego, control, odometry, lanes, objects.3d, objects.2d" info.txt
"$hil" clips render drives/*.clip --frame 10 --camera all --labels --scale 2 --out frame.png
# Bad input is refused, naming the file and line, and leaves nothing behind.
echo '{"frame": 99}' >> drive/labels.jsonl
if "$hil" clips import --camera front=drive/front.avi --camera left=drive/left.avi \
     --camera right=drive/right.avi --labels drive/labels.jsonl --out refused 2> error.txt; then
  echo "a label for frame 99 of a 24-frame drive was accepted"; exit 1
fi
cat error.txt
grep -q "labels.jsonl:26" error.txt
[ ! -d refused ] || [ -z "$(ls -A refused)" ]
echo "import-drive: ok"
