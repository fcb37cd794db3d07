"""LOSO at scale: in-process against ``--ray local`` on this machine, and what the real
CAS(ME)³ ablation would take on N CPU or GPU workers.

1. A 12-fold LOSO (PointNet, the demo corpus of 12 subjects) trained in this process
   (torch on every core, the default) and then on a local Ray with one 1-CPU task per
   fold (``--ray local``, 2 CPUs: two folds at once): wall times, Ray's start-up apart,
   and whether the two runs predict the same (labels, probabilities).
2. Seconds per optimizer step (batch 24, one thread, as a 1-CPU task has; CUDA too
   where there is a GPU) of every setting of the paper's ablation, measured here; the
   fold times of part 1 check that steps × step time predicts a fold.
3. A projection for the real dataset: 94 LOSO folds × the 6 settings × 3 seeds
   (1,692 fold trainings, 3-class: 670 samples, about 28 steps an epoch, 40 epochs),
   scheduled longest first on N workers.

    nice -n 10 python tests/benchmarks/bench_scale.py               # ROOT: a fresh demo
    nice -n 10 python tests/benchmarks/bench_scale.py --root /work/demo --epochs 3
"""

from __future__ import annotations

import argparse
import heapq
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

REAL_FOLDS, REAL_SAMPLES, REAL_SEEDS, REAL_EPOCHS = 94, 670, 3, 40
BATCH = 24


def _items(root: Path | None, points: int):
    from mer_viewer.core.dataset import Dataset
    from mer_viewer.core.dataset.demo import build_demo
    from mer_viewer.core.ml.items import Preprocessing, build_items
    from mer_viewer.core.pipeline import SamplingParams

    if root is None:
        root = Path(tempfile.mkdtemp(prefix="bench-scale-")) / "demo"
        print(f"building a 12-subject demo corpus in {root} ...", flush=True)
        for _ in build_demo(root, subjects=12, clips_per_subject=8, seed=0):
            pass
    built = None
    for record in build_items(Dataset.open(root), "3",
                              Preprocessing(sampling=SamplingParams(points))):
        built = record.result
    return built.items


def _train(config, items, out, cluster=None):
    """Wall seconds of the run, and (fold -> seconds) from its records where it says."""
    from mer_viewer.core.ml.train import run_training

    start = time.perf_counter()
    started, fold_s = {}, {}
    for record in run_training(config, items, out, cluster=cluster):
        message = record.message.split(" · ")[0]
        if " started on " in message:
            started[message.split(" started on ")[0]] = time.perf_counter()
        elif " done on " in message:
            who = message.split(" done on ")[0]
            if who in started:
                fold_s[who] = time.perf_counter() - started[who]
    return time.perf_counter() - start, fold_s


def _compare(a: Path, b: Path) -> str:
    import numpy as np
    import pandas as pd

    pa, pb = pd.read_csv(a / "predictions.csv"), pd.read_csv(b / "predictions.csv")
    probs = [c for c in pa.columns if c.startswith("p_")]
    same = int((pa.pred == pb.pred).sum())
    diff = float(np.abs(pa[probs].to_numpy() - pb[probs].to_numpy()).max())
    return f"{same}/{len(pa)} predicted labels equal, max |Δp| {diff:.2e}"


def part1(items, epochs: int, points: int, tmp: Path) -> tuple[float, int]:
    """Part 1; returns the median seconds of a fold on Ray and its optimizer steps."""
    import ray
    import torch

    from mer_viewer.core.cluster import RayOptions
    from mer_viewer.core.ml.config import TrainConfig

    config = TrainConfig(model="pointnet", epochs=epochs, points=points, device="cpu")
    n_subjects = len({it.subject for it in items})
    print(f"\n1. {n_subjects}-fold LOSO, PointNet, N {points}, {epochs} epochs, batch "
          f"{config.batch_size}, {len(items)} clips")
    here_s, _ = _train(config, items, tmp / "here")
    print(f"   in-process (torch threads {torch.get_num_threads()}):  {here_s:7.1f} s wall")
    t = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    start_s = time.perf_counter() - t
    try:
        ray_s, fold_s = _train(config, items, tmp / "ray", RayOptions("local", 1.0))
    finally:
        ray.shutdown()
    folds = list(fold_s.values())
    print(f"   --ray local, 2 one-CPU tasks at a time: {ray_s:7.1f} s wall "
          f"(+ {start_s:.1f} s starting Ray); ratio in-process / Ray {here_s / ray_s:.2f}")
    print(f"   per fold on Ray: median {statistics.median(folds):.1f} s "
          f"(min {min(folds):.1f}, max {max(folds):.1f})")
    print(f"   same predictions: {_compare(tmp / 'here', tmp / 'ray')}")
    steps = epochs * math.ceil(len(items) * (n_subjects - 1) / n_subjects / config.batch_size)
    return statistics.median(folds), steps


def step_seconds(model: str, points: int, device: str, repeats: int) -> float:
    """Median seconds of one training step (forward, backward, Adam) at batch 24."""
    import torch
    import torch.nn.functional as F

    from mer_viewer.core.ml.checkpoint import build_network

    torch.manual_seed(0)
    net = build_network(model, 3, 6, {}).to(device).train()
    opt = torch.optim.Adam(net.parameters())
    x = torch.randn(BATCH, points, 6, device=device)
    y = torch.randint(0, 3, (BATCH,), device=device)
    times = []
    for i in range(repeats + 1):
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        loss = F.cross_entropy(net(x).float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()
        if i:  # the first is a warm-up
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def schedule(durations: list[float], workers: int) -> float:
    """Wall time of ``durations`` on ``workers``, longest first to the first free worker."""
    free = [0.0] * min(workers, len(durations))
    heapq.heapify(free)
    for d in sorted(durations, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + d)
    return max(free)


def _hours(s: float) -> str:
    return f"{s / 3600:8.1f} h" if s >= 3600 else f"{s / 60:8.1f} min"


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # lines as they come, also into a file
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=None, help="a 12-subject corpus (default: "
                                                            "build a demo one)")
    p.add_argument("--epochs", type=int, default=3, help="epochs of part 1 (default 3)")
    p.add_argument("--points", type=int, default=1024, help="N of part 1 (default 1024)")
    p.add_argument("--repeats", type=int, default=3, help="timed steps per setting")
    p.add_argument("--no-loso", action="store_true",
                   help="skip part 1 (parts 2 and 3 only: step times and the projection)")
    args = p.parse_args()

    import torch

    from mer_viewer.core.ml.experiment import PAPER_SETTINGS

    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-runs-"))
    if not args.no_loso:
        items = _items(args.root, args.points)
        fold_s, fold_steps = part1(items, args.epochs, args.points, tmp)

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"\n2. seconds per training step, batch {BATCH}, 3 classes "
          "(CPU: one thread, as a 1-CPU task)")
    torch.set_num_threads(1)
    measured: dict[tuple, float] = {}  # the sampling does not change a step's cost
    steps_s: dict[tuple, float] = {}
    for device in devices:
        for s in PAPER_SETTINGS:
            key = (s.model, s.points, device)
            if key not in measured:
                measured[key] = step_seconds(s.model, s.points, device, args.repeats)
            steps_s[(s.model, s.points, s.sampling, device)] = measured[key]
            print(f"   {device:4} {s.name:22} {measured[key]:7.3f} s/step", flush=True)
    check = step_seconds("pointnet", args.points, "cpu", args.repeats)
    if not args.no_loso:
        print(f"   check: a fold of part 1 on Ray took {fold_s:.1f} s; its {fold_steps} steps × "
              f"{check:.3f} s (PointNet, N {args.points}) predict "
              f"{fold_steps * check:.1f} s")

    steps_per_fold = REAL_EPOCHS * math.ceil(
        REAL_SAMPLES * (REAL_FOLDS - 1) / REAL_FOLDS / BATCH)
    print(f"\n3. the real ablation: {REAL_FOLDS} folds × {len(PAPER_SETTINGS)} settings × "
          f"{REAL_SEEDS} seeds = {REAL_FOLDS * len(PAPER_SETTINGS) * REAL_SEEDS} fold "
          f"trainings of {steps_per_fold} steps ({REAL_EPOCHS} epochs, {REAL_SAMPLES} clips)")
    if "cuda" not in devices:
        print("   (no GPU here: run this script on a GPU node for the GPU rows)")
    print("   | workers | " + " | ".join(f"{d} wall" for d in devices) + " |")
    print("   |---|" + "---|" * len(devices))
    for n in (1, 2, 8, 32, 94, 282, 564):
        cells = []
        for device in devices:
            durations = [steps_per_fold * steps_s[(s.model, s.points, s.sampling, device)]
                         for s in PAPER_SETTINGS for _ in range(REAL_SEEDS * REAL_FOLDS)]
            cells.append(_hours(schedule(durations, n)))
        print(f"   | {n:7} | " + " | ".join(cells) + " |")
    per_setting = {s.name: steps_per_fold * steps_s[(s.model, s.points, s.sampling, "cpu")]
                   for s in PAPER_SETTINGS}
    print("   one fold on one CPU: " + ", ".join(f"{k} {_hours(v).strip()}"
                                                  for k, v in per_setting.items()))
    print(f"\n(run folders in {tmp}; pid {os.getpid()})")


if __name__ == "__main__":
    main()
