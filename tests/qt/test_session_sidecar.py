"""The GUI and the sidecar: an unreadable one is set aside on request (never deleted) and the
dataset opens; a save that would overwrite another editor's row is refused with a message."""

from __future__ import annotations

import json

from PySide6 import QtWidgets

from mer_viewer.core.dataset.edits import SIDECAR_NAME, EditStore, SampleEdit
from tests.gui_helpers import clip_spec, make_window, open_and_wait

BROKEN = b'{"format": "mer_viewer.annotations", "version": 1, "edits": {"x": {"exclude": "no"}}}'


def _answer(monkeypatch, button):
    asked = []

    def question(parent, title, text, *args, **kwargs):
        asked.append(text)
        return button

    monkeypatch.setattr(QtWidgets.QMessageBox, "question", question)
    return asked


def test_unreadable_sidecar_set_aside_and_the_dataset_opens(qtbot, demo_copy, tmp_path,
                                                           monkeypatch):
    clip = clip_spec(demo_copy, 0)
    sidecar = demo_copy / SIDECAR_NAME
    sidecar.write_bytes(BROKEN)
    asked = _answer(monkeypatch, QtWidgets.QMessageBox.StandardButton.Yes)
    window = make_window(qtbot, tmp_path)
    messages = []
    window.session.message.connect(messages.append)
    open_and_wait(qtbot, window, demo_copy, clip)
    assert len(asked) == 1 and "x.exclude must be true or false" in asked[0]
    assert window.state.dataset is not None and window.state.dataset.samples
    assert not sidecar.exists()
    (moved,) = demo_copy.glob(f"{SIDECAR_NAME}.unreadable-*")
    assert moved.read_bytes() == BROKEN  # renamed, never deleted
    assert any("set aside" in m and str(moved) in m for m in messages)


def test_cancel_leaves_the_sidecar_and_opens_nothing(qtbot, demo_copy, tmp_path, monkeypatch):
    sidecar = demo_copy / SIDECAR_NAME
    sidecar.write_bytes(BROKEN)
    _answer(monkeypatch, QtWidgets.QMessageBox.StandardButton.Cancel)
    window = make_window(qtbot, tmp_path)
    errors = []
    window.session.error.connect(errors.append)
    window.open_dataset(demo_copy)
    qtbot.wait(200)
    assert window.state.dataset is None and not window.jobs.names()
    assert sidecar.read_bytes() == BROKEN and not list(demo_copy.glob("*.unreadable-*"))
    assert any("not opened" in m and SIDECAR_NAME in m for m in errors)
    assert "not opened" in window.messages.shown("error")  # red, until dismissed


def test_save_refused_when_another_editor_changed_the_row(qtbot, demo_copy, tmp_path):
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_copy, clip_spec(demo_copy, 0))
    session, panel = window.session, window.annotation
    key, apex = window.state.sample.key, window.state.sample.apex
    session.set_edit(key, SampleEdit(apex=apex + 1), "apex")
    other = EditStore.load(demo_copy)  # a second editor of the same dataset saves first
    other.set(key, SampleEdit(apex=apex + 2))
    other.save()
    theirs = (demo_copy / SIDECAR_NAME).read_bytes()
    failures, errors = [], []
    session.saveFailed.connect(failures.append)
    session.error.connect(errors.append)
    panel.save()  # no exception out of the slot
    assert len(failures) == 1 and "changed by someone else" in failures[0] and key in failures[0]
    assert any("could not save" in m and key in m for m in errors)
    assert "could not save" in window.messages.shown("error")
    assert (demo_copy / SIDECAR_NAME).read_bytes() == theirs  # their edit kept
    assert session.dirty and session.edit_of(key).apex == apex + 1  # ours kept, unsaved


def test_save_merges_another_editors_other_rows(qtbot, demo_copy, tmp_path):
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_copy, clip_spec(demo_copy, 0))
    session = window.session
    key = window.state.sample.key
    other_key = next(s.key for s in window.state.dataset.samples if s.key != key)
    session.set_edit(key, SampleEdit(notes="ours"), "notes")
    other = EditStore.load(demo_copy)
    other.set(other_key, SampleEdit(notes="theirs"))
    other.save()
    assert session.save() is not None and not session.dirty
    edits = json.loads((demo_copy / SIDECAR_NAME).read_text())["edits"]
    assert edits == {key: {"notes": "ours"}, other_key: {"notes": "theirs"}}
    assert session.edit_of(other_key).notes == "theirs"
    qtbot.waitUntil(lambda: next(s for s in window.state.dataset.samples
                                 if s.key == other_key).notes == "theirs", timeout=60_000)
