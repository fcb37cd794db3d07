"""Tables of the results browser: sortable cells, confusion matrices, a run's predictions."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

SORT_ROLE = QtCore.Qt.ItemDataRole.UserRole + 1
SAMPLE_ROLE = QtCore.Qt.ItemDataRole.UserRole + 2
WRONG = QtGui.QColor(230, 90, 90, 60)


def item(value, text: str | None = None) -> QtGui.QStandardItem:
    """A read-only cell showing ``text`` (default: ``value`` formatted) and sorting by value."""
    if text is None:
        if isinstance(value, (float, np.floating)):
            text = "" if np.isnan(value) else f"{value:.3f}"
        elif value is None or (isinstance(value, float) and np.isnan(value)):
            text = ""
        else:
            text = str(value)
    item = QtGui.QStandardItem(text)
    item.setEditable(False)
    sort_value = value.item() if isinstance(value, np.generic) else value
    item.setData(sort_value if sort_value is not None else "", SORT_ROLE)
    return item


def table_view() -> tuple[QtWidgets.QTableView, QtGui.QStandardItemModel,
                          QtCore.QSortFilterProxyModel]:
    """A sortable, read-only table with whole-row selection."""
    model = QtGui.QStandardItemModel()
    proxy = QtCore.QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    view = QtWidgets.QTableView()
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(20)
    view.horizontalHeader().setStretchLastSection(True)
    return view, model, proxy


def fill_confusion(table: QtWidgets.QTableWidget, classes, confusion) -> None:
    """Counts, shaded by their share of the row (rows: annotated, columns: predicted)."""
    conf = np.asarray(confusion, dtype=int).reshape(len(classes), len(classes))
    table.clear()
    table.setRowCount(len(classes))
    table.setColumnCount(len(classes))
    table.setHorizontalHeaderLabels(list(classes))
    table.setVerticalHeaderLabels(list(classes))
    rows = np.maximum(conf.sum(axis=1, keepdims=True), 1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            item = QtWidgets.QTableWidgetItem(str(conf[i, j]))
            item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
            share = conf[i, j] / rows[i, 0]
            item.setBackground(QtGui.QColor.fromRgbF(0.15, 0.35 + 0.5 * share,
                                                     0.25 + 0.6 * share, 0.35 + 0.6 * share))
            table.setItem(i, j, item)
    table.resizeColumnsToContents()


class PredictionsPanel(QtWidgets.QWidget):
    """A run's predictions, sortable and filtered (wrong only, annotated or predicted class,
    subject); clicking a row emits ``sampleClicked(sample_id)``."""

    sampleClicked = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.wrong_only = QtWidgets.QCheckBox("wrong only")
        self.true_box, self.pred_box, self.subject_box = (QtWidgets.QComboBox() for _ in range(3))
        self.count = QtWidgets.QLabel()
        self.view, self.model, self.proxy = table_view()
        filters = QtWidgets.QHBoxLayout()
        filters.addWidget(self.wrong_only)
        for label, box in (("annotated", self.true_box), ("predicted", self.pred_box),
                           ("subject", self.subject_box)):
            filters.addWidget(QtWidgets.QLabel(label))
            filters.addWidget(box)
        filters.addStretch(1)
        filters.addWidget(self.count)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(filters)
        lay.addWidget(self.view, 1)
        self.run = None
        self.wrong_only.toggled.connect(lambda _on: self.refresh())
        for box in (self.true_box, self.pred_box, self.subject_box):
            box.currentIndexChanged.connect(lambda _i: self.refresh())
        self.view.clicked.connect(self._on_click)
        self.view.activated.connect(self._on_click)

    def set_run(self, run) -> None:
        self.run = run
        table = run.predictions
        for box, values in ((self.true_box, run.classes), (self.pred_box, run.classes),
                            (self.subject_box, sorted(set(table["subject"])))):
            box.blockSignals(True)
            box.clear()
            box.addItem("any", "")
            for v in values:
                box.addItem(str(v), str(v))
            box.blockSignals(False)
        self.refresh()

    def refresh(self) -> None:
        from ...core.ml.runs import filter_predictions

        self.model.clear()
        if self.run is None:
            return
        shown = filter_predictions(self.run.predictions, self.wrong_only.isChecked(),
                                   self.true_box.currentData() or "",
                                   self.pred_box.currentData() or "",
                                   self.subject_box.currentData() or "")
        probs = [f"p_{c}" for c in self.run.classes]
        headers = ["sample", "subject", "fold", "annotated", "predicted", "", "confidence"]
        self.model.setHorizontalHeaderLabels(headers + list(self.run.classes))
        for row in shown.itertuples(index=False):
            r = row._asdict()
            mark = "" if r["true"] is None else ("✓" if r["correct"] else "✗")
            cells = [item(r["sample"]), item(r["subject"]),
                     item(int(r["fold"]), "" if r["fold"] < 0 else str(r["fold"])),
                     item(r["true"] or "", r["true"] or "—"), item(r["pred"]),
                     item(mark), item(float(r["confidence"]))]
            cells += [item(float(r[p])) for p in probs]
            cells[0].setData(r["sample"], SAMPLE_ROLE)
            if mark == "✗":
                for cell in cells:
                    cell.setBackground(WRONG)
            self.model.appendRow(cells)
        self.view.resizeColumnsToContents()
        total = len(self.run.predictions)
        self.count.setText(f"{len(shown)} of {total} shown")

    def shown_samples(self) -> list[str]:
        """Sample ids of the rows shown, top to bottom."""
        return [self.proxy.index(i, 0).data(SAMPLE_ROLE) for i in range(self.proxy.rowCount())]

    def click_row(self, row: int) -> None:
        self._on_click(self.proxy.index(row, 0))

    def _on_click(self, index: QtCore.QModelIndex) -> None:
        sample = index.siblingAtColumn(0).data(SAMPLE_ROLE)
        if sample:
            self.sampleClicked.emit(sample)
