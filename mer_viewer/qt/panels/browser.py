"""Dataset browser: subject → clip tree with labels and status, class filter and search."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ...core.dataset import Dataset, Sample, class_names
from .sample_model import COLUMNS, ROW_ROLE, TASK_NAMES, SampleTreeModel

__all__ = ["COLUMNS", "DatasetBrowser"]


class DatasetBrowser(QtWidgets.QWidget):
    """The dataset as a tree; ``rowSelected`` (a Sample or Skipped) follows the user's selection.

    Selecting from code (``select_key``) does not emit: the state drives the tree.
    """

    rowSelected = QtCore.Signal(object)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self._dataset: Dataset | None = None
        self._quiet = False
        self.task_box = QtWidgets.QComboBox()
        for task, name in TASK_NAMES.items():
            self.task_box.addItem(name, task)
        self.task_box.setCurrentIndex(1)
        self.class_box = QtWidgets.QComboBox()
        self.status_box = QtWidgets.QComboBox()
        for status in ("all", "ok", "edited", "skipped"):
            self.status_box.addItem(status, status)
        self.search = QtWidgets.QLineEdit(placeholderText="search subject, clip, AU, reason…")
        self.search.setClearButtonEnabled(True)
        self.summary = QtWidgets.QLabel("no dataset")
        self.model = SampleTreeModel(self)  # filters and sorts itself (no proxy: see there)
        self.tree = QtWidgets.QTreeView()
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        # sortable by a click on a column title; the sheet's order until then
        self.tree.header().setSortIndicator(-1, QtCore.Qt.SortOrder.AscendingOrder)
        self.tree.setSortingEnabled(True)
        self.tree.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)

        filters = QtWidgets.QHBoxLayout()
        filters.addWidget(self.task_box)
        filters.addWidget(self.class_box)
        filters.addWidget(self.status_box)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(filters)
        lay.addWidget(self.search)
        lay.addWidget(self.tree, 1)
        lay.addWidget(self.summary)

        self.task_box.currentIndexChanged.connect(self._on_task)
        self.class_box.currentIndexChanged.connect(
            lambda _i: self._refilter(klass=self.class_box.currentData() or ""))
        self.status_box.currentIndexChanged.connect(
            lambda _i: self._refilter(status=self.status_box.currentData()))
        self.search.textChanged.connect(lambda text: self._refilter(text=text))
        self.tree.selectionModel().currentRowChanged.connect(self._on_current)
        self._on_task()

    # --- content --------------------------------------------------------------------------------
    def set_dataset(self, dataset: Dataset | None) -> None:
        """Fill the tree (nothing selected, nothing emitted)."""
        self._quiet = True
        try:
            self._fill(dataset)
        finally:
            self._quiet = False

    def _fill(self, dataset: Dataset | None) -> None:
        self._dataset = dataset
        if self.model.set_dataset(dataset):  # a new dataset or new rows: a reset
            self.tree.expandAll()
            self._fit_columns()
        if dataset is None:
            self.summary.setText("no dataset")
            return
        self._update_summary()

    def _fit_columns(self) -> None:
        """Each column as wide as its longest text (the last one stretches). Measured from the
        texts, not by ``resizeColumnToContents``, which asks the model for every cell's
        font, colour and size (~150 ms for a real sheet)."""
        metrics = self.tree.fontMetrics()
        header = self.tree.header()
        pad = 2 * self.tree.style().pixelMetric(
            QtWidgets.QStyle.PixelMetric.PM_FocusFrameHMargin) + 12
        for col, text in enumerate(self.model.widest_texts()[:-1]):
            title = header.fontMetrics().horizontalAdvance(COLUMNS[col]) + 24  # sort arrow
            width = max(metrics.horizontalAdvance(text) + pad, title)
            if col == 0:
                width += 2 * self.tree.indentation()
            self.tree.setColumnWidth(col, width)

    def _update_summary(self) -> None:
        d = self._dataset
        if d is None:
            return
        shown = self.model.shown_count()
        text = f"{len(d.samples)} samples, {len(d.skipped)} skipped, {shown} shown"
        if d.warnings:  # entries under the root that could not be examined
            text += f" · ⚠ {len(d.warnings)} not examined"
        self.summary.setText(text)
        self.summary.setToolTip("\n".join(("Could not be examined (may hide samples):",
                                            *d.warnings)) if d.warnings else "")

    # --- filters --------------------------------------------------------------------------------
    def _on_task(self, *_args) -> None:
        task = self.task_box.currentData()
        self.class_box.blockSignals(True)
        self.class_box.clear()
        self.class_box.addItem("all classes", "")
        for name in class_names(task):
            self.class_box.addItem(name, name)
        self.class_box.blockSignals(False)
        self._refilter(task=task, klass="")

    def set_class_filter(self, task: str, klass: str) -> None:
        self.task_box.setCurrentIndex(self.task_box.findData(task))
        self.class_box.setCurrentIndex(max(0, self.class_box.findData(klass)))

    def _refilter(self, **kwargs) -> None:
        self.model.set_filter(**kwargs)
        self.tree.expandAll()
        self._update_summary()

    # --- selection and navigation ------------------------------------------------------------------
    def visible_rows(self) -> list[QtCore.QModelIndex]:
        """Proxy indexes of the clip rows shown, top to bottom."""
        m = self.model
        return [m.index(j, 0, parent) for parent in (m.index(i, 0) for i in range(m.rowCount()))
                for j in range(m.rowCount(parent))]

    def row_at(self, index: QtCore.QModelIndex):
        return index.siblingAtColumn(0).data(ROW_ROLE) if index.isValid() else None

    def select_key(self, key: str | None) -> bool:
        """Show the row with row key ``key`` as current, without emitting ``rowSelected``."""
        self._quiet = True
        try:
            for index in self.visible_rows():
                row = self.row_at(index)
                if row is not None and key is not None and row.key == key:
                    self.tree.setCurrentIndex(index)
                    self.tree.scrollTo(index)
                    return True
            self.tree.selectionModel().clearCurrentIndex()
            self.tree.clearSelection()
            return False
        finally:
            self._quiet = False

    def first_sample(self) -> Sample | None:
        """The first loadable sample shown (in the tree's order)."""
        for index in self.visible_rows():
            row = self.row_at(index)
            if isinstance(row, Sample):
                return row
        return None

    def current_row(self):
        return self.row_at(self.tree.currentIndex())

    def step(self, delta: int) -> None:
        """Select the previous/next loadable sample among the visible rows (PgUp/PgDn)."""
        rows = [i for i in self.visible_rows() if isinstance(self.row_at(i), Sample)]
        if not rows:
            return
        current = self.tree.currentIndex().siblingAtColumn(0)
        pos = next((k for k, i in enumerate(rows) if i == current), None)
        target = 0 if pos is None else max(0, min(len(rows) - 1, pos + delta))
        self.tree.setCurrentIndex(rows[target])
        self.tree.scrollTo(rows[target])

    def neighbours(self) -> list[Sample]:
        """The loadable samples after and before the current row (what PgDn/PgUp select)."""
        rows = [self.row_at(i) for i in self.visible_rows()]
        rows = [r for r in rows if isinstance(r, Sample)]
        current = self.current_row()
        pos = next((k for k, r in enumerate(rows) if r is current), None)
        if pos is None:
            return []
        return [rows[k] for k in (pos + 1, pos - 1) if 0 <= k < len(rows)]

    def _on_current(self, current: QtCore.QModelIndex, _previous=None) -> None:
        row = self.row_at(current)
        if not self._quiet and row is not None:
            self.rowSelected.emit(row)
