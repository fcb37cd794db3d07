"""Journey: a skipped onset == apex row, its motion curve, "use suggested apex", save, undo."""

from __future__ import annotations

import json

from PySide6 import QtCore

from mer_viewer.core.dataset import Dataset, Sample, Skipped
from mer_viewer.core.dataset.edits import SIDECAR_NAME
from mer_viewer.core.spotting import find_target, motion_curve
from mer_viewer.core.truth import true_apexes
from tests.gui_helpers import JobWatch, make_window, open_and_wait, press, wait_settled
from tests.gui_helpers import select_row as _select


def test_use_suggested_apex_makes_the_row_a_sample_and_undo_skips_it_again(qtbot, demo_copy,
                                                                          tmp_path):
    dataset = Dataset.open(demo_copy)
    row = next(r for r in dataset.skipped if "onset equals apex" in r.reason)
    expected = motion_curve(find_target(dataset, row.subject, row.clip),
                            exceptions=dataset.exceptions)  # the core, on its own
    window = make_window(qtbot, tmp_path)
    watch = JobWatch(window.jobs)
    open_and_wait(qtbot, window, demo_copy)
    samples_before = len(window.state.dataset.samples)
    _select(qtbot, window, row)
    panel = window.motion_curve
    assert panel.curve is None and panel.spot_button.isEnabled()
    press(qtbot, window.browser.tree, QtCore.Qt.Key.Key_S)  # Clip → Spot apex
    qtbot.waitUntil(lambda: panel.curve is not None, timeout=60_000)
    assert panel.curve.apex == expected.apex and list(panel.curve.frames) == list(expected.frames)
    assert abs(panel.curve.apex - true_apexes(demo_copy)[(row.subject, row.clip, row.onset)]) <= 1
    assert f"<b>{expected.apex}</b>" in panel.summary.text()
    assert panel.use_button.isEnabled() and str(expected.apex) in panel.use_button.text()
    x, y = panel.depth_line.getData()
    assert list(x) == list(expected.frames) and list(y) == list(expected.depth_mm)

    qtbot.mouseClick(panel.use_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: isinstance(window.state.row, Sample)
                    and window.state.row.key == row.key, timeout=20_000)
    wait_settled(qtbot, window)
    assert window.state.sample.apex == expected.apex
    assert len(window.state.dataset.samples) == samples_before + 1
    assert window.annotation.frames["apex"].value() == expected.apex
    assert window.session.dirty

    press(qtbot, window.browser.tree, QtCore.Qt.Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: isinstance(window.state.row, Skipped)
                    and window.state.row.key == row.key, timeout=20_000)
    assert len(window.state.dataset.samples) == samples_before
    assert window.state.sample is None

    # redo, save: the sidecar holds the apex, and the dataset opens with the row as a sample
    press(qtbot, window.browser.tree, QtCore.Qt.Key.Key_Z,
          QtCore.Qt.KeyboardModifier.ControlModifier | QtCore.Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: isinstance(window.state.row, Sample), timeout=20_000)
    wait_settled(qtbot, window)
    press(qtbot, window.browser.tree, QtCore.Qt.Key.Key_S, QtCore.Qt.KeyboardModifier.ControlModifier)
    saved = json.loads((demo_copy / SIDECAR_NAME).read_text())
    assert saved["edits"][row.key] == {"apex": expected.apex}
    reopened = Dataset.open(demo_copy)
    sample = next(s for s in reopened.samples if s.key == row.key)
    assert (sample.onset, sample.apex) == (row.onset, expected.apex) and sample.edited
    watch.assert_all_end(qtbot)
    assert not watch.failures()


def test_keys_set_onset_apex_offset_at_the_shown_frame(qtbot, demo_copy, tmp_path):
    dataset = Dataset.open(demo_copy)
    sample = next(s for s in dataset.samples if s.offset - s.onset >= 4 and s.apex < s.offset - 1)
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_copy, f"{sample.subject}/{sample.clip}_{sample.onset}")
    window.state.set_frame(sample.apex + 1)
    wait_settled(qtbot, window)
    press(qtbot, window.browser.tree, QtCore.Qt.Key.Key_A, QtCore.Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: window.state.sample is not None
                    and window.state.sample.apex == sample.apex + 1, timeout=20_000)
    assert window.session.edit_of(sample.key).apex == sample.apex + 1
    wait_settled(qtbot, window)
