"""Apex spotting on the demo corpus against its truth: depth and flow curves, and speed.

Run: python tests/benchmarks/bench_spotting.py [DEMO_ROOT] [--workers W] [--flow dis|tvl1|farneback]
(builds the default demo corpus in a temporary folder when no root is given).

Every sample and every onset == apex row is spotted (what ``mer spot --all`` does);
the error is |spotted − rendered apex| in frames. Speed is reported in clips/s and
against the motion cloud of the same clips (``align_pair`` + ``cloud_from_pair``,
one process) measured in the same run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from demo_corpus import corpus_root

from mer_viewer.core.dataset import Dataset
from mer_viewer.core.pipeline import align_pair, cloud_from_pair
from mer_viewer.core.spotting import spot_all, spot_targets
from mer_viewer.core.truth import apex_errors


def _table(root: Path, outcomes, rows_label: str) -> list[str]:
    lines = []
    for name, label in (("depth_apex", "depth ‖ΔP‖ P99 (suggested)"), ("flow_apex", "flow P99")):
        spotted = {(o.target.subject, o.target.clip, o.target.onset):
                   (getattr(o.curve, name) if o.curve else None) for o in outcomes}
        r = apex_errors(root, spotted)
        errors = np.array([e for e in r["errors"].values() if e is not None])
        exact = float((errors == 0).mean()) if errors.size else float("nan")
        lines.append(f"| {label} | {rows_label} | {r['n']} | {r['median']:.1f} | "
                     f"{100 * exact:.1f} % | {100 * r['within_1']:.1f} % |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", nargs="?", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--flow", default="dis", choices=("dis", "tvl1", "farneback"))
    parser.add_argument("--reference-clips", type=int, default=8,
                        help="clips whose motion cloud is timed as the reference")
    args = parser.parse_args(argv)
    root = corpus_root(args.root, workers=args.workers)
    dataset = Dataset.open(root)
    targets = spot_targets(dataset)
    start = time.perf_counter()
    *_, last = spot_all(targets, flow=args.flow, exceptions=dataset.exceptions,
                        workers=args.workers)
    seconds = time.perf_counter() - start
    outcomes = last.result
    failed = [o for o in outcomes if o.curve is None]
    frames = sum(len(o.curve.frames) for o in outcomes if o.curve)

    # reference: the motion cloud of a few clips, one process, in this run
    samples = dataset.samples[: args.reference_clips]
    t0 = time.perf_counter()
    for sample in samples:
        cloud_from_pair(align_pair(sample), sampling=None)
    cloud_s = (time.perf_counter() - t0) / max(len(samples), 1)
    one = [o.curve.seconds for o in outcomes if o.curve]

    print(f"apex spotting, {len(outcomes)} rows of {root} ({len(failed)} failed), "
          f"flow {args.flow}")
    print("| curve | rows | n | median abs error (frames) | exact | within 1 frame |")
    print("|---|---|---|---|---|---|")
    print("\n".join(_table(root, outcomes, "all")))
    oe = [o for o in outcomes if o.target.skipped_reason]
    print("\n".join(_table(root, oe, "onset == apex")))
    print()
    print(f"--all with {args.workers} workers: {seconds:.1f} s, {len(outcomes) / seconds:.2f} "
          f"clips/s, {frames / seconds:.1f} frames/s ({frames} frames)")
    print(f"one clip, one process: median {np.median(one):.2f} s "
          f"({np.median([len(o.curve.frames) for o in outcomes if o.curve]):.0f} frames); "
          f"motion cloud of one clip (reference, same run): {cloud_s:.2f} s; "
          f"ratio {np.median(one) / cloud_s:.1f}×")
    for o in failed:
        print(f"  {o.target.id}: {o.error}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
