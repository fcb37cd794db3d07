"""Throughput of ``mer preprocess --workers 1`` per flow method: clips per CPU second (per core).

Run: nice -n 10 python tests/benchmarks/bench_preprocess.py [DEMO_ROOT] [--clips K]
     [--flows dis,tvl1,none] [--profile]
(builds a small demo corpus in a temporary folder when no root is given).

Each flow method fills a fresh cache for the same K clips through ``core.cache.preprocess``
with one worker (what ``mer preprocess --workers 1`` runs, in this process). CPU time is
this process's (all its threads), so clips per CPU second is clips per second per core
whatever OpenCV's thread count; wall time is printed beside it. ``--profile``: cProfile of
the first method's run in CPU time, the 25 functions with the most own time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

from mer_viewer.core.cache import preprocess
from mer_viewer.core.dataset import Dataset
from mer_viewer.core.pipeline import CloudParams


def _run(samples, flow, root: Path) -> tuple[float, float, int]:
    cpu, wall = time.process_time(), time.perf_counter()
    outcomes = list(preprocess(samples, CloudParams(), workers=1, root=root, flow=flow))[-1].result
    return time.process_time() - cpu, time.perf_counter() - wall, sum(o.ok for o in outcomes)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", nargs="?", type=Path)
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--flows", default="dis,tvl1,none")
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
            cpu, wall, ok = _run(samples, flow, target)
            profile.disable()
        else:
            cpu, wall, ok = _run(samples, flow, target)
        rows.append((flow or "none", cpu, wall, ok))
    print(f"mer preprocess --workers 1, {len(samples)} demo clips, one process")
    print("| --flow | CPU s | clips per CPU s (per core) | CPU ms per clip | wall s | clips ok |")
    print("|---|---|---|---|---|---|")
    for flow, cpu, wall, ok in rows:
        print(f"| {flow} | {cpu:.1f} | {len(samples) / cpu:.2f} | {cpu / len(samples) * 1e3:.0f} | "
              f"{wall:.1f} | {ok} |")
    if args.profile:
        print(f"\nprofile of --flow {rows[0][0]} (own time):")
        pstats.Stats(profile, stream=sys.stdout).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
