"""Messages in the window (never a crash dialog) and the progress of running jobs with Cancel."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ..core.progress import Progress
from .workers import JobRunner

STYLES = {
    "error": "background:#5c1f1f; color:#ffdede; border:1px solid #a33; border-radius:3px;",
    "info": "background:#1f3b5c; color:#e0eeff; border:1px solid #357; border-radius:3px;",
}


class MessageBar(QtWidgets.QFrame):
    """A banner over the views: errors stay until closed, information fades after a while."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.text = QtWidgets.QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QtWidgets.QToolButton(text="✕")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(8, 3, 3, 3)
        lay.addWidget(self.text, 1)
        lay.addWidget(close)
        self._timer = QtCore.QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.hide)
        self.history: list[tuple[str, str]] = []
        self.hide()

    def show_message(self, message: str, kind: str = "info", seconds: float = 8.0) -> None:
        self.history.append((kind, message))
        self.setStyleSheet(f"QFrame {{{STYLES.get(kind, STYLES['info'])}}}")
        self.text.setText(message)
        self.show()
        if kind == "error":
            self._timer.stop()
        else:
            self._timer.start(int(seconds * 1000))

    def error(self, message: str) -> None:
        self.show_message(message, "error")

    def info(self, message: str) -> None:
        self.show_message(message, "info")

    @property
    def current(self) -> str:
        return self.text.text() if self.isVisible() else ""


class JobStatus(QtWidgets.QWidget):
    """Status-bar widget: the latest running job's message and progress, and a Cancel button."""

    def __init__(self, jobs: JobRunner, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.jobs = jobs
        self.label = QtWidgets.QLabel("")
        self.bar = QtWidgets.QProgressBar()
        self.bar.setMaximumWidth(180)
        self.bar.setMaximumHeight(16)
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
        self.bar.setRange(0, 0)  # busy until the first progress
        self.setVisible(True)

    def _on_progress(self, name: str, record: Progress) -> None:
        if name != self._shown:
            return
        label = self.jobs.label(name)
        self.label.setText(f"{label}: {record.message}" if record.message else label)
        if record.total > 0:
            self.bar.setRange(0, record.total)
            self.bar.setValue(min(record.step, record.total))

    def _on_ended(self, name: str) -> None:
        if name == self._shown:
            remaining = self.jobs.names()
            self._shown = remaining[-1] if remaining else None
            if self._shown:
                self.label.setText(self.jobs.label(self._shown))
                self.bar.setRange(0, 0)

    def _on_busy(self, busy: bool) -> None:
        self.setVisible(busy)
        if not busy:
            self._shown = None

    def cancel_shown(self) -> None:
        if self._shown:
            self.jobs.cancel(self._shown)
