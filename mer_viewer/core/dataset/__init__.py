"""CAS(ME)³ on disk: annotation sheets, both frame layouts, anomalies, and the demo corpus."""

from .casme3 import EXCLUSIONS_FILE, Dataset, Exclusion, Sample, Skipped, read_exclusions
from .frames import ClipFrames, read_color, read_depth
from .labels import TASKS, Task, class_names, parse_au

__all__ = [
    "Dataset", "Sample", "Skipped", "Exclusion", "read_exclusions", "EXCLUSIONS_FILE",
    "ClipFrames", "read_color", "read_depth", "TASKS", "Task", "class_names", "parse_au",
]
