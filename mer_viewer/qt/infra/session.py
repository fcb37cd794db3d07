"""The open dataset: opening (demo built on first use), annotation edits with undo, save, export."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from ...core.dataset import Dataset, Sample, Skipped
from ...core.dataset.edits import EditStore, SampleEdit, SidecarError, apply_edit, set_aside
from ...core.errors import DatasetError, MerError
from ...core.jobs import export_job, open_job
from .state import ViewerState
from .workers import JobRunner

DEMO_SHEET = "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
DEMO_SIZE = {"subjects": 12, "clips_per_subject": 8, "seed": 0}


def copy_store(store: EditStore) -> EditStore:
    """An independent copy (the loader thread reads it while the GUI may edit the original)."""
    return store.copy()


def demo_ready(root: Path) -> bool:
    return (root / DEMO_SHEET).is_file()


class EditCommand(QtGui.QUndoCommand):
    """Replace the edit of one row (None = no edit) — undoable."""

    def __init__(self, session: DatasetSession, key: str, before: SampleEdit | None,
                 after: SampleEdit | None, text: str):
        super().__init__(text)
        self.session, self.key, self.before, self.after = session, key, before, after

    def redo(self) -> None:
        self.session._put(self.key, self.after)

    def undo(self) -> None:
        self.session._put(self.key, self.before)


class DatasetSession(QtCore.QObject):
    """Owns the dataset being shown, its edit store and undo stack; keeps the state in sync.

    Every change of an edit reopens the dataset in the background with the edits
    in memory (so a corrected apex changes the cloud at once); ``save`` writes
    the sidecar atomically. The sheet itself is never written.
    """

    opened = QtCore.Signal(object)    # Dataset, after open or reload
    editChanged = QtCore.Signal(str)  # row key
    saved = QtCore.Signal(str)        # sidecar path
    saveFailed = QtCore.Signal(str)   # why the sidecar was not written (edits kept, unsaved)
    message = QtCore.Signal(str)      # information (fades)
    error = QtCore.Signal(str)        # a failure (stays until dismissed)

    OPEN_JOB, DEMO_JOB, EXPORT_JOB = "dataset", "demo", "export"

    def __init__(self, state: ViewerState, jobs: JobRunner, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.state, self.jobs = state, jobs
        self.store: EditStore | None = None
        self.rows: dict[str, dict] = {}
        self.undo = QtGui.QUndoStack(self)
        self._pending_select: str | None = None
        self._reopen = False
        self._reload_timer = QtCore.QTimer(self, singleShot=True, interval=250)
        self._reload_timer.timeout.connect(self._reload)
        jobs.done.connect(self._on_done)

    # --- opening ---------------------------------------------------------------------------------
    def open(self, root: Path | str, select: str | None = None) -> None:
        """Open a dataset root in the background; ``select``: ``SUBJECT/CLIP`` to show first.

        Its annotation sidecar is read first, here: when it cannot be read the user may set
        it aside (renamed, never deleted) and open the dataset without it, or not open it."""
        root = Path(root).expanduser()
        store = self._load_edits(root)
        if store is None:
            return
        self._pending_select = select
        self._reopen = False
        self.jobs.start(self.OPEN_JOB, open_job(root, store), f"opening {root}")

    def _load_edits(self, root: Path) -> EditStore | None:
        """The root's edits; None when the sidecar is unreadable and the user cancels."""
        try:
            return EditStore.load(root)
        except SidecarError as exc:
            problem = exc
        answer = QtWidgets.QMessageBox.question(
            self._dialog_parent(), "Unreadable annotation edits",
            f"The annotation edits of this dataset cannot be read:\n\n{problem}\n\n"
            f"Set the file aside (renamed to {problem.path.name}.unreadable-<date-time>, "
            "not deleted) and open the dataset without its edits?",
            QtWidgets.QMessageBox.StandardButton.Yes
            | QtWidgets.QMessageBox.StandardButton.Cancel,
            QtWidgets.QMessageBox.StandardButton.Cancel)
        if answer != QtWidgets.QMessageBox.StandardButton.Yes:
            self.error.emit(f"{root} not opened: {problem}")
            return None
        try:
            moved = set_aside(problem.path)
            store = EditStore.load(root)
        except MerError as exc:
            self.error.emit(f"{root} not opened: {exc}")
            return None
        self.message.emit(f"unreadable annotation edits set aside as {moved}; "
                          "opening without them")
        return store

    def _dialog_parent(self) -> QtWidgets.QWidget | None:
        parent = self.parent()
        return parent if isinstance(parent, QtWidgets.QWidget) else None

    def open_demo(self, root: Path, select: str | None = None) -> None:
        """Open the demo corpus at ``root``, building it first when it is not there yet."""
        if demo_ready(root):
            self.open(root, select)
            return
        from ...core.dataset.demo import build_demo

        self._pending_select = select
        self.message.emit(f"building the demo corpus in {root} (first use)…")
        self.jobs.start(self.DEMO_JOB, build_demo(root, **DEMO_SIZE), "building the demo corpus")

    @property
    def dataset(self) -> Dataset | None:
        return self.state.dataset

    @property
    def dirty(self) -> bool:
        return not self.undo.isClean()

    @property
    def selecting(self) -> bool:
        """Whether a clip asked for with ``open`` is still to be selected when it opens."""
        return bool(self._pending_select)

    def _on_done(self, name: str, result) -> None:
        if name == self.DEMO_JOB and result is not None:
            self.open(result, self._pending_select)
        elif name == self.OPEN_JOB and result is not None:
            dataset, rows = result
            self.rows = rows
            if self._reopen:
                self.state.replace_dataset(dataset)
            else:
                self.store = dataset.edits if dataset.edits is not None else EditStore.load(
                    dataset.root)
                self.undo.clear()
                self.state.set_dataset(dataset)
            self.opened.emit(dataset)
            if self._pending_select:
                self._select(self._pending_select)
                self._pending_select = None
        elif name == self.EXPORT_JOB and result is not None:
            self.message.emit(f"exported merged annotations to {result}")

    def _select(self, spec: str) -> None:
        subject, _, clip = spec.partition("/")
        try:
            sample = self.state.dataset.find(subject, clip)
        except DatasetError as exc:
            self.error.emit(str(exc))
            return
        self.state.set_sample(sample)

    # --- edits --------------------------------------------------------------------------------------
    def sheet_values(self, key: str) -> dict:
        """The row's values in the sheet, before any edit (canonical column names)."""
        return dict(self.rows.get(key, {}))

    def effective_values(self, key: str) -> dict:
        """The row's values with the current edit applied."""
        edit = self.edit_of(key)
        values = self.sheet_values(key)
        return apply_edit(values, edit) if edit is not None else values

    def edit_of(self, key: str) -> SampleEdit | None:
        return self.store.get(key) if self.store is not None else None

    def set_edit(self, key: str, after: SampleEdit | None, text: str) -> None:
        """Push an undoable change of row ``key``'s edit (nothing when it does not change)."""
        if self.store is None:
            return
        before = self.store.get(key)
        if after is not None and after.is_empty():
            after = None
        if before == after:
            return
        self.undo.push(EditCommand(self, key, before, after, text))

    def _put(self, key: str, edit: SampleEdit | None) -> None:
        if self.store is None:
            return
        if edit is None:
            self.store.remove(key)
        else:
            self.store.set(key, edit)
        self.editChanged.emit(key)
        self._reload_timer.start()

    def _reload(self) -> None:
        if self.state.dataset is None or self.store is None:
            return
        self._reopen = True
        self.jobs.start(self.OPEN_JOB, open_job(self.state.dataset.root, copy_store(self.store)),
                        "applying annotation edits")

    def save(self) -> Path | None:
        """Write the sidecar atomically (never the sheet); rows another editor saved meanwhile
        are merged in and shown. None when nothing was written: no dataset, or the sidecar
        cannot be saved without losing someone's edit (another editor changed the same row,
        or it became unreadable); then ``saveFailed`` and ``error`` say why and the edits
        stay here, unsaved. OSError (disk full, ...) goes to the caller."""
        if self.store is None:
            return None
        try:
            path = self.store.save()
        except MerError as exc:
            self.saveFailed.emit(str(exc))
            self.error.emit(f"could not save the annotations: {exc}")
            return None
        self.undo.setClean()
        self.saved.emit(str(path))
        merged = self.store.merged_keys
        if merged:
            self.message.emit(f"annotations saved to {path}, with {len(merged)} row(s) "
                              "another editor saved meanwhile")
            self._reload_timer.start()  # show their rows too
        else:
            self.message.emit(f"annotations saved to {path}")
        return path

    def export(self, path: Path) -> None:
        """Merged annotations (sheet + edits) to .xlsx or .csv, in the background."""
        dataset = self.state.dataset
        if dataset is None:
            self.error.emit(f"{path}: not exported, no dataset is open")
            return
        self.jobs.start(self.EXPORT_JOB, export_job(dataset, path),
                        f"exporting annotations to {path}")


def row_of(dataset: Dataset | None, key: str) -> Sample | Skipped | None:
    """The sample or skipped row of ``dataset`` with row key ``key``."""
    if dataset is None:
        return None
    for row in (*dataset.samples, *dataset.skipped):
        if row.key == key:
            return row
    return None
