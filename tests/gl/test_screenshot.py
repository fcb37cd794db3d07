"""``mer-viewer ROOT --clip S/C --screenshot FILE`` renders the loaded window and quits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from tests.gui_helpers import clip_spec


def _command() -> list[str]:
    script = Path(sys.executable).parent / "mer-viewer"
    return [str(script)] if script.exists() else [sys.executable, "-m", "mer_viewer.qt.app"]


def test_screenshot_of_a_loaded_clip(demo_corpus, tmp_path):
    out = tmp_path / "shot.png"
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)  # the real display, as a user runs it
    result = subprocess.run(
        _command() + [str(demo_corpus), "--clip", clip_spec(demo_corpus, 0),
                      "--screenshot", str(out), "--size", "1200x800"],
        capture_output=True, text=True, timeout=240, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.is_file()
    image = np.asarray(Image.open(out).convert("RGB"))
    assert image.shape[:2] == (800, 1200)
    assert "shown in the window" not in result.stderr  # no error banner in the picture
    # not blank: the whole window and, above all, the 3D views on the right are rich
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 2000
    right = image[100:500, 760:1200].reshape(-1, 3)
    assert len(np.unique(right, axis=0)) > 300
    assert (right.sum(axis=1) > 200).mean() > 0.02  # bright points, not just the background


def test_screenshot_with_a_bad_root_still_quits(tmp_path):
    out = tmp_path / "shot.png"
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)
    result = subprocess.run(_command() + [str(tmp_path / "nowhere"), "--screenshot", str(out)],
                            capture_output=True, text=True, timeout=120, env=env)
    assert out.is_file()  # the window with its error message
    assert "does not exist" in result.stderr


def test_screenshot_with_an_unreadable_frame_quits_showing_the_error(demo_copy, tmp_path):
    from mer_viewer.core.dataset import Dataset
    from tests.gui_helpers import damage_frames

    sample = Dataset.open(demo_copy).samples[0]
    damage_frames(sample, color=(sample.onset,))  # the frame shown first, and the cloud's
    out = tmp_path / "shot.png"
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)
    result = subprocess.run(
        _command() + [str(demo_copy), "--clip", clip_spec(demo_copy, 0), "--screenshot", str(out),
                      "--size", "1200x800"],
        capture_output=True, text=True, timeout=240, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"shown in the window: frame {sample.onset} of {sample.id}" in result.stderr
    image = np.asarray(Image.open(out).convert("RGB")).astype(int)
    banner = (np.abs(image - (0x5c, 0x1f, 0x1f)) <= 4).all(axis=-1)  # the red error line
    assert banner.sum() > 5000
