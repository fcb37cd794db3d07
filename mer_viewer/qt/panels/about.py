"""Help → About: the version, the libraries, the device and the licences (mer_viewer.about)."""

from __future__ import annotations

import html

from PySide6 import QtCore, QtGui, QtWidgets

from ... import __version__
from ...about import About, gather
from ...resources import icon_svg


def app_icon() -> QtGui.QIcon:
    """The app icon, scalable (the SVG) with its PNG renderings for the small sizes."""
    from ...resources import icon_pngs

    icon = QtGui.QIcon(str(icon_svg()))
    for png in icon_pngs():
        icon.addFile(str(png))
    return icon


def facts_html(about: About) -> str:
    rows = [("mer-viewer", about.version), ("Python", about.python), *about.libraries.items(),
            ("Device", about.device)]
    table = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(v)}</td></tr>"
                    for k, v in rows)
    licences = "".join(f"<li><b>{html.escape(what)}</b>: {html.escape(licence)}</li>"
                       for what, licence in about.licences)
    return (f"<table cellspacing='4'>{table}</table>"
            f"<p><b>Licences</b></p><ul>{licences}</ul>")


class AboutDialog(QtWidgets.QDialog):
    """Shows at once; the facts (PyTorch must be imported to name the device) arrive from a
    worker thread, so the window never waits for them."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("About mer-viewer")
        self.about: About | None = None
        logo = QtWidgets.QLabel()
        logo.setPixmap(app_icon().pixmap(64, 64))
        title = QtWidgets.QLabel(
            f"<h3>mer-viewer {html.escape(__version__)}</h3>Micro-expression recognition from "
            "depth point clouds (CAS(ME)³; arXiv 2406.07918).")
        title.setWordWrap(True)
        head = QtWidgets.QHBoxLayout()
        head.addWidget(logo, 0, QtCore.Qt.AlignmentFlag.AlignTop)
        head.addWidget(title, 1)
        self.facts = QtWidgets.QTextBrowser()
        self.facts.setOpenExternalLinks(False)
        self.facts.setPlainText("Gathering versions and the device…")
        self.facts.setMinimumSize(620, 360)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        self.copy_button = buttons.addButton("Copy", QtWidgets.QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self.copy)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.facts, 1)
        layout.addWidget(buttons)
        self._worker = None

    def start(self) -> None:
        from superqt.utils import create_worker

        self._worker = create_worker(gather)
        self._worker.returned.connect(self.show_facts)
        self._worker.errored.connect(self._failed)
        self._worker.start()

    def show_facts(self, about: About) -> None:
        self.about = about
        self.facts.setHtml(facts_html(about))
        self.copy_button.setEnabled(True)

    def _failed(self, exc: BaseException) -> None:
        from ..infra.workers import describe_error

        self.facts.setPlainText(f"Could not gather the versions: {describe_error(exc)}")

    def copy(self) -> None:
        """The same text as ``mer-viewer --version``, for a bug report."""
        if self.about is not None:
            QtWidgets.QApplication.clipboard().setText(self.about.as_text("mer-viewer"))


def show_about(parent: QtWidgets.QWidget) -> AboutDialog:
    dialog = AboutDialog(parent)
    dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.start()
    dialog.show()
    return dialog
