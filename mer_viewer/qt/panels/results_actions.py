"""The main window's ways into results: open a run, classify the shown clips, open a clicked clip."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ...core.jobs import batch_job


class ResultsActions(QtCore.QObject):
    """File → Open results…, Clip → Classify shown clips…; a prediction clicked in the results
    window selects its clip here, with the checkpoint that made it and its saliency."""

    BATCH_JOB = "classify shown"

    def __init__(self, window, parent: QtCore.QObject | None = None):
        super().__init__(parent or window)
        self.window = window
        self._results = None
        self._cancel = threading.Event()
        window.jobs.done.connect(self._on_done)
        window.jobs.cancelled.connect(lambda name: name == self.BATCH_JOB and self._cancel.set())

    @property
    def results(self):
        """The results window (made on first use)."""
        if self._results is None:
            from .results_window import ResultsWindow

            self._results = ResultsWindow(self.window)
            self._results.clipRequested.connect(self.open_clip)
            self._results.error.connect(self.window.messages.error)
        return self._results

    def add_to_menus(self, file_menu: QtWidgets.QMenu, clip_menu: QtWidgets.QMenu) -> None:
        """File → Open results… (above Quit), Clip → Classify shown clips…"""
        from PySide6 import QtGui

        def action(name: str, text: str, slot) -> QtGui.QAction:
            a = QtGui.QAction(text, self.window)
            a.setObjectName(name)
            a.triggered.connect(lambda *_checked: slot())
            return a

        quit_action = next((a for a in file_menu.actions() if a.objectName() == "quit"), None)
        file_menu.insertAction(quit_action, action("open_results", "Open &results…",
                                                   self.ask_open))
        file_menu.insertSeparator(quit_action)
        clip_menu.addAction(action("classify_shown", "Classify &shown clips…",
                                   self.ask_classify_shown))

    # --- results ---------------------------------------------------------------------------
    def ask_open(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self.window, "Open a run folder (mer train) or an experiment folder")
        if folder:
            self.open(Path(folder))

    def open(self, path: Path, checkpoint: Path | None = None) -> bool:
        ok = self.results.open_path(path, checkpoint)
        if ok:
            self.show()
        return ok

    def show(self) -> None:
        self.results.show()
        self.results.raise_()
        self.results.activateWindow()

    def open_clip(self, sample_id: str, checkpoint: Path | None) -> bool:
        """Select ``sample_id`` in the open dataset, classify it with ``checkpoint`` (the
        Classification panel's model when None) and colour the cloud by saliency."""
        w = self.window
        dataset = w.state.dataset
        if dataset is None:
            w.messages.error(f"{sample_id}: open the dataset of this run first (File → Open)")
            return False
        sample = next((s for s in dataset.samples if s.id == sample_id), None)
        if sample is None:
            w.messages.error(f"{sample_id}: not a sample of the open dataset {dataset.root}")
            return False
        w.state.set_row(sample)
        panel = w.classify_panel
        if checkpoint is not None:
            panel.add_checkpoint(Path(checkpoint))
        panel.saliency_check.setChecked(True)
        w.docks["classify"].raise_()
        panel.classify()
        return True

    # --- batch classification ------------------------------------------------------------
    def shown_samples(self) -> list:
        from ...core.dataset import Sample

        browser = self.window.browser
        rows = [browser.row_at(i) for i in browser.visible_rows()]
        return [r for r in rows if isinstance(r, Sample)]

    def ask_classify_shown(self) -> None:
        samples = self.shown_samples()
        if not samples:
            self.window.messages.error("no loadable clip is shown in the dataset browser")
            return
        name, _ = QtWidgets.QFileDialog.getSaveFileName(
            self.window, f"Classify {len(samples)} clips into", "classified.csv", "CSV (*.csv)")
        if name:
            self.classify_shown(Path(name))

    def classify_shown(self, out: Path) -> None:
        """Classify the clips the browser shows (its filter) with the Classification panel's
        model into the CSV ``out``, in the background; the result opens in the results window."""
        from ...core.ml.classify import bundled_checkpoint

        samples = self.shown_samples()
        path, task = self.window.classify_panel.checkpoint()
        try:
            checkpoint = path or bundled_checkpoint(task)
        except Exception as exc:  # noqa: BLE001 - a missing bundled model: said, not raised
            self.window.messages.error(str(exc))
            return
        cancel = threading.Event()
        # start() cancels a batch still running: that sets the older batch's event
        self.window.jobs.start(self.BATCH_JOB, batch_job(samples, checkpoint, Path(out), cancel),
                               f"classifying {len(samples)} clips")
        self._cancel = cancel

    def _on_done(self, name: str, result) -> None:
        if name != self.BATCH_JOB or not isinstance(result, tuple):
            return
        out, batch = result
        failed = f", {len(batch.failed)} failed" if batch.failed else ""
        self.window.messages.info(f"{len(batch.rows)} clips classified{failed} -> {out}")
        for sample_id, error in batch.failed:
            self.window.messages.error(f"{sample_id}: {error}")
        self.open(out, batch.checkpoint)
