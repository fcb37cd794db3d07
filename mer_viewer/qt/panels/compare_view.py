"""Runs side by side: mean ± std per setting, confusion matrices, clips two runs disagree on."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from .result_tables import SAMPLE_ROLE, fill_confusion, item, table_view


class ComparePanel(QtWidgets.QWidget):
    """The runs checked in the results browser, compared. ``sampleClicked(sample_id, run)``:
    a disagreement row was clicked (``run``: the run of the clicked column, A unless B's)."""

    sampleClicked = QtCore.Signal(str, object)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.summary, self.summary_model, _ = table_view()
        self.per_run, self.per_run_model, _ = table_view()
        self.confusions = QtWidgets.QWidget()
        self.confusion_row = QtWidgets.QHBoxLayout(self.confusions)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.confusions)
        scroll.setMinimumHeight(150)
        self.a_box, self.b_box = QtWidgets.QComboBox(), QtWidgets.QComboBox()
        self.disagree, self.disagree_model, self.disagree_proxy = table_view()
        self.disagree_label = QtWidgets.QLabel()
        self.disagree_label.setWordWrap(True)

        pick = QtWidgets.QHBoxLayout()
        pick.addWidget(QtWidgets.QLabel("A"))
        pick.addWidget(self.a_box, 1)
        pick.addWidget(QtWidgets.QLabel("B"))
        pick.addWidget(self.b_box, 1)
        lower = QtWidgets.QWidget()
        low = QtWidgets.QVBoxLayout(lower)
        low.setContentsMargins(0, 0, 0, 0)
        low.addWidget(QtWidgets.QLabel("<b>Clips where A and B disagree</b> (click: open the "
                                       "clip with the checkpoint that predicted it)"))
        low.addLayout(pick)
        low.addWidget(self.disagree_label)
        low.addWidget(self.disagree, 1)
        upper = QtWidgets.QTabWidget()
        upper.addTab(self.summary, "mean ± std over seeds")
        upper.addTab(self.per_run, "every run")
        upper.addTab(scroll, "confusion matrices")
        self.tabs = upper
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(upper)
        split.addWidget(lower)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)
        self.runs: list = []
        self.a_box.currentIndexChanged.connect(lambda _i: self._fill_disagreement())
        self.b_box.currentIndexChanged.connect(lambda _i: self._fill_disagreement())
        self.disagree.clicked.connect(self._on_click)
        self.disagree.activated.connect(self._on_click)

    def set_runs(self, runs: list) -> None:
        from ...core.ml.runs import metrics_table, summary_table

        self.runs = list(runs)
        self.summary_model.clear()
        self.per_run_model.clear()
        if self.runs:
            summary = summary_table(self.runs)
            self.summary_model.setHorizontalHeaderLabels(["setting", "UF1 %", "UAR %", "runs",
                                                          "seeds"])
            for r in summary.itertuples(index=False):
                self.summary_model.appendRow([
                    item(r.setting), item(r.uf1_mean, f"{100 * r.uf1_mean:.2f} ± "
                                                      f"{100 * r.uf1_std:.2f}"),
                    item(r.uar_mean, f"{100 * r.uar_mean:.2f} ± {100 * r.uar_std:.2f}"),
                    item(int(r.runs)), item(r.seeds)])
            table = metrics_table(self.runs)
            self.per_run_model.setHorizontalHeaderLabels(list(table.columns))
            for row in table.itertuples(index=False):
                self.per_run_model.appendRow([item(v) for v in row])
            for view in (self.summary, self.per_run):
                view.resizeColumnsToContents()
        self._fill_confusions()
        names = [r.name for r in self.runs]
        # B: the first run of another setting (sort against random), else the second run
        other = next((i for i, r in enumerate(self.runs)
                      if r.setting_key() != self.runs[0].setting_key()), 1)
        for box, index in ((self.a_box, 0), (self.b_box, other)):
            box.blockSignals(True)
            box.clear()
            box.addItems(names)
            box.setCurrentIndex(min(index, len(names) - 1))
            box.blockSignals(False)
        self._fill_disagreement()

    def _fill_confusions(self) -> None:
        while self.confusion_row.count():
            widget = self.confusion_row.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        for run in self.runs:
            box = QtWidgets.QWidget()
            col = QtWidgets.QVBoxLayout(box)
            col.setContentsMargins(0, 0, 0, 0)
            m = run.metrics
            title = QtWidgets.QLabel(f"<b>{run.name}</b><br>UF1 {m['uf1']:.2%} · "
                                     f"UAR {m['uar']:.2%}")
            table = QtWidgets.QTableWidget()
            table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
            fill_confusion(table, run.classes, m["confusion"])
            col.addWidget(title)
            col.addWidget(table, 1)
            box.setMinimumWidth(70 * (len(run.classes) + 1))
            self.confusion_row.addWidget(box)
        self.confusion_row.addStretch(1)

    def pair(self):
        a, b = self.a_box.currentIndex(), self.b_box.currentIndex()
        if not (0 <= a < len(self.runs) and 0 <= b < len(self.runs)):
            return None, None
        return self.runs[a], self.runs[b]

    def _fill_disagreement(self) -> None:
        from ...core.ml.runs import disagreement

        self.disagree_model.clear()
        a, b = self.pair()
        if a is None or a is b:
            self.disagree_label.setText("choose two different runs")
            return
        diff = disagreement(a, b)
        self.disagree_model.setHorizontalHeaderLabels(
            ["sample", "subject", "annotated", f"A: {a.name}", f"B: {b.name}"])
        for r in diff.itertuples(index=False):
            cells = [item(r.sample), item(r.subject), item(r.true or "", r.true or "—"),
                     item(r.pred_a, f"{r.pred_a} {'✓' if r.correct_a else '✗'}"),
                     item(r.pred_b, f"{r.pred_b} {'✓' if r.correct_b else '✗'}")]
            cells[0].setData(r.sample, SAMPLE_ROLE)
            self.disagree_model.appendRow(cells)
        self.disagree.resizeColumnsToContents()
        self.disagree_label.setText(
            f"{len(diff)} clips predicted differently: A right on {int(diff['correct_a'].sum())}"
            f", B right on {int(diff['correct_b'].sum())}")

    def disagreeing_samples(self) -> list[str]:
        p = self.disagree_proxy
        return [p.index(i, 0).data(SAMPLE_ROLE) for i in range(p.rowCount())]

    def _on_click(self, index: QtCore.QModelIndex) -> None:
        sample = index.siblingAtColumn(0).data(SAMPLE_ROLE)
        a, b = self.pair()
        if sample and a is not None:
            self.sampleClicked.emit(sample, b if index.column() == 4 else a)
