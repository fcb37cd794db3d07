"""Benchmark: reading a frame with the truncation check against a bare ``cv2.imread``.

Run ``python -m tests.benchmarks.bench_frames [ROOT] [--frames K] [--repeats N]`` (ROOT: a
demo corpus or CAS(ME)³ copy; default /work/demo when present, else a one-clip demo corpus
built in a temporary folder). Prints the median per-frame time of each reader for 1280×720
colour JPEGs and 16-bit depth PNGs (median over N rounds of K frames) and the added cost.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
from demo_corpus import corpus_root

from mer_viewer.core.dataset import Dataset, read_color, read_depth


def _reference_color(path: Path):
    """What ``read_color`` did before the check: imread, then BGR -> RGB."""
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _reference_depth(path: Path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def per_frame_ms(readers, paths: list[Path], repeats: int) -> list[float]:
    """Median per-frame ms of each reader; rounds interleaved so load changes hit both."""
    for read in readers:  # warm-up: page cache, lazy imports
        for path in paths:
            read(path)
    rounds: list[list[float]] = [[] for _ in readers]
    for _ in range(repeats):
        for read, times in zip(readers, rounds):
            start = time.perf_counter()
            for path in paths:
                read(path)
            times.append((time.perf_counter() - start) / len(paths))
    return [1e3 * statistics.median(times) for times in rounds]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", type=Path)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    root = corpus_root(args.root or (Path("/work/demo") if Path("/work/demo").is_dir() else None),
                       subjects=1, clips_per_subject=1, macro_per_subject=0)
    pairs = [(s.frames, n) for s in Dataset.open(root).samples for n in s.frames.numbers]
    pairs = pairs[: args.frames]
    color = [frames.color_path(n) for frames, n in pairs]
    depth = [frames.depth_path(n) for frames, n in pairs]
    height, width = pairs[0][0].color_shape(pairs[0][1])
    print(f"{len(pairs)} frames of {width}x{height} from {root}, median of {args.repeats} rounds")
    for kind, paths, ours, reference in (("colour JPEG", color, read_color, _reference_color),
                                         ("depth PNG", depth, read_depth, _reference_depth)):
        base, checked = per_frame_ms((reference, ours), paths, args.repeats)
        print(f"{kind:<12} cv2.imread {base:6.2f} ms   checked {checked:6.2f} ms   "
              f"added {checked - base:+.2f} ms ({100 * (checked / base - 1):+.1f} %)")


if __name__ == "__main__":
    main()
