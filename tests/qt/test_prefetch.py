"""Reading ahead: after a clip is shown, the next one in the browser is in memory (PgDn is instant)."""

from __future__ import annotations

from mer_viewer.core.cache import preprocess
from mer_viewer.core.dataset import Dataset
from mer_viewer.qt.infra.state import view_key
from tests.gui_helpers import clip_spec, make_window, open_and_wait, wait_settled


def test_next_clip_read_ahead_is_shown_like_a_revisit(qtbot, demo_copy, tmp_path):
    samples = Dataset.open(demo_copy).samples[:3]
    assert all(o.ok for o in list(preprocess(samples, workers=1, flow="dis"))[-1].result)
    window = make_window(qtbot, tmp_path, flow="dis")
    open_and_wait(qtbot, window, demo_copy, clip_spec(demo_copy, 0))
    state, browser = window.state, window.browser
    after = browser.neighbours()[0]
    key = (view_key(after), state.cloud_params)
    qtbot.waitUntil(lambda: window.recent.clip(key) is not None
                    and window.prefetch.idle, timeout=20_000)
    browser.step(1)
    assert state.sample is after
    # frame, cloud, pair, flow and samplings all came from memory within the switch: no job,
    # no hold left for the event loop
    assert not window.jobs.is_running("cloud") and not window.jobs.is_running("flow")
    assert window.views2d.frame_shown and window.views2d.flow_shown and window.cloud_panel.ready
    assert not window.paint_hold.holding
    wait_settled(qtbot, window)


def test_uncached_neighbours_are_not_computed(qtbot, demo_copy, tmp_path):
    window = make_window(qtbot, tmp_path, flow="dis")  # nothing preprocessed
    open_and_wait(qtbot, window, demo_copy, clip_spec(demo_copy, 0))
    window.prefetch.start()
    qtbot.waitUntil(lambda: window.prefetch.idle, timeout=20_000)
    for sample in window.browser.neighbours():
        assert window.recent.clip((view_key(sample), window.state.cloud_params)) is None


def test_a_new_clip_is_sampled_off_the_gui_thread(qtbot, demo_copy, tmp_path, monkeypatch):
    """The cloud job samples sort and random for the 3D views in its worker: on a clip not
    in memory (cached or computed) the GUI thread only draws. FPS stays the panel's job."""
    import threading

    from mer_viewer.core.pipeline import MotionCloud

    samples = Dataset.open(demo_copy).samples[:2]
    assert all(o.ok for o in list(preprocess(samples[:1], workers=1, flow="dis"))[-1].result)
    threads: list[str] = []
    resample = MotionCloud.resample

    def spy(self, params):
        threads.append(threading.current_thread().name)
        return resample(self, params)

    monkeypatch.setattr(MotionCloud, "resample", spy)
    window = make_window(qtbot, tmp_path, flow="dis")
    window.prefetch.enabled = False
    open_and_wait(qtbot, window, demo_copy, clip_spec(demo_copy, 0))  # from the disk cache
    window.state.set_row(samples[1])  # computed: face, alignment, cloud
    qtbot.waitUntil(lambda: window.cloud_panel.ready and window.state.cloud is not None
                    and window.state.cloud.sample_id == samples[1].id, timeout=60_000)
    wait_settled(qtbot, window)
    assert len(threads) == 4  # two clips, two views each
    assert threading.main_thread().name not in threads
    shown = window.cloud_panel.sampled
    assert {side: s.sampling.method for side, s in shown.items()} == {"left": "sort",
                                                                      "right": "random"}
