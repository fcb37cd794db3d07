"""``--classify``: once the clip is shown, press C as a user would, print the result, quit."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PySide6 import QtCore

#: ``--classify`` values that pick a bundled model (the Classification panel's entries).
BUNDLED_CHOICES = {"3": "bundled 3-class", "4": "bundled 4-class"}


class ScriptedClassify(QtCore.QObject):
    """Waits until the window has settled on its clip, triggers the panel's classify (the
    action behind C: saliency on), and on the job's end prints one JSON line on stdout
    (``subject, clip, onset, predicted, probabilities, true, checkpoint``) or a one-line
    error on stderr; then calls ``finished(ok)``.

    ``model``: ``None`` for the panel's current model, ``"3"``/``"4"`` for a bundled one,
    else the path of a checkpoint.
    """

    def __init__(self, window, model: str | None, finished: Callable[[bool], None],
                 timeout_s: float = 600.0, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.window, self.model, self._finished = window, model, finished
        self.deadline = time.monotonic() + timeout_s
        self.ok: bool | None = None
        self.result = None
        self._streak = 0
        self._pressed = False
        self._errors_before = 0
        self._timer = QtCore.QTimer(self, interval=100)
        self._timer.timeout.connect(self._poll)
        window.jobs.done.connect(self._on_done)
        window.jobs.failed.connect(self._on_failed)
        window.jobs.cancelled.connect(self._on_cancelled)

    def start(self) -> None:
        self._choose_model()
        self._timer.start()

    def _choose_model(self) -> None:
        panel = self.window.classify_panel
        if self.model is None:
            return
        if self.model in BUNDLED_CHOICES:
            panel.model_box.setCurrentText(BUNDLED_CHOICES[self.model])
        else:
            panel.add_checkpoint(Path(self.model).expanduser().resolve())
        panel.saliency_check.setChecked(True)

    # --- waiting, then pressing C --------------------------------------------------------------
    def _poll(self) -> None:
        from .screenshot import settled

        if self._pressed:
            if time.monotonic() > self.deadline:
                self._end(False, "classification still running after the time limit")
            return
        if time.monotonic() > self.deadline:
            self._end(False, "the clip was still loading after the time limit")
            return
        self._streak = self._streak + 1 if settled(self.window) else 0
        if self._streak < 3:
            return
        window = self.window
        if window.state.sample is None:
            self._end(False, self._why_no_clip())
            return
        self._pressed = True
        window.classify_panel.saliency_check.setChecked(True)
        window.classify_panel.classify()

    def _why_no_clip(self) -> str:
        window = self.window
        errors = [text for kind, text in window.messages.history if kind == "error"]
        if errors:
            return errors[-1]
        if window.state.dataset is None:
            return "no dataset is open"
        if window.state.row is not None:
            return f"{window.state.row.subject}/{window.state.row.clip} is a skipped row: " \
                   f"{getattr(window.state.row, 'reason', 'not a sample')}"
        last = window.messages.history[-1][1] if window.messages.history else ""
        return last or "no clip is selected"

    # --- the job's end -------------------------------------------------------------------------
    def _on_done(self, name: str, _result) -> None:
        panel = self.window.classify_panel
        if not self._pressed or self.ok is not None or name != panel.JOB:
            return
        result = panel.result
        if result is None:
            self._end(False, "the classification ended without a result")
            return
        self.result = result
        sample = self.window.state.sample
        line = {"subject": sample.subject, "clip": sample.clip, "onset": sample.onset,
                "predicted": result.predicted, "probabilities": result.probabilities,
                "true": result.true, "checkpoint": str(result.checkpoint)}
        print(json.dumps(line, ensure_ascii=False), flush=True)
        self._end(True)

    def _on_failed(self, name: str, message: str) -> None:
        if self._pressed and self.ok is None and name == self.window.classify_panel.JOB:
            self._end(False, message)

    def _on_cancelled(self, name: str) -> None:
        if self._pressed and self.ok is None and name == self.window.classify_panel.JOB:
            self._end(False, "the classification was cancelled")

    def _end(self, ok: bool, error: str = "") -> None:
        self._timer.stop()
        self.ok = ok
        if error:
            print(f"mer-viewer: error: {error}", file=sys.stderr, flush=True)
        self._finished(ok)
