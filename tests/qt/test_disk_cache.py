"""A clip that ``mer preprocess`` cached is shown from the disk cache, computing nothing."""

from __future__ import annotations

import numpy as np

from mer_viewer.core.cache import cached_flow, preprocess
from mer_viewer.core.dataset import Dataset
from tests.gui_helpers import clip_spec, make_window, open_and_wait, wait_settled


def _forbid_computation(monkeypatch):
    import mer_viewer.core.cache as cache
    import mer_viewer.core.flow as flow
    import mer_viewer.core.pipeline as pipeline

    def fail(*_a, **_k):
        raise AssertionError("computed although cached")

    for module, name in ((cache, "align_pair"), (cache, "cloud_from_pair"),
                         (cache, "pair_flow"), (pipeline, "align_pair"),
                         (flow, "optical_flow")):
        monkeypatch.setattr(module, name, fail)


def test_preprocessed_clip_shown_without_alignment_or_flow(qtbot, demo_copy, tmp_path,
                                                           monkeypatch):
    samples = Dataset.open(demo_copy).samples[:2]
    outcomes = list(preprocess(samples, workers=1, flow="dis"))[-1].result
    assert all(o.ok and not o.flow_error for o in outcomes)
    expected = cached_flow(samples[1], method="dis")
    _forbid_computation(monkeypatch)

    window = make_window(qtbot, tmp_path, flow="dis")
    window.prefetch.enabled = False  # the disk path, not clip 1 read ahead into memory
    open_and_wait(qtbot, window, demo_copy, clip_spec(demo_copy, 0))
    window.state.set_row(window.state.dataset.samples[1])  # a first visit
    wait_settled(qtbot, window)
    state, views = window.state, window.views2d
    assert state.sample.id == samples[1].id
    assert state.pair is not None and state.cloud is not None and state.flow is not None
    assert views.frame_shown and views.flow_shown and window.cloud_panel.ready
    assert np.array_equal(views.flow._flow, expected.flow)
    assert [text for kind, text in window.messages.history if kind == "error"] == []
    assert not window.paint_hold.holding and window.updatesEnabled()


def test_paint_hold_ends_by_itself(qtbot, tmp_path):
    from mer_viewer.qt.infra.paint_hold import PaintHold

    window = make_window(qtbot, tmp_path)
    hold = PaintHold(window, hold_ms=50)
    hold.watch([window.views2d], lambda: False)  # never ready: e.g. a clip still computing
    hold.hold()
    assert hold.holding and not window.views2d.updatesEnabled()
    hold.check()
    assert hold.holding
    qtbot.waitUntil(lambda: not hold.holding, timeout=2000)
    assert window.views2d.updatesEnabled()
