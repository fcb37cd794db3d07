"""Results browser: runs, experiments and batch classifications; predictions that open their clip."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from .compare_view import ComparePanel
from .result_tables import PredictionsPanel
from .run_views import CurvesView, ResultsView


class RunPanel(QtWidgets.QWidget):
    """One run: metrics, confusion matrix and per-class table, per-fold curves, its settings."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.results = ResultsView()
        self.curves = CurvesView()
        self.config = QtWidgets.QPlainTextEdit(readOnly=True)
        self.config.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.NoWrap)
        right = QtWidgets.QTabWidget()
        right.addTab(self.curves, "curves per fold")
        right.addTab(self.config, "settings (config.json)")
        self.right = right
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        split.addWidget(self.results)
        split.addWidget(right)
        split.setSizes([380, 600])
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)

    def set_run(self, run) -> None:
        self.results.show_metrics_dict(run.metrics, run.path)
        labels = [f"test {', '.join(f.get('test', []))}" for f in run.folds] or None
        self.curves.show_history(run.history, labels)
        text = json.dumps(run.config, indent=2) if run.config else \
            f"(a batch classification: {run.checkpoint or 'checkpoint not recorded'})"
        self.config.setPlainText(text)


class ResultsWindow(QtWidgets.QWidget):
    """Finished runs, `mer experiment` folders and batch classifications, in one window.

    The list on the left holds every run opened (an experiment adds all its runs); the
    run selected there is shown (metrics, confusion, curves, settings; its predictions),
    the checked ones are compared. ``clipRequested(sample_id, checkpoint)``: a prediction
    was clicked; ``checkpoint`` is the one that made it (None: unknown, e.g. a CSV opened
    from disk). ``error(text)``: a path that could not be opened.
    """

    clipRequested = QtCore.Signal(str, object)
    error = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent, QtCore.Qt.WindowType.Window)
        self.setWindowTitle("Results")
        self.runs: list = []
        self.run_list = QtWidgets.QListWidget()
        self.run_list.setToolTip("checked runs are compared; the selected one is shown")
        self.open_button = QtWidgets.QPushButton("Open run or experiment…")
        self.open_csv_button = QtWidgets.QPushButton("Open batch CSV…")
        self.clear_button = QtWidgets.QPushButton("Clear")
        self.export_button = QtWidgets.QToolButton(text="Export figure…")
        self.export_button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        self.export_menu = QtWidgets.QMenu(self.export_button)
        self.export_button.setMenu(self.export_menu)
        self.status = QtWidgets.QLabel("open a run folder (mer train), an experiment folder "
                                       "(mer experiment) or a batch CSV (mer classify --all)")
        self.status.setWordWrap(True)
        self.run_panel = RunPanel()
        self.predictions = PredictionsPanel()
        self.compare = ComparePanel()
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(self.run_panel, "Run")
        self.tabs.addTab(self.predictions, "Predictions")
        self.tabs.addTab(self.compare, "Compare")

        left = QtWidgets.QWidget()
        left_lay = QtWidgets.QVBoxLayout(left)
        left_lay.setContentsMargins(0, 0, 0, 0)
        for w in (self.open_button, self.open_csv_button):
            left_lay.addWidget(w)
        left_lay.addWidget(self.run_list, 1)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.clear_button)
        row.addWidget(self.export_button)
        left_lay.addLayout(row)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.tabs)
        split.setStretchFactor(1, 1)
        split.setSizes([230, 900])
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.status)
        lay.addWidget(split, 1)
        self.resize(1180, 700)

        self.open_button.clicked.connect(self._ask_folder)
        self.open_csv_button.clicked.connect(self._ask_csv)
        self.clear_button.clicked.connect(self.clear)
        self.run_list.currentRowChanged.connect(self._on_current)
        self.run_list.itemChanged.connect(lambda _i: self._update_compare())
        self.predictions.sampleClicked.connect(
            lambda sample: self._request(sample, self.current_run()))
        self.compare.sampleClicked.connect(self._request)
        self._build_export_menu()

    # --- opening ---------------------------------------------------------------------------
    def open_path(self, path: Path | str, checkpoint: Path | None = None) -> bool:
        """Add the run, experiment or batch CSV at ``path`` (``checkpoint``: the model a batch
        CSV was made with) and show it; False (and ``error``) when it cannot be read."""
        from ...core.errors import MerError
        from ...core.ml.runs import Experiment, load_batch, open_results

        try:
            opened = open_results(path)
            if isinstance(opened, Experiment):
                runs = opened.runs()
            elif opened.kind == "batch" and checkpoint is not None:
                runs = [load_batch(path, checkpoint)]
            else:
                runs = [opened]
        except MerError as exc:
            self.status.setText(f"<span style='color:#d55'>{exc}</span>")
            self.error.emit(str(exc))
            return False
        for run in runs:
            self.add_run(run)
        self.run_list.setCurrentRow(self.run_list.count() - len(runs))
        kind = "experiment" if len(runs) > 1 else runs[0].kind
        self.status.setText(f"{kind} {Path(path)}: {len(runs)} run(s)")
        self.setWindowTitle(f"Results — {Path(path)}")
        self._update_compare()
        return True

    def add_run(self, run) -> None:
        self.runs.append(run)
        entry = QtWidgets.QListWidgetItem(f"{run.name}\nUF1 {run.metrics['uf1']:.1%} · "
                                          f"UAR {run.metrics['uar']:.1%}")
        entry.setToolTip(str(run.path))
        entry.setFlags(entry.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
        entry.setCheckState(QtCore.Qt.CheckState.Checked)
        self.run_list.blockSignals(True)
        self.run_list.addItem(entry)
        self.run_list.blockSignals(False)

    def clear(self) -> None:
        self.runs = []
        self.run_list.clear()
        self.compare.set_runs([])

    def _ask_folder(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Open a run or experiment "
                                                                  "folder")
        if folder:
            self.open_path(folder)

    def _ask_csv(self) -> None:
        name, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open a batch classification",
                                                        "", "CSV (*.csv)")
        if name:
            self.open_path(name)

    # --- showing ---------------------------------------------------------------------------
    def current_run(self):
        i = self.run_list.currentRow()
        return self.runs[i] if 0 <= i < len(self.runs) else None

    def checked_runs(self) -> list:
        return [run for i, run in enumerate(self.runs)
                if self.run_list.item(i).checkState() == QtCore.Qt.CheckState.Checked]

    def _on_current(self, _row: int) -> None:
        run = self.current_run()
        if run is not None:
            self.status.setText(f"{run.kind} {run.path}")
            self.run_panel.set_run(run)
            self.predictions.set_run(run)

    def _update_compare(self) -> None:
        self.compare.set_runs(self.checked_runs())

    def _request(self, sample_id: str, run) -> None:
        checkpoint = run.checkpoint_for(sample_id) if run is not None else None
        self.clipRequested.emit(sample_id, checkpoint)

    # --- figures ---------------------------------------------------------------------------
    def _build_export_menu(self) -> None:
        from ..views import figures

        self.export_menu.addAction("Confusion matrix of the shown run…",
                                   lambda: figures.ask_export_confusion(self, self.current_run()))
        self.export_menu.addAction("Curves of the shown run…", self._export_curves)

    def _export_curves(self) -> None:
        from ..views import figures

        # the plots are laid out only where shown: show them before painting them
        self.tabs.setCurrentWidget(self.run_panel)
        self.run_panel.right.setCurrentWidget(self.run_panel.curves)
        QtWidgets.QApplication.processEvents()
        figures.ask_export_curves(self, self.run_panel.curves)
