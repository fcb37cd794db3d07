"""Messages in the window (never a crash dialog) and the progress of running jobs with Cancel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from PySide6 import QtCore, QtGui, QtWidgets

from ...core.progress import Progress
from ..infra.workers import JobRunner
from ..views.elided import ElidedLabel

#: how long information stays shown (errors stay until dismissed)
INFO_SECONDS = 8.0
#: kind -> (background, text, border) colours of its banner
STYLES = {"error": ("#5c1f1f", "#ffdede", "#a33"), "info": ("#1f3b5c", "#e0eeff", "#357")}


@dataclass(frozen=True)
class Message:
    """One message shown in the window: when, ``kind`` (``error`` or ``info``) and text."""

    time: datetime
    kind: str
    text: str

    def line(self) -> str:
        return f"{self.time:%H:%M:%S}  {self.kind:<5}  {self.text}"


class _MessageLine(QtWidgets.QFrame):
    """One coloured line of the message bar with its close button."""

    def __init__(self, kind: str, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.kind = kind
        self.setObjectName(f"message_{kind}")
        back, text, border = STYLES[kind]
        me = f"QFrame#message_{kind}"
        self.setStyleSheet(
            f"{me} {{ background:{back}; border:1px solid {border}; border-radius:3px; }}"
            f"{me} QLabel, {me} QToolButton {{ color:{text}; background:transparent; border:none; }}")
        self.label = ElidedLabel(lines=2)
        self.label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_button = QtWidgets.QToolButton(text="✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("dismiss (View → Message log keeps every message)")
        self.close_button.clicked.connect(self.hide)
        self.earlier = QtWidgets.QLabel()  # how many messages this one covers up
        self.covered = 0
        self.earlier.setToolTip("View → Message log lists every message")
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(8, 2, 3, 2)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.earlier)
        lay.addWidget(self.close_button)
        self.hide()

    def show_text(self, text: str) -> None:
        if self.kind == "error":  # information fades anyway: nothing to count
            self.covered = self.covered + 1 if not self.isHidden() else 0
        self.earlier.setText(f"+{self.covered} earlier" if self.covered else "")
        self.label.setText(text)
        self.show()


class MessageBar(QtWidgets.QWidget):
    """Banners over the views: an error (red) stays until the user closes it, information
    (blue) fades after a while; each kind has its own line, so information never hides an
    error. ``log`` keeps every message of the session (the Message log shows it)."""

    posted = QtCore.Signal(object)  # Message

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.lines = {kind: _MessageLine(kind) for kind in ("error", "info")}
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        for line in self.lines.values():
            lay.addWidget(line)
        self._timer = QtCore.QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.lines["info"].hide)
        self.log: list[Message] = []

    def show_message(self, message: str, kind: str = "info", seconds: float | None = None) -> None:
        kind = "error" if kind == "error" else "info"
        entry = Message(datetime.now(), kind, message)
        self.log.append(entry)
        self.lines[kind].show_text(message)
        if kind == "info":
            self._timer.start(int(1000 * (INFO_SECONDS if seconds is None else seconds)))
        self.posted.emit(entry)

    def error(self, message: str) -> None:
        self.show_message(message, "error")

    def info(self, message: str) -> None:
        self.show_message(message, "info")

    @property
    def history(self) -> list[tuple[str, str]]:
        """(kind, text) of every message so far."""
        return [(m.kind, m.text) for m in self.log]

    def shown(self, kind: str) -> str:
        """The text of the ``kind`` line, or "" when it is not shown."""
        line = self.lines[kind]
        return line.label.text() if not line.isHidden() else ""

    @property
    def current(self) -> str:
        """What the bar shows (the error first)."""
        return "\n".join(t for t in (self.shown("error"), self.shown("info")) if t)


class MessageLog(QtWidgets.QDialog):
    """Every message of the session with its time and kind (read-only, copyable)."""

    def __init__(self, bar: MessageBar, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Message log")
        self.resize(720, 360)
        self.view = QtWidgets.QPlainTextEdit(readOnly=True)
        self.view.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.NoWrap)
        self.view.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont))
        copy = QtWidgets.QPushButton("Copy all")
        copy.clicked.connect(lambda: QtWidgets.QApplication.clipboard().setText(self.text()))
        close = QtWidgets.QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(copy)
        buttons.addWidget(close)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addWidget(self.view, 1)
        lay.addLayout(buttons)
        for entry in bar.log:
            self._add(entry)
        bar.posted.connect(self._add)

    def _add(self, entry: Message) -> None:
        self.view.appendPlainText(entry.line())

    def text(self) -> str:
        return self.view.toPlainText()


#: Fusion animates a progress bar at 60 fps while a job runs (stripes, or the busy
#: indicator of a bar without a range, which then never stops). Next to the 3D views'
#: QOpenGLWidget every repaint composes the whole window through OpenGL (with software GL
#: ~15 ms of both cores each), which slowed the job it showed 2–3×: classify took 0.3–0.9 s
#: instead of 0.17 s. Drawn by a style sheet, and hidden until a job says how far it is,
#: the bar changes only when the job makes progress.
STILL_BAR = ("QProgressBar { border: 1px solid palette(mid); border-radius: 2px;"
             " background: palette(base); text-align: center; }"
             "QProgressBar::chunk { background: palette(highlight); }")


class JobStatus(QtWidgets.QWidget):
    """Status-bar widget: the latest running job's message and progress, and a Cancel button."""

    def __init__(self, jobs: JobRunner, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.jobs = jobs
        self.label = QtWidgets.QLabel("")
        self.bar = QtWidgets.QProgressBar()
        self.bar.setMaximumWidth(180)
        self.bar.setMaximumHeight(16)
        self.bar.setStyleSheet(STILL_BAR)
        self.cancel = QtWidgets.QToolButton(text="Cancel")
        self.cancel.setToolTip("stop this job (Esc)")
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.bar)
        lay.addWidget(self.cancel)
        self._shown: str | None = None
        jobs.started.connect(self._on_started)
        jobs.progress.connect(self._on_progress)
        jobs.busyChanged.connect(self._on_busy)
        for signal in (jobs.done, jobs.cancelled):
            signal.connect(lambda name, *_: self._on_ended(name))
        jobs.failed.connect(lambda name, _msg: self._on_ended(name))
        self.cancel.clicked.connect(self.cancel_shown)
        self._on_busy(False)

    def _on_started(self, name: str, label: str) -> None:
        self._shown = name
        self.label.setText(label)
        self.bar.hide()  # until the first progress with a total (the label says what runs)
        self.setVisible(True)

    def _on_progress(self, name: str, record: Progress) -> None:
        if name != self._shown:
            return
        label = self.jobs.label(name)
        self.label.setText(f"{label}: {record.message}" if record.message else label)
        if record.total > 0:
            self.bar.setRange(0, record.total)
            self.bar.setValue(min(record.step, record.total))
            self.bar.show()

    def _on_ended(self, name: str) -> None:
        if name == self._shown:
            remaining = self.jobs.names()
            self._shown = remaining[-1] if remaining else None
            if self._shown:
                self.label.setText(self.jobs.label(self._shown))
                self.bar.hide()

    def _on_busy(self, busy: bool) -> None:
        self.setVisible(busy)
        if not busy:
            self._shown = None

    def cancel_shown(self) -> None:
        if self._shown:
            self.jobs.cancel(self._shown)
