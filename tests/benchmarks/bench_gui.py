"""GUI responsiveness: cold start to first paint, switching to a cached clip, 3D frame rate.

Run (a real X display is needed for the 3D views; Xvfb gives Mesa's llvmpipe):

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python tests/benchmarks/bench_gui.py [DEMO_ROOT]

Without DEMO_ROOT a small demo corpus (2 subjects × 3 clips) is built in a temporary
folder. Settings, cache and data folders are private to the run; the clips are
cached first with ``mer preprocess`` (cloud, aligned pair and the default DIS flow).
Prints markdown tables: median and spread (min–max) of each measure against its goal,
and the longest GUI-thread block of each journey. ``--starts 0``, ``--rounds 0``,
``--frames 0`` or ``--no-blocks`` skip the cold starts, the clip switches, the 3D frame
rate or the GUI-thread blocks.

1. Cold start: a fresh ``mer-viewer ROOT`` process until the main window's first paint
   (``MER_VIEWER_REPORT_FIRST_PAINT``, see ``mer_viewer/qt/infra/first_paint.py``), which also
   reports whether torch or open3d were imported by then.
2. Clip switch: in one window, select another (cached) clip and process events until
   every view shows it (``screenshot.settled``) and no view has a paint pending; the time
   is that of the last paint of any of the 2D panels and 3D viewports. A first visit
   decodes the onset frame and reads the clip's cloud, aligned pair and flow from the
   disk cache; a revisit (recent clips are kept in memory) is what going back and forth
   through a session costs. First visits are timed with reading ahead off; "read ahead"
   steps through the browser (PgDn) with it on, each switch once the clip before it has
   had its neighbours read (``mer_viewer/qt/infra/prefetch.py``).
3. 3D frame rate: one ``CloudView`` with 100k points, the camera orbiting; per frame
   ``update()``, events processed until the view's paint event, then ``glFinish``.
4. GUI-thread blocks: a 10 ms ``Heartbeat`` timer runs on the GUI thread while the
   event loop does each journey in a fresh window (before anything else in this
   process, so nothing is loaded yet); its longest gap between ticks is the longest
   time the GUI could not react. Journeys: start-up (window shown, the first cached
   clip loaded, 3 s idle), the first clip not in the cache (a fresh cache folder),
   classify with the bundled 3-class PointNet++ by the C key (first: torch and the
   model load; again), building the training items and a tiny training run through
   the Train panel (PointNet, N 1024, ``--train-epochs``, LOSO) until its results
   show. Also the classify latency: key press to the probabilities painted. Each
   block's note gives the GUI thread's own CPU time in it (``time.thread_time``) and the
   most it spent in any one block: on a busy machine the wall time grows with the
   load, the CPU time much less, so the two tell work from waiting.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def _private_env(base: Path) -> dict:
    """The app's settings, cache and data go to ``base``, never the user's own."""
    env = dict(os.environ)
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        env[name] = str(base / name.lower())
    env.pop("QT_QPA_PLATFORM", None)  # xcb on the (virtual) display, as a user runs it
    return env


def _tool(name: str) -> list[str]:
    script = Path(sys.executable).parent / name
    module = {"mer": "mer_viewer.cli", "mer-viewer": "mer_viewer.qt.app"}[name]
    return [str(script)] if script.exists() else [sys.executable, "-m", module]


def _stats(values_ms: list[float]) -> tuple[float, float, float]:
    return float(np.median(values_ms)), float(np.min(values_ms)), float(np.max(values_ms))


# --- 1. cold start ---------------------------------------------------------------------------

def cold_start(root: Path, repeats: int) -> tuple[list[float], set[str]]:
    from mer_viewer.qt.infra.first_paint import ENV, PREFIX

    env = _private_env(Path(os.environ["XDG_CONFIG_HOME"]).parent)
    env[ENV] = "1"
    times, heavy = [], set()
    for _ in range(repeats):
        start = time.time()
        result = subprocess.run(_tool("mer-viewer") + [str(root)], env=env, capture_output=True,
                                text=True, timeout=120)
        line = next((ln for ln in result.stdout.splitlines() if ln.startswith(PREFIX)), None)
        if line is None:
            raise RuntimeError(f"no first-paint report; stderr:\n{result.stderr[-2000:]}")
        report = json.loads(line[len(PREFIX):])
        times.append((report["time_s"] - start) * 1e3)
        heavy.update(report["heavy_imports"])
    return times, heavy


# --- 2. clip switch --------------------------------------------------------------------------

class PaintClock:
    """Remembers the time of the last paint event of each watched widget."""

    def __init__(self, widgets: dict):
        from PySide6 import QtCore

        class Filter(QtCore.QObject):
            def eventFilter(inner, obj, event):  # noqa: N802, N805
                if event.type() == QtCore.QEvent.Type.Paint:
                    self.last[obj] = time.perf_counter()
                return False

        self.names = {w: name for name, w in widgets.items()}
        self.last: dict = {}
        self.filter = Filter()
        for widget in widgets.values():
            widget.installEventFilter(self.filter)

    def since(self, t0: float) -> dict[str, float] | None:
        """ms from ``t0`` to each widget's last paint, or None while one has not painted."""
        out = {}
        for widget, name in self.names.items():
            t = self.last.get(widget, 0.0)
            if t < t0:
                return None
            out[name] = (t - t0) * 1e3
        return out


def _watched(window) -> dict:
    v = window.views2d
    widgets = {p.objectName(): p.layout_widget.viewport() for p in v.panels}
    widgets.update({f"3d_{s}": view for s, view in window.cloud_panel.views.items()})
    return widgets


def _switch(app, window, clock: PaintClock, sample, timeout_s: float = 120.0) -> dict:
    """Time one switch to ``sample`` (a Sample, or a callable that makes the switch)."""
    from mer_viewer.qt.infra.screenshot import settled

    t0 = time.perf_counter()
    sample() if callable(sample) else window.state.set_row(sample)
    sample = window.state.sample
    deadline = t0 + timeout_s
    while not settled(window):
        app.processEvents()
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{sample.id}: not settled; jobs {window.jobs.names()}")
        time.sleep(0.0005)
    # the views have their content: let their pending paints happen (not timed)
    quiet_until = time.perf_counter() + 0.15
    while time.perf_counter() < quiet_until or clock.since(t0) is None:
        app.processEvents()
        time.sleep(0.001)
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{sample.id}: a view never painted")
    return clock.since(t0)


def _forget_clips(window) -> None:
    """Drop every clip kept in memory (frames, clouds, pairs, flows, samplings)."""
    window.recent.clear()


def _read_ahead_done(app, window) -> None:
    while not window.prefetch.idle:
        app.processEvents()
        time.sleep(0.002)
    app.processEvents()


def clip_switch(root: Path, rounds: int) -> tuple[dict, dict, dict]:
    from PySide6 import QtCore, QtWidgets

    from mer_viewer.core.dataset import Dataset
    from mer_viewer.qt.main_window import MainWindow

    app = QtWidgets.QApplication.instance()
    settings = QtCore.QSettings(os.path.join(os.environ["XDG_CONFIG_HOME"], "bench.ini"),
                                QtCore.QSettings.Format.IniFormat)
    window = MainWindow(settings, restore=False)
    window.apply_size(1600, 1000)
    window.show()
    samples = Dataset.open(root).samples
    window.open_dataset(root)
    while window.state.dataset is None:
        app.processEvents()
        time.sleep(0.005)
    clock = PaintClock(_watched(window))
    window.prefetch.enabled = False  # first visits: nothing read ahead
    _switch(app, window, clock, samples[0])  # warm up: models loaded, GL initialised
    first = [_switch(app, window, clock, s) for s in samples[1:]]  # samples[0]: the warm-up
    again = [_switch(app, window, clock, s) for _ in range(rounds - 1)
             for s in samples[:1] + samples[1:]]
    # PgDn through the browser, each clip read ahead while the one before it was shown
    _switch(app, window, clock, samples[0])
    _forget_clips(window)
    window.prefetch.enabled = True
    window.prefetch.start()
    ahead = []
    for _ in samples[1:]:
        _read_ahead_done(app, window)
        ahead.append(_switch(app, window, clock, lambda: window.browser.step(1)))
    window.session.undo.setClean()
    window.shutdown()
    window.close()
    return _split(first), _split(ahead), _split(again)


def _split(runs: list[dict]) -> dict[str, list[float]]:
    """Per switch: the 2D frame panels, the flow panel, the 3D viewports, everything."""
    groups = {"frames (RGB, depth, heat map)": ("rgb", "depth", "motion_heat_map"),
              "optical flow": ("optical_flow",), "3D viewports": ("3d_left", "3d_right")}
    out = {g: [max(run[n] for n in names) for run in runs] for g, names in groups.items()}
    out["all views"] = [max(run.values()) for run in runs]
    return out


# --- 3. 3D frame rate ------------------------------------------------------------------------

def frame_rate(points: int, size: tuple[int, int], frames: int, repeats: int) -> list[float]:
    from OpenGL import GL
    from PySide6 import QtWidgets

    from mer_viewer.qt.views.cloud_view import CloudView

    app = QtWidgets.QApplication.instance()
    rng = np.random.default_rng(0)
    # a face-sized half ellipsoid in display mm, coloured like the motion mode
    u, v = rng.uniform(-1, 1, (2, points))
    keep = u * u + v * v
    xyz = np.c_[70 * u, 90 * v, 40 * np.sqrt(np.clip(1 - keep, 0, 1))].astype(np.float32)
    colors = rng.uniform(0, 1, (points, 3)).astype(np.float32)
    view = CloudView("bench")
    view.resize(*size)
    view.show()
    view.set_cloud(xyz, colors, None, None, reset=True)
    for _ in range(20):
        app.processEvents()
        time.sleep(0.01)
    painted = PaintClock({"view": view})
    fps = []
    for _ in range(repeats + 1):  # the first round warms up (shader compile, buffers)
        start = time.perf_counter()
        for _ in range(frames):
            view.orbit(360.0 / frames, 0.5)
            asked = time.perf_counter()
            view.update()  # what a mouse drag does; repaint() skips a QOpenGLWidget
            while painted.since(asked) is None:
                app.processEvents()
            view.makeCurrent()
            GL.glFinish()
            view.doneCurrent()
        fps.append(frames / (time.perf_counter() - start))
    view.close()
    return fps[1:]


def gl_renderer() -> str:
    from OpenGL import GL
    from PySide6 import QtGui

    context = QtGui.QOpenGLContext()
    surface = QtGui.QOffscreenSurface()
    surface.create()
    if not context.create() or not context.makeCurrent(surface):
        return "no GL context"
    name = GL.glGetString(GL.GL_RENDERER)
    context.doneCurrent()
    return name.decode() if name else "?"


# --- 4. GUI-thread blocks (heartbeat) --------------------------------------------------------

class Heartbeat:
    """A 10 ms timer on the GUI thread. The longest gap between two of its ticks is the
    longest time the GUI thread could not react: a slow slot or paint, or a worker thread
    holding the GIL (a C extension loading a model, a shared library being linked)."""

    def __init__(self, interval_ms: int = 10, stacks: bool = False):
        from PySide6 import QtCore

        self.timer = QtCore.QTimer()
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.ticks: list[float] = []
        self.cpu: list[float] = []  # the GUI thread's CPU time at each tick
        self.block_cpu_ms = self.max_cpu_ms = 0.0
        # --stacks: a watcher thread samples the GUI thread's stack while a tick is late,
        # so a block can be named (it cannot run while a C extension holds the GIL).
        self.stacks = stacks
        self.samples: dict[float, list[str]] = {}  # tick before the gap -> sampled stacks
        self._gui = threading.get_ident()
        self._watching = False
        self._watcher: threading.Thread | None = None

    def _tick(self) -> None:
        self.ticks.append(time.perf_counter())
        self.cpu.append(time.thread_time())

    def note(self, at: float) -> str:
        """Where the longest block began and how much of it was the GUI thread's own CPU
        (the rest it waited: for other threads' CPU on a busy machine, the GIL, the X
        server, the GL threads); and the most CPU the GUI thread spent in any one block,
        which depends far less on the machine's load than the wall time does."""
        return (f"at {at:.2f} s; GUI-thread CPU {self.block_cpu_ms:.0f} ms of it, "
                f"at most {self.max_cpu_ms:.0f} ms in any block")

    def _watch(self) -> None:
        while self._watching:
            time.sleep(0.01)
            last = self.ticks[-1]
            if time.perf_counter() - last > 0.04:
                frame = sys._current_frames().get(self._gui)
                if frame is not None:
                    lines = [f"{Path(f.filename).name}:{f.lineno} {f.name}"
                             for f in traceback.extract_stack(frame)[-14:]]
                    self.samples.setdefault(last, []).append(" < ".join(reversed(lines)))

    def start(self) -> None:
        self.ticks, self.cpu = [time.perf_counter()], [time.thread_time()]
        self.samples = {}
        self.timer.start()
        if self.stacks:
            self._watching = True
            self._watcher = threading.Thread(target=self._watch, daemon=True)
            self._watcher.start()

    def stop(self) -> tuple[float, float]:
        """(longest gap in ms, seconds from start to that gap's beginning)."""
        self.timer.stop()
        self._tick()
        if self._watcher is not None:
            self._watching = False
            self._watcher.join()
            self._watcher = None
        gaps = np.diff(self.ticks)
        i = int(np.argmax(gaps))
        cpu = np.diff(self.cpu) * 1e3
        self.block_cpu_ms, self.max_cpu_ms = float(cpu[i]), float(cpu.max())
        if self.stacks:
            found = self.samples.get(self.ticks[i], [])
            counts: dict[str, int] = {}
            for stack in found:
                counts[stack] = counts.get(stack, 0) + 1
            print(f"-- longest block {gaps[i] * 1e3:.0f} ms: {len(found)} stack samples",
                  file=sys.stderr)
            for stack, n in sorted(counts.items(), key=lambda kv: -kv[1])[:5]:
                print(f"   {n}x {stack}", file=sys.stderr)
        return float(gaps[i]) * 1e3, self.ticks[i] - self.ticks[0]


def _wait_until(condition, timeout_s: float, what: str) -> None:
    """Run the event loop (never sleep on the GUI thread) until ``condition()`` holds."""
    from PySide6 import QtCore

    loop = QtCore.QEventLoop()
    poll = QtCore.QTimer(interval=5)
    poll.timeout.connect(lambda: condition() and loop.quit())
    QtCore.QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    poll.start()
    if not condition():
        loop.exec()
    poll.stop()
    if not condition():
        raise RuntimeError(f"{what}: not done after {timeout_s:.0f} s")


def _idle(seconds: float) -> None:
    from PySide6 import QtCore

    loop = QtCore.QEventLoop()
    QtCore.QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def _start_up(root: Path, stacks: bool):
    """The start-up journey in a fresh window: (window, samples, heartbeat, (ms, at))."""
    from PySide6 import QtCore

    from mer_viewer.core.dataset import Dataset
    from mer_viewer.qt.infra.screenshot import settled
    from mer_viewer.qt.main_window import MainWindow

    beat = Heartbeat(stacks=stacks)
    settings = QtCore.QSettings(os.path.join(os.environ["XDG_CONFIG_HOME"], "blocks.ini"),
                                QtCore.QSettings.Format.IniFormat)
    samples = Dataset.open(root).samples
    window = MainWindow(settings, restore=False)
    window.apply_size(1600, 1000)
    window.prefetch.enabled = False  # only the clip asked for is loaded
    window.show()
    beat.start()
    window.open_dataset(root, f"{samples[0].subject}/{samples[0].clip}_{samples[0].onset}")
    _wait_until(lambda: window.state.sample is not None and settled(window), 300, "start-up")
    _idle(3.0)  # background work started with the window (models warming up) ends here
    return window, samples, beat, beat.stop()


SHADER_CACHES = ("mesa_shader_cache", "mesa_shader_cache_db",
                 "qtshadercache-x86_64-little_endian-lp64")


def first_start_block(root: Path, stacks: bool) -> tuple[float, str]:
    """The start-up journey in a new process whose GL shader caches (Mesa's and Qt's, under
    ``XDG_CACHE_HOME``) are empty, as on a machine's first start; it fills them."""
    cache = Path(os.environ["XDG_CACHE_HOME"])
    for name in SHADER_CACHES:
        shutil.rmtree(cache / name, ignore_errors=True)
    command = [sys.executable, __file__, str(root), "--first-start-only"]
    result = subprocess.run(command + (["--stacks"] if stacks else []), capture_output=True,
                            text=True, timeout=600)
    sys.stderr.write(result.stderr[-4000:] if stacks else "")
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("BLOCK ")), None)
    if line is None:
        raise RuntimeError(f"first start: no report; stderr:\n{result.stderr[-2000:]}")
    ms, note = json.loads(line[6:])
    return ms, note


def gui_blocks(root: Path, train_epochs: int,
               stacks: bool = False) -> list[tuple[str, float, str]]:
    """Longest GUI-thread block (ms) of each user journey, in one fresh window:
    start-up, the first uncached clip, classify (first and again), building the
    training items and a tiny training run; plus the classify latency from the key
    press to the probabilities painted. Rows: (case, ms, note)."""
    from PySide6 import QtCore, QtGui, QtTest

    from mer_viewer.qt.infra.screenshot import settled

    rows = []
    window, samples, beat, (ms, at) = _start_up(root, stacks)
    rows.append(("start-up, a later start (GL shader caches filled): window shown, cached "
                 "clip loaded, 3 s idle", ms, beat.note(at)))

    # the first clip whose cloud is not cached: face models, alignment, flow
    cached = os.environ["XDG_CACHE_HOME"]
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="fresh-cache-", dir=Path(cached).parent)
    _forget_clips(window)
    beat.start()
    window.state.set_row(samples[1])
    _wait_until(lambda: settled(window), 300, "first uncached clip")
    ms, at = beat.stop()
    rows.append(("first uncached clip (fresh cache)", ms, beat.note(at)))
    os.environ["XDG_CACHE_HOME"] = cached

    # classify the shown (preprocessed) clip with the bundled 3-class PointNet++: key C
    window.state.set_row(samples[0])
    _wait_until(lambda: settled(window), 300, "back to the first clip")
    panel = window.classify_panel
    chart = panel.chart.viewport()
    painted = PaintClock({"chart": chart})
    got: list[float] = []
    window.jobs.partial.connect(lambda name, _r: name == panel.JOB and got.append(
        time.perf_counter()))
    latencies, arrivals = [], []  # to the probabilities painted / reaching the GUI thread
    for attempt in range(4):
        panel.result = None
        got.clear()
        window.activateWindow()
        _idle(0.3)
        beat.start()
        t0 = time.perf_counter()
        QtTest.QTest.keyClick(window, QtCore.Qt.Key.Key_C)
        if not window.jobs.is_running(panel.JOB) and panel.result is None:
            window.findChild(QtGui.QAction, "classify").trigger()  # the window had no focus
        _wait_until(lambda: panel.result is not None and painted.since(got[0] if got else
                                                                       1e99) is not None,
                    300, "classify")
        latencies.append(painted.since(t0)["chart"])
        arrivals.append((got[0] - t0) * 1e3)
        _wait_until(lambda: not window.jobs.busy, 60, "classify job end")
        ms, at = beat.stop()
        if attempt == 0:
            rows.append(("classify, first (torch and the model loaded)", ms, beat.note(at)))
        elif attempt == 1:
            rows.append(("classify, again", ms, beat.note(at)))
    rows.append(("classify latency, key press → probabilities painted, first", latencies[0],
                 f"bundled 3-class PointNet++, CPU; result in the GUI thread after "
                 f"{arrivals[0]:.0f} ms"))
    rows.append(("classify latency, key press → probabilities painted, again (median)",
                 float(np.median(latencies[1:])),
                 f"{len(latencies) - 1} runs; result in the GUI thread after "
                 f"{np.median(arrivals[1:]):.0f} ms (median)"))

    # a tiny training run through the Train panel
    train = window.train_panel
    train.model.setCurrentText("pointnet")
    train.classes.setCurrentText("3")
    train.protocol.setCurrentText("loso")
    train.epochs.setValue(train_epochs)
    train.points.setCurrentText("1024")
    train.device.setCurrentText("cpu")
    train.out.setText(tempfile.mkdtemp(prefix="run-",
                                       dir=Path(os.environ["XDG_CACHE_HOME"]).parent))
    items: list[float] = []
    window.jobs.partial.connect(lambda name, r: name == train.JOB and isinstance(r, tuple)
                                and r[0] == "items" and items.append(time.perf_counter()))
    beat.start()
    train.start()
    _wait_until(lambda: bool(items), 600, "building the training items")
    ms, at = beat.stop()
    rows.append(("building the training items", ms, beat.note(at)))
    beat.start()
    _wait_until(lambda: train.start_button.isEnabled(), 1200, "training")
    _idle(0.5)  # the results shown when it finished
    ms, at = beat.stop()
    rows.append((f"training (pointnet, N 1024, {train_epochs} epoch(s), LOSO) to results shown",
                 ms, f"{beat.note(at)}; {train.status.text()[:60]}"))
    window.session.undo.setClean()
    window.shutdown()
    window.close()
    return rows


# --- main ------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", type=Path)
    parser.add_argument("--starts", type=int, default=7, help="cold starts (default 7)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="passes over the clips: 1 of first visits, the rest revisits")
    parser.add_argument("--frames", type=int, default=60, help="frames per frame-rate run")
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--blocks", action=argparse.BooleanOptionalAction, default=True,
                        help="measure the longest GUI-thread blocks (heartbeat; default on)")
    parser.add_argument("--train-epochs", type=int, default=1,
                        help="epochs of the tiny training run of --blocks (default 1)")
    parser.add_argument("--stacks", action="store_true",
                        help="print the GUI thread's sampled stacks during each longest block")
    parser.add_argument("--first-start-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.first_start_only:  # the child of first_start_block: the environment is set
        return _first_start_child(args.root, args.stacks)
    if not os.environ.get("DISPLAY"):
        print("bench_gui: needs an X display; run it under xvfb-run (see the docstring)",
              file=sys.stderr)
        return 2
    private = Path(tempfile.mkdtemp(prefix="mer-bench-gui-"))
    try:
        return _bench(args, private)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _first_start_child(root: Path, stacks: bool) -> int:
    from PySide6 import QtWidgets

    from mer_viewer.qt.infra.pyside_guard import protect
    from mer_viewer.qt.views.cloud_view import prepare_gl

    prepare_gl()
    app = QtWidgets.QApplication(sys.argv[:1])
    guard = protect(app)  # noqa: F841 - as the app does
    window, _samples, beat, (ms, at) = _start_up(root, stacks)
    print("BLOCK " + json.dumps([ms, beat.note(at)]), flush=True)
    window.session.undo.setClean()
    window.shutdown()
    window.close()
    return 0


def _bench(args, private: Path) -> int:
    env = _private_env(private)
    os.environ.update({k: env[k] for k in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME",
                                           "XDG_DATA_HOME")})
    os.environ.pop("QT_QPA_PLATFORM", None)
    root = args.root
    if root is None:
        from mer_viewer.core.dataset.demo import build_demo

        root = private / "demo"
        for _ in build_demo(root, subjects=2, clips_per_subject=3, workers=2):
            pass
    subprocess.run(_tool("mer") + ["preprocess", str(root)], env=env, check=True,
                   capture_output=True)

    starts, heavy = cold_start(root, args.starts) if args.starts > 0 else ([], set())

    from PySide6 import QtWidgets

    from mer_viewer.qt.infra.pyside_guard import protect
    from mer_viewer.qt.views.cloud_view import prepare_gl

    first_start = first_start_block(root, args.stacks) if args.blocks else None
    prepare_gl()
    app = QtWidgets.QApplication(sys.argv[:1])
    guard = protect(app)  # noqa: F841 - as the app does
    renderer = gl_renderer()
    # first: nothing (face models, torch) loaded in this process yet
    blocks = gui_blocks(root, args.train_epochs, args.stacks) if args.blocks else []
    if first_start is not None:
        ms, note = first_start
        blocks.insert(0, ("start-up, the machine's first (GL shader caches empty): window "
                          "shown, cached clip loaded, 3 s idle", ms, note))
    first, ahead, again = clip_switch(root, args.rounds) if args.rounds > 0 else ({}, {}, {})
    sizes = ((320, 520), (960, 720)) if args.frames > 0 else ()
    fps = [((w, h), frame_rate(args.points, (w, h), args.frames, 5)) for w, h in sizes]

    print(f"GUI benchmark: {os.cpu_count()} cores, GL renderer {renderer}, corpus {root}")
    print("| measure | median | spread (min–max) | runs | goal |")
    print("|---|---|---|---|---|")
    if starts:
        med, lo, hi = _stats(starts)
        print(f"| cold start to first paint | {med:.0f} ms | {lo:.0f}–{hi:.0f} ms "
              f"| {len(starts)} | ≤ 1500 ms |")
        print(f"| heavy modules imported at first paint | {', '.join(sorted(heavy)) or 'none'} "
              f"| | {len(starts)} | none |")
    for label, runs in (("first visit", first), ("first visit, read ahead", ahead),
                        ("revisit", again)):
        for group, values in runs.items():
            med, lo, hi = _stats(values)
            goal = "≤ 100 ms" if group == "all views" else ""
            name = f"**{group}**" if group == "all views" else group
            print(f"| clip switch ({label}): {name} | {med:.0f} ms | {lo:.0f}–{hi:.0f} ms "
                  f"| {len(values)} | {goal} |")
    for (w, h), rates in fps:
        med, lo, hi = _stats(rates)
        print(f"| 3D viewport, {args.points // 1000}k points, {w}×{h} px | {med:.1f} fps | "
              f"{lo:.1f}–{hi:.1f} fps | {len(rates)}×{args.frames} frames | ≥ 20 fps |")
    if blocks:
        print()
        print("| case | longest GUI-thread block | goal | note |")
        print("|---|---|---|---|")
        for case, ms, note in blocks:
            latency = case.startswith("classify latency")
            goal = ("≤ 300 ms" if "again" in case else "") if latency else "< 100 ms"
            what = "(latency)" if latency else ""
            print(f"| {case} | {ms:.0f} ms {what} | {goal} | {note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
