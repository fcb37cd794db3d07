"""Keyboard shortcuts of the window, in one table, and the Help → Shortcuts dialog."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

#: action name -> (key sequence, description); the window creates one QAction per entry.
SHORTCUTS: dict[str, tuple[str, str]] = {
    "prev_frame": ("Left", "previous frame"),
    "next_frame": ("Right", "next frame"),
    "prev_clip": ("PgUp", "previous clip (in the browser's order and filter)"),
    "next_clip": ("PgDown", "next clip"),
    "play": ("Space", "play / pause"),
    "goto_onset": ("Home", "go to the onset frame"),
    "goto_apex": ("A", "go to the apex frame"),
    "goto_offset": ("End", "go to the offset frame"),
    "set_onset": ("Shift+Home", "set the onset to the frame shown (annotation edit)"),
    "set_apex": ("Shift+A", "set the apex to the frame shown"),
    "set_offset": ("Shift+End", "set the offset to the frame shown"),
    "spot": ("S", "spot the apex: the motion curve of the clip"),
    "use_apex": ("Shift+S", "use the suggested apex (annotation edit, undoable)"),
    "classify": ("C", "classify the current clip"),
    "cancel": ("Esc", "cancel the job shown in the status bar"),
    "open": ("Ctrl+O", "open a dataset folder"),
    "save": ("Ctrl+S", "save annotation edits (sidecar file)"),
    "undo": ("Ctrl+Z", "undo an annotation edit"),
    "redo": ("Ctrl+Shift+Z", "redo"),
    "shortcuts": ("F1", "this list"),
    "quit": ("Ctrl+Q", "quit"),
}


def make_action(parent: QtWidgets.QWidget, name: str, text: str, slot=None) -> QtGui.QAction:
    """A window-wide action with the shortcut of ``name`` from the table."""
    action = QtGui.QAction(text, parent)
    action.setObjectName(name)
    keys, description = SHORTCUTS[name]
    action.setShortcut(QtGui.QKeySequence(keys))
    action.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
    action.setToolTip(f"{description} ({keys})")
    if slot is not None:
        action.triggered.connect(lambda *_checked: slot())
    parent.addAction(action)
    return action


class ShortcutsDialog(QtWidgets.QDialog):
    """A table of every shortcut."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        table = QtWidgets.QTableWidget(len(SHORTCUTS), 2)
        table.setHorizontalHeaderLabels(["key", "action"])
        table.verticalHeader().hide()
        table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        for row, (keys, text) in enumerate(SHORTCUTS.values()):
            native = QtGui.QKeySequence(keys).toString(QtGui.QKeySequence.SequenceFormat.NativeText)
            table.setItem(row, 0, QtWidgets.QTableWidgetItem(native))
            table.setItem(row, 1, QtWidgets.QTableWidgetItem(text))
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        note = QtWidgets.QLabel("In the 3D views: drag to rotate, Ctrl+drag or middle-drag to "
                                "pan, wheel to zoom; hover a point to see its pixel and motion. "
                                "In the 2D views: drag to pan, wheel to zoom, click a pixel to "
                                "mark its 3D point.")
        note.setWordWrap(True)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addWidget(table)
        lay.addWidget(note)
        lay.addWidget(buttons)
        self.table = table
        self.resize(520, 520)
