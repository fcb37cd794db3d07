"""packaging/: the .desktop entry and AppStream metainfo validate, and agree with the app and icon."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mer_viewer.resources import ICON_SIZES, icon_pngs, icon_svg

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = ROOT / "packaging" / "mer-viewer.desktop"
METAINFO = ROOT / "packaging" / "io.github.mer_viewer.metainfo.xml"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:  # `make test` installs it (Makefile SYSTEM_PACKAGES) when run as root
        pytest.skip(f"{name} is not installed")
    return path


def test_desktop_entry_validates_and_names_the_app():
    out = subprocess.run([_tool("desktop-file-validate"), str(DESKTOP)], capture_output=True, text=True)
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(DESKTOP, encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Exec"].split()[0] == "mer-viewer"
    assert section["Icon"] == icon_svg().stem == "mer-viewer"
    assert "Science" in section["Categories"].split(";")
    # Qt's X11 WM_CLASS is the application name that app.py sets
    app_source = (ROOT / "mer_viewer" / "qt" / "app.py").read_text(encoding="utf-8")
    assert f'app.setApplicationName("{section["StartupWMClass"]}")' in app_source
    assert f'app.setDesktopFileName("{DESKTOP.stem}")' in app_source


def test_appstream_metainfo_validates():
    out = subprocess.run([_tool("appstreamcli"), "validate", "--no-net", str(METAINFO)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    text = METAINFO.read_text(encoding="utf-8")
    assert f"<launchable type=\"desktop-id\">{DESKTOP.name}</launchable>" in text
    from mer_viewer import __version__

    assert f'<release version="{__version__}"' in text


def test_icon_pngs_are_the_svg_rendered_at_each_size(qapp, tmp_path):
    from PySide6 import QtGui

    sys.path.insert(0, str(ROOT / "packaging"))
    try:
        from make_icons import render_png
    finally:
        sys.path.pop(0)
    for size, png in zip(ICON_SIZES, icon_pngs()):
        shipped = _pixels(QtGui.QImage(str(png)))
        assert shipped.shape[:2] == (size, size), png
        render_png(icon_svg(), size, tmp_path / png.name)
        fresh = _pixels(QtGui.QImage(str(tmp_path / png.name)))
        assert np.abs(shipped.astype(int) - fresh.astype(int)).max() <= 2, \
            f"{png} is not the SVG rendered: run packaging/make_icons.py"
        assert len(np.unique(shipped.reshape(-1, 4), axis=0)) > 3, f"{png} is blank"


def _pixels(image) -> np.ndarray:
    from PySide6 import QtGui

    image = image.convertToFormat(QtGui.QImage.Format.Format_RGBA8888)
    return np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.width(), 4).copy()
