#!/usr/bin/env bash
# docs/models.md's worked example: a network with three camera inputs and
# three kinds of heads, described by an interface file beside it, checked
# against its graph, a suite and clips, refused when they do not fit, and
# played on an emulated board. CI runs it (ctest: docs-example-bring-your-network).
#   HIL=build/release/bin/hil bash docs/examples/bring-your-network.sh [WORK_DIR]
set -euo pipefail
hil=${HIL:-build/release/bin/hil}
samples=${HIL_SAMPLES:-$(cd "$(dirname "$0")/../.." && pwd)/dual_engine/samples/tri-cam}
work=${1:-$(mktemp -d)}
mkdir -p "$work"
cd "$work"
# Your network: here the tri-cam sample (exported from PyTorch by
# dual_engine/samples/tri-cam/train.py); its interface file goes beside it.
cp "$samples/base-s1.onnx" mynet.onnx
cp "$samples/tri-cam.interface.textproto" mynet.interface.textproto
"$hil" clips generate --count 2 --frames 12 --seed 41 --rig tri --width 256 --height 128 --encoding jpeg --out clips
"$hil" models check mynet.onnx --suite tri-demo --clip clips/*.clip | tee check.txt
grep -q "interface from mynet.interface.textproto, fits the graph" check.txt
grep -q "output objects_front" check.txt
# A head reading an output the network does not have: refused, named.
sed 's/output: "lanes"/output: "lane_lines"/' "$samples/tri-cam.interface.textproto" > mynet.interface.textproto
if "$hil" models check mynet.onnx 2> refused.txt; then echo "a wrong output name was accepted"; exit 1; fi
cat refused.txt
grep -q "head 'lanes' reads output 'lane_lines', which the graph does not have" refused.txt
cp "$samples/tri-cam.interface.textproto" mynet.interface.textproto
# One eval on a local emulated board of the suite's type, scored with the suite's metrics.
"$hil" eval mynet.onnx "$(ls clips/*.clip | head -1)" --suite tri-demo --board-type fsd-hw3 | tee eval.txt
grep -q "front_ap50" eval.txt
grep -q "lane_f1" eval.txt
echo "bring-your-network: ok"
