"""The ``mer`` command line: one sub-command per job, errors on one line, ``--json`` everywhere."""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from .core.errors import FileError, MerError, MerWarning, describe_error, os_reason, write_reason
from .core.ml.config import SAMPLINGS, TRAIN_OPTIONS
from .core.ml.models import MODEL_NAMES
from .core.progress import Progress

Handler = Callable[[argparse.Namespace], int]


class UsageError(MerError):
    """A command-line argument that cannot be used as given."""


def drive(job: Iterator[Progress], description: str, quiet: bool = False) -> object:
    """Run a long core job to completion with a progress bar on stderr; return its last result."""
    from tqdm import tqdm

    result = None
    # closed on the way out (Ctrl-C too): a job on Ray cancels its tasks then
    closing = contextlib.closing(job) if hasattr(job, "close") else contextlib.nullcontext()
    with closing, tqdm(total=None, desc=description, unit="", disable=quiet or None,
                       file=sys.stderr, leave=False, dynamic_ncols=True) as bar:
        for record in job:
            if bar.total != record.total:
                bar.total = record.total
            bar.n = record.step
            if record.message:
                bar.set_postfix_str(record.message, refresh=False)
            bar.refresh()
            if record.result is not None:
                result = record.result
    return result


@contextlib.contextmanager
def writing_file(path: Path) -> Iterator[None]:
    """Name ``path`` (not a temporary file beside it) when writing it fails."""
    try:
        yield
    except OSError as exc:
        raise FileError(path, f"cannot write ({write_reason(path, exc)})") from exc


def print_json(payload: object) -> None:
    json.dump(payload, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


# --- mer demo ---------------------------------------------------------------------------

def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="write the synthetic demo corpus (CAS(ME)³ layout)",
                       description="Write a deterministic synthetic corpus in the CAS(ME)³ Part A "
                                   "layout: frames, depth, annotation sheet and ground truth.")
    p.add_argument("--out", required=True, type=Path, help="folder to create")
    p.add_argument("--subjects", type=int, default=12, help="number of subjects (default 12)")
    p.add_argument("--clips", type=int, default=8,
                   help="micro-expression samples per subject (default 8)")
    p.add_argument("--macro", type=int, default=2, metavar="K",
                   help="macro-expressions per subject, in the MaE sheet (default 2; 0: none)")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    p.add_argument("--labels", choices=("even", "casme3"), default="even",
                   help="emotions: even (each subject shows each once; default) or casme3 "
                        "(the real sheet's class balance)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(handler=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from .core.dataset.demo import build_demo

    if args.subjects < 1 or args.clips < 1:
        raise UsageError("--subjects and --clips must be at least 1")
    if args.macro < 0:
        raise UsageError("--macro must be at least 0")
    out = args.out.expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out}: already exists and is not an empty folder")
    with writing_file(out):
        drive(build_demo(out, subjects=args.subjects, clips_per_subject=args.clips,
                         seed=args.seed, workers=args.workers, macro_per_subject=args.macro,
                         labels=args.labels),
              "rendering demo clips")
    summary = {"root": str(out), "subjects": args.subjects, "clips_per_subject": args.clips,
               "macro_per_subject": args.macro, "seed": args.seed, "labels": args.labels}
    if args.json:
        print_json(summary)
    else:
        print(f"demo corpus written to {out}")
    return 0


# --- mer info ---------------------------------------------------------------------------

def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="list samples, classes and skipped rows of a dataset",
                       description="Read a CAS(ME)³ root and report its samples, class counts "
                                   "and every skipped row with its reason.")
    p.add_argument("root", type=Path)
    p.add_argument("--sheet", choices=("me", "mae", "c"), default="me",
                   help="which annotation sheet: micro (me), macro (mae) or Part C (c)")
    p.add_argument("--exclude", type=Path, default=None,
                   help="exclusion list CSV (subject, clip, onset, reason); "
                        "default: ROOT/mer_exclusions.csv when present")
    _add_ignore_edits(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_cmd_info)


def _cmd_info(args: argparse.Namespace) -> int:
    dataset = open_dataset_of_args(args, kind=args.sheet, exclusions=args.exclude)
    if args.json:
        print_json(dataset.as_json())
        return 0
    print(f"root:     {dataset.root}")
    print(f"sheet:    {dataset.sheet.name}")
    print(f"layout:   {', '.join(dataset.layouts) or 'none found'}")
    print(f"samples:  {len(dataset.samples)} from {len(dataset.subjects())} subjects")
    for task, counts in dataset.counts().items():
        label = "objective" if task == "objective" else f"{task}-class"
        cells = ", ".join(f"{name} {n}" for name, n in counts.items())
        print(f"{label + ':':<11}{cells}")
    print(f"skipped:  {len(dataset.skipped)}")
    for s in dataset.skipped:
        onset = f" onset {s.onset}" if s.onset is not None else ""
        print(f"  row {s.excel_row:>4}  {s.subject} {s.clip}{onset}: {s.reason}")
    warned = [s for s in dataset.samples if s.warnings]
    if warned:
        print(f"kept with bad-quality frames: {len(warned)}")
        for s in warned:
            print(f"  row {s.excel_row:>4}  {s.subject} {s.clip} onset {s.onset}: "
                  + "; ".join(s.warnings))
    if dataset.warnings:
        print(f"warnings: {len(dataset.warnings)} (entries that could not be examined)")
        for warning in dataset.warnings:
            print(f"  {warning}")
    return 0


# --- shared options of the clip commands ---------------------------------------------------

def _add_ignore_edits(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ignore-edits", action="store_true",
                   help="open the dataset as if it had no annotation edits (its "
                        "mer_annotations.json sidecar is not read)")


def open_dataset_of_args(args: argparse.Namespace, root: Path | str | None = None, **options):
    """``Dataset.open`` of ``root`` (default ``args.root``) with the user's annotation edits,
    or without them under ``--ignore-edits``; an unreadable sidecar's error says so."""
    from .core.dataset import Dataset
    from .core.dataset.edits import SidecarError

    try:
        return Dataset.open(args.root if root is None else root,
                            edits=None if args.ignore_edits else "auto", **options)
    except SidecarError as exc:
        raise SidecarError(exc.path, f"{exc.problem} (--ignore-edits opens the dataset "
                                     "without it)") from None


def add_clip_args(p: argparse.ArgumentParser, sample: bool = True) -> None:
    p.add_argument("root", type=Path, help="dataset root")
    _add_ignore_edits(p)
    if sample:
        p.add_argument("subject", help="subject, e.g. spNO.1")
        p.add_argument("clip", help="clip letter, or <clip>_<onset> when a clip has several samples")
    p.add_argument("--align", choices=("ecc", "landmarks", "none"), default="ecc",
                   help="apex→onset alignment (default ecc)")
    p.add_argument("--denoise-sigma", type=float, default=3.0, metavar="PX",
                   help="face-only depth smoothing σ in pixels; 0 = the paper literally (default 3)")
    p.add_argument("--offset", choices=("none", "median", "kabsch"), default="median",
                   help="global face motion removed from ΔP (default median)")
    p.add_argument("--face-from-depth", action="store_true",
                   help="when dlib finds no face, use the nearest depth blob instead of failing")


def cloud_params_of_args(args: argparse.Namespace):
    from .core.motion import MotionParams
    from .core.pipeline import CloudParams

    if args.denoise_sigma < 0:
        raise UsageError("--denoise-sigma must be ≥ 0")
    return CloudParams(align=args.align, denoise_sigma_px=args.denoise_sigma,
                       depth_fallback=args.face_from_depth, motion=MotionParams(offset=args.offset))


def _find_sample(args: argparse.Namespace):
    return open_dataset_of_args(args).find(args.subject, args.clip)


# --- mer cloud --------------------------------------------------------------------------

def _add_cloud(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cloud", help="motion point cloud of one clip to .npz or .ply",
                       description="Compute the (r, θ, φ) motion point cloud of a clip and write "
                                   "its N sampled points (npz: points, colors, motion, pixels, "
                                   "input; ply: points coloured by r̂θ̂φ̂).")
    add_clip_args(p)
    p.add_argument("--out", required=True, type=Path, help="FILE.npz or FILE.ply")
    p.add_argument("--points", type=int, default=2048, help="N (default 2048)")
    p.add_argument("--sampling", choices=SAMPLINGS, default="sort")
    p.add_argument("--rank", choices=("color_l2", "amplitude"), default="color_l2",
                   help="sort key (default color_l2 = ‖(r̂, θ̂, φ̂)‖)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-cache", action="store_true", help="recompute, ignore the cache")
    p.add_argument("--json", action="store_true", help="print the provenance as JSON")
    p.set_defaults(handler=_cmd_cloud)


def _cmd_cloud(args: argparse.Namespace) -> int:
    from .core.cache import cached_cloud
    from .core.export import export_cloud
    from .core.pipeline import SamplingParams

    if args.points < 1:
        raise UsageError("--points must be at least 1")
    if args.out.suffix.lower() not in (".npz", ".ply"):
        raise UsageError(f"{args.out}: --out must end in .npz or .ply")
    sample = _find_sample(args)
    sampling = SamplingParams(args.points, args.sampling, args.rank, args.seed)
    cloud = cached_cloud(sample, cloud_params_of_args(args), sampling, use_cache=not args.no_cache)
    with writing_file(args.out):
        export_cloud(cloud, args.out)
    summary = {"sample": sample.id, "out": str(args.out), "points": args.points,
               "kept_face_points": len(cloud), "padded": cloud.padded, **cloud.provenance}
    if args.json:
        print_json(summary)
    else:
        note = f", {cloud.padded} repeated (face has fewer points)" if cloud.padded else ""
        print(f"{sample.id}: {args.points} of {len(cloud)} face points ({args.sampling}{note}) "
              f"-> {args.out}")
    return 0


# --- mer flow ---------------------------------------------------------------------------

def _add_flow(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("flow", help="optical flow between the aligned onset and apex",
                       description="Optical flow on the same crop and alignment as the point "
                                   "cloud. FILE.png: colour-coded flow with a colour-wheel legend; "
                                   "FILE.npz: flow, magnitude, strain and the crop box.")
    add_clip_args(p)
    p.add_argument("--out", required=True, type=Path, help="FILE.png or FILE.npz")
    p.add_argument("--method", choices=("dis", "tvl1", "farneback"), default="dis",
                   help="optical flow method (default %(default)s: DIS, see README Performance)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(handler=_cmd_flow)


def _cmd_flow(args: argparse.Namespace) -> int:
    import numpy as np

    from .core.export import write_npz, write_png
    from .core.flow import color_wheel, flow_to_rgb, magnitude, optical_flow, optical_strain
    from .core.pipeline import align_pair

    suffix = args.out.suffix.lower()
    if suffix not in (".png", ".npz"):
        raise UsageError(f"{args.out}: --out must end in .png or .npz")
    pair = align_pair(_find_sample(args), cloud_params_of_args(args))
    flow = optical_flow(pair.onset_rgb, pair.apex_rgb, args.method)
    length = magnitude(flow)
    if suffix == ".npz":
        with writing_file(args.out):
            write_npz(args.out, {"flow": flow, "magnitude": length,
                                 "strain": optical_strain(flow),
                                 "box": np.asarray(pair.box, dtype=np.int64)})
    else:
        image = flow_to_rgb(flow)
        size = max(24, min(image.shape[:2]) // 4)
        image[:size, -size:] = np.maximum(image[:size, -size:], color_wheel(size))
        with writing_file(args.out):
            write_png(args.out, image)
    summary = {"sample": pair.sample_id, "method": args.method, "out": str(args.out),
               "box": list(pair.box), "max_px": float(length.max()),
               "median_px": float(np.median(length))}
    if args.json:
        print_json(summary)
    else:
        print(f"{pair.sample_id}: {args.method} flow, max {summary['max_px']:.2f} px -> {args.out}")
    return 0


# --- mer preprocess ---------------------------------------------------------------------

def _add_preprocess(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("preprocess", help="compute and cache the motion clouds of every sample",
                       description="Fill the cache with every sample's motion cloud, aligned "
                                   "pair and optical flow (what the viewer shows), in parallel. "
                                   "A failing clip or flow is reported and never stops the run.")
    add_clip_args(p, sample=False)
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--flow", choices=("dis", "tvl1", "farneback", "none"), default="dis",
                   help="optical flow method to cache for the viewer (default %(default)s; "
                        "none = clouds and alignment only)")
    p.add_argument("--json", action="store_true", help="print the outcome of every sample")
    _add_ray(p, "clip (writing into the cache folder, which the nodes must share)")
    p.set_defaults(handler=_cmd_preprocess)


def _cmd_preprocess(args: argparse.Namespace) -> int:
    from .core.cache import preprocess

    dataset = open_dataset_of_args(args)
    flow = None if args.flow == "none" else args.flow
    outcomes = drive(preprocess(dataset.samples, cloud_params_of_args(args), args.workers, flow=flow,
                                pool=_ray_pool(args)), "preprocessing clips") or []
    failed = [o for o in outcomes if not o.ok]
    flow_failed = [o for o in outcomes if o.ok and o.flow_error]
    cached = sum(o.cached for o in outcomes if o.ok)
    # computed and checked, but the cache could not keep them (a CacheWarning said why)
    uncached = [o for o in outcomes if o.ok and o.cache_error]
    if args.json:
        print_json({"root": str(dataset.root), "done": len(outcomes) - len(failed),
                     "from_cache": cached, "flow": flow,
                     "failed": [{"sample": o.sample_id, "error": o.error} for o in failed],
                     "flow_failed": [{"sample": o.sample_id, "error": o.flow_error}
                                     for o in flow_failed],
                     "not_cached": [{"sample": o.sample_id, "error": o.cache_error}
                                    for o in uncached]})
    else:
        print(f"{len(outcomes) - len(failed)} of {len(outcomes)} clips ready "
              f"({cached} already cached), {len(failed)} failed"
              + (f", {len(flow_failed)} without {flow} flow" if flow_failed else "")
              + (f", {len(uncached)} not cached" if uncached else ""))
        for o in failed:
            print(f"  {o.sample_id}: {o.error}")
        for o in flow_failed:
            print(f"  {o.sample_id}: {flow} flow failed: {o.flow_error}")
    return 0 if not failed and not flow_failed else 1


def _add_train_options(p: argparse.ArgumentParser, leave_out: Sequence[str] = ()) -> None:
    """A flag per training option of ``TRAIN_OPTIONS`` (the Train panel's fields), but those
    in ``leave_out``; unset flags are None (TrainConfig's default)."""
    group = p.add_argument_group("training options", "the Train panel's settings")
    names = []
    for option in TRAIN_OPTIONS:
        if option.name in leave_out:
            continue
        names.append(option.name)
        kwargs: dict = {"default": None,
                        "help": f"{option.help} (default: {option.text(option.default)})"}
        if option.kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif option.many:
            kwargs.update(nargs="*", choices=option.choices)
        else:
            kwargs.update(type=option.kind, choices=option.choices or None,
                          metavar=option.metavar)
        group.add_argument(option.flag, **kwargs)
    p.set_defaults(train_options=tuple(names))


def _train_values(args: argparse.Namespace) -> dict:
    """The training options' values by name (None: not given), as ``config_from_options``
    takes them."""
    return {name: getattr(args, name) for name in args.train_options}


# --- mer train --------------------------------------------------------------------------

def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train and evaluate a point-cloud classifier (LOSO)",
                       description="Honest subject-wise training: leave-one-subject-out (or a "
                                   "subject hold-out, or macro→micro transfer), fixed epochs, "
                                   "pooled UF1/UAR. Writes metrics.json, predictions.csv, "
                                   "folds.json, config.json, checkpoints and PNGs to RUN.")
    add_clip_args(p, sample=False)
    p.add_argument("--out", required=True, type=Path, metavar="RUN", help="run directory")
    _add_train_options(p)
    p.add_argument("--resume", action="store_true", help="continue a stopped run in RUN")
    p.add_argument("--workers", type=int, default=None, help="preprocessing processes")
    p.add_argument("--json", action="store_true", help="print metrics.json at the end")
    _add_ray(p, "fold")
    p.set_defaults(handler=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    from .core.ml.config import config_from_options, sampling_for
    from .core.ml.items import Preprocessing, build_items
    from .core.ml.train import run_training

    options = _train_values(args)
    transfer = options["protocol"] == "transfer"
    macro = _macro_dataset(args, options["classes"]) if transfer else None
    config = config_from_options(options)
    datasets = [open_dataset_of_args(args)] + ([macro] if macro is not None else [])
    preprocessing = Preprocessing(cloud_params_of_args(args), sampling_for(config, options))
    built = drive(build_items(datasets, config.classes, preprocessing, args.workers,
                              pool=_ray_pool(args)), "preparing point clouds")
    for sample_id, error in built.failed:
        print(f"mer train: skipping {sample_id}: {error}", file=sys.stderr)
    drive(run_training(config, built.items, args.out, preprocessing=preprocessing.to_dict(),
                       resume=args.resume, cluster=_ray_options(args)),
          f"training {config.model}")
    metrics = json.loads((args.out / "metrics.json").read_text())
    if args.json:
        print_json(metrics)
    else:
        print(f"{config.model}, {config.classes} classes, {config.protocol}: "
              f"UF1 {metrics['uf1']:.4f}, UAR {metrics['uar']:.4f} "
              f"on {metrics.get('n_samples', len(built.items))} samples -> {args.out}")
    return 0


def _macro_dataset(args: argparse.Namespace, classes: str | None):
    """The MaE sheet's samples for ``--protocol transfer`` (UsageError when it cannot be used)."""
    from .core.dataset.sheets import find_sheet

    if classes != "objective":
        raise UsageError("--protocol transfer needs --classes objective (the macro-expression "
                         "sheet's emotions are not reliable)")
    root = args.root.expanduser()
    if root.is_dir() and find_sheet(root, "mae") is None:
        raise UsageError(f"{root}: --protocol transfer needs the macro-expression sheet "
                         "(cas(me)3_part_A_MaE_label_JpgIndex*.xlsx), and there is none")
    return open_dataset_of_args(args, root, kind="mae")


# --- mer classify -----------------------------------------------------------------------

def _add_classify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="classify one clip or every sample (bundled model "
                                        "by default)",
                       usage="mer classify [CHECKPOINT] ROOT SUBJECT CLIP [--ignore-edits] "
                             "[--json]\n       mer classify [CHECKPOINT] ROOT --all --out "
                             "FILE.csv [--workers W] [--ignore-edits] [--json]",
                       description="Classify a clip with a checkpoint, reproducing the "
                                   "preprocessing it was trained with. Without CHECKPOINT the "
                                   "bundled 3-class PointNet++ is used. With --all every "
                                   "sample of ROOT is classified into FILE.csv (columns "
                                   "subject, clip, onset, label, predicted and one probability "
                                   "column per class).")
    p.add_argument("positional", nargs="+", metavar="ARG",
                   help="[CHECKPOINT] ROOT SUBJECT CLIP, or [CHECKPOINT] ROOT with --all")
    p.add_argument("--all", action="store_true", help="classify every sample of ROOT")
    p.add_argument("--out", type=Path, default=None, metavar="FILE.csv",
                   help="with --all: the CSV to write")
    p.add_argument("--workers", type=int, default=None,
                   help="with --all: processes preparing the clouds (default: all cores)")
    _add_ignore_edits(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_cmd_classify)


def _cmd_classify(args: argparse.Namespace) -> int:
    from .core.ml.classify import classify

    if args.all:
        return _classify_all(args)
    if args.out is not None:
        raise UsageError("--out goes with --all (one clip prints its result)")
    if len(args.positional) == 3:
        checkpoint, (root, subject, clip) = None, args.positional
    elif len(args.positional) == 4:
        checkpoint, root, subject, clip = args.positional
    else:
        raise UsageError("expected [CHECKPOINT] ROOT SUBJECT CLIP")
    sample = open_dataset_of_args(args, Path(root)).find(subject, clip)
    result = classify(sample, Path(checkpoint) if checkpoint else None)
    if args.json:
        print_json(result.as_json())
    else:
        truth = f" (annotated: {result.true})" if result.true else ""
        print(f"{sample.id}: {result.predicted}{truth}")
        for name, p in sorted(result.probabilities.items(), key=lambda kv: -kv[1]):
            print(f"  {name:<10} {p:6.3f}")
    return 0


def _classify_all(args: argparse.Namespace) -> int:
    from .core.ml.batch import classify_samples, write_batch_csv

    if len(args.positional) not in (1, 2):
        raise UsageError("expected [CHECKPOINT] ROOT with --all")
    if args.out is None:
        raise UsageError("--all needs --out FILE.csv")
    checkpoint = Path(args.positional[0]) if len(args.positional) == 2 else None
    dataset = open_dataset_of_args(args, Path(args.positional[-1]))
    result = drive(classify_samples(dataset.samples, checkpoint, args.workers),
                   "classifying clips")
    for sample_id, error in result.failed:
        print(f"mer classify: skipping {sample_id}: {error}", file=sys.stderr)
    with writing_file(args.out):
        write_batch_csv(args.out, result)
    if args.json:
        print_json({**result.as_json(), "out": str(args.out)})
    else:
        labelled = [r for r in result.rows if r.label is not None]
        right = sum(r.label == r.predicted for r in labelled)
        print(f"{len(result.rows)} samples classified ({right} of {len(labelled)} labelled "
              f"ones as annotated), {len(result.failed)} failed -> {args.out}")
    return 0


# --- mer experiment ---------------------------------------------------------------------

def _add_experiment(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("experiment", help="the paper's ablation (sampling, N, model) under LOSO",
                       description="Train every setting (sort vs random, N 1024/2048/4096, "
                                   "PointNet++/PointNet/DGCNN) with several seeds under LOSO and "
                                   "write OUT/results.md (mean ± std of UF1 and UAR).")
    add_clip_args(p, sample=False)
    p.add_argument("--out", required=True, type=Path, help="experiment folder")
    p.add_argument("--seeds", type=int, default=3, help="seeds per setting (default 3)")
    p.add_argument("--models", nargs="+", choices=MODEL_NAMES,
                   default=None, help="restrict to these models")
    p.add_argument("--points", nargs="+", type=int, default=None, help="restrict to these N")
    p.add_argument("--ablate", choices=MODEL_NAMES, default="pointnet2",
                   help="the model whose sampling and N are varied (default pointnet2, "
                        "as in the paper)")
    p.add_argument("--workers", type=int, default=None, help="preprocessing processes")
    p.add_argument("--json", action="store_true", help="print every run's scores")
    _add_ray(p, "fold of every setting and seed")
    _add_train_options(p, leave_out=EXPERIMENT_VARIES)
    p.set_defaults(handler=_cmd_experiment)


# what `mer experiment` sets per run (or has its own flags for): not training options there
EXPERIMENT_VARIES = ("model", "points", "sampling", "seed", "rank", "protocol",
                     "holdout_fraction")


def _cmd_experiment(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from .core.ml.config import config_from_options
    from .core.ml.experiment import markdown_table, paper_settings, run_experiment

    if args.seeds < 1:
        raise UsageError("--seeds must be at least 1")
    settings = [s for s in paper_settings(args.ablate)
                if (args.models is None or s.model in args.models)
                and (args.points is None or s.points in args.points)]
    if not settings:
        raise UsageError("no setting left after --models/--points")
    base = config_from_options(_train_values(args))
    scores = drive(run_experiment(open_dataset_of_args(args), args.out, settings,
                                  tuple(range(args.seeds)), base.classes, base,
                                  cloud_params_of_args(args), args.workers, _ray_options(args)),
                   "experiment")
    if args.json:
        print_json([{**asdict(s.setting), "seed": s.seed, "uf1": s.uf1, "uar": s.uar}
                     for s in scores])
    else:
        print(markdown_table(scores, base.classes), end="")
    return 0


# --- --ray: on a cluster -------------------------------------------------------------------

def _add_ray(p: argparse.ArgumentParser, what: str) -> None:
    from .cli_ray import add_ray_args  # its own module: the cluster options

    add_ray_args(p, what)


def _ray_options(args: argparse.Namespace):
    from .cli_ray import ray_options

    return ray_options(args, args.workers)


def _ray_pool(args: argparse.Namespace):
    """With ``--ray``: the clips computed as Ray tasks (``preprocess``'s pool); else None."""
    options = _ray_options(args)
    if options is None:
        return None
    from .core.cluster import map_on_ray

    return map_on_ray(options)


# --- entry point ------------------------------------------------------------------------

def _add_spot(sub: argparse._SubParsersAction) -> None:
    from .cli_spot import add_spot  # its own module: apex spotting

    add_spot(sub)


COMMANDS: Sequence[Callable[[argparse._SubParsersAction], None]] = (
    _add_demo, _add_info, _add_cloud, _add_flow, _add_preprocess, _add_train, _add_classify,
    _add_experiment, _add_spot)


def build_parser() -> argparse.ArgumentParser:
    from .about import VersionAction

    parser = argparse.ArgumentParser(
        prog="mer", description="Micro-expression recognition from depth point clouds (CAS(ME)³).")
    parser.add_argument("--version", action=VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Iterable[str] | None = None) -> int:
    """Run one command. Every error ends as one line ``mer CMD: error: ...`` on stderr and a
    non-zero exit (2: bad usage, 130: interrupted, 1: the rest); ``MER_DEBUG=1`` adds the
    traceback of an unexpected error. Warnings (MerWarning) print as ``mer CMD: warning: ...``."""
    parser = build_parser()
    args = parser.parse_args(None if argv is None else list(argv))
    name = f"mer {args.command}"
    with warnings.catch_warnings():
        warnings.simplefilter("always", MerWarning)  # the core warns once where it matters
        warnings.showwarning = _warning_printer(name, warnings.showwarning)
        stdout, sys.stdout = sys.stdout, _GuardedStdout(sys.stdout)
        try:
            code = args.handler(args)
            sys.stdout.flush()  # a full disk or a closed pipe shows here, not at exit
            return code
        except _StdoutError as exc:
            _silence_stdout(stdout)
            if exc.errno == errno.EPIPE:
                return 141  # the reader went away (``mer info | head``): quietly, as cat does
            _error(name, f"<stdout>: {exc}")
            return 1
        except MerError as exc:
            print(f"{name}: error: {exc}", file=sys.stderr)
            return 2 if isinstance(exc, UsageError) else 1
        except KeyboardInterrupt:
            print(f"{name}: interrupted", file=sys.stderr)
            return 130
        except OSError as exc:
            _error(name, describe_error(exc))
            return 1
        except Exception as exc:  # noqa: BLE001 - a bug, RecursionError, MemoryError: one line
            if os.environ.get("MER_DEBUG"):
                traceback.print_exc()
            hint = "" if os.environ.get("MER_DEBUG") else " (MER_DEBUG=1 shows the traceback)"
            _error(name, describe_error(exc) + hint)
            return 1
        finally:
            sys.stdout = stdout


def _error(name: str, message: str) -> None:
    lines = message.strip().splitlines() or [""]
    print(f"{name}: error: {lines[0]}", file=sys.stderr)


class _StdoutError(Exception):
    """Standard output cannot be written (a full disk, a closed pipe)."""

    def __init__(self, exc: OSError):
        super().__init__(os_reason(exc))
        self.errno = exc.errno


class _GuardedStdout:
    """``sys.stdout`` during a command: a failed write is a _StdoutError, so that it is not
    mistaken for a failure to write some file."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise _StdoutError(exc) from exc

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise _StdoutError(exc) from exc

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _silence_stdout(stream) -> None:
    """Point a failed stdout at the null device, so that Python's own flush at exit does not
    fail a second time (and print a traceback-like 'Exception ignored' message)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


def _warning_printer(name: str, fallback):
    """``warnings.showwarning`` that prints a MerWarning as one line above any progress bar."""
    def show(message, category, filename, lineno, file=None, line=None):
        if not issubclass(category, MerWarning):
            return fallback(message, category, filename, lineno, file, line)
        from tqdm import tqdm

        tqdm.write(f"{name}: warning: {message}", file=sys.stderr)

    return show


if __name__ == "__main__":
    sys.exit(main())
