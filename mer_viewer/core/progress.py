"""Progress records yielded by long jobs (one job, two front ends: CLI and GUI)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Progress:
    """One step of a long job: ``step`` of ``total`` done, with a short message.

    ``result`` carries a partial or final result where the job has one.
    """

    step: int
    total: int
    message: str = ""
    result: Any = None
