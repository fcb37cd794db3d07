"""Unreadable frames and failed clips: nothing of the previous frame or clip stays shown,
the failure is said where the frame would be and in red above the views, playback goes on."""

from __future__ import annotations

from PySide6 import QtWidgets

from mer_viewer.core.dataset import Dataset, Skipped
from mer_viewer.qt.views.motion_views import HEAT_LEVELS
from tests.gui_helpers import clip_spec, damage_frames, make_window, open_and_wait, wait_settled


def _icon_is(button, pixmap) -> bool:
    icon = button.style().standardIcon(pixmap)
    return button.icon().pixmap(16).toImage() == icon.pixmap(16).toImage()


def test_playback_goes_on_across_unreadable_frames(qtbot, demo_copy, tmp_path):
    sample = Dataset.open(demo_copy).samples[0]
    numbers = sample.frames.numbers
    middle = [n for n in numbers[1:-1] if n not in (sample.onset, sample.apex)]
    bad_color, bad_depth = middle[0], middle[-1]
    assert bad_color != bad_depth
    damage_frames(sample, color=(bad_color,), depth=(bad_depth,))
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_copy, clip_spec(demo_copy, 0))
    state, views, scrubber = window.state, window.views2d, window.views2d.scrubber
    assert views.rgb.has_image and views.depth.has_image

    # an unreadable frame: no image of the frame before it, a notice, a red message
    state.set_frame(bad_depth)
    wait_settled(qtbot, window)  # the failed frame counts as shown
    assert views.frame_shown and state.frame == bad_depth
    for panel in (views.rgb, views.depth):
        assert not panel.has_image and f"frame {bad_depth} cannot be read" in panel.notice_text
    assert not views.heat.has_image
    assert f"frame {bad_depth} of {sample.id}" in window.messages.shown("error")
    assert "depth" in window.messages.shown("error")  # which file, and what is wrong with it

    # playback from the first frame runs across both broken frames to the last one
    state.set_frame(numbers[0])
    wait_settled(qtbot, window)
    seen: list[int] = []
    state.frameChanged.connect(seen.append)
    scrubber.set_playing(True)
    assert _icon_is(scrubber.play_button, QtWidgets.QStyle.StandardPixmap.SP_MediaPause)
    qtbot.waitUntil(lambda: not scrubber.playing, timeout=30_000)
    assert seen == numbers[1:] and state.frame == numbers[-1]
    assert _icon_is(scrubber.play_button, QtWidgets.QStyle.StandardPixmap.SP_MediaPlay)
    assert not scrubber.play_button.isChecked()
    wait_settled(qtbot, window)
    assert views.rgb.has_image and views.rgb.notice_text == "" and views.depth.has_image
    errors = [text for kind, text in window.messages.history if kind == "error"]
    assert any(f"frame {bad_color} of" in text and "colour" in text for text in errors)


def test_nothing_of_the_last_clip_stays_after_a_skipped_row_or_a_failed_clip(
        qtbot, demo_copy, tmp_path):
    dataset = Dataset.open(demo_copy)
    broken = dataset.samples[1]
    damage_frames(broken, color=(broken.onset,))
    window = make_window(qtbot, tmp_path)
    open_and_wait(qtbot, window, demo_copy, clip_spec(demo_copy, 0))
    state, views, cloud_panel = window.state, window.views2d, window.cloud_panel
    a_titles = {side: label.text() for side, label in cloud_panel.titles.items()}
    a_heat_levels = views.heat.bar.levels()
    a_legend = cloud_panel.legend.r_max_mm
    assert a_legend and "max" in views.flow.detail.text()
    assert tuple(a_heat_levels) != HEAT_LEVELS
    state.pick_point(len(state.cloud) // 2)
    for panel in views.panels:  # the mouse was over each panel: readouts with A's values
        panel.readout.setText(panel.describe(*(int(x) for x in panel.marker)))
    assert "RGB (" in views.rgb.readout.text() and "depth" in views.depth.readout.text()

    def nothing_of_a():
        for panel in views.panels:
            assert not panel.has_image, panel.objectName()
            assert panel.marker is None
        assert views.flow.detail.text() == ""
        assert tuple(views.heat.bar.levels()) == HEAT_LEVELS
        assert views.heat.heat.image is None
        for panel in (views.heat, views.depth, views.flow):
            assert panel.readout.text().strip() == ""
        for side, label in cloud_panel.titles.items():
            assert label.text() != a_titles[side]
        assert cloud_panel.legend.r_max_mm is None
        assert "0.3 mm noise floor" in cloud_panel.legend.text()
        assert "picked" not in cloud_panel.info.text()
        for view in cloud_panel.views.values():
            assert len(view.points) == 0

    skipped = next(row for row in dataset.skipped if isinstance(row, Skipped))
    state.set_row(skipped)
    wait_settled(qtbot, window)
    nothing_of_a()
    assert views.rgb.readout.text().strip() == ""

    state.set_row(broken)
    wait_settled(qtbot, window)
    nothing_of_a()
    assert f"frame {broken.onset} cannot be read" in views.rgb.notice_text
    assert "no cloud" in cloud_panel.titles["left"].text()
    assert str(broken.frames.color_path(broken.onset)) in window.messages.shown("error")
