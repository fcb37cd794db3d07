"""The ``mer`` command line: one sub-command per job, errors on one line, ``--json`` everywhere."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from .core.errors import MerError
from .core.progress import Progress

Handler = Callable[[argparse.Namespace], int]


class UsageError(MerError):
    """A command-line argument that cannot be used as given."""


def drive(job: Iterator[Progress], description: str, quiet: bool = False) -> object:
    """Run a long core job to completion with a progress bar on stderr; return its last result."""
    from tqdm import tqdm

    result = None
    with tqdm(total=None, desc=description, unit="", disable=quiet or None,
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


def _print_json(payload: object) -> None:
    json.dump(payload, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


# --- mer demo ---------------------------------------------------------------------------

def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="write the synthetic demo corpus (CAS(ME)³ layout)",
                       description="Write a deterministic synthetic corpus in the CAS(ME)³ Part A "
                                   "layout: frames, depth, annotation sheet and ground truth.")
    p.add_argument("--out", required=True, type=Path, help="folder to create")
    p.add_argument("--subjects", type=int, default=12, help="number of subjects (default 12)")
    p.add_argument("--clips", type=int, default=8, help="samples per subject (default 8)")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(handler=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from .core.dataset.demo import build_demo

    if args.subjects < 1 or args.clips < 1:
        raise UsageError("--subjects and --clips must be at least 1")
    out = args.out.expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out}: already exists and is not an empty folder")
    drive(build_demo(out, subjects=args.subjects, clips_per_subject=args.clips,
                     seed=args.seed, workers=args.workers), "rendering demo clips")
    summary = {"root": str(out), "subjects": args.subjects, "clips_per_subject": args.clips,
               "seed": args.seed}
    if args.json:
        _print_json(summary)
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
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_cmd_info)


def _cmd_info(args: argparse.Namespace) -> int:
    from .core.dataset import Dataset

    dataset = Dataset.open(args.root, kind=args.sheet, exclusions=args.exclude)
    if args.json:
        _print_json(dataset.as_json())
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
    return 0


# --- entry point ------------------------------------------------------------------------

COMMANDS: Sequence[Callable[[argparse._SubParsersAction], None]] = (_add_demo, _add_info)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="mer", description="Micro-expression recognition from depth point clouds (CAS(ME)³).")
    parser.add_argument("--version", action="version", version=f"mer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Iterable[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(None if argv is None else list(argv))
    try:
        return args.handler(args)
    except MerError as exc:
        print(f"mer {args.command}: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    except KeyboardInterrupt:
        print(f"mer {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
