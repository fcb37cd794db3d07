"""The main window: wires the panels, docks, menus, shortcuts, drag and drop and settings."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from ..core.flow import DEFAULT_FLOW
from ..core.paths import demo_root
from .infra import warm_up
from .infra.loader import CloudLoader
from .infra.memo import RecentClips
from .infra.paint_hold import PaintHold
from .infra.prefetch import Prefetcher
from .infra.session import DatasetSession
from .infra.settings import add_recent, open_settings, recent_datasets
from .infra.state import ViewerState
from .infra.workers import JobRunner
from .panels.annotation import AnnotationPanel, undo_shortcuts
from .panels.browser import DatasetBrowser
from .panels.cloud_panel import CloudPanel
from .panels.results_actions import ResultsActions
from .panels.shortcuts import ShortcutsDialog, make_action
from .panels.status_widgets import JobStatus, MessageBar, MessageLog
from .panels.views2d import Views2DPanel
from .views.flicker_view import OnsetApexView
from .views.motion_curve import MotionCurvePanel

FLOW_METHOD_KEY = "flow/chosen_method"  # QSettings: a flow method the user chose

LAYOUT_VERSION = 1


class MainWindow(QtWidgets.QMainWindow):
    """Creates the shared state, the job runner and every panel, and connects them."""

    def __init__(self, settings: QtCore.QSettings | None = None, restore: bool = True,
                 parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("mer-viewer")
        self.setAcceptDrops(True)
        self.settings = settings if settings is not None else open_settings()
        self.state = ViewerState(self)
        # before the views: on a new clip it holds their paints before they clear themselves
        self.paint_hold = PaintHold(self)
        self.state.sampleChanged.connect(self.paint_hold.hold)
        self.jobs = JobRunner(self)
        self.recent = RecentClips()  # what recent clips showed: frames, clouds, flows, samplings
        self.session = DatasetSession(self.state, self.jobs, self)

        self.messages = MessageBar()
        self._message_log: MessageLog | None = None
        self.views2d = Views2DPanel(self.state, self.jobs, self.recent)
        central = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.messages)
        lay.addWidget(self.views2d, 1)
        self.motion_curve = MotionCurvePanel(self.state, self.jobs, self.session)
        lay.addWidget(self.motion_curve)  # under the scrubber
        self.setCentralWidget(central)

        self.browser = DatasetBrowser()
        self.cloud_panel = CloudPanel(self.state, self.jobs, self.recent)
        self.annotation = AnnotationPanel(self.state, self.session)
        # after the views: on a new clip they clear themselves first, then the loader may
        # show remembered results at once (one repaint instead of two)
        self.cloud_loader = CloudLoader(self.state, self.jobs, self.recent, self,
                                        samplings=self.cloud_panel.samplings)
        # the neighbours of a shown clip, read ahead
        self.prefetch = Prefetcher(self.state, self.recent, self.jobs, self.browser.neighbours,
                                   self.cloud_panel.samplings, self)
        self.paint_hold.released.connect(self.prefetch.schedule)
        self.docks: dict[str, QtWidgets.QDockWidget] = {}
        self._dock("browser", "Dataset", self.browser, QtCore.Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("cloud", "3D motion cloud", self.cloud_panel,
                   QtCore.Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("annotation", "Annotation", self.annotation,
                   QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, scroll=True)
        self.onset_apex = OnsetApexView(self.state)  # flicker / difference, behind Annotation
        self._dock("onset_apex", "Onset ↔ apex", self.onset_apex,
                   QtCore.Qt.DockWidgetArea.LeftDockWidgetArea)
        self.tabifyDockWidget(self.docks["annotation"], self.docks["onset_apex"])
        self.docks["onset_apex"].visibilityChanged.connect(self.onset_apex.set_seen)
        self.docks["annotation"].raise_()
        self._add_ml_panels()
        self.job_status = JobStatus(self.jobs)
        self.statusBar().addPermanentWidget(self.job_status)
        self._build_menus()
        self._connect()
        self.apply_size(1600, 1000)
        self._default_state = self.saveState(LAYOUT_VERSION)
        self._persist = restore
        if restore:
            self.restore_settings()
        # once the event loop runs (the window shown): face models load in a helper process
        QtCore.QTimer.singleShot(0, warm_up.start)

    def apply_size(self, width: int, height: int) -> None:
        """Resize the window and share it out: browser ~21 %, 3D views ~40 % of the width."""
        self.resize(width, height)
        self.resizeDocks([self.docks["browser"], self.docks["cloud"]],
                         [int(width * 0.21), int(width * 0.40)], QtCore.Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["cloud"], self.docks["classify"]],
                         [int(height * 0.68), int(height * 0.24)], QtCore.Qt.Orientation.Vertical)

    def _dock(self, name: str, title: str, widget: QtWidgets.QWidget,
              area: QtCore.Qt.DockWidgetArea, scroll: bool = False) -> QtWidgets.QDockWidget:
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(f"dock_{name}")
        if scroll:  # tall forms scroll instead of forcing a tall window
            area_widget = QtWidgets.QScrollArea()
            area_widget.setWidgetResizable(True)
            area_widget.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
            area_widget.setWidget(widget)
            widget = area_widget
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[name] = dock
        return dock

    def _add_ml_panels(self) -> None:
        """Classification and training docks (their torch imports wait until first use)."""
        from .panels.classify_panel import ClassifyPanel
        from .panels.train_panel import TrainPanel

        self.classify_panel = ClassifyPanel(self.state, self.jobs, self.cloud_panel)
        self.train_panel = TrainPanel(self.state, self.jobs)
        self._dock("classify", "Classification", self.classify_panel,
                   QtCore.Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("train", "Training", self.train_panel,
                   QtCore.Qt.DockWidgetArea.RightDockWidgetArea, scroll=True)
        self.train_panel.checkpointReady.connect(self.classify_panel.add_checkpoint)
        self.tabifyDockWidget(self.docks["classify"], self.docks["train"])
        self.docks["classify"].raise_()

    # --- menus and shortcuts ------------------------------------------------------------------------
    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        file.addAction(make_action(self, "open", "&Open dataset folder…", self.ask_open))
        file.addAction("Open &demo corpus", self.open_demo)
        self.recent_menu = file.addMenu("&Recent datasets")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file.addSeparator()
        file.addAction(make_action(self, "save", "&Save annotations", self.annotation.save))
        file.addAction("&Export merged annotations…", self.annotation.ask_export)
        file.addAction("Save window &screenshot…", self._ask_window_screenshot)
        file.addSeparator()
        file.addAction(make_action(self, "quit", "&Quit", self.close))

        edit = bar.addMenu("&Edit")
        for action in undo_shortcuts(self.annotation):
            edit.addAction(action)
            self.addAction(action)

        clip = bar.addMenu("&Clip")
        s, v = self.state, self.views2d
        clip.addAction(make_action(self, "prev_frame", "Previous frame", lambda: s.step_frame(-1)))
        clip.addAction(make_action(self, "next_frame", "Next frame", lambda: s.step_frame(1)))
        clip.addAction(make_action(self, "play", "Play / pause", v.toggle_playing))
        clip.addSeparator()
        clip.addAction(make_action(self, "prev_clip", "Previous clip", lambda: self.browser.step(-1)))
        clip.addAction(make_action(self, "next_clip", "Next clip", lambda: self.browser.step(1)))
        clip.addSeparator()
        for name in ("onset", "apex", "offset"):
            clip.addAction(make_action(self, f"goto_{name}", f"Go to {name}",
                                       lambda n=name: self.goto_marker(n)))
        for name in ("onset", "apex", "offset"):
            clip.addAction(make_action(self, f"set_{name}", f"Set {name} to this frame",
                                       lambda n=name: self.annotation.set_from_scrubber(n)))
        clip.addAction(make_action(self, "spot", "&Spot apex", self.motion_curve.spot))
        clip.addAction(make_action(self, "use_apex", "&Use suggested apex",
                                   self.motion_curve.use_suggested_apex))
        clip.addSeparator()
        clip.addAction(make_action(self, "classify", "&Classify clip", self.classify_panel.classify))
        make_action(self, "cancel", "Cancel job", self.job_status.cancel_shown)
        self.results_actions = ResultsActions(self)  # Open results…, Classify shown clips…
        self.results_actions.add_to_menus(file, clip)

        view = bar.addMenu("&View")
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())
        view.addSeparator()
        view.addAction("&Message log…", self.show_message_log)
        view.addAction("Reset layout", self.reset_layout)

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(make_action(self, "shortcuts", "&Shortcuts", self.show_shortcuts))
        help_menu.addAction("&About", self._about)

    def _connect(self) -> None:
        s = self.state
        self.browser.rowSelected.connect(s.set_row)
        s.datasetChanged.connect(self._on_dataset)
        s.rowChanged.connect(lambda row: self.browser.select_key(row.key if row else None))
        s.sampleEdited.connect(lambda _s: self.views2d.update_markers())
        self.session.message.connect(self.messages.info)
        self.session.error.connect(self.messages.error)
        self.session.opened.connect(self._on_opened)
        self.cloud_panel.message.connect(self.messages.info)
        self.cloud_panel.error.connect(self.messages.error)
        self.jobs.failed.connect(lambda _name, text: self.messages.error(text))
        self.views2d.frameFailed.connect(lambda _id, _n, text: self.messages.error(text))
        self._connect_paint_hold()

    def _connect_paint_hold(self) -> None:
        """After every view's own slots: check whether the new clip is all shown."""
        hold, v, s = self.paint_hold, self.views2d, self.state
        hold.watch([self], lambda: s.sample is None or (
            v.frame_shown and v.flow_shown and self.cloud_panel.ready))
        for signal in (s.frameChanged, s.pairChanged, s.cloudChanged, v.frameReady,
                       self.jobs.partial, self.jobs.done):
            signal.connect(hold.check)
        for signal in (self.jobs.failed, v.frameFailed):
            signal.connect(hold.release)
        self.session.undo.cleanChanged.connect(self._update_title)

    # --- datasets --------------------------------------------------------------------------------------
    def open_dataset(self, root: Path | str, clip: str | None = None) -> None:
        self.session.open(root, clip)

    def open_demo(self, clip: str | None = None) -> None:
        self.session.open_demo(demo_root(), clip)

    def ask_open(self) -> None:
        start = str(self.state.root or Path.home())
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Open a CAS(ME)³ folder", start)
        if folder:
            self.open_dataset(folder)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for root in recent_datasets(self.settings):
            self.recent_menu.addAction(root, lambda r=root: self.open_dataset(r))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none)").setEnabled(False)

    def _on_dataset(self, dataset) -> None:
        self.browser.set_dataset(dataset)
        self._update_title()

    def _on_opened(self, dataset) -> None:
        add_recent(self.settings, dataset.root)
        self.settings.setValue("datasets/last", str(dataset.root))
        if dataset.warnings:  # a link loop, a folder without permission: samples may hide
            n = len(dataset.warnings)
            self.messages.show_message(
                f"{dataset.root}: {n} entr{'y' if n == 1 else 'ies'} could not be examined and "
                f"may hide samples: {'; '.join(dataset.warnings)}", "info", seconds=30)
        if self.state.row is None and dataset.samples and not self.session.selecting:
            self.state.set_row(self.browser.first_sample() or dataset.samples[0])

    def _update_title(self, *_args) -> None:
        root = self.state.root
        dirty = " *" if self.session.dirty else ""
        self.setWindowTitle(f"mer-viewer — {root}{dirty}" if root else "mer-viewer")

    def goto_marker(self, name: str) -> None:
        sample = self.state.sample
        if sample is not None and getattr(sample, name) > 0:
            self.state.set_frame(getattr(sample, name))

    # --- drag and drop ---------------------------------------------------------------------------------
    @staticmethod
    def _dropped_folder(event) -> Path | None:
        for url in event.mimeData().urls():
            if url.isLocalFile() and Path(url.toLocalFile()).is_dir():
                return Path(url.toLocalFile())
        return None

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
        if self._dropped_folder(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:
        folder = self._dropped_folder(event)
        if folder is not None:
            event.acceptProposedAction()
            self.open_dataset(folder)

    # --- dialogs ------------------------------------------------------------------------------------------
    def show_message_log(self) -> MessageLog:
        """The session's messages with time and kind (one window, raised when open)."""
        if self._message_log is None:
            self._message_log = MessageLog(self.messages, self)
        self._message_log.show()
        self._message_log.raise_()
        return self._message_log

    def show_shortcuts(self) -> None:
        ShortcutsDialog(self).exec()

    def _about(self) -> None:
        from .panels.about import show_about

        show_about(self)

    def _ask_window_screenshot(self) -> None:
        name, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save window screenshot",
                                                        "mer-viewer.png", "PNG (*.png)")
        if name and not self.grab().save(name):
            self.messages.error(f"{name}: could not write the image")

    # --- settings and closing ---------------------------------------------------------------------------
    def reset_layout(self) -> None:
        self.restoreState(self._default_state, LAYOUT_VERSION)
        for dock in self.docks.values():
            dock.show()

    def restore_settings(self) -> None:
        st = self.settings
        geometry = st.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        layout = st.value("window/state")
        if layout is not None:
            self.restoreState(layout, LAYOUT_VERSION)
        self.state.set_cloud_params(self.cloud_panel.restore_settings(st))
        # only a method other than the default is kept ("flow/method" held every old
        # window's TV-L1, the default then, and is ignored)
        method = st.value(FLOW_METHOD_KEY)
        if method:
            self.views2d.set_flow_method(str(method))

    def save_settings(self) -> None:
        st = self.settings
        st.setValue("window/geometry", self.saveGeometry())
        st.setValue("window/state", self.saveState(LAYOUT_VERSION))
        if self.views2d.flow_method == DEFAULT_FLOW:
            st.remove(FLOW_METHOD_KEY)
        else:
            st.setValue(FLOW_METHOD_KEY, self.views2d.flow_method)
        self.cloud_panel.save_settings(st)
        st.sync()

    def confirm_discard(self) -> bool:
        """Ask what to do with unsaved annotation edits; False = stay open."""
        if not self.session.dirty:
            return True
        answer = QtWidgets.QMessageBox.question(
            self, "Unsaved annotation edits", "Save the annotation edits before closing?",
            QtWidgets.QMessageBox.StandardButton.Save | QtWidgets.QMessageBox.StandardButton.Discard
            | QtWidgets.QMessageBox.StandardButton.Cancel)
        if answer == QtWidgets.QMessageBox.StandardButton.Save:
            self.annotation.save()
            return not self.session.dirty
        return answer == QtWidgets.QMessageBox.StandardButton.Discard

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        if not self.confirm_discard():
            event.ignore()
            return
        if self._persist:
            self.save_settings()
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop playback and every job; wait briefly for worker threads to end."""
        # An undo stack destroyed with commands on it emits cleanChanged from its destructor,
        # into Python slots whose objects are going too ("QUndoStack already deleted"):
        # the window is closing, its unsaved edits were saved or discarded by now.
        self.session.undo.clear()
        self.views2d.shutdown()
        self.prefetch.shutdown()
        self.jobs.cancel_all()
        self.jobs.wait_all(5.0)
