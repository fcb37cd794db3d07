"""``mer-viewer ROOT --clip S/C --classify [--screenshot F]``: the headline click, scripted."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest
from PIL import Image

from mer_viewer.cli import main as mer
from mer_viewer.core.dataset import Dataset
from tests.gl.test_screenshot import _command


def _viewer(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)  # the real display, as a user runs it
    return subprocess.run(_command() + list(args), capture_output=True, text=True,
                          timeout=timeout, env=env)


def _sample(root):
    return next(s for s in Dataset.open(root).samples if s.label("4"))


def test_classify_prints_what_mer_classify_prints_and_shows_it(demo_corpus, tmp_path, capsys):
    sample = _sample(demo_corpus)
    spec = f"{sample.subject}/{sample.clip}_{sample.onset}"
    out = tmp_path / "classified.png"
    result = _viewer(str(demo_corpus), "--clip", spec, "--classify", "4",
                     "--screenshot", str(out), "--size", "1366x768")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, result.stdout
    shown = json.loads(lines[0])
    assert (shown["subject"], shown["clip"], shown["onset"]) == (sample.subject, sample.clip,
                                                                 sample.onset)
    assert shown["checkpoint"].endswith("pointnet2_4class.pt")
    assert set(shown["probabilities"]) == {"negative", "others", "positive", "surprise"}
    assert shown["predicted"] == max(shown["probabilities"], key=shown["probabilities"].get)
    assert "Traceback" not in result.stderr

    # the same clip through the command line, with the same checkpoint
    assert mer(["classify", shown["checkpoint"], str(demo_corpus), sample.subject,
                f"{sample.clip}_{sample.onset}", "--json"]) == 0
    expected = json.loads(capsys.readouterr().out)
    assert shown["probabilities"] == expected["probabilities"]
    assert shown["predicted"] == expected["predicted"] and shown["true"] == expected["true"]

    image = np.asarray(Image.open(out).convert("RGB"))
    assert image.shape[:2] == (768, 1366)
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 2000


def test_classify_with_a_broken_checkpoint_fails_in_one_line(demo_corpus, tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint at all")
    sample = _sample(demo_corpus)
    result = _viewer(str(demo_corpus), "--clip", f"{sample.subject}/{sample.clip}_{sample.onset}",
                     "--classify", str(bad))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("mer-viewer: error")]
    assert len(errors) == 1 and "broken.pt" in errors[0], result.stderr[-3000:]
    assert not [line for line in result.stdout.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("which", ["skipped", "missing"])
def test_classify_of_a_skipped_or_missing_clip_says_why(demo_corpus, which):
    skipped = Dataset.open(demo_corpus).skipped[0]
    spec = (f"{skipped.subject}/{skipped.clip}_{skipped.onset}" if which == "skipped"
            else "spNO.99/a")
    result = _viewer(str(demo_corpus), "--clip", spec, "--classify")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("mer-viewer: error")]
    assert len(errors) == 1, result.stderr[-3000:]
    assert spec.split("/")[0] in errors[0]
    assert "Traceback" not in result.stderr


def test_classify_of_a_clip_with_a_truncated_apex_says_which_file(demo_copy, tmp_path):
    sample = Dataset.open(demo_copy).samples[0]
    apex = sample.frames.color_path(sample.apex)
    apex.write_bytes(apex.read_bytes()[: apex.stat().st_size // 2])
    out = tmp_path / "damaged.png"
    result = _viewer(str(demo_copy), "--clip", f"{sample.subject}/{sample.clip}_{sample.onset}",
                     "--classify", "--screenshot", str(out))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("mer-viewer: error")]
    assert len(errors) == 1 and str(apex) in errors[0] and "truncated" in errors[0]
    assert out.is_file()  # the window, with the error shown in it
    assert "Traceback" not in result.stderr
