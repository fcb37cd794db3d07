"""The ``--ray`` options of ``mer train``, ``mer experiment`` and ``mer preprocess``."""

from __future__ import annotations

import argparse


def add_ray_args(p: argparse.ArgumentParser, what: str) -> None:
    group = p.add_argument_group(
        "cluster", f"run every {what} as a task on Ray (pip install mer-viewer[cluster])")
    group.add_argument("--ray", metavar="ADDRESS", default=None,
                       help="local: start Ray on this machine; auto: join the cluster started "
                            "here with `ray start`; HOST:PORT: join the cluster whose head "
                            "listens there (default: no Ray, in this process)")
    group.add_argument("--ray-cpus-per-task", type=float, default=1.0, metavar="C",
                       help="CPUs each task declares (fractions allowed; default 1)")
    group.add_argument("--ray-gpus-per-task", type=float, default=0.0, metavar="G",
                       help="GPUs each task declares (0.25: four tasks share a GPU; default 0)")
    group.add_argument("--ray-retries", type=int, default=3, metavar="K",
                       help="times a task is run again when its worker or node dies "
                            "(default 3)")


def ray_options(args: argparse.Namespace, workers: int | None = None):
    """The RayOptions of the flags, or None without ``--ray`` (UsageError for a bad value);
    ``workers`` caps the CPUs of a local Ray."""
    if args.ray is None:
        return None
    from .cli import UsageError
    from .core.cluster import RayOptions, import_ray
    from .core.errors import MerError

    import_ray()  # without the extra: say how to install it before any work
    try:
        return RayOptions(args.ray.strip(), args.ray_cpus_per_task, args.ray_gpus_per_task,
                          args.ray_retries, local_cpus=workers)
    except MerError as exc:
        raise UsageError(f"--ray: {exc}") from None
