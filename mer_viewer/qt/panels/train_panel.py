"""Training panel: configure a run, train in the background, live loss; results in a window."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ...core.jobs import training_job, with_macro_sheet
from ...core.paths import data_dir
from ...core.progress import Progress
from ..infra.state import ViewerState
from ..infra.workers import JobRunner
from .run_views import CurvesView, ResultsView, RunWindow
from .train_form import TrainForm


def _fold_labels(folder: Path) -> list[str] | None:
    """``test spNO.1`` per fold of ``folds.json`` (None without one: the curves number them)."""
    try:
        folds = json.loads((folder / "folds.json").read_text())
        return [f"test {', '.join(f['test'])}" for f in folds]
    except (OSError, ValueError, KeyError, TypeError):
        return None


class TrainPanel(QtWidgets.QWidget):
    """Every training option of ``mer train`` (``TrainForm``; each field also an attribute
    named as the option: ``panel.epochs``) and the output folder; Start/Cancel; progress
    and compact live curves. A finished (or opened) run opens in ``run_window``."""

    JOB = "train"
    checkpointReady = QtCore.Signal(object)  # Path of model.pt / a fold checkpoint

    def __init__(self, state: ViewerState, jobs: JobRunner,
                 parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.state, self.jobs = state, jobs
        self.form = TrainForm()
        for name, field in self.form.fields.items():  # panel.epochs, panel.model, …
            assert not hasattr(self, name), name
            setattr(self, name, field)
        self.out = QtWidgets.QLineEdit()
        self.out.setPlaceholderText("run folder (default: new, in the data dir)")
        self.cluster = QtWidgets.QLineEdit()  # empty: in this process
        self.cluster.setPlaceholderText("cluster address")
        self.cluster.setToolTip("Cluster address: empty trains in this process; local starts "
                                "Ray on this machine, auto or HOST:PORT joins a Ray cluster "
                                "(every fold a task; pip install mer-viewer[cluster])")
        self.cluster.setMaximumWidth(110)
        self.out.setMinimumWidth(120)
        browse = QtWidgets.QToolButton(text="…")
        browse.clicked.connect(self._ask_out)
        self.start_button = QtWidgets.QPushButton("Train")
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.open_button = QtWidgets.QPushButton("Open run…")
        self.results_button = QtWidgets.QPushButton("Run window…")
        self.results_button.setToolTip("the running run's curves, or the last finished or "
                                       "opened run: metrics, confusion matrix, curves")
        self.results_button.setEnabled(False)
        self.progress = QtWidgets.QProgressBar()
        self.status = QtWidgets.QLabel("idle")
        # one line, cut at the panel's edge: a wrapping label makes the scroll area size the
        # panel by its preferred height, which pushed the live curve out of sight
        self.status.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                                  QtWidgets.QSizePolicy.Policy.Preferred)
        self.status.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.curves = CurvesView(compact=True)
        self.run_window = RunWindow(self)

        out_row = QtWidgets.QHBoxLayout()
        out_row.addWidget(self.out, 1)
        out_row.addWidget(browse)
        out_row.addWidget(self.cluster)
        for w in (self.start_button, self.cancel_button, self.open_button, self.results_button):
            out_row.addWidget(w)
        progress_row = QtWidgets.QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.status, 3)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(3)
        lay.addWidget(self.form)  # three settings a row: the dock is short, the curve needs the rest
        lay.addLayout(out_row)
        lay.addLayout(progress_row)
        lay.addWidget(self.curves, 1)

        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button.clicked.connect(self._ask_run)
        self.results_button.clicked.connect(self.show_results)
        jobs.progress.connect(self._on_progress)
        jobs.partial.connect(self._on_partial)
        jobs.done.connect(self._on_done)
        jobs.failed.connect(lambda name, _m: name == self.JOB and self._finished("failed"))
        jobs.cancelled.connect(lambda name: name == self.JOB and self._finished("cancelled"))
        self._cancel = threading.Event()
        self.run_dir: Path | None = None

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.status.setToolTip(text)  # the label shows one line; the tip all of it

    # --- configuration -------------------------------------------------------------------------
    def config(self):
        """The TrainConfig of the settings (``TrainForm``; MerError naming a bad value)."""
        return self.form.config()

    def preprocessing(self, config):
        from ...core.ml.config import sampling_for
        from ...core.ml.items import Preprocessing

        return Preprocessing(self.state.cloud_params, sampling_for(config, self.form.values()))

    def cluster_options(self):
        """RayOptions of the cluster address, or None when it is empty (train here)."""
        address = self.cluster.text().strip()
        if not address:
            return None
        from ...core.cluster import RayOptions

        return RayOptions(address)

    def out_dir(self) -> Path:
        text = self.out.text().strip()
        if text:
            return Path(text).expanduser()
        return data_dir() / "runs" / time.strftime("%Y%m%d-%H%M%S")

    def _ask_out(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Run folder")
        if folder:
            self.out.setText(folder)

    # --- running -------------------------------------------------------------------------------
    def start(self) -> None:
        dataset = self.state.dataset
        if dataset is None:
            self._say("open a dataset first")
            return
        try:
            config, cluster = self.config(), self.cluster_options()
        except Exception as exc:  # noqa: BLE001 - a MerError naming the bad field
            self._say(str(exc))
            return
        self.run_dir = self.out_dir()
        self._cancel = threading.Event()
        self.curves.clear()
        self.run_window.start_live(self.run_dir)
        self.results_button.setEnabled(True)
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._say(f"training {config.model}, {config.classes} classes, "
                            f"{config.protocol} → {self.run_dir}")
        preprocessing, out, cancel = self.preprocessing(config), self.run_dir, self._cancel

        def job(datasets):
            return training_job(datasets, config, preprocessing, out, cancel, cluster)

        self.jobs.start(self.JOB, with_macro_sheet(job, dataset) if config.protocol == "transfer"
                        else job(dataset), f"training {config.model}")

    def cancel(self) -> None:
        self._cancel.set()
        self.jobs.cancel(self.JOB)

    def _on_progress(self, name: str, record: Progress) -> None:
        if name != self.JOB:
            return
        if record.total > 0:
            self.progress.setRange(0, record.total)
            self.progress.setValue(min(record.step, record.total))
        if record.message:
            self._say(record.message)

    def _on_partial(self, name: str, result) -> None:
        if name != self.JOB:
            return
        if isinstance(result, tuple) and result[0] == "items":
            for sample_id, error in result[1].failed:
                self._say(f"skipping {sample_id}: {error}")
            return
        self.curves.add(result)
        self.run_window.curves.add(result)
        if getattr(result, "phase", "") == "done" and result.metrics is not None:
            self.results.show_metrics(result.metrics, self.run_dir)

    def _on_done(self, name: str, _result) -> None:
        if name == self.JOB:
            self._finished("done")
            if self.run_dir is not None:
                self.open_run(self.run_dir, staged=True)

    def _finished(self, how: str) -> None:
        self.curves.flush()
        if how != "done":  # done: the run window shows the run's files next
            self.run_window.curves.flush()
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if how != "done":
            self._say(f"training {how}")

    # --- earlier runs --------------------------------------------------------------------------
    def _ask_run(self) -> None:
        start = str(data_dir() / "runs")
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Open a run folder", start)
        if folder:
            self.open_run(Path(folder))

    def open_run(self, folder: Path, staged: bool = False) -> bool:
        """Show a finished run's metrics, confusion matrix and curves (from its files) in
        the run window (``staged``: the curves and the window come up in later event-loop
        turns, see ``RunWindow.show_run``)."""
        metrics_file = Path(folder) / "metrics.json"
        if not metrics_file.is_file():
            self._say(f"{folder}: no metrics.json (not a finished run)")
            return False
        try:
            metrics = json.loads(metrics_file.read_text())
            history_file = Path(folder) / "history.json"
            history = json.loads(history_file.read_text()) if history_file.is_file() else []
            self.run_window.show_run(metrics, history, Path(folder), _fold_labels(Path(folder)),
                                     staged=staged)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self._say(f"{folder}: unreadable run files ({type(exc).__name__}: {exc})")
            return False
        self.results_button.setEnabled(True)
        self._say(f"run {folder}: UF1 {metrics['uf1']:.2%}, UAR {metrics['uar']:.2%}")
        model = Path(folder) / "model.pt"
        if model.is_file():
            self.checkpointReady.emit(model)
        return True

    @property
    def results(self) -> ResultsView:
        """The run window's metrics, confusion matrix and per-class table."""
        return self.run_window.results

    def show_results(self) -> None:
        self.run_window.show()
        self.run_window.raise_()
        self.run_window.activateWindow()
