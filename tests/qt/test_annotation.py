"""Annotation edits: undo/redo, atomic sidecar save that never touches the sheet, reopen, export."""

from __future__ import annotations

import json
import os
import sys

import pandas as pd

from mer_viewer.core.dataset import Dataset, Skipped
from mer_viewer.core.dataset.edits import SIDECAR_NAME
from tests.gui_helpers import clip_spec, make_window, open_and_wait, wait_settled

SHEET = "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"


def _sheet_fingerprint(root):
    path = root / SHEET
    return path.read_bytes(), path.stat().st_mtime_ns


def test_edit_undo_redo_save_reopen(qtbot, demo_copy, tmp_path, monkeypatch):
    before = _sheet_fingerprint(demo_copy)
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_copy, clip_spec(demo_copy, 0))
    state, panel, session = window.state, window.annotation, window.session
    sample = state.sample
    key, apex = sample.key, sample.apex
    cloud_before = state.cloud

    # a corrected apex feeds the loader: the sample and its cloud change
    panel.frames["apex"].setValue(apex + 1)
    assert session.undo.count() == 1 and session.dirty
    qtbot.waitUntil(lambda: state.sample is not None and state.sample.apex == apex + 1,
                    timeout=10_000)
    wait_settled(qtbot, window)
    assert state.sample.edited and state.cloud is not cloud_before
    assert state.cloud.sample_id == state.sample.id
    assert window.browser.current_row().key == key
    assert "edited" in window.browser.summary.text() or window.browser.current_row().edited

    session.undo.undo()
    assert session.edit_of(key) is None and panel.frames["apex"].value() == apex
    qtbot.waitUntil(lambda: state.sample.apex == apex, timeout=10_000)
    session.undo.redo()
    assert session.edit_of(key).apex == apex + 1
    qtbot.waitUntil(lambda: state.sample.apex == apex + 1, timeout=10_000)

    # the offset from the scrubber, then a note (one undo step each)
    last = state.frames()[-1]
    state.set_frame(last)
    panel.set_buttons["offset"].click()
    assert session.edit_of(key).offset == last
    panel.notes.setPlainText("brow raise starts early")
    panel._flush_notes()
    assert session.edit_of(key).notes == "brow raise starts early"
    assert session.undo.count() == 3

    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (replaced.append((str(a), str(b))),
                                                     real_replace(a, b))[1])
    panel.save()
    monkeypatch.setattr(os, "replace", real_replace)
    sidecar = demo_copy / SIDECAR_NAME
    assert [b for _, b in replaced] == [str(sidecar)]  # written to a temp file, then renamed
    src = replaced[0][0]
    assert os.path.dirname(src) == str(demo_copy) and not os.path.exists(src)
    assert not [p for p in demo_copy.iterdir() if p.name.startswith(".tmp-")]
    data = json.loads(sidecar.read_text())
    assert data["format"] == "mer_viewer.annotations" and data["version"] == 1
    assert data["edits"][key] == {"apex": apex + 1, "offset": last,
                                  "notes": "brow raise starts early"}
    assert not session.dirty
    assert _sheet_fingerprint(demo_copy) == before  # the user's sheet is never written

    reopened = Dataset.open(demo_copy)
    again = next(s for s in reopened.samples if s.key == key)
    assert again.apex == apex + 1 and again.offset == last and again.edited

    # a fresh window shows the saved edit
    other = make_window(qtbot, tmp_path / "other")
    open_and_wait(qtbot, other, demo_copy, clip_spec(demo_copy, 0))
    assert other.annotation.frames["apex"].value() == apex + 1
    assert "edited" in other.annotation.status.text()


def test_exclude_and_export_merged(qtbot, demo_copy, tmp_path):
    before = _sheet_fingerprint(demo_copy)
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_copy, clip_spec(demo_copy, 1))
    state, panel, session = window.state, window.annotation, window.session
    key = state.sample.key
    panel.reason.setText("hand over the mouth")
    panel.reason.editingFinished.emit()
    panel.exclude.setChecked(True)
    qtbot.waitUntil(lambda: isinstance(state.row, Skipped), timeout=10_000)
    assert "excluded: hand over the mouth" in state.row.reason
    assert state.sample is None and state.row.key == key
    assert window.browser.current_row().key == key  # still selected, now a skipped row

    out = tmp_path / "merged.csv"
    session.export(out)
    qtbot.waitUntil(lambda: out.exists() and not window.jobs.busy, timeout=10_000)
    table = pd.read_csv(out)
    sample = next(s for s in Dataset.open(demo_copy, edits=None).samples if s.key == key)
    row = table[(table["Subject"] == sample.subject)
                & (table["Filename"].astype(str).str.lower() == sample.clip.lower())
                & (table["Onset"] == sample.onset)].iloc[0]
    assert bool(row["edited"]) and bool(row["excluded"])
    assert row["exclude_reason"] == "hand over the mouth"
    assert _sheet_fingerprint(demo_copy) == before
    assert not (demo_copy / SIDECAR_NAME).exists()  # nothing saved yet


def test_close_after_discard_is_quiet(qtbot, demo_copy, tmp_path, monkeypatch):
    """Discarding unsaved edits on close, then the window going away, raises nothing
    (it used to print "Internal C++ object (QUndoStack) already deleted")."""
    import shiboken6
    from PySide6 import QtCore, QtWidgets

    from mer_viewer.qt.main_window import MainWindow

    settings = QtCore.QSettings(str(tmp_path / "mer-viewer.ini"), QtCore.QSettings.Format.IniFormat)
    window = MainWindow(settings, restore=False)  # not qtbot's: this test deletes it itself
    window.views2d.flow.method_box.setCurrentText("dis")
    window.show()
    open_and_wait(qtbot, window, demo_copy, clip_spec(demo_copy, 0))
    window.annotation.frames["apex"].setValue(window.state.sample.apex + 1)
    assert window.session.dirty
    asked = []
    discard = QtWidgets.QMessageBox.StandardButton.Discard
    monkeypatch.setattr(QtWidgets.QMessageBox, "question",
                        lambda *args, **kwargs: asked.append(args) or discard)
    raised = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: raised.append(exc))
    monkeypatch.setattr(sys, "unraisablehook", lambda info: raised.append(info))
    assert window.close() and asked
    shiboken6.delete(window)  # as at the app's exit: the window and its children are destroyed
    qtbot.wait(50)
    assert raised == []


def test_frame_boxes_keep_to_the_clip_and_a_skipping_edit_asks(qtbot, demo_copy, tmp_path,
                                                               monkeypatch):
    from PySide6 import QtWidgets

    dataset = Dataset.open(demo_copy)
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_copy, clip_spec(demo_copy, 1))
    state, panel, session = window.state, window.annotation, window.session
    sample = state.sample
    numbers, spins = sample.frames.numbers, panel.frames
    assert sample.offset > sample.apex > sample.onset  # a known offset to step past
    for name in ("onset", "apex"):
        assert (spins[name].minimum(), spins[name].maximum()) == (numbers[0], numbers[-1])
    assert (spins["offset"].minimum(), spins["offset"].maximum()) == (0, numbers[-1])
    assert spins["apex"].value() == sample.apex

    asked: list[str] = []
    answer = QtWidgets.QMessageBox.StandardButton.No
    monkeypatch.setattr(QtWidgets.QMessageBox, "question",
                        lambda *args, **kwargs: asked.append(args[2]) or answer)
    later = next(n for n in numbers if n > sample.offset)
    spins["apex"].setValue(later)  # after the offset: the sample would be skipped
    assert len(asked) == 1 and "apex after offset" in asked[0]
    assert spins["apex"].value() == sample.apex  # "No" puts the value back
    assert session.edit_of(sample.key) is None and not session.dirty
    spins["onset"].setValue(sample.apex)  # onset on the apex
    assert len(asked) == 2 and "onset equals apex" in asked[1]
    assert spins["onset"].value() == sample.onset and not session.dirty
    spins["apex"].setValue(sample.offset)  # still within onset..offset: no question
    assert len(asked) == 2 and session.edit_of(sample.key).apex == sample.offset

    answer = QtWidgets.QMessageBox.StandardButton.Yes
    spins["apex"].setValue(later)
    assert len(asked) == 3 and session.edit_of(sample.key).apex == later
    qtbot.waitUntil(lambda: isinstance(state.row, Skipped), timeout=10_000)
    assert "apex after offset" in state.row.reason and state.row.key == sample.key
    # the skipped row's frames still bound its boxes; a row without frames gets a wide range
    assert (spins["apex"].minimum(), spins["apex"].maximum()) == (numbers[0], numbers[-1])
    assert spins["apex"].value() == later
    no_folder = next(r for r in dataset.skipped if "no folder" in r.reason)
    state.set_row(no_folder)
    assert spins["apex"].minimum() == 0 and spins["apex"].maximum() >= 99_999
