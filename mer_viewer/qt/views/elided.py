"""A label that never widens its dock: long text wraps over fixed lines and is elided."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets
from superqt import QElidingLabel


class ElidedLabel(QElidingLabel):
    """Plain text on a fixed number of ``lines``: longer text wraps, its last line is elided
    ("…"), and the tool tip holds the whole text.

    Neither its height nor its minimum width depends on the text, so a long readout,
    pick description or message never moves the docks or makes the window wider.
    ``text()`` is the whole text.
    """

    def __init__(self, text: str = "", lines: int = 1, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.lines = lines
        self.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        if lines > 1:
            self.setWordWrap(True)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred,
                           QtWidgets.QSizePolicy.Policy.Fixed)
        self._fix_height()
        self.setText(text)

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802
        """The same whatever the text: a layout gives it room by stretch, not by its text."""
        return QtCore.QSize(self.minimumSizeHint().width(), self.height())

    def _fix_height(self) -> None:
        margins = self.contentsMargins()
        self.setFixedHeight(self.lines * self.fontMetrics().lineSpacing() + margins.top()
                            + margins.bottom() + 2)

    @property
    def elided(self) -> bool:
        """Whether part of the text is hidden (then the tool tip shows it)."""
        return QtWidgets.QLabel.text(self).replace("\n", "") != self.text().replace("\n", "")

    def _update_tip(self) -> None:
        self.setToolTip(self.text() if self.elided else "")

    def setText(self, text: str) -> None:  # noqa: N802 - Qt naming
        super().setText(text)
        self._update_tip()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._update_tip()

    def changeEvent(self, event: QtCore.QEvent) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() == QtCore.QEvent.Type.FontChange:
            self._fix_height()
