"""Frame scrubber over a clip: onset/apex/offset markers, stepping and playback."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

MARKERS = {"onset": QtGui.QColor(60, 200, 90), "apex": QtGui.QColor(235, 70, 60),
           "offset": QtGui.QColor(70, 140, 255)}


class FrameTrack(QtWidgets.QWidget):
    """The bar itself: a position handle and labelled ticks for onset, apex and offset."""

    frameRequested = QtCore.Signal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setMinimumHeight(34)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding,
                           QtWidgets.QSizePolicy.Policy.Fixed)
        self.setCursor(QtCore.Qt.CursorShape.PointingHandCursor)
        self.first, self.last, self.frame = 1, 1, 1
        self.markers: dict[str, int] = {}

    def set_range(self, first: int, last: int) -> None:
        self.first, self.last = first, max(first, last)
        self.update()

    def set_markers(self, markers: dict[str, int]) -> None:
        self.markers = {k: v for k, v in markers.items() if v and v > 0}
        self.update()

    def set_frame(self, frame: int) -> None:
        self.frame = frame
        self.update()

    def x_of(self, frame: int) -> float:
        """Widget x of ``frame`` (markers and handle are drawn there)."""
        span = max(1, self.last - self.first)
        return 8 + (frame - self.first) / span * (self.width() - 16)

    def frame_at(self, x: float) -> int:
        span = max(1, self.last - self.first)
        t = (x - 8) / max(1.0, self.width() - 16)
        return int(round(self.first + min(1.0, max(0.0, t)) * span))

    def paintEvent(self, _event) -> None:
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        mid = 12
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(self.palette().color(QtGui.QPalette.ColorRole.Mid))
        p.drawRoundedRect(QtCore.QRectF(8, mid - 3, self.width() - 16, 6), 3, 3)
        onset, apex = self.markers.get("onset"), self.markers.get("apex")
        if onset and apex and apex > onset:
            p.setBrush(QtGui.QColor(235, 70, 60, 90))
            p.drawRect(QtCore.QRectF(self.x_of(onset), mid - 3,
                                     self.x_of(apex) - self.x_of(onset), 6))
        font = p.font()
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.8))
        p.setFont(font)
        for name, frame in self.markers.items():
            x = self.x_of(frame)
            color = MARKERS[name]
            p.setPen(QtGui.QPen(color, 2))
            p.drawLine(QtCore.QPointF(x, mid - 8), QtCore.QPointF(x, mid + 8))
            p.drawText(QtCore.QRectF(x - 20, mid + 8, 40, 14),
                       QtCore.Qt.AlignmentFlag.AlignHCenter, name[0].upper())
        x = self.x_of(self.frame)
        p.setPen(QtGui.QPen(self.palette().color(QtGui.QPalette.ColorRole.Text), 1))
        p.setBrush(self.palette().color(QtGui.QPalette.ColorRole.Highlight))
        p.drawEllipse(QtCore.QPointF(x, mid), 6, 6)
        p.end()

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        self.frameRequested.emit(self.frame_at(event.position().x()))

    def mouseMoveEvent(self, event: QtGui.QMouseEvent) -> None:
        if event.buttons() & QtCore.Qt.MouseButton.LeftButton:
            self.frameRequested.emit(self.frame_at(event.position().x()))


class FrameScrubber(QtWidgets.QWidget):
    """Play button, step buttons, the track and a label; ``frameRequested(n)`` asks for a frame.

    Playback advances one frame per tick of ``fps`` and stops at the last frame.
    """

    frameRequested = QtCore.Signal(int)
    stepRequested = QtCore.Signal(int)
    playingChanged = QtCore.Signal(bool)

    def __init__(self, parent: QtWidgets.QWidget | None = None, fps: float = 30.0):
        super().__init__(parent)
        style = self.style()
        self.play_button = QtWidgets.QToolButton(checkable=True)
        self.play_button.setIcon(style.standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaPlay))
        self.play_button.setToolTip("play / pause (Space)")
        self.back_button = QtWidgets.QToolButton(text="◀")
        self.back_button.setToolTip("previous frame (←)")
        self.next_button = QtWidgets.QToolButton(text="▶")
        self.next_button.setToolTip("next frame (→)")
        self.track = FrameTrack()
        self.label = QtWidgets.QLabel("no clip")
        self.label.setMinimumWidth(210)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        for w in (self.play_button, self.back_button, self.track, self.next_button, self.label):
            lay.addWidget(w)
        self.timer = QtCore.QTimer(self, interval=int(1000 / fps))
        self.timer.timeout.connect(self._tick)
        self.track.frameRequested.connect(self.frameRequested)
        self.back_button.clicked.connect(lambda: self.stepRequested.emit(-1))
        self.next_button.clicked.connect(lambda: self.stepRequested.emit(1))
        self.play_button.toggled.connect(self.set_playing)
        self._frames: list[int] = []

    def set_clip(self, frames: list[int], onset: int = 0, apex: int = 0, offset: int = 0) -> None:
        self.set_playing(False)
        self._frames = list(frames)
        if frames:
            self.track.set_range(frames[0], frames[-1])
        self.set_markers(onset, apex, offset)

    def set_markers(self, onset: int, apex: int, offset: int) -> None:
        self.track.set_markers({"onset": onset, "apex": apex, "offset": offset})
        self._update_label()

    def set_frame(self, frame: int) -> None:
        self.track.set_frame(frame)
        self._update_label()

    def _update_label(self) -> None:
        if not self._frames:
            self.label.setText("no clip")
            return
        frame, marks = self.track.frame, self.track.markers
        where = [name for name, n in marks.items() if n == frame]
        rel = f"onset{frame - marks['onset']:+d}" if "onset" in marks and not where else ""
        tag = ", ".join(where) or rel
        self.label.setText(f"frame {frame}  ({tag})  of {self._frames[0]}–{self._frames[-1]}")

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def set_playing(self, playing: bool) -> None:
        playing = playing and len(self._frames) > 1
        changed = playing != self.timer.isActive()
        if changed and playing:
            if self.track.frame >= self._frames[-1]:
                self.frameRequested.emit(self._frames[0])
            self.timer.start()
        elif changed:
            self.timer.stop()
        self._show_playing()
        if changed:
            self.playingChanged.emit(playing)

    def _show_playing(self) -> None:
        """The button's state and icon say whether playback runs, whatever asked for it."""
        playing = self.timer.isActive()
        with QtCore.QSignalBlocker(self.play_button):
            self.play_button.setChecked(playing)
        icon = (QtWidgets.QStyle.StandardPixmap.SP_MediaPause if playing
                else QtWidgets.QStyle.StandardPixmap.SP_MediaPlay)
        self.play_button.setIcon(self.style().standardIcon(icon))
        self.play_button.setToolTip(("pause" if playing else "play") + " (Space)")

    def toggle_playing(self) -> None:
        self.set_playing(not self.playing)

    def _tick(self) -> None:
        if not self._frames or self.track.frame >= self._frames[-1]:
            self.set_playing(False)
            return
        self.stepRequested.emit(1)
