"""Controls of the 3D panel: cloud parameters, the two samplings compared, display options."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets
from superqt.utils import QFlowLayout

from ...core.face import ALIGN_METHODS
from ...core.motion import OFFSET_METHODS, RANK_KEYS, MotionParams
from ...core.pipeline import CloudParams, SamplingParams
from ..views.cloud_colors import COLOR_MODES

POINT_COUNTS = (1024, 2048, 4096)
SAMPLE_METHODS = ("sort", "random", "fps")
SHOW_MODES = {"highlight": "sampled highlighted", "sampled": "sampled only", "all": "all points"}


def _combo(items, current=None, tip: str = "") -> QtWidgets.QComboBox:
    box = QtWidgets.QComboBox()
    for item in items:
        if isinstance(item, tuple):
            box.addItem(item[1], item[0])
        else:
            box.addItem(str(item), item)
    if current is not None:
        box.setCurrentIndex(max(0, box.findData(current)))
    box.setToolTip(tip)
    return box


class CloudControls(QtWidgets.QWidget):
    """Every option of the motion cloud the user can try, grouped in three rows.

    ``cloudParamsChanged`` (needs the face pipeline again), ``samplingChanged``
    (cheap resampling), ``displayChanged`` (colours and sizes only).
    """

    cloudParamsChanged = QtCore.Signal(object)
    samplingChanged = QtCore.Signal()
    displayChanged = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.points = _combo(POINT_COUNTS, 2048, "N: points sampled for the network")
        self.rank = _combo(RANK_KEYS, "color_l2",
                           "sort key: color_l2 = ‖(r̂, θ̂, φ̂)‖ (the paper), amplitude = r")
        self.left = _combo(SAMPLE_METHODS, "sort", "sampling of the left view")
        self.right = _combo(SAMPLE_METHODS, "random", "sampling of the right view")
        self.seed = QtWidgets.QSpinBox(minimum=0, maximum=9999, value=0)
        self.seed.setToolTip("seed of random sampling and padding")
        self.align = _combo(ALIGN_METHODS, "ecc", "apex→onset alignment (SPEC §1 step 1)")
        self.denoise = QtWidgets.QDoubleSpinBox(minimum=0.0, maximum=10.0, singleStep=0.5,
                                                value=3.0, suffix=" px")
        self.denoise.setToolTip("face-only depth smoothing σ; 0 = the paper literally")
        self.offset = _combo(OFFSET_METHODS, "median", "global face motion removed from ΔP")
        self.color = _combo([(k, v[0]) for k, v in COLOR_MODES.items()], "motion",
                            "what the point colours show")
        self.show_mode = _combo(list(SHOW_MODES.items()), "highlight",
                                "which points are drawn")
        self.size = QtWidgets.QDoubleSpinBox(minimum=1.0, maximum=12.0, singleStep=1.0, value=3.0)
        self.size.setToolTip("point size (screen pixels)")
        self.link = QtWidgets.QCheckBox("link cameras", checked=True)
        self.reset = QtWidgets.QPushButton("Reset view")
        self.screenshot = QtWidgets.QPushButton("Screenshot…")
        self.export = QtWidgets.QPushButton("Export…")
        self.export_menu = QtWidgets.QMenu(self.export)
        self.export.setMenu(self.export_menu)

        def group(*items) -> QtWidgets.QWidget:
            box = QtWidgets.QWidget()
            lay = QtWidgets.QHBoxLayout(box)
            lay.setContentsMargins(0, 0, 6, 0)
            lay.setSpacing(3)
            for item in items:
                lay.addWidget(QtWidgets.QLabel(item) if isinstance(item, str) else item)
            return box

        flow = QFlowLayout(self)
        flow.setContentsMargins(2, 2, 2, 2)
        for items in (("N", self.points), ("rank", self.rank), ("left", self.left),
                      ("right", self.right), ("seed", self.seed), ("align", self.align),
                      ("denoise σ", self.denoise), ("offset", self.offset),
                      ("colour", self.color), ("show", self.show_mode), ("size", self.size),
                      (self.link,), (self.reset, self.screenshot, self.export)):
            flow.addWidget(group(*items))

        for w in (self.align, self.offset):
            w.currentIndexChanged.connect(self._cloud_changed)
        self.denoise.editingFinished.connect(self._cloud_changed)
        # typing "2.5" must not start three pipelines: wait until the value settles
        self._denoise_timer = QtCore.QTimer(self, singleShot=True, interval=600)
        self._denoise_timer.timeout.connect(self._cloud_changed)
        self.denoise.valueChanged.connect(lambda _v: self._denoise_timer.start())
        for w in (self.points, self.rank, self.left, self.right):
            w.currentIndexChanged.connect(lambda _i: self.samplingChanged.emit())
        self.seed.valueChanged.connect(lambda _v: self.samplingChanged.emit())
        for w in (self.color, self.show_mode):
            w.currentIndexChanged.connect(lambda _i: self.displayChanged.emit())
        self.size.valueChanged.connect(lambda _v: self.displayChanged.emit())
        self._last_params = self.cloud_params()

    def _cloud_changed(self, *_args) -> None:
        params = self.cloud_params()
        if params != self._last_params:
            self._last_params = params
            self.cloudParamsChanged.emit(params)

    def cloud_params(self) -> CloudParams:
        return CloudParams(align=self.align.currentData(),
                           denoise_sigma_px=float(self.denoise.value()),
                           motion=MotionParams(offset=self.offset.currentData()))

    def set_cloud_params(self, params: CloudParams) -> None:
        self.align.setCurrentIndex(self.align.findData(params.align))
        self.denoise.setValue(params.denoise_sigma_px)
        self.offset.setCurrentIndex(self.offset.findData(params.motion.offset))
        self._last_params = self.cloud_params()

    def sampling(self, side: str) -> SamplingParams:
        """The SamplingParams of the ``left`` or ``right`` view."""
        method = (self.left if side == "left" else self.right).currentData()
        return SamplingParams(points=int(self.points.currentData()), method=method,
                              rank=self.rank.currentData(), seed=int(self.seed.value()))

    @property
    def color_mode(self) -> str:
        return self.color.currentData()

    def set_color_mode(self, mode: str) -> None:
        self.color.setCurrentIndex(self.color.findData(mode))

    @property
    def show(self) -> str:
        return self.show_mode.currentData()

    def save(self, settings: QtCore.QSettings) -> None:
        for name in ("points", "rank", "left", "right", "align", "offset", "color", "show_mode"):
            settings.setValue(f"cloud/{name}", str(getattr(self, name).currentData()))
        settings.setValue("cloud/denoise", self.denoise.value())
        settings.setValue("cloud/size", self.size.value())
        settings.setValue("cloud/seed", self.seed.value())
        settings.setValue("cloud/link", self.link.isChecked())

    def restore(self, settings: QtCore.QSettings) -> None:
        blocked = [w.blockSignals(True) for w in self.findChildren(QtWidgets.QWidget)]
        try:
            for name in ("points", "rank", "left", "right", "align", "offset", "color",
                         "show_mode"):
                box: QtWidgets.QComboBox = getattr(self, name)
                raw = settings.value(f"cloud/{name}")
                if raw is None:
                    continue
                for i in range(box.count()):
                    if str(box.itemData(i)) == str(raw):
                        box.setCurrentIndex(i)
            for key, widget, kind in (("denoise", self.denoise, float), ("size", self.size, float),
                                      ("seed", self.seed, int)):
                raw = settings.value(f"cloud/{key}")
                if raw is not None:
                    try:
                        widget.setValue(kind(raw))
                    except (TypeError, ValueError):
                        pass
            raw = settings.value("cloud/link")
            if raw is not None:
                self.link.setChecked(str(raw).lower() in ("true", "1"))
        finally:
            for w, was in zip(self.findChildren(QtWidgets.QWidget), blocked):
                w.blockSignals(was)
        self._last_params = self.cloud_params()
