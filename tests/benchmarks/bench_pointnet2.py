"""PointNet++ SSG speed and memory: ours against the naive reference (yanx27), measured in the same run.

Per configuration (mode, N, B):

- time: one subprocess builds both models with the same weights and runs
  their steps alternately (ref, ours, ours, ref, ...) after a warm-up each,
  so load from other processes hits both alike; medians are reported.
- memory: a fresh subprocess per implementation runs one step; reported is
  its peak RSS above its RSS just before the step ("working memory": torch,
  the model and the input are already resident), and the peak RSS itself.

Ratios are reference / ours for time (speed-up) and ours / reference for
memory, so both read "bigger is better" and "smaller is better" respectively.

    python tests/benchmarks/bench_pointnet2.py               # N = 1024 … 8192, B = 24
    python tests/benchmarks/bench_pointnet2.py --quick       # N = 1024, 2048, fewer repeats
    python tests/benchmarks/bench_pointnet2.py --breakdown   # where the time goes, per stage
    python tests/benchmarks/bench_pointnet2.py --retain-heap # glibc keeps freed memory (both sides)

``--retain-heap`` runs the workers with glibc told never to hand memory back
(``MALLOC_MMAP_MAX_=0``, a huge trim threshold): on CPU, every large tensor
otherwise arrives as fresh pages from the kernel and page faults can take as
long as the arithmetic.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SIZES = (1024, 2048, 4096, 8192)
# The paper's batch. The reference manages it up to N = 8192 (about 3 GB and a
# few seconds per forward there); --batch lowers it where it cannot.
BATCH = 24
NUM_CLASSES = 3
RETAIN_HEAP = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(1 << 40),
               "MALLOC_TOP_PAD_": str(1 << 28)}


def _max_rss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if platform.system() == "Darwin" else rss * 1024


def _current_rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return _max_rss_bytes()


def make_cloud(batch: int, points: int):
    """Points in the unit ball (xyz) with features in [0, 1]: ``(B, N, 6)``, seeded."""
    import torch

    generator = torch.Generator().manual_seed(0)
    cloud = torch.rand(batch, points, 6, generator=generator)
    xyz = cloud[..., :3] * 2 - 1
    cloud[..., :3] = xyz / xyz.norm(dim=-1, keepdim=True).amax(1, keepdim=True)
    return cloud


def make_step(impl: str, mode: str, points: int, batch: int):
    """A zero-argument callable running one eval forward or one training step of ``impl``."""
    import torch

    from mer_viewer.core.ml.models import build
    from tests.core.ml import naive_pointnet2 as naive

    torch.manual_seed(0)
    cloud = make_cloud(batch, points)
    labels = torch.randint(NUM_CLASSES, (batch,))
    reference = naive.get_model(NUM_CLASSES, normal_channel=True)
    if impl == "reference":
        model = reference
        naive.fix_fps_start(model, torch.zeros(batch, dtype=torch.long))
        inputs = cloud.transpose(1, 2).contiguous()

        def logits():
            return model(inputs)[0]  # log-probabilities; cross-entropy on them is the same loss
    else:
        model = build("pointnet2", NUM_CLASSES, deterministic=True)
        naive.load_into_ours(reference, model)
        del reference
        inputs = cloud

        def logits():
            return model(inputs)

    if mode == "train":
        model.train()
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)

        def step():
            optimizer.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(logits(), labels).backward()
            optimizer.step()
    else:
        model.eval()

        def step():
            with torch.no_grad():
                logits()
    return step


def time_worker(mode: str, points: int, batch: int, repeats: int, threads: int) -> dict:
    """Median seconds per step of both implementations, run alternately in this process."""
    import torch

    torch.set_num_threads(threads)
    steps = {impl: make_step(impl, mode, points, batch) for impl in ("reference", "ours")}
    for step in steps.values():
        step()  # warm-up
    times: dict[str, list[float]] = {impl: [] for impl in steps}
    for i in range(repeats):
        order = list(steps) if i % 2 == 0 else list(steps)[::-1]
        for impl in order:
            start = time.perf_counter()
            steps[impl]()
            times[impl].append(time.perf_counter() - start)
    return {impl: statistics.median(values) for impl, values in times.items()}


def memory_worker(impl: str, mode: str, points: int, batch: int, threads: int) -> dict:
    """Peak RSS of one step of ``impl`` in this (fresh) process, and its part above the start."""
    import torch

    torch.set_num_threads(threads)
    step = make_step(impl, mode, points, batch)
    base = _current_rss_bytes()
    step()
    peak = _max_rss_bytes()
    return {"peak_bytes": peak, "working_bytes": max(0, peak - base)}


def _subprocess(args: list[str], retain_heap: bool) -> dict:
    env = dict(os.environ, **(RETAIN_HEAP if retain_heap else {}))
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                            cwd=ROOT, env=env)
    if result.returncode != 0:
        return {"error": (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 1024, 2048 and 2 repeats")
    parser.add_argument("--sizes", type=int, nargs="+", help="point counts N (default 1024 … 8192)")
    parser.add_argument("--repeats", type=int, help="timed runs per configuration (default 5)")
    parser.add_argument("--threads", type=int, default=min(4, os.cpu_count() or 1),
                        help="torch threads (default: min(4, cores))")
    parser.add_argument("--batch", type=int, default=BATCH, help="clouds per batch (default 24)")
    parser.add_argument("--modes", nargs="+", default=["eval", "train"], choices=["eval", "train"])
    parser.add_argument("--retain-heap", action="store_true",
                        help="run both sides with glibc keeping freed memory (no page-fault storm)")
    parser.add_argument("--breakdown", action="store_true",
                        help="time each stage of one eval forward (N = 2048 unless --sizes)")
    parser.add_argument("--time-worker", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--memory-worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.time_worker or args.memory_worker:
        sys.path.insert(0, str(ROOT))
    if args.time_worker:
        mode, points, batch, repeats, threads = args.time_worker
        print(json.dumps(time_worker(mode, int(points), int(batch), int(repeats), int(threads))))
        return 0
    if args.memory_worker:
        impl, mode, points, batch, threads = args.memory_worker
        print(json.dumps(memory_worker(impl, mode, int(points), int(batch), int(threads))))
        return 0
    if args.breakdown:
        return breakdown(args.sizes[0] if args.sizes else 2048, args.batch,
                         args.repeats or 3, args.threads)

    sizes = args.sizes or ([1024, 2048] if args.quick else list(SIZES))
    repeats = args.repeats or (2 if args.quick else 5)
    print(f"PointNet++ SSG, {NUM_CLASSES} classes, 6 input channels, CPU, {args.threads} threads; "
          f"time: median of {repeats} alternating runs; memory: one step in a fresh process"
          + ("; glibc heap retained" if args.retain_heap else ""))
    header = (f"{'mode':5s} {'N':>5s} {'B':>3s} | {'ref s':>7s} {'ours s':>7s} {'speed-up':>8s} | "
              f"{'ref MiB':>8s} {'ours MiB':>8s} {'mem ratio':>9s} | {'ref peak':>8s} {'ours peak':>9s}")
    print(header)
    print("-" * len(header))
    mib = 1 / 2**20
    for mode in args.modes:
        for points in sizes:
            batch, shape = args.batch, [mode, str(points), str(args.batch)]
            timing = _subprocess(["--time-worker", *shape, str(repeats), str(args.threads)],
                                 args.retain_heap)
            memory = {impl: _subprocess(["--memory-worker", impl, *shape, str(args.threads)],
                                        args.retain_heap) for impl in ("reference", "ours")}
            failed = [r["error"] for r in (timing, *memory.values()) if "error" in r]
            if failed:
                print(f"{mode:5s} {points:5d} {batch:3d} | failed: {failed[0]}", flush=True)
                continue
            ref, ours = memory["reference"], memory["ours"]
            print(f"{mode:5s} {points:5d} {batch:3d} | {timing['reference']:7.3f} "
                  f"{timing['ours']:7.3f} {timing['reference'] / timing['ours']:7.1f}x | "
                  f"{ref['working_bytes'] * mib:8.0f} {ours['working_bytes'] * mib:8.0f} "
                  f"{ours['working_bytes'] / max(1, ref['working_bytes']):9.3f} | "
                  f"{ref['peak_bytes'] * mib:8.0f} {ours['peak_bytes'] * mib:9.0f}", flush=True)
    return 0


def breakdown(points: int, batch: int, repeats: int, threads: int) -> int:
    """Median time of each stage of an eval forward, reference and ours, in this process."""
    sys.path.insert(0, str(ROOT))
    import torch

    from mer_viewer.core.ml import ops
    from mer_viewer.core.ml.models.pointnet2 import PointNet2
    from tests.core.ml import naive_pointnet2 as naive

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    reference = naive.get_model(NUM_CLASSES).eval()
    ours = PointNet2(NUM_CLASSES, deterministic=True).eval()
    naive.load_into_ours(reference, ours)
    start = torch.zeros(batch, dtype=torch.long)
    naive.fix_fps_start(reference, start)
    cloud = make_cloud(batch, points)
    xyz, feats = cloud[..., :3].contiguous(), cloud[..., 3:].contiguous()
    first = ops.index_points(xyz, ops.farthest_point_sample(xyz, 512))
    with torch.no_grad():
        l1_ref = reference.sa1(xyz.transpose(1, 2), feats.transpose(1, 2))
        l1_ours = ours.levels[0](xyz, feats)
        l2_ref = reference.sa2(*l1_ref)
        l2_ours = ours.levels[1](*l1_ours)
    stages = [
        ("FPS 512 of N", lambda: naive.farthest_point_sample(xyz, 512, start),
         lambda: ops.farthest_point_sample(xyz, 512)),
        ("distances 512 x N", lambda: naive.square_distance(first, xyz),
         lambda: ops.square_distance(first, xyz)),
        ("ball query r 0.2, 32", lambda: naive.query_ball_point(0.2, 32, xyz, first),
         lambda: ops.ball_query(0.2, 32, xyz, first)),
        ("SA1 (all of it)", lambda: reference.sa1(xyz.transpose(1, 2), feats.transpose(1, 2)),
         lambda: ours.levels[0](xyz, feats)),
        ("SA2 (all of it)", lambda: reference.sa2(*l1_ref), lambda: ours.levels[1](*l1_ours)),
        ("SA3 + head", lambda: _reference_head(reference, reference.sa3(*l2_ref)[1]),
         lambda: ours.head(ours.levels[2](*l2_ours)[1])),
        ("whole forward", lambda: reference(cloud.transpose(1, 2)), lambda: ours(cloud)),
    ]
    print(f"Eval forward by stage, B = {batch}, N = {points}, CPU, {threads} threads, "
          f"median of {repeats} (seconds)")
    print(f"{'stage':22s} {'ref':>8s} {'ours':>8s} {'speed-up':>8s}")
    with torch.no_grad():
        for name, slow, fast in stages:
            t_ref, t_ours = _median_time(slow, repeats), _median_time(fast, repeats)
            print(f"{name:22s} {t_ref:8.3f} {t_ours:8.3f} {t_ref / t_ours:7.1f}x", flush=True)
    return 0


def _reference_head(reference, features):
    """The reference's classifier head alone (its forward has no seam there)."""
    from torch.nn.functional import relu

    x = relu(reference.bn1(reference.fc1(features.flatten(1))))
    return reference.fc3(relu(reference.bn2(reference.fc2(x))))


def _median_time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


if __name__ == "__main__":
    sys.exit(main())
