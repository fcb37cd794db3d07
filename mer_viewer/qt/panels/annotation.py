"""Annotation panel: correct onset/apex/offset, labels, AU, exclusion and notes, with undo."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets
from superqt.utils import QFlowLayout

from ...core.dataset import Sample, Skipped
from ...core.dataset.casme3 import frame_order_problems
from ...core.dataset.edits import SampleEdit
from ...core.dataset.labels import (
    EMOTIONS_7,
    OBJECTIVE_CLASSES,
    normalise_emotion,
    normalise_objective,
)
from ...core.dataset.layout import Layout
from ...core.dataset.sheets import frame_number
from ...core.errors import MerError
from ..infra.session import DatasetSession
from ..infra.state import ViewerState
from ..infra.workers import describe_error
from .au_picker import AuPicker, appended

FRAME_FIELDS = ("onset", "apex", "offset")
#: Frame range of a row whose clip has no frame folder (nothing to bound it by).
NO_FRAMES_MAX = 99_999


def _frame(value) -> int:
    try:
        return frame_number(value, "frame")
    except ValueError:
        return 0


def _text(value) -> str:
    if value is None:
        return ""
    text = str(value).strip()
    return text[:-2] if text.endswith(".0") and text[:-2].isdigit() else text


class AnnotationPanel(QtWidgets.QWidget):
    """Edits the selected row through the session's undo stack; values shown are the sheet's
    with the user's edits applied. Nothing is written until Save (the sidecar, atomically)."""

    def __init__(self, state: ViewerState, session: DatasetSession,
                 parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.state, self.session = state, session
        self.key: str | None = None
        self.heading = QtWidgets.QLabel("no row selected")
        self.heading.setWordWrap(True)
        self.frames: dict[str, QtWidgets.QSpinBox] = {}
        self.set_buttons: dict[str, QtWidgets.QToolButton] = {}
        form = QtWidgets.QFormLayout()
        form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        for name in FRAME_FIELDS:
            spin = QtWidgets.QSpinBox(minimum=0, maximum=NO_FRAMES_MAX)
            spin.setKeyboardTracking(False)
            if name == "offset":
                spin.setSpecialValueText("0 (unknown)")  # shown for 0, the minimum
            button = QtWidgets.QToolButton(text="◉ scrubber")
            button.setToolTip(f"set the {name} to the frame shown by the scrubber")
            row = QtWidgets.QHBoxLayout()
            row.addWidget(spin, 1)
            row.addWidget(button)
            form.addRow(name, row)
            self.frames[name], self.set_buttons[name] = spin, button
            spin.valueChanged.connect(lambda v, n=name: self._commit(**{n: v}))
            button.clicked.connect(lambda _c=False, n=name: self.set_from_scrubber(n))
        self.emotion = QtWidgets.QComboBox()
        self.emotion.addItems(("",) + EMOTIONS_7)
        self.objective = QtWidgets.QComboBox()
        self.objective.addItems(("",) + OBJECTIVE_CLASSES)
        self.au = QtWidgets.QLineEdit(placeholderText="e.g. L2+L1 or 4+7")
        self.exclude = QtWidgets.QCheckBox("exclude from training")
        self.reason = QtWidgets.QLineEdit(placeholderText="reason, e.g. hand occlusion")
        self.notes = QtWidgets.QPlainTextEdit()
        self.notes.setPlaceholderText("notes")
        self.notes.setMaximumHeight(70)
        form.addRow("emotion", self.emotion)
        form.addRow("objective", self.objective)
        self.au_picker = AuPicker()
        au_row = QtWidgets.QHBoxLayout()
        au_row.addWidget(self.au, 1)
        au_row.addWidget(self.au_picker)
        form.addRow("AU", au_row)
        form.addRow(self.exclude)
        form.addRow("reason", self.reason)
        form.addRow("notes", self.notes)
        self.undo_button = QtWidgets.QToolButton()
        self.undo_button.setDefaultAction(session.undo.createUndoAction(self, "Undo"))
        self.redo_button = QtWidgets.QToolButton()
        self.redo_button.setDefaultAction(session.undo.createRedoAction(self, "Redo"))
        self.revert_button = QtWidgets.QPushButton("Revert row")
        self.revert_button.setToolTip("drop every edit of this row (undoable)")
        self.save_button = QtWidgets.QPushButton("Save")
        self.save_button.setToolTip("write the edits to the sidecar file (the sheet is never "
                                    "changed)")
        self.export_button = QtWidgets.QPushButton("Export merged…")
        self.status = QtWidgets.QLabel(" ")
        self.status.setWordWrap(True)
        buttons = QFlowLayout()
        for w in (self.undo_button, self.redo_button, self.revert_button, self.save_button,
                  self.export_button):
            buttons.addWidget(w)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.heading)
        lay.addLayout(form)
        lay.addLayout(buttons)
        lay.addWidget(self.status)
        lay.addStretch(1)

        self.emotion.activated.connect(lambda _i: self._commit(emotion=self.emotion.currentText()))
        self.objective.activated.connect(
            lambda _i: self._commit(objective_class=self.objective.currentText()))
        self.au.editingFinished.connect(lambda: self._commit(au=self.au.text().strip()))
        self.au_picker.picked.connect(
            lambda code: self._commit(au=appended(self.au.text(), code)))
        self.exclude.toggled.connect(lambda on: self._commit(exclude=on))
        self.reason.editingFinished.connect(
            lambda: self._commit(exclude_reason=self.reason.text().strip()))
        self._notes_timer = QtCore.QTimer(self, singleShot=True, interval=800)
        self._notes_timer.timeout.connect(lambda: self._commit(notes=self.notes.toPlainText()))
        self.notes.textChanged.connect(self._notes_timer.start)
        self.revert_button.clicked.connect(self.revert_row)
        self.save_button.clicked.connect(self.save)
        self.export_button.clicked.connect(self.ask_export)
        state.rowChanged.connect(self.show_row)
        session.editChanged.connect(self._on_edit_changed)
        session.undo.cleanChanged.connect(self._update_status)
        session.saved.connect(lambda path: self._update_status())
        self._loading = False
        self._layout: Layout | None = None  # frame folders of skipped rows, per dataset
        self.show_row(None)

    # --- showing -----------------------------------------------------------------------------
    def show_row(self, row: Sample | Skipped | None) -> None:
        self._flush_notes()
        self.key = row.key if row is not None else None
        self.setEnabled(row is not None)
        if row is None:
            self.heading.setText("no row selected")
        else:
            what = "sample" if isinstance(row, Sample) else f"skipped row ({row.reason})"
            self.heading.setText(f"<b>{row.subject} / {row.clip}</b> — sheet row "
                                 f"{row.excel_row}, {what}")
        self._load_values()

    def _load_values(self) -> None:
        self._loading = True
        try:
            values = self.session.effective_values(self.key) if self.key else {}
            edit = self.session.edit_of(self.key) if self.key else None
            numbers = self._clip_frames()
            for name in FRAME_FIELDS:
                value = _frame(values.get(name))
                self._bound(name, numbers, value)
                self.frames[name].setValue(value)
            emotion = normalise_emotion(values.get("emotion")) or ""
            self.emotion.setCurrentText(emotion)
            self.objective.setCurrentText(normalise_objective(values.get("objective")) or "")
            self.au.setText(_text(values.get("au")))
            excluded = bool(edit and edit.exclude) or (
                isinstance(self.state.row, Skipped) and "excluded:" in self.state.row.reason
                and not (edit and edit.exclude is False))
            self.exclude.setChecked(excluded)
            reason = (edit.exclude_reason if edit and edit.exclude_reason else "")
            self.reason.setText(reason)
            notes = edit.notes if edit and edit.notes else ""
            if self.notes.toPlainText() != notes:
                self.notes.setPlainText(notes)
        finally:
            self._loading = False
        self._update_status()

    def _clip_frames(self) -> list[int]:
        """Frame numbers of the selected row's clip folder (none when it has no folder)."""
        row = self.state.row
        if isinstance(row, Sample):
            return row.frames.numbers
        dataset = self.state.dataset
        if not isinstance(row, Skipped) or row.onset is None or dataset is None:
            return []
        if self._layout is None or self._layout.root != dataset.root:
            self._layout = Layout.scan(dataset.root)  # once per dataset: skipped rows only
        try:
            frames = self._layout.frames_for(row.subject, row.clip, row.onset)
            return frames.numbers
        except MerError:  # no folder (or an unreadable one): the boxes take any frame
            return []

    def _bound(self, name: str, numbers: list[int], value: int) -> None:
        """Onset and apex within the clip's frames, the offset too or 0 (unknown); a value
        already outside them (a sheet's anomaly) stays representable, never clamped."""
        spin = self.frames[name]
        if not numbers:
            spin.setRange(0, max(NO_FRAMES_MAX, value))
        elif name == "offset":
            spin.setRange(0, max(numbers[-1], value))
        else:
            spin.setRange(min(numbers[0], value), max(numbers[-1], value))
        spin.setToolTip(f"frames {numbers[0]}–{numbers[-1]} of this clip" if numbers
                        else "no frame folder found for this clip")

    def _on_edit_changed(self, key: str) -> None:
        if key == self.key:
            self._load_values()

    def _update_status(self, *_args) -> None:
        edited = self.key is not None and self.session.edit_of(self.key) is not None
        dirty = self.session.dirty
        parts = ["row edited" if edited else "row as in the sheet"]
        parts.append("unsaved changes" if dirty else "all changes saved")
        if self.session.store is not None:
            parts.append(f"sidecar: {self.session.store.path}")
        self.status.setText(" · ".join(parts))
        self.save_button.setEnabled(dirty)

    # --- editing -----------------------------------------------------------------------------
    def _commit(self, **change) -> None:
        """Turn one field change into an undoable edit; a value equal to the sheet's clears it."""
        if self._loading or self.key is None:
            return
        key = self.key
        sheet = self.session.sheet_values(key)
        current = self.session.edit_of(key) or SampleEdit()
        (name, value), = change.items()
        if name in FRAME_FIELDS and not self._confirm_order(key, name, value):
            self._load_values()  # "No": the previous value again
            return
        original = {
            "onset": _frame(sheet.get("onset")), "apex": _frame(sheet.get("apex")),
            "offset": _frame(sheet.get("offset")),
            "emotion": normalise_emotion(sheet.get("emotion")) or "",
            "objective_class": normalise_objective(sheet.get("objective")) or "",
            "au": _text(sheet.get("au")), "exclude": False, "exclude_reason": "", "notes": "",
        }[name]
        if name == "exclude" and not value and self.exclude_by_list():
            new_value = False  # overrides the exclusion list
        else:
            new_value = None if value == original else value
        after = replace(current, **{name: new_value})
        if name == "exclude" and value and not (after.exclude_reason or self.reason.text()):
            after = replace(after, exclude_reason="excluded by the user")
        self.session.set_edit(key, after, f"{name} of {key}")

    def _confirm_order(self, key: str, name: str, value: int) -> bool:
        """Ask before a frame edit makes a loaded sample a skipped row (apex outside
        onset..offset, onset after apex, ...)."""
        if not isinstance(self.state.row, Sample) or self.state.row.key != key:
            return True  # a skipped row stays skipped or becomes a sample: nothing lost
        values = {n: _frame(v) for n, v in self.session.effective_values(key).items()
                  if n in FRAME_FIELDS}
        values[name] = value
        problems = frame_order_problems(values["onset"], values["apex"], values["offset"])
        numbers = set(self.state.row.frames.numbers)
        problems += [f"the clip has no frame {values[n]}" for n in ("onset", "apex")
                     if values[n] > 0 and values[n] not in numbers]
        if not problems:
            return True
        answer = QtWidgets.QMessageBox.question(
            self, "Skip this sample?",
            f"With {name} {value} this row cannot be a sample ({'; '.join(problems)}): it is "
            "skipped, neither shown nor used for training, until its frames are corrected.\n\n"
            f"Set the {name} to {value}?",
            QtWidgets.QMessageBox.StandardButton.Yes | QtWidgets.QMessageBox.StandardButton.No,
            QtWidgets.QMessageBox.StandardButton.No)
        return answer == QtWidgets.QMessageBox.StandardButton.Yes

    def exclude_by_list(self) -> bool:
        """Whether the root's exclusion list (not the user's edit) leaves this row out."""
        row, edit = self.state.row, self.session.edit_of(self.key) if self.key else None
        return (isinstance(row, Skipped) and "excluded:" in row.reason
                and not (edit and edit.exclude))

    def set_from_scrubber(self, name: str) -> None:
        """Set onset, apex or offset to the frame under the scrubber."""
        if self.state.frame:
            self.frames[name].setValue(self.state.frame)

    def revert_row(self) -> None:
        if self.key is not None:
            self.session.set_edit(self.key, None, f"revert {self.key}")

    def _flush_notes(self) -> None:
        if self._notes_timer.isActive():
            self._notes_timer.stop()
            self._commit(notes=self.notes.toPlainText())

    def save(self) -> None:
        self._flush_notes()
        try:
            self.session.save()
        except (OSError, MerError) as exc:
            self.session.error.emit(f"could not save the annotations: {describe_error(exc)}")
        self._update_status()

    def ask_export(self) -> None:
        """Ask for a file and export the merged annotations to it (in the background)."""
        self._flush_notes()
        name, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export merged annotations", "annotations_merged.xlsx",
            "Excel (*.xlsx);;CSV (*.csv)")
        if name:
            self.session.export(Path(name))


def undo_shortcuts(panel: AnnotationPanel) -> list[QtGui.QAction]:
    """The panel's undo/redo actions, for the Edit menu (standard shortcuts)."""
    undo, redo = panel.undo_button.defaultAction(), panel.redo_button.defaultAction()
    undo.setShortcut(QtGui.QKeySequence.StandardKey.Undo)
    redo.setShortcut(QtGui.QKeySequence.StandardKey.Redo)
    undo.setObjectName("undo")
    redo.setObjectName("redo")
    return [undo, redo]
