"""Frame scrubber: markers where the annotation says, clicks ask for frames, playback."""

from __future__ import annotations

from PySide6 import QtCore

from mer_viewer.qt.views.scrubber import FrameScrubber


def test_markers_follow_the_annotation(qtbot):
    scrubber = FrameScrubber()
    qtbot.addWidget(scrubber)
    scrubber.resize(600, 40)
    scrubber.show()
    scrubber.set_clip(list(range(100, 141)), onset=105, apex=120, offset=135)
    track = scrubber.track
    assert track.markers == {"onset": 105, "apex": 120, "offset": 135}
    xs = [track.x_of(track.markers[k]) for k in ("onset", "apex", "offset")]
    assert xs[0] < xs[1] < xs[2]
    assert track.frame_at(xs[1]) == 120  # the marker sits on its frame
    scrubber.set_frame(120)
    assert "apex" in scrubber.label.text()
    scrubber.set_markers(105, 0, 0)  # unknown apex/offset: no marker
    assert set(track.markers) == {"onset"}


def test_click_requests_frame_and_playback_steps(qtbot):
    scrubber = FrameScrubber(fps=100)
    qtbot.addWidget(scrubber)
    scrubber.resize(600, 40)
    scrubber.show()
    frames = list(range(1, 11))
    scrubber.set_clip(frames, 2, 5, 9)
    scrubber.set_frame(1)
    with qtbot.waitSignal(scrubber.frameRequested) as blocker:
        x = int(scrubber.track.x_of(7))
        qtbot.mouseClick(scrubber.track, QtCore.Qt.MouseButton.LeftButton,
                         pos=QtCore.QPoint(x, 10))
    assert blocker.args == [7]

    steps = []

    def step(delta):
        steps.append(delta)
        scrubber.set_frame(scrubber.track.frame + delta)

    scrubber.stepRequested.connect(step)
    scrubber.set_frame(7)
    scrubber.set_playing(True)
    assert scrubber.playing
    qtbot.waitUntil(lambda: not scrubber.playing, timeout=3000)  # stops at the last frame
    assert scrubber.track.frame == 10 and steps == [1, 1, 1]
