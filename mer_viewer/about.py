"""What this installation is: the versions it runs on, the compute device and the licences
that matter to a user. One source for ``mer --version`` and Help → About (no Qt needed)."""

from __future__ import annotations

import argparse
import importlib
import platform
from dataclasses import dataclass
from importlib import metadata

from . import __version__

NOT_INSTALLED = "not installed"

#: (shown name, distributions that may provide it, module to import when none has metadata).
#: Open3D is read from its metadata only: importing it takes seconds.
LIBRARIES = (
    ("Qt", (), None),  # filled from PySide6 at run time (the Qt it was built with)
    ("PyTorch", ("torch",), "torch"),
    ("Open3D", ("open3d-cpu", "open3d"), "open3d"),
    ("OpenCV", (), "cv2"),
    ("dlib", (), "dlib"),
)

#: What a user of the app, its bundled models or a copy of it must respect.
LICENCES = (
    ("mer_viewer and its bundled checkpoints", "MIT"),
    ("dlib's 68-landmark model (shape_predictor_68_face_landmarks.dat)",
     "NON-COMMERCIAL use only: its training data, iBUG 300-W, excludes commercial use"),
    ("dlib", "Boost Software License 1.0"),
    ("Qt / PySide6", "LGPL-3.0-only (or GPL-2.0/GPL-3.0)"),
    ("PyTorch", "BSD-3-Clause"),
    ("Open3D", "MIT"),
    ("OpenCV", "Apache-2.0"),
    ("CAS(ME)³ dataset", "not shipped: obtain it under its own licence agreement"),
)


@dataclass(frozen=True)
class About:
    """Facts about this installation; ``libraries`` maps a shown name to its version."""

    version: str
    python: str
    libraries: dict[str, str]
    device: str
    licences: tuple[tuple[str, str], ...] = LICENCES

    def as_text(self, program: str = "mer") -> str:
        lines = [f"{program} {self.version}",
                 f"Python {self.python}"]
        lines += [f"{name} {version}" for name, version in self.libraries.items()]
        lines.append(f"device: {self.device}")
        lines.append("licences:")
        lines += [f"  {what}: {licence}" for what, licence in self.licences]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {"version": self.version, "python": self.python, "libraries": dict(self.libraries),
                "device": self.device, "licences": [list(pair) for pair in self.licences]}


def gather() -> About:
    """The facts (imports PyTorch to ask for its device; about a second or more)."""
    libraries = {name: _version(name, dists, module) for name, dists, module in LIBRARIES}
    libraries["Qt"] = _qt_version()
    return About(version=__version__,
                 python=f"{platform.python_version()} ({platform.python_implementation()}, "
                        f"{platform.machine()})",
                 libraries=libraries, device=device_text())


def device_text() -> str:
    """The device ``--device auto`` picks (as training does), with the CPU threads torch uses."""
    try:
        import torch

        from .core.ml.config import resolve_device
    except ImportError:
        return "unknown (PyTorch is not installed)"
    device = resolve_device("auto")
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return f"CUDA ({name}; CUDA {torch.version.cuda})"
    if device.type == "mps":
        return "MPS (Apple GPU)"
    build = f"CUDA {torch.version.cuda} build, no GPU found" if torch.version.cuda else "CPU build"
    return f"CPU ({torch.get_num_threads()} threads; PyTorch {build})"


def _version(name: str, dists: tuple[str, ...], module: str | None) -> str:
    for dist in dists:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    if module is None:
        return NOT_INSTALLED
    try:
        return str(getattr(importlib.import_module(module), "__version__", "unknown version"))
    except ImportError:
        return NOT_INSTALLED


def _qt_version() -> str:
    try:
        import PySide6
        from PySide6 import QtCore
    except ImportError:
        return NOT_INSTALLED
    return f"{QtCore.qVersion()} (PySide6 {PySide6.__version__})"


class VersionAction(argparse.Action):
    """``--version``: print :func:`gather`'s facts under the parser's program name and exit."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help="show the version, the libraries, the device and the licences, and exit"):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(gather().as_text(parser.prog))
        parser.exit()
