#!/usr/bin/python3
"""Trains hil's multi-camera sample network and exports it to ONNX.

Three cameras (front, left, right; 128x64 each) go through one shared
convolutional backbone. Heads: a detection grid per camera (objectness, four
classes, box), four lane lines at five stations from the front camera, and
the control command (steering, acceleration) from all three. The interface
that tells hil how to feed and read it is tri-cam.interface.textproto; every
exported revision carries it in its ONNX metadata_props ("hil.interface").

Data come from `hil models dataset` (generated tri-camera clips, pixels
already cropped and resized by hil's own preprocessing). Only this script
needs PyTorch (Debian's python3-torch); hil's demo and CI use the committed
ONNX files. See docs/models.md and ci/train-samples.sh, which makes them all.

  train.py --data DATASET --recipe base --seed 1 --out base-s1.onnx

Recipes: base (the first 150 clips of the dataset, every condition),
better (all 300 clips, more epochs), nightblind (as many samples as base,
none from night or fog: a network that regresses on those conditions).
"""
import argparse
import pathlib
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = pathlib.Path(__file__).resolve().parent
CLASSES = 4  # car, truck, pedestrian, cyclist (the interface's order)
LANES, STATIONS = 4, 5
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def conv(cin, cout, stride):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.ReLU())


class TriCam(nn.Module):
    def __init__(self, width=32):
        super().__init__()
        # Shared by the three cameras: 64x128 -> 8x16 features (stride 8).
        self.backbone = nn.Sequential(conv(3, 16, 2), conv(16, 24, 2), conv(24, width, 2), conv(width, width, 1))
        self.det = conv(width, width, 1)
        self.det_scores = nn.Conv2d(width, 1 + CLASSES, 1)
        self.det_offset = nn.Conv2d(width, 2, 1)
        self.det_size = nn.Conv2d(width, 2, 1)
        # Lanes and control read the front camera's features at stride 16.
        self.front = conv(width, 16, 2)  # 4 x 8
        self.lanes = nn.Sequential(nn.Linear(16 * 4 * 8, 64), nn.ReLU(), nn.Linear(64, LANES * (STATIONS + 1)))
        self.control = nn.Sequential(nn.Linear(16 * 4 * 8 + 2 * width, 64), nn.ReLU(), nn.Linear(64, 2))

    def detect(self, f):
        h = self.det(f)
        return torch.cat([self.det_scores(h), torch.sigmoid(self.det_offset(h)), torch.sigmoid(self.det_size(h))], 1)

    def forward(self, front, left, right):
        ff, fl, fr = self.backbone(front), self.backbone(left), self.backbone(right)
        spatial = torch.flatten(self.front(ff), 1)
        sides = torch.cat([torch.flatten(F.adaptive_avg_pool2d(fl, 1), 1), torch.flatten(F.adaptive_avg_pool2d(fr, 1), 1)], 1)
        control = self.control(torch.cat([spatial, sides], 1))
        return control, self.lanes(spatial), self.detect(ff), self.detect(fl), self.detect(fr)


def grid_targets(boxes, n, cameras, gh, gw):
    """Objectness, class, offset and size per cell from normalized boxes."""
    obj = np.zeros((n, cameras, gh, gw), np.float32)
    cls = np.zeros((n, cameras, gh, gw), np.int64)
    reg = np.zeros((n, cameras, 4, gh, gw), np.float32)
    area = np.zeros((n, cameras, gh, gw), np.float32)
    for s, cam, c, x0, y0, x1, y1 in boxes:
        s, cam = int(s), int(cam)
        cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
        col, row = min(int(cx * gw), gw - 1), min(int(cy * gh), gh - 1)
        if w * h <= area[s, cam, row, col]:
            continue  # one box per cell: the largest
        area[s, cam, row, col] = w * h
        obj[s, cam, row, col] = 1
        cls[s, cam, row, col] = int(c)
        reg[s, cam, :, row, col] = [cx * gw - col, cy * gh - row, w, h]
    return obj, cls, reg


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--recipe", choices=["base", "better", "nightblind"], default="base")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--epochs", type=int, default=0, help="0: the recipe's")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    torch.set_num_threads(2)
    data = pathlib.Path(a.data)
    images = np.load(data / "images.npy", mmap_mode="r")  # N, cams, H, W, 3 (uint8)
    control = np.load(data / "control.npy")
    lanes = np.load(data / "lanes.npy")
    boxes = np.load(data / "boxes.npy")
    conditions = (data / "conditions.txt").read_text().split()
    n, cameras, height, width = images.shape[:4]
    per_clip = n // 300 if n >= 300 else 1
    base_count = 150 * per_clip
    if a.recipe == "base":
        keep = np.arange(min(base_count, n))
    elif a.recipe == "better":
        keep = np.arange(n)
    else:
        keep = np.array([i for i in range(n) if conditions[i] not in ("night", "fog")])[:base_count]
    epochs = a.epochs or 24
    gh, gw = height // 8, width // 8
    obj, cls, reg = grid_targets(boxes, n, cameras, gh, gw)

    model = TriCam()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    batch = 32
    start = time.time()
    for epoch in range(epochs):
        order = np.random.permutation(keep)
        totals = np.zeros(4)
        for b in range(0, len(order), batch):
            idx = np.sort(order[b:b + batch])
            x = torch.from_numpy(np.ascontiguousarray(images[idx])).float().permute(0, 1, 4, 2, 3) / 255.0
            cams = [(x[:, c] - MEAN) / STD for c in range(cameras)]
            c_out, l_out, *dets = model(*cams)
            # Control: steering in radians is small; weigh it up.
            ct = torch.from_numpy(control[idx])
            l_control = 20 * F.l1_loss(c_out[:, 0], ct[:, 0]) + 0.5 * F.l1_loss(c_out[:, 1], ct[:, 1])
            lt = torch.from_numpy(lanes[idx]).view(-1, LANES, STATIONS + 1)
            lp = l_out.view(-1, LANES, STATIONS + 1)
            exists = lt[:, :, STATIONS]
            l_lanes = F.binary_cross_entropy_with_logits(lp[:, :, STATIONS], exists) + \
                (F.l1_loss(lp[:, :, :STATIONS], lt[:, :, :STATIONS], reduction="none").mean(2) * exists).sum() / exists.sum().clamp(min=1)
            l_det = 0
            for c, d in enumerate(dets):
                o = torch.from_numpy(obj[idx, c])
                k = torch.from_numpy(cls[idx, c])
                r = torch.from_numpy(reg[idx, c])
                pos = o > 0
                l_det = l_det + F.binary_cross_entropy_with_logits(d[:, 0], o, pos_weight=torch.tensor(8.0))
                if pos.any():
                    logits = d[:, 1:1 + CLASSES].permute(0, 2, 3, 1)[pos]
                    l_det = l_det + F.cross_entropy(logits, k[pos])
                    box = d[:, 1 + CLASSES:].permute(0, 2, 3, 1)[pos]
                    l_det = l_det + 5 * F.l1_loss(box, r.permute(0, 2, 3, 1)[pos])
            loss = l_control + 2 * l_lanes + l_det
            opt.zero_grad()
            loss.backward()
            opt.step()
            totals += [loss.item(), l_control.item(), l_lanes.item(), float(l_det)]
        sched.step()
        steps = max(1, (len(order) + batch - 1) // batch)
        print(f"epoch {epoch + 1}/{epochs}: loss {totals[0] / steps:.3f} (control {totals[1] / steps:.3f}, "
              f"lanes {totals[2] / steps:.3f}, objects {totals[3] / steps:.3f}), {time.time() - start:.0f} s", flush=True)

    model.eval()
    dummy = [torch.zeros(1, 3, height, width) for _ in range(cameras)]
    out = pathlib.Path(a.out)
    torch.onnx.export(model, tuple(dummy), out, input_names=["front", "left", "right"],
                      output_names=["control", "lanes", "objects_front", "objects_left", "objects_right"],
                      opset_version=11, do_constant_folding=True)
    m = onnx.load(out)
    m.producer_name = "hil tri-cam train.py"
    m.doc_string = f"hil tri-cam sample, recipe {a.recipe}, seed {a.seed}, {len(keep)} samples, {epochs} epochs"
    entry = m.metadata_props.add()
    entry.key = "hil.interface"
    entry.value = (HERE / "tri-cam.interface.textproto").read_text()
    onnx.checker.check_model(m)
    onnx.save(m, out)
    print(f"{out}: {out.stat().st_size} bytes, {sum(p.numel() for p in model.parameters())} parameters, "
          f"{time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
