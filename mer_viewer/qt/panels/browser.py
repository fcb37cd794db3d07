"""Dataset browser: subject → clip tree with labels and status, class filter and search."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from ...core.dataset import Dataset, Sample, Skipped, class_names

COLUMNS = ("sample", "emotion", "4-class", "objective", "AU", "onset", "apex", "offset", "status")
ROW_ROLE = QtCore.Qt.ItemDataRole.UserRole + 1   # the Sample or Skipped of a row
INFO_ROLE = QtCore.Qt.ItemDataRole.UserRole + 2  # dict used by the filter
SORT_ROLE = QtCore.Qt.ItemDataRole.UserRole + 3  # numbers as numbers, text lower-case
TASK_NAMES = {"7": "7 emotions", "4": "4 classes", "3": "3 classes", "objective": "objective"}


def status_of(row: Sample | Skipped) -> str:
    if isinstance(row, Skipped):
        return f"skipped: {row.reason}"
    return "edited" if getattr(row, "edited", False) else "ok"


def _cells(row: Sample | Skipped) -> list:
    if isinstance(row, Skipped):
        onset = row.onset if row.onset is not None else ""
        return [row.clip, "", "", "", "", onset, "", "", status_of(row)]
    return [row.clip, row.emotion or "", row.label("4") or "", row.objective_class or "",
            "+".join(row.au), row.onset, row.apex, row.offset or "?", status_of(row)]


def _sort_key(value) -> float | str:
    """Sort key of a cell: numbers by value (empty cells first), ``spNO.<k>`` by k, text
    ignoring case."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value)
    if text.lower().startswith("spno.") and text[5:].isdigit():
        return float(text[5:])
    if text in ("", "?"):  # no frame, unknown offset
        return -1.0 if not text else 0.0
    return text.lower()


class SampleFilter(QtCore.QSortFilterProxyModel):
    """Shows rows matching the class filter, the status filter and the search text."""

    def __init__(self, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.setRecursiveFilteringEnabled(True)
        self.setSortRole(SORT_ROLE)
        self.task, self.klass, self.status, self.text = "4", "", "all", ""

    def set_filter(self, task: str | None = None, klass: str | None = None,
                   status: str | None = None, text: str | None = None) -> None:
        begin = getattr(self, "beginFilterChange", None)  # Qt ≥ 6.10; invalidateFilter before
        if begin is not None:
            begin()
        self.task = task if task is not None else self.task
        self.klass = klass if klass is not None else self.klass
        self.status = status if status is not None else self.status
        self.text = (text if text is not None else self.text).strip().lower()
        if begin is not None:
            self.endFilterChange()
        else:
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QtCore.QModelIndex) -> bool:
        model = self.sourceModel()
        info = model.index(source_row, 0, source_parent).data(INFO_ROLE)
        if info is None:  # a subject row: shown when one of its clips is
            return False
        if self.klass and info["labels"].get(self.task) != self.klass:
            return False
        if self.status != "all" and info["status"] != self.status:
            return False
        return not self.text or self.text in info["text"]


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
        self.model = QtGui.QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        self.proxy = SampleFilter(self)
        self.proxy.setSourceModel(self.model)
        self.tree = QtWidgets.QTreeView()
        self.tree.setModel(self.proxy)
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
        self.model.removeRows(0, self.model.rowCount())
        self._dataset = dataset
        if dataset is None:
            self.summary.setText("no dataset")
            return
        subjects: dict[str, QtGui.QStandardItem] = {}
        rows: list[tuple[str, Sample | Skipped]] = [(s.subject, s) for s in dataset.samples]
        rows += [(s.subject, s) for s in dataset.skipped]
        order = {name: i for i, name in enumerate(dict.fromkeys(sub for sub, _ in rows))}
        rows.sort(key=lambda r: (order[r[0]], r[1].clip.lower(), r[1].onset or 0))
        for subject, row in rows:
            parent = subjects.get(subject)
            if parent is None:
                parent = QtGui.QStandardItem(subject or "(no subject)")
                parent.setData(_sort_key(subject), SORT_ROLE)
                filler = [QtGui.QStandardItem("") for _ in COLUMNS[1:]]
                self.model.appendRow([parent] + filler)
                subjects[subject] = parent
            parent.appendRow(self._row_items(row))
        self.tree.expandAll()
        for col in range(len(COLUMNS) - 1):
            self.tree.resizeColumnToContents(col)
        self._update_summary()

    def _row_items(self, row: Sample | Skipped) -> list[QtGui.QStandardItem]:
        items = []
        for value in _cells(row):
            item = QtGui.QStandardItem()
            item.setData(value, QtCore.Qt.ItemDataRole.DisplayRole)
            item.setData(_sort_key(value), SORT_ROLE)
            items.append(item)
        status = status_of(row)
        items[0].setData(row, ROW_ROLE)
        labels = {t: row.label(t) for t in TASK_NAMES} if isinstance(row, Sample) else {}
        text = " ".join(str(v) for v in _cells(row)) + f" {row.subject} {row.subject}/{row.clip}"
        items[0].setData({"labels": labels, "status": status.split(":")[0],
                          "text": text.lower()}, INFO_ROLE)
        items[-1].setToolTip(status)
        if isinstance(row, Skipped):
            for item in items:
                item.setForeground(QtGui.QBrush(QtGui.QColor(150, 150, 150)))
                font = item.font()
                font.setItalic(True)
                item.setFont(font)
        elif status == "edited":
            items[-1].setForeground(QtGui.QBrush(QtGui.QColor(230, 150, 30)))
        warnings = getattr(row, "warnings", ())
        if warnings:  # kept, but a frame it uses is on the dataset's bad-quality list
            items[-1].setText(f"{status} ⚠ {'; '.join(warnings)}")
            items[-1].setToolTip("\n".join((status, *warnings)))
            items[0].setText(f"{row.clip} ⚠")
            for item in (items[0], items[-1]):
                item.setForeground(QtGui.QBrush(QtGui.QColor(220, 130, 0)))
        return items

    def _update_summary(self) -> None:
        d = self._dataset
        if d is None:
            return
        shown = sum(self.proxy.rowCount(self.proxy.index(i, 0))
                    for i in range(self.proxy.rowCount()))
        self.summary.setText(f"{len(d.samples)} samples, {len(d.skipped)} skipped, "
                             f"{shown} shown")

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
        self.proxy.set_filter(**kwargs)
        self.tree.expandAll()
        self._update_summary()

    # --- selection and navigation ------------------------------------------------------------------
    def visible_rows(self) -> list[QtCore.QModelIndex]:
        """Proxy indexes of the clip rows shown, top to bottom."""
        out = []
        for i in range(self.proxy.rowCount()):
            parent = self.proxy.index(i, 0)
            out += [self.proxy.index(j, 0, parent) for j in range(self.proxy.rowCount(parent))]
        return out

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
