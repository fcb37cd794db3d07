"""``mer spot``: the motion curve of a clip and its suggested apex (one clip, or every row)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .cli import (
    UsageError,
    add_clip_args,
    cloud_params_of_args,
    drive,
    open_dataset_of_args,
    print_json,
    writing_file,
)


def add_spot(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "spot", help="suggest the apex of a clip from its motion curve (depth and flow)",
        usage="mer spot ROOT SUBJECT CLIP [--json] | mer spot ROOT --all [--out CSV] [options]",
        description="Align every frame from onset to offset to the onset (as the motion cloud "
                    "does), measure its motion against the onset from depth (90th percentile "
                    "of |ΔP| over the face, mm) and optical flow (px), and suggest the apex "
                    "where the depth curve peaks. Works on skipped rows too (onset == apex); "
                    "an unknown offset (0) searches --window frames after the onset. --all "
                    "spots every sample and every onset == apex row.")
    add_clip_args(p, sample=False)
    p.add_argument("subject", nargs="?", help="subject, e.g. spNO.1")
    p.add_argument("clip", nargs="?", help="clip letter, or <clip>_<onset>")
    p.add_argument("--all", action="store_true",
                   help="every sample and every onset == apex row")
    p.add_argument("--out", type=Path, default=None, metavar="CSV",
                   help="with --all: write one row per clip to this CSV")
    p.add_argument("--flow", choices=("dis", "tvl1", "farneback", "none"), default="dis",
                   help="optical flow for the flow curve (default dis; none: depth only)")
    p.add_argument("--window", type=int, default=20,
                   help="frames after the onset searched when the offset is unknown (default 20)")
    p.add_argument("--workers", type=int, default=None,
                   help="processes for --all (default: all cores)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_spot)


def cmd_spot(args: argparse.Namespace) -> int:
    from .core.spotting import find_target, motion_curve, spot_all, spot_targets, write_csv

    if args.window < 1:
        raise UsageError("--window must be at least 1")
    if args.all == bool(args.subject):
        raise UsageError("give SUBJECT CLIP, or --all")
    if args.subject and not args.clip:
        raise UsageError("give SUBJECT and CLIP")
    if args.out is not None and not args.all:
        raise UsageError("--out goes with --all")
    flow = None if args.flow == "none" else args.flow
    params = cloud_params_of_args(args)
    dataset = open_dataset_of_args(args)
    if not args.all:
        curve = motion_curve(find_target(dataset, args.subject, args.clip), params, flow,
                             args.window, dataset.exceptions)
        if args.json:
            print_json(curve.as_json())
            return 0
        note = f" (skipped row: {curve.skipped_reason})" if curve.skipped_reason else ""
        print(f"{curve.subject} {curve.clip} onset {curve.onset}{note}: suggested apex "
              f"{curve.apex} (annotated {curve.annotated_apex}), confidence "
              f"{curve.confidence:.2f}; flow peaks at {curve.flow_apex}")
        print("  frame  depth mm  flow px")
        for frame, depth, flow_px in zip(curve.frames, curve.depth_mm, curve.flow_px):
            mark = "  <- apex" if frame == curve.apex else ""
            print(f"  {frame:>5}  {depth:8.3f}  {flow_px:7.3f}{mark}")
        for line in curve.left_out:
            print(f"  left out {line}")
        return 0

    targets = spot_targets(dataset)
    start = time.perf_counter()
    outcomes = drive(spot_all(targets, params, flow, args.window, dataset.exceptions,
                              args.workers), "spotting apexes") or []
    seconds = time.perf_counter() - start
    if args.out is not None:
        with writing_file(args.out):
            write_csv(outcomes, args.out)
    failed = [o for o in outcomes if o.curve is None]
    if args.json:
        print_json({"root": str(dataset.root), "clips": len(outcomes), "failed": len(failed),
                     "seconds": round(seconds, 2), "out": str(args.out) if args.out else None,
                     "rows": [{**(o.curve.as_json() if o.curve else {
                         "subject": o.target.subject, "clip": o.target.clip,
                         "onset": o.target.onset, "annotated_apex": o.target.apex}),
                         "error": o.error} for o in outcomes]})
        return 0 if not failed else 1
    if args.out is None:
        for o in outcomes:
            c = o.curve
            text = (f"apex {c.apex} (annotated {c.annotated_apex}), confidence {c.confidence:.2f}"
                    if c else f"failed: {o.error}")
            print(f"{o.target.subject:<10} {o.target.clip:<3} {o.target.onset:>6}  {text}")
    rate = len(outcomes) / seconds if seconds > 0 else 0.0
    print(f"{len(outcomes) - len(failed)} of {len(outcomes)} clips spotted in {seconds:.1f} s "
          f"({rate:.2f} clips/s)" + (f", {len(failed)} failed" if failed else "")
          + (f" -> {args.out}" if args.out else ""))
    for o in failed if args.out is not None else ():
        print(f"  {o.target.id}: {o.error}")
    return 0 if not failed else 1
