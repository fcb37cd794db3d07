"""The Train panel's settings: a field per training option of ``TRAIN_OPTIONS`` (the flags of
``mer train``), the advanced ones hidden until asked for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from ...core.errors import MerError
from ...core.ml.config import TRAIN_OPTIONS, TrainConfig, TrainOption, config_from_options

Reader = Callable[[], Any]


class ChoiceSet(QtWidgets.QWidget):
    """A check box per choice (``augment``); ``value()`` is the checked ones, in order."""

    def __init__(self, choices: tuple[str, ...], checked: tuple[str, ...]):
        super().__init__()
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.boxes = {c: QtWidgets.QCheckBox(c, checked=c in checked) for c in choices}
        for box in self.boxes.values():
            row.addWidget(box)
        row.addStretch(1)

    def value(self) -> tuple[str, ...]:
        return tuple(c for c, box in self.boxes.items() if box.isChecked())


def _number(option: TrainOption, text: str) -> Any:
    """A typed number, or None (empty, where None is allowed); MerError naming the option."""
    text = text.strip()
    if not text and option.none:
        return None
    try:
        return option.kind(text)
    except ValueError:
        raise MerError(f"{option.label}: {text!r} is not a number") from None


def make_field(option: TrainOption) -> tuple[QtWidgets.QWidget, Reader]:
    """The widget of one option, at its panel start value, and how to read its value."""
    start = option.start
    if option.many:
        widget = ChoiceSet(option.choices, start)
        return widget, widget.value
    if option.kind is bool and option.none:  # None, True, False: a three-way choice
        combo = QtWidgets.QComboBox()
        combo.addItems((option.none, "on", "off"))
        combo.setCurrentText(option.text(start))
        return combo, lambda: {"on": True, "off": False}.get(combo.currentText())
    if option.kind is bool:
        box = QtWidgets.QCheckBox(option.label, checked=bool(start))
        return box, box.isChecked
    if option.choices or option.presets:
        combo = QtWidgets.QComboBox(editable=bool(option.presets))
        combo.addItems([str(c) for c in option.choices or option.presets])
        combo.setCurrentText(str(start))
        if option.presets:
            combo.setValidator(QtGui.QIntValidator(1, 10**7, combo))
            return combo, lambda: _number(option, combo.currentText())
        return combo, combo.currentText
    if option.kind is int:  # None (where allowed) is the value below ``low``
        low = int(option.low if option.low is not None else 0) - (1 if option.none else 0)
        spin = QtWidgets.QSpinBox(minimum=low, maximum=int(option.high or 9_999_999))
        if option.none:
            spin.setSpecialValueText(option.none)
        spin.setValue(low if start is None else start)
        return spin, lambda: None if option.none and spin.value() == low else spin.value()
    edit = QtWidgets.QLineEdit("" if start is None else repr(start))  # float: typed exactly
    edit.setPlaceholderText(option.none or "")
    return edit, lambda: _number(option, edit.text())


class TrainForm(QtWidgets.QWidget):
    """A field per training option, ``columns`` label-field pairs a row, the advanced ones
    below, shown by the ``advanced`` button; ``fields`` by option name. ``values()`` reads
    them (MerError for a number that is none), ``config()`` builds the TrainConfig as
    ``mer train`` does from its flags."""

    def __init__(self, columns: int = 3, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.fields: dict[str, QtWidgets.QWidget] = {}
        self._readers: dict[str, Reader] = {}
        self._more: list[QtWidgets.QWidget] = []  # the advanced options' labels and fields
        grid = QtWidgets.QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setVerticalSpacing(2)
        basic = [o for o in TRAIN_OPTIONS if not o.advanced]
        # the toggle: beside the last basic option when that is a check box (it leaves room),
        # else in the next cell; no row of its own (the dock is short, the curve needs the rest)
        toggle_cell = len(basic) - (basic[-1].kind is bool and basic[-1].none is None)
        cell = 0
        for option in basic + [o for o in TRAIN_OPTIONS if o.advanced]:
            if option.advanced and cell <= toggle_cell:
                cell = (toggle_cell // columns + 1) * columns  # the rows below
            if option.many and cell % columns:
                cell += columns - cell % columns  # a row of its own
            row, col = divmod(cell, columns)
            for widget, column, span in self._add(option, columns):
                grid.addWidget(widget, row, 2 * col + column, 1, span)
                if option.advanced:
                    self._more.append(widget)
            cell += columns if option.many else 1
        self.advanced = QtWidgets.QToolButton(text="advanced", checkable=True, autoRaise=True)
        self.advanced.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced.setToolTip("the other training options")
        self.advanced.toggled.connect(self._show_advanced)
        self._show_advanced(False)
        row, col = divmod(toggle_cell, columns)
        if toggle_cell < len(basic):
            grid.addWidget(self.advanced, row, 2 * col + 1)
        else:
            grid.addWidget(self.advanced, row, 2 * col, 1, 2)

    def _add(self, option: TrainOption, columns: int):
        """The option's widgets as (widget, column in its cell, column span)."""
        widget, read = make_field(option)
        widget.setToolTip(f"{option.help} ({option.flag} in mer train)")
        self.fields[option.name], self._readers[option.name] = widget, read
        if isinstance(widget, QtWidgets.QCheckBox):  # a basic one leaves room for the toggle
            return [(widget, 0, 2 if option.advanced else 1)]
        label = QtWidgets.QLabel(option.label)
        label.setToolTip(widget.toolTip())
        return [(label, 0, 1), (widget, 1, 2 * columns - 1 if option.many else 1)]

    def _show_advanced(self, shown: bool) -> None:
        self.advanced.setArrowType(QtCore.Qt.ArrowType.DownArrow if shown
                                   else QtCore.Qt.ArrowType.RightArrow)
        for widget in self._more:
            widget.setVisible(shown)

    def values(self) -> dict[str, Any]:
        """Every option's value by name (None: its default, ``auto``/``off``)."""
        return {name: read() for name, read in self._readers.items()}

    def config(self) -> TrainConfig:
        """The TrainConfig of the fields (MerError naming a bad value)."""
        return config_from_options(self.values())
