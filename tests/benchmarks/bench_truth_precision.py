"""Share of sampled points inside the true AU regions of the demo corpus, per align × denoise.

Run: python tests/benchmarks/bench_truth_precision.py [DEMO_ROOT] [--clips K]
(builds the default demo corpus in a temporary folder when no root is given).
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from demo_corpus import corpus_root

from mer_viewer.core.dataset import Dataset
from mer_viewer.core.pipeline import CloudParams, SamplingParams, align_pair, cloud_from_pair
from mer_viewer.core.truth import sampled_precision

ALIGNS = ("ecc", "landmarks", "none")
SIGMAS = (0.0, 3.0)
METHODS = ("sort", "random")


def _one(job):
    root, sample = job
    out = {}
    for align in ALIGNS:
        for sigma in SIGMAS:
            params = CloudParams(align=align, denoise_sigma_px=sigma)
            pair = align_pair(sample, params)
            cloud = cloud_from_pair(pair, params, sampling=None)
            for method in METHODS:
                sampled = cloud.resample(SamplingParams(points=2048, method=method))
                out[(align, sigma, method)] = sampled_precision(root, sample, sampled)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", nargs="?", type=Path)
    parser.add_argument("--clips", type=int, default=None, help="use only the first K samples")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    root = corpus_root(args.root, workers=args.workers)
    samples = Dataset.open(root).samples[: args.clips]
    results: dict = {}
    with ProcessPoolExecutor(args.workers) as pool:
        for out in pool.map(_one, [(root, s) for s in samples]):
            for key, value in out.items():
                results.setdefault(key, []).append(value)
    print(f"share of the 2048 sampled points in the true AU regions, {len(samples)} demo clips")
    print("| align | denoise σ px | sort | random |")
    print("|---|---|---|---|")
    for align in ALIGNS:
        for sigma in SIGMAS:
            sort = np.mean(results[(align, sigma, "sort")])
            rand = np.mean(results[(align, sigma, "random")])
            print(f"| {align} | {sigma:g} | {sort:.3f} | {rand:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
