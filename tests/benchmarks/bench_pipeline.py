"""Per-clip time of the motion-cloud pipeline by stage, and the time to load a cached clip.

Run: python tests/benchmarks/bench_pipeline.py [DEMO_ROOT] [--clips K]
(builds a small demo corpus in a temporary folder when no root is given). One process,
so the figures are per core.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from demo_corpus import corpus_root

from mer_viewer.core.cache import cache_file, cached_cloud, load_cloud
from mer_viewer.core.dataset import Dataset
from mer_viewer.core.pipeline import CloudParams, motion_cloud

STAGES = ("decode", "detect", "align", "denoise", "backproject", "motion", "sample")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", nargs="?", type=Path)
    parser.add_argument("--clips", type=int, default=12)
    args = parser.parse_args(argv)
    root = corpus_root(args.root, subjects=2, clips_per_subject=6, workers=1)
    samples = Dataset.open(root).samples[: args.clips]
    motion_cloud(samples[0])  # load dlib's models once, outside the timing
    stage_ms = {s: [] for s in STAGES}
    totals = []
    for sample in samples:
        start = time.perf_counter()
        cloud = motion_cloud(sample)
        totals.append((time.perf_counter() - start) * 1e3)
        for stage in STAGES:
            stage_ms[stage].append(cloud.provenance["timings_ms"].get(stage, 0.0))
    cache_root = Path(tempfile.mkdtemp())
    params = CloudParams()
    loads = []
    for sample in samples:
        cached_cloud(sample, params, root=cache_root)
        path = cache_file(sample, params, cache_root)
        for _ in range(5):
            start = time.perf_counter()
            load_cloud(path)
            loads.append((time.perf_counter() - start) * 1e3)
    print(f"motion cloud per clip, {len(samples)} clips of 1280x720, one process")
    print("| stage | median ms |")
    print("|---|---|")
    for stage in STAGES:
        print(f"| {stage} | {np.median(stage_ms[stage]):.1f} |")
    total = float(np.median(totals))
    print(f"| **whole clip** | **{total:.1f}** ({1000 / total:.1f} clips/s) |")
    print(f"| cached clip (load) | {np.median(loads):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
