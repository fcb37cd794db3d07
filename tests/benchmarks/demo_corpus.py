"""The corpus a benchmark reads: the folder given, else a demo corpus built for the run.

Benchmarks run as scripts (``python tests/benchmarks/bench_x.py``), so they import this
module as their sibling: ``from demo_corpus import corpus_root``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path


def corpus_root(root: Path | None, **demo_options) -> Path:
    """``root``, or a demo corpus built in a new temporary folder with ``demo_options``
    (``build_demo``'s keywords: subjects, clips_per_subject, workers, ...)."""
    if root is not None:
        return root
    from mer_viewer.core.dataset.demo import build_demo

    root = Path(tempfile.mkdtemp()) / "demo"
    for _ in build_demo(root, **demo_options):
        pass
    return root
