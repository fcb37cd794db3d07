"""The dataset browser's tree model: subject → rows, computed on demand from the dataset.

A Qt model over the dataset's rows instead of one ``QStandardItem`` per cell: opening the
real CAS(ME)³ sheet (~900 rows) or applying an edit costs a model reset or one changed
row, not nine Python objects per row built on the GUI thread. Cells, sort keys and the
filter's text are computed when a view first asks for them and kept until the row changes.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui

from ...core.dataset import Dataset, Sample, Skipped

COLUMNS = ("sample", "emotion", "4-class", "objective", "AU", "onset", "apex", "offset", "status")
_USER = QtCore.Qt.ItemDataRole.UserRole.value
ROW_ROLE = _USER + 1   # the Sample or Skipped of a row
SORT_ROLE = _USER + 3  # numbers as numbers, text lower-case
TASK_NAMES = {"7": "7 emotions", "4": "4 classes", "3": "3 classes", "objective": "objective"}

_Role = QtCore.Qt.ItemDataRole
# roles as ints: a view asks for 7 roles per cell per paint, most answered None at once
_DISPLAY, _TOOLTIP, _FONT, _FOREGROUND = (r.value for r in (
    _Role.DisplayRole, _Role.ToolTipRole, _Role.FontRole, _Role.ForegroundRole))
_ANSWERED = frozenset((_DISPLAY, _TOOLTIP, _FONT, _FOREGROUND, ROW_ROLE, SORT_ROLE))
_GREY = QtGui.QColor(150, 150, 150)
_EDITED = QtGui.QColor(230, 150, 30)
_WARNED = QtGui.QColor(220, 130, 0)
_FLAGS = QtCore.Qt.ItemFlag.ItemIsEnabled | QtCore.Qt.ItemFlag.ItemIsSelectable


def status_of(row: Sample | Skipped) -> str:
    if isinstance(row, Skipped):
        return f"skipped: {row.reason}"
    return "edited" if getattr(row, "edited", False) else "ok"


def row_cells(row: Sample | Skipped) -> list:
    """The cells of a row, one per column of ``COLUMNS``."""
    if isinstance(row, Skipped):
        onset = row.onset if row.onset is not None else ""
        return [row.clip, "", "", "", "", onset, "", "", status_of(row)]
    return [row.clip, row.emotion or "", row.label("4") or "", row.objective_class or "",
            "+".join(row.au), row.onset, row.apex, row.offset or "?", status_of(row)]


def sort_key(value) -> float | str:
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


class _Entry:
    """One clip row: its cells and what the filter looks at, made on first use."""

    __slots__ = ("row", "_cells", "_text", "_labels")

    def __init__(self, row: Sample | Skipped):
        self.reset(row)

    def reset(self, row: Sample | Skipped) -> None:
        """Show ``row`` (its cells made again on first use)."""
        self.row = row
        self._cells: list | None = None
        self._text: str | None = None
        self._labels: dict[str, str | None] = {}

    @property
    def cells(self) -> list:
        if self._cells is None:
            self._cells = row_cells(self.row)
        return self._cells

    @property
    def status(self) -> str:
        """``ok``, ``edited`` or ``skipped`` (without the reason)."""
        return status_of(self.row).split(":")[0]

    @property
    def text(self) -> str:
        """The lower-case text the search looks in."""
        if self._text is None:
            row = self.row
            text = " ".join(str(v) for v in self.cells) + f" {row.subject} {row.subject}/{row.clip}"
            self._text = text.lower()
        return self._text

    def label(self, task: str) -> str | None:
        """The row's class for ``task`` (None: skipped, or left out by the task)."""
        if task not in self._labels:
            row = self.row
            self._labels[task] = row.label(task) if isinstance(row, Sample) else None
        return self._labels[task]

    def display(self, column: int):
        value = self.cells[column]
        warnings = getattr(self.row, "warnings", ())
        if warnings and column == 0:
            return f"{self.row.clip} ⚠"
        if warnings and column == len(COLUMNS) - 1:
            return f"{value} ⚠ {'; '.join(warnings)}"
        return value


def _order(key: float | str) -> tuple[int, float | str]:
    """Numbers before text, each in its own order (a cell may hold either)."""
    return (0, key) if isinstance(key, float) else (1, key)


class SampleTreeModel(QtCore.QAbstractItemModel):
    """Subjects (top level, in the sheet's order) → their rows (by clip, then onset), filtered
    and sorted here rather than through a ``QSortFilterProxyModel``: a proxy over a Python
    model calls ``index``/``parent`` some 100 times per row (~0.4 s for a real sheet).

    A subject is shown when one of its rows passes the filter (class of ``task``, status,
    search text). Internal ids: 0 for a subject; ``1 + shown subject index`` for a row.
    """

    def __init__(self, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self._all: list[tuple[str, list[_Entry]]] = []  # every subject and row, sheet order
        self.subjects: list[str] = []                    # shown
        self.entries: list[list[_Entry]] = []            # shown, per shown subject
        self.task, self.klass, self.status, self.text = "4", "", "all", ""
        self.sort_column, self.sort_order = -1, QtCore.Qt.SortOrder.AscendingOrder
        self._italic = QtGui.QFont()
        self._italic.setItalic(True)

    # --- content ---------------------------------------------------------------------------------
    @staticmethod
    def _grouped(dataset: Dataset | None) -> list[tuple[str, list[Sample | Skipped]]]:
        if dataset is None:
            return []
        rows: list[Sample | Skipped] = [*dataset.samples, *dataset.skipped]
        order = {name: i for i, name in enumerate(dict.fromkeys(r.subject for r in rows))}
        rows.sort(key=lambda r: (order[r.subject], r.clip.lower(), r.onset or 0))
        groups: list[tuple[str, list[Sample | Skipped]]] = [(name, []) for name in order]
        for row in rows:
            groups[order[row.subject]][1].append(row)
        return groups

    def set_dataset(self, dataset: Dataset | None) -> bool:
        """Show ``dataset``'s rows. When only rows' contents changed (an edit: the same rows
        in the same order), those rows are updated in place and the views keep their
        selection, expansion and scroll position; otherwise the model is reset. True on
        reset."""
        groups = self._grouped(dataset)
        same = len(groups) == len(self._all) and all(
            name == old_name and len(rows) == len(entries)
            and all(r.key == e.row.key for r, e in zip(rows, entries))
            for (name, rows), (old_name, entries) in zip(groups, self._all))
        if not same:
            self.beginResetModel()
            self._all = [(name, [_Entry(r) for r in rows]) for name, rows in groups]
            self.subjects, self.entries = self._shown()
            self.endResetModel()
            return True
        changed = []
        for (_name, rows), (_old, entries) in zip(groups, self._all):
            for row, entry in zip(rows, entries):
                if row is not entry.row and row != entry.row:
                    entry.reset(row)  # same object: the views' indexes stay valid
                    changed.append(entry)
                else:
                    entry.row = row
        if changed:
            self._relayout()  # a changed status may enter or leave the filter
            where = {id(e): (s, r) for s, es in enumerate(self.entries) for r, e in enumerate(es)}
            last = len(COLUMNS) - 1
            for entry in changed:
                if id(entry) in where:
                    s, r = where[id(entry)]
                    self.dataChanged.emit(self.createIndex(r, 0, s + 1),
                                          self.createIndex(r, last, s + 1))
        return False

    def set_filter(self, task: str | None = None, klass: str | None = None,
                   status: str | None = None, text: str | None = None) -> None:
        """Show the rows of class ``klass`` of ``task`` ("" any), of ``status`` ("all", "ok",
        "edited", "skipped") whose text contains ``text`` (any case); None keeps a value."""
        self.task = task if task is not None else self.task
        self.klass = klass if klass is not None else self.klass
        self.status = status if status is not None else self.status
        self.text = (text if text is not None else self.text).strip().lower()
        self._relayout()

    def accepts(self, entry: _Entry) -> bool:
        if self.klass and entry.label(self.task) != self.klass:
            return False
        if self.status != "all" and entry.status != self.status:
            return False
        return not self.text or self.text in entry.text

    def sort(self, column: int,  # noqa: D102 - the view's column sort (-1: the sheet's order)
             order: QtCore.Qt.SortOrder = QtCore.Qt.SortOrder.AscendingOrder) -> None:
        self.sort_column, self.sort_order = column, order
        self._relayout()

    def _shown(self) -> tuple[list[str], list[list[_Entry]]]:
        groups = [(name, [e for e in entries if self.accepts(e)]) for name, entries in self._all]
        groups = [(name, entries) for name, entries in groups if entries]
        column = self.sort_column
        if 0 <= column < len(COLUMNS):
            descending = self.sort_order == QtCore.Qt.SortOrder.DescendingOrder
            for _name, entries in groups:  # stable: equal cells keep the sheet's order
                entries.sort(key=lambda e: _order(sort_key(e.cells[column])), reverse=descending)
            if column == 0:
                groups.sort(key=lambda g: _order(sort_key(g[0])), reverse=descending)
        return [name for name, _ in groups], [entries for _, entries in groups]

    def _relayout(self) -> None:
        """Filter and sort again; the views' selection and expansion follow their rows."""
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        kept = []
        for index in old:
            if index.internalId() == 0:
                kept.append((self.subjects[index.row()], None, index.column()))
            else:
                entry = self.entries[index.internalId() - 1][index.row()]
                kept.append(("", entry, index.column()))
        self.subjects, self.entries = self._shown()
        subject_at = {name: i for i, name in enumerate(self.subjects)}
        entry_at = {id(e): (s, r) for s, es in enumerate(self.entries) for r, e in enumerate(es)}
        new = []
        for name, entry, column in kept:
            if entry is None:
                i = subject_at.get(name)
                new.append(self.createIndex(i, column, 0) if i is not None
                           else QtCore.QModelIndex())
            else:
                place = entry_at.get(id(entry))
                new.append(self.createIndex(place[1], column, place[0] + 1) if place
                           else QtCore.QModelIndex())
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()

    def widest_texts(self) -> list[str]:
        """Per column, its longest text among every row (subject names in the first):
        what the column should be wide enough for, found without asking a view."""
        widest = [""] * len(COLUMNS)
        for name, entries in self._all:
            if len(name) > len(widest[0]):
                widest[0] = name
            for entry in entries:
                for column in range(len(COLUMNS)):
                    text = str(entry.display(column))
                    if len(text) > len(widest[column]):
                        widest[column] = text
        return widest

    def shown_count(self) -> int:
        return sum(len(entries) for entries in self.entries)

    # --- QAbstractItemModel ------------------------------------------------------------------------
    def index(self, row: int, column: int,
              parent: QtCore.QModelIndex = QtCore.QModelIndex()) -> QtCore.QModelIndex:
        if not 0 <= column < len(COLUMNS):
            return QtCore.QModelIndex()
        if not parent.isValid():
            if 0 <= row < len(self.subjects):
                return self.createIndex(row, column, 0)
            return QtCore.QModelIndex()
        if parent.internalId() == 0 and 0 <= parent.row() < len(self.entries) \
                and 0 <= row < len(self.entries[parent.row()]):
            return self.createIndex(row, column, parent.row() + 1)
        return QtCore.QModelIndex()

    def parent(self, index: QtCore.QModelIndex = QtCore.QModelIndex()):  # type: ignore[override]
        if not index.isValid() or index.internalId() == 0:
            return QtCore.QModelIndex()
        return self.createIndex(index.internalId() - 1, 0, 0)

    def rowCount(self, parent: QtCore.QModelIndex = QtCore.QModelIndex()) -> int:  # noqa: N802
        if not parent.isValid():
            return len(self.subjects)
        if parent.internalId() == 0 and parent.column() == 0 \
                and 0 <= parent.row() < len(self.entries):
            return len(self.entries[parent.row()])
        return 0

    def columnCount(self, parent: QtCore.QModelIndex = QtCore.QModelIndex()) -> int:  # noqa: N802
        return len(COLUMNS)

    def headerData(self, section: int, orientation: QtCore.Qt.Orientation,  # noqa: N802
                   role: int = _Role.DisplayRole):
        if orientation == QtCore.Qt.Orientation.Horizontal and role == _Role.DisplayRole \
                and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def flags(self, index: QtCore.QModelIndex) -> QtCore.Qt.ItemFlag:
        if not index.isValid():
            return QtCore.Qt.ItemFlag.NoItemFlags
        return _FLAGS

    def data(self, index: QtCore.QModelIndex, role: int = _DISPLAY):
        if role not in _ANSWERED or not index.isValid():
            return None
        column = index.column()
        parent = index.internalId()
        if parent == 0:  # a subject
            if column != 0:
                return "" if role == _DISPLAY else None
            subject = self.subjects[index.row()]
            if role == _DISPLAY:
                return subject or "(no subject)"
            return sort_key(subject) if role == SORT_ROLE else None
        entry = self.entries[parent - 1][index.row()]
        if role == _DISPLAY:
            return entry.display(column)
        if role == SORT_ROLE:
            return sort_key(entry.cells[column])
        if role == ROW_ROLE:
            return entry.row if column == 0 else None
        row = entry.row
        skipped = isinstance(row, Skipped)
        if role == _FONT:
            return self._italic if skipped else None
        last = len(COLUMNS) - 1
        warnings = () if skipped else row.warnings
        if role == _FOREGROUND:
            if skipped:
                return _GREY
            if warnings and column in (0, last):
                return _WARNED
            return _EDITED if column == last and row.edited else None
        if column == last:  # the tooltip
            return "\n".join((status_of(row), *warnings))
        return None
