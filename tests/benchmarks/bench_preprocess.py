"""Throughput of ``mer preprocess`` per flow method: clips per CPU second (per core) and per
wall second.

Run: nice -n 10 python tests/benchmarks/bench_preprocess.py [DEMO_ROOT] [--clips K]
     [--flows dis,tvl1,none] [--workers N] [--profile]
(builds a small demo corpus in a temporary folder when no root is given).

Each flow method fills a fresh cache for the same K clips through ``core.cache.preprocess``
with N workers (what ``mer preprocess --workers N`` runs; N = 1, the default, in this
process). CPU time is this process's and its worker processes' (all their threads), so
clips per CPU second is clips per second per core whatever the thread counts; clips per
wall second is the throughput the user sees. ``--profile``: cProfile of the first method's
run in CPU time, the 25 functions with the most own time (this process only: use it with
one worker).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path

from mer_viewer.core.cache import preprocess
from mer_viewer.core.dataset import Dataset
from mer_viewer.core.pipeline import CloudParams


def _cpu_s() -> float:
    """CPU seconds of this process and of its finished (waited-for) child processes."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _run(samples, flow, root: Path, workers: int = 1) -> tuple[float, float, int]:
    cpu, wall = _cpu_s(), time.perf_counter()
    # the pool of N > 1 workers is shut down (its processes waited for) before it returns
    outcomes = list(preprocess(samples, CloudParams(), workers=workers, root=root,
                               flow=flow))[-1].result
    return _cpu_s() - cpu, time.perf_counter() - wall, sum(o.ok for o in outcomes)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", nargs="?", type=Path)
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--flows", default="dis,tvl1,none")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    root = args.root
    if root is None:
        from mer_viewer.core.dataset.demo import build_demo

        root = Path(tempfile.mkdtemp()) / "demo"
        for _ in build_demo(root, subjects=3, clips_per_subject=8, workers=1):
            pass
    samples = Dataset.open(root).samples[: args.clips]
    flows = [None if f == "none" else f for f in args.flows.split(",")]
    caches = Path(tempfile.mkdtemp())
    _run(samples[:1], None, caches / "warm-up")  # dlib's models load once, outside the timing
    rows = []
    for i, flow in enumerate(flows):
        target = caches / f"{i}-{flow or 'none'}"  # a fresh cache each time
        if args.profile and i == 0:
            profile = cProfile.Profile(time.process_time)
            profile.enable()
            cpu, wall, ok = _run(samples, flow, target, args.workers)
            profile.disable()
        else:
            cpu, wall, ok = _run(samples, flow, target, args.workers)
        rows.append((flow or "none", cpu, wall, ok))
    where = "one process" if args.workers == 1 else f"{args.workers} worker processes"
    print(f"mer preprocess --workers {args.workers}, {len(samples)} demo clips, {where}")
    print("| --flow | CPU s | clips per CPU s (per core) | CPU ms per clip | wall s | "
          "clips per wall s | clips ok |")
    print("|---|---|---|---|---|---|---|")
    for flow, cpu, wall, ok in rows:
        print(f"| {flow} | {cpu:.1f} | {len(samples) / cpu:.2f} | {cpu / len(samples) * 1e3:.0f} | "
              f"{wall:.1f} | {len(samples) / wall:.2f} | {ok} |")
    if args.profile:
        print(f"\nprofile of --flow {rows[0][0]} (own time):")
        pstats.Stats(profile, stream=sys.stdout).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
