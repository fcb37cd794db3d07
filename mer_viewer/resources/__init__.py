"""Data files shipped inside the package (bundled checkpoints, app icon), found with importlib.resources."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: Square sizes of the PNG renderings of the app icon (``icons/mer-viewer-<size>.png``).
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def resource_dir(*parts: str) -> Path:
    """Folder of the package's data files (``models``, ``icons``) as a file-system path.

    The package is installed as plain files (wheel, editable checkout, PyInstaller
    folder), never zipped, so the files can be opened by path (torch, Qt).
    """
    root = resources.files(__name__)
    return Path(str(root.joinpath(*parts)))


def models_dir() -> Path:
    """The bundled checkpoints, their training reports and metrics."""
    return resource_dir("models")


def icon_svg() -> Path:
    """The app icon, scalable."""
    return resource_dir("icons", "mer-viewer.svg")


def icon_pngs() -> list[Path]:
    """The app icon rendered at each of ``ICON_SIZES``, smallest first."""
    return [resource_dir("icons", f"mer-viewer-{size}.png") for size in ICON_SIZES]
