"""Apex spotting against the demo corpus's truth, ``mer spot``, and damaged frames left out."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from mer_viewer.cli import main
from mer_viewer.core.dataset import Dataset
from mer_viewer.core.dataset.exceptions import DAMAGED_FILE
from mer_viewer.core.spotting import find_target, motion_curve, peak, spot_all, spot_targets
from mer_viewer.core.truth import apex_errors, true_apexes


@pytest.fixture(scope="module")
def outcomes(demo_corpus):
    dataset = Dataset.open(demo_corpus)
    *_, last = spot_all(spot_targets(dataset), workers=2)
    return last.result


def test_spotting_finds_the_true_apex(demo_corpus, outcomes):
    truth = true_apexes(demo_corpus)
    assert not [o.error for o in outcomes if o.error]
    # every sample and the onset == apex row(s) were spotted
    kinds = [o.target.skipped_reason for o in outcomes]
    assert any(k and "onset equals apex" in k for k in kinds)
    for name in ("depth_apex", "flow_apex"):
        spotted = {(o.target.subject, o.target.clip, o.target.onset): getattr(o.curve, name)
                   for o in outcomes}
        result = apex_errors(demo_corpus, spotted)
        assert result["n"] == len(outcomes) and result["n"] >= 5
        if name == "depth_apex":  # the suggestion; the flow curve is reported beside it
            assert result["median"] <= 1, result
            assert result["within_1"] >= 0.8, result
    for o in outcomes:
        assert o.curve.apex == o.curve.depth_apex
        key = (o.target.subject, o.target.clip, o.target.onset)
        # the curve rises from the onset: the true apex moves more than the frame after onset
        frames = list(o.curve.frames)
        assert o.curve.depth_mm[0] == 0 and frames[0] == o.target.onset
        assert o.curve.depth_mm[frames.index(truth[key])] > 0


def test_onset_equals_apex_row_is_recovered(demo_corpus, outcomes):
    truth = true_apexes(demo_corpus)
    rows = [o for o in outcomes if o.target.skipped_reason]
    for o in rows:
        assert o.target.apex == o.target.onset  # as the sheet has it
        assert abs(o.curve.apex - truth[(o.target.subject, o.target.clip, o.target.onset)]) <= 1
        assert o.curve.apex > o.target.onset


def test_unknown_offset_uses_a_bounded_window(demo_corpus):
    dataset = Dataset.open(demo_corpus)
    sample = next(s for s in dataset.samples if s.offset == 0)
    target = find_target(dataset, sample.subject, f"{sample.clip}_{sample.onset}")
    curve = motion_curve(target, window=4, flow=None)
    available = [n for n in sample.frames.numbers if sample.onset <= n <= sample.onset + 4]
    assert list(curve.frames) == available
    assert np.isnan(curve.flow_px).all() and curve.flow_apex is None


def test_damaged_frames_are_left_out(demo_copy):
    dataset = Dataset.open(demo_copy)
    sample = next(s for s in dataset.samples if s.offset - s.onset >= 4)
    middle = next(n for n in range(sample.onset + 1, sample.offset) if n != sample.apex)
    (demo_copy / "exception").mkdir()
    (demo_copy / "exception" / DAMAGED_FILE).write_text(
        f"{sample.subject} {sample.clip.upper()} {middle}.jpg  the image cannot open\n")
    dataset = Dataset.open(demo_copy)
    target = find_target(dataset, sample.subject, f"{sample.clip}_{sample.onset}")
    curve = motion_curve(target, flow=None, exceptions=dataset.exceptions)
    assert middle not in curve.frames
    assert curve.left_out == (f"{middle}: damaged (the image cannot open)",)


def test_peak_and_confidence():
    frames = np.arange(10, 16)
    apex, confidence = peak(frames, np.array([0, 0.2, 0.5, 1.0, 0.5, 0.2]))
    assert apex == 13 and 0.5 < confidence <= 1
    flat_apex, flat = peak(frames, np.array([0, 1.0, 1.0, 1.0, 1.0, 1.0]))
    assert flat < 0.1


def test_cli_spot_json_and_all_csv(demo_corpus, tmp_path, capsys):
    dataset = Dataset.open(demo_corpus)
    row = next(r for r in dataset.skipped if "onset equals apex" in r.reason)
    assert main(["spot", str(demo_corpus), row.subject, row.clip, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"subject", "clip", "onset", "offset", "apex", "annotated_apex", "confidence",
            "curve"} <= set(data)
    assert data["annotated_apex"] == row.onset and data["apex"] > row.onset
    assert {"frame", "depth_mm", "flow_px"} == set(data["curve"][0])
    assert 0 <= data["confidence"] <= 1
    out = tmp_path / "spots.csv"
    assert main(["spot", str(demo_corpus), "--all", "--out", str(out), "--workers", "1",
                 "--flow", "none"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == len(spot_targets(dataset))
    assert "clips/s" in capsys.readouterr().out
    assert main(["spot", str(demo_corpus)]) != 0
    assert "give SUBJECT CLIP, or --all" in capsys.readouterr().err
