"""The onset ↔ apex dock: flicker alternates the aligned frames, the difference is apex − onset."""

from __future__ import annotations

import numpy as np

from mer_viewer.qt.views.flicker_view import depth_difference
from tests.gui_helpers import clip_spec, make_window, open_and_wait


def test_flicker_and_difference_of_the_shown_pair(qtbot, demo_corpus, tmp_path):
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_corpus, clip_spec(demo_corpus, 0))
    view, pair = window.onset_apex, window.state.pair
    assert pair is not None and view.pair is pair
    window.docks["onset_apex"].raise_()
    qtbot.waitUntil(lambda: view.seen, timeout=5000)
    view.mode_box.setCurrentText("flicker RGB")
    assert view.timer.isActive()
    seen = set()
    for _ in range(4):
        expected = pair.apex_rgb if view.showing_apex else pair.onset_rgb
        assert np.array_equal(view.image.image, expected)
        seen.add(view.showing_apex)
        qtbot.wait(view.timer.interval() // 2 + 30)
    assert seen == {True, False}
    view.mode_box.setCurrentText("difference depth")
    assert not view.timer.isActive()
    shown = view.image.image
    # independent: apex − onset where both are valid, straight from the pair
    both = (pair.onset_depth_mm > 0) & (pair.apex_depth_mm > 0)
    assert np.allclose(shown[both], (pair.apex_depth_mm - pair.onset_depth_mm)[both])
    assert np.isnan(shown[~both]).all()
    assert np.array_equal(np.isnan(depth_difference(pair)), ~both)
    window.docks["annotation"].raise_()
    qtbot.waitUntil(lambda: not view.seen, timeout=5000)
    view.mode_box.setCurrentText("flicker depth")
    assert not view.timer.isActive()  # hidden: no flicker
