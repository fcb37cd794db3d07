"""A menu of valid FACS action units and their side prefixes, for typing AU strings by picking."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ...core.dataset.labels import parse_au

#: FACS action units met in micro-expression sheets, with their names.
ACTION_UNITS: dict[int, str] = {
    1: "inner brow raiser", 2: "outer brow raiser", 4: "brow lowerer", 5: "upper lid raiser",
    6: "cheek raiser", 7: "lid tightener", 9: "nose wrinkler", 10: "upper lip raiser",
    11: "nasolabial deepener", 12: "lip corner puller", 13: "cheek puffer", 14: "dimpler",
    15: "lip corner depressor", 16: "lower lip depressor", 17: "chin raiser",
    18: "lip pucker", 20: "lip stretcher", 22: "lip funneler", 23: "lip tightener",
    24: "lip pressor", 25: "lips part", 26: "jaw drop", 27: "mouth stretch",
    28: "lip suck", 38: "nostril dilator", 39: "nostril compressor", 43: "eyes closed",
    45: "blink", 61: "eyes turn left", 62: "eyes turn right", 63: "eyes up", 64: "eyes down",
}
#: Side prefixes the sheets use (parsed by ``labels.parse_au``).
SIDES = (("", "both sides"), ("L", "left"), ("R", "right"), ("T", "T prefix"),
         ("B", "B prefix"))


def appended(text: str, code: str) -> str:
    """``text`` with ``code`` added as one more ``+`` term (none when already there)."""
    terms = [t.strip() for t in text.split("+") if t.strip()]
    if code not in terms:
        terms.append(code)
    return "+".join(terms)


class AuPicker(QtWidgets.QToolButton):
    """"AU ▾": one submenu per action unit, one entry per side; ``picked(code)`` e.g. "L12"."""

    picked = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setText("AU ▾")
        self.setToolTip("add an action unit (with a side prefix) to the AU string")
        self.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QtWidgets.QMenu(self)
        for number, name in ACTION_UNITS.items():
            sub = menu.addMenu(f"AU{number}  {name}")
            for prefix, side in SIDES:
                code = f"{prefix}{number}"
                parse_au(code)  # every entry is a valid AU string
                action = sub.addAction(f"{code}  ({side})")
                action.setData(code)
                action.triggered.connect(lambda _c=False, c=code: self.picked.emit(c))
        self.setMenu(menu)
