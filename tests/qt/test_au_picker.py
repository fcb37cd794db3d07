"""The AU picker of the annotation panel: valid codes with side prefixes, added as an edit."""

from __future__ import annotations

from mer_viewer.core.dataset.labels import parse_au
from mer_viewer.qt.panels.au_picker import ACTION_UNITS, SIDES, appended
from tests.gui_helpers import clip_spec, make_window, open_and_wait, wait_settled


def _codes(picker) -> list[str]:
    return [a.data() for sub in picker.menu().actions() for a in sub.menu().actions()]


def test_every_picker_entry_parses_and_sides_are_offered(qtbot, tmp_path):
    from mer_viewer.qt.panels.au_picker import AuPicker

    picker = AuPicker()
    qtbot.addWidget(picker)
    codes = _codes(picker)
    assert len(codes) == len(ACTION_UNITS) * len(SIDES)
    assert {"4", "L12", "R12", "T28", "B1"} <= set(codes)
    for code in codes:
        assert parse_au(code) == (code,)
    assert appended("", "4") == "4" and appended("L2 + L1", "4") == "L2+L1+4"
    assert appended("4+7", "4") == "4+7"


def test_picking_adds_the_au_as_an_undoable_edit(qtbot, demo_copy, tmp_path):
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_copy, clip_spec(demo_copy, 0))
    panel, session = window.annotation, window.session
    sample = window.state.sample
    action = next(a for sub in panel.au_picker.menu().actions() for a in sub.menu().actions()
                  if a.data() == "L14")
    action.trigger()
    expected = "+".join((*sample.au, "L14"))
    assert session.edit_of(sample.key).au == expected
    qtbot.waitUntil(lambda: window.state.sample.au == (*sample.au, "L14"), timeout=10_000)
    assert panel.au.text() == expected
    session.undo.undo()
    qtbot.waitUntil(lambda: window.state.sample.au == sample.au, timeout=10_000)
    wait_settled(qtbot, window)
