"""Help → About and ``mer --version``: the same facts, checked against the libraries themselves."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import cv2
import dlib
import torch
from PySide6 import QtGui, QtWidgets

from mer_viewer import __version__
from mer_viewer.qt.panels.about import AboutDialog
from tests.gui_helpers import make_window

ROOT = Path(__file__).resolve().parents[2]


def _expected_facts() -> list[str]:
    """What a user must find, read from each library, not from mer_viewer.about."""
    from PySide6 import QtCore

    return [__version__, torch.__version__, cv2.__version__, dlib.__version__,
            metadata.version("open3d-cpu"), QtCore.qVersion(),
            f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"]


def test_help_about_shows_versions_device_and_licences(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    action = next(a for a in window.findChildren(QtGui.QAction) if a.text() == "&About")
    action.trigger()
    dialog = window.findChild(AboutDialog)
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.about is not None, timeout=60_000)
    text = dialog.facts.toPlainText()
    for fact in _expected_facts():
        assert fact in text, fact
    assert ("CUDA" if torch.cuda.is_available() else "CPU") in text
    assert "shape_predictor_68_face_landmarks.dat" in text
    assert "NON-COMMERCIAL" in text
    dialog.copy_button.click()
    copied = QtWidgets.QApplication.clipboard().text()
    assert copied.startswith(f"mer-viewer {__version__}\n")
    dialog.close()


def test_mer_version_prints_the_same_facts():
    out = subprocess.run([sys.executable, "-m", "mer_viewer.cli", "--version"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"mer {__version__}"
    for fact in _expected_facts():
        assert fact in out.stdout, fact
    assert any(line.startswith("device: CPU") or line.startswith("device: CUDA") for line in lines)
    assert any("68-landmark" in line and "NON-COMMERCIAL" in line for line in lines)
