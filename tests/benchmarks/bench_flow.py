"""Optical flow methods × scales against the demo truth's image-plane motion: error and time.

Run: nice -n 10 python tests/benchmarks/bench_flow.py [DEMO_ROOT] [--clips K]
(builds a small demo corpus in a temporary folder when no root is given).

For every clip whose sheet onset/apex are the rendered ones, the pipeline's aligned pair
(default parameters) is made once; each method then computes the flow of the onset crop to
the aligned apex crop (grey, apex brightness matched to the onset, as ``optical_flow``), at
full, 1/2 or 1/4 resolution (crops shrunk with INTER_AREA, the flow enlarged bilinearly and
multiplied back). End-point error (EPE, px) against ``truth.true_flow``: mean inside the
moving regions (true AU displacement ≥ 0.2 mm) and over the whole face; "max / true max": the
longest flow vector anywhere in the crop over the longest true one (median over clips), which
the flow view's colour scale follows (outliers in textureless areas make it dark). Time: CPU seconds of
this one process per clip with OpenCV (and torch) on one thread, i.e. per core. Ratios are
against TV-L1 at full resolution in the same run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from mer_viewer.core import flow as core_flow
from mer_viewer.core.dataset import Dataset
from mer_viewer.core.pipeline import CloudParams, align_pair
from mer_viewer.core.truth import true_flow

SCALES = (1.0, 0.5, 0.25)
Grey = np.ndarray


def _dis(preset: int) -> Callable[[Grey, Grey], np.ndarray]:
    return lambda a, b: cv2.DISOpticalFlow_create(preset).calc(a, b, None)


def _rlof(a: Grey, b: Grey) -> np.ndarray:
    # RLOF wants 3-channel 8-bit images
    return cv2.optflow.calcOpticalFlowDenseRLOF(cv2.cvtColor(a, cv2.COLOR_GRAY2BGR),
                                                cv2.cvtColor(b, cv2.COLOR_GRAY2BGR), None)


METHODS: dict[str, Callable[[Grey, Grey], np.ndarray]] = {
    "tvl1": lambda a, b: cv2.optflow.DualTVL1OpticalFlow_create().calc(a, b, None),
    "dis-ultrafast": _dis(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST),
    "dis-fast": _dis(cv2.DISOPTICAL_FLOW_PRESET_FAST),
    "dis-medium": _dis(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM),
    "farneback": lambda a, b: cv2.calcOpticalFlowFarneback(a, b, None, **core_flow.FARNEBACK),
    "deepflow": lambda a, b: cv2.optflow.createOptFlow_DeepFlow().calc(a, b, None),
    "pcaflow": lambda a, b: cv2.optflow.createOptFlow_PCAFlow().calc(a, b, None),
    "rlof": _rlof,
}


def at_scale(method: Callable[[Grey, Grey], np.ndarray], onset: Grey, apex: Grey,
             scale: float) -> np.ndarray:
    """The flow of ``method`` computed on crops shrunk by ``scale``, on the full crop grid, px."""
    if scale == 1.0:
        return method(onset, apex)
    h, w = onset.shape
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    small = method(cv2.resize(onset, size, interpolation=cv2.INTER_AREA),
                   cv2.resize(apex, size, interpolation=cv2.INTER_AREA))
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    big[..., 0] *= w / size[0]
    big[..., 1] *= h / size[1]
    return big


def _prepare(pair) -> tuple[Grey, Grey]:
    onset = core_flow._grey_u8(pair.onset_rgb)
    return onset, core_flow.match_brightness(onset, core_flow._grey_u8(pair.apex_rgb))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", nargs="?", type=Path)
    parser.add_argument("--clips", type=int, default=None, help="use only the first K usable clips")
    parser.add_argument("--sheet", choices=("me", "mae"), default="me",
                        help="micro- (default) or macro-expression clips")
    parser.add_argument("--scales", default=",".join(f"{s:g}" for s in SCALES),
                        help="comma-separated resolution factors (default %(default)s)")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma-separated, of {','.join(METHODS)}")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    methods = [m for m in args.methods.split(",") if m]
    scales = [float(s) for s in args.scales.split(",") if s]
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}")
    root = args.root
    if root is None:
        from mer_viewer.core.dataset.demo import build_demo

        root = Path(tempfile.mkdtemp()) / "demo"
        for _ in build_demo(root, subjects=3, clips_per_subject=6, workers=1):
            pass
    epe_moving: dict = {}
    epe_face: dict = {}
    top_ratio: dict = {}
    seconds: dict = {}
    zero_moving, zero_face, clips = [], [], 0
    for sample in Dataset.open(root, kind=args.sheet).samples:
        if args.clips is not None and clips >= args.clips:
            break
        pair = align_pair(sample, CloudParams())
        try:
            truth, face, moving = true_flow(root, sample, pair)
        except ValueError:
            continue  # a sheet anomaly: not the frames that were rendered
        if moving.sum() < 100:
            continue
        clips += 1
        zero_moving.append(float(np.linalg.norm(truth[moving], axis=1).mean()))
        zero_face.append(float(np.linalg.norm(truth[face], axis=1).mean()))
        onset, apex = _prepare(pair)
        for name in methods:
            for scale in scales:
                start = time.process_time()
                flow = at_scale(METHODS[name], onset, apex, scale)
                seconds.setdefault((name, scale), []).append(time.process_time() - start)
                error = np.linalg.norm(flow - truth, axis=2)
                epe_moving.setdefault((name, scale), []).append(float(error[moving].mean()))
                epe_face.setdefault((name, scale), []).append(float(error[face].mean()))
                top_ratio.setdefault((name, scale), []).append(
                    float(np.linalg.norm(flow, axis=2).max() / np.linalg.norm(truth[face], axis=1).max()))
        print(f"{clips} {sample.id} {onset.shape}", file=sys.stderr, flush=True)
    if not clips:
        print("no clip with truth and motion", file=sys.stderr)
        return 1
    ref = ("tvl1", 1.0) if "tvl1" in methods else next(iter(seconds))
    ref_moving, ref_time = np.mean(epe_moving[ref]), np.mean(seconds[ref])
    print(f"optical flow vs demo truth, {clips} {args.sheet} clips (face crops ~{onset.shape[1]}×"
          f"{onset.shape[0]} px), one core; ratios vs {ref[0]} at full resolution")
    print(f"true motion in the moving regions: mean {np.mean(zero_moving):.3f} px, over the "
          f"face {np.mean(zero_face):.3f} px (= the EPE of zero flow)")
    print("| method | scale | EPE moving px | EPE face px | EPE moving / ref | max / true max | "
          "ms per clip | clips/s (flow only) | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (name, scale), times in seconds.items():
        moving, face = np.mean(epe_moving[(name, scale)]), np.mean(epe_face[(name, scale)])
        mean = np.mean(times)
        top = np.median(top_ratio[(name, scale)])
        print(f"| {name} | {scale:g} | {moving:.3f} | {face:.3f} | {moving / ref_moving:.2f} | "
              f"{top:.1f} | {mean * 1e3:.1f} | {1 / mean:.1f} | {ref_time / mean:.0f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
