"""Entry point of the ``mer-viewer`` desktop app: arguments, QApplication, error hook."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    from ..about import VersionAction

    p = argparse.ArgumentParser(
        prog="mer-viewer",
        description="Browse CAS(ME)³ clips, their depth, optical flow and 3D motion clouds, "
                    "annotate, classify and train.")
    p.add_argument("root", nargs="?", type=Path, help="dataset folder (CAS(ME)³ Part A layout)")
    p.add_argument("--demo", action="store_true",
                   help="open the demo corpus (built in the user data folder on first use)")
    p.add_argument("--clip", metavar="SUBJECT/CLIP", help="clip to show first, e.g. spNO.1/b")
    p.add_argument("--screenshot", metavar="FILE", type=Path,
                   help="render the window once everything shown is loaded, save it, quit")
    p.add_argument("--classify", nargs="?", const="", default=None, metavar="MODEL",
                   help="classify the clip as pressing C does (saliency on), print the result "
                        "as one JSON line on stdout, then quit (after --screenshot, if given); "
                        "MODEL: 3 or 4 for a bundled PointNet++, or a checkpoint file "
                        "(default: the panel's model, the bundled 3-class one)")
    p.add_argument("--size", metavar="WxH", default="1600x1000",
                   help="window size for --screenshot (default 1600x1000)")
    p.add_argument("--version", action=VersionAction)
    return p


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
        if w < 200 or h < 200:
            raise ValueError
        return w, h
    except ValueError:
        raise SystemExit(f"mer-viewer: --size must look like 1600x1000, got {text!r}") from None


def _install_excepthook(window) -> None:
    """An unexpected exception in a slot becomes a message in the window, never a crash."""
    from .infra.workers import describe_error

    def hook(kind, value, tb):
        traceback.print_exception(kind, value, tb)
        try:
            window.messages.error(f"unexpected error: {describe_error(value)}")
        except Exception:  # the window is gone: printing it is all we can do
            pass

    sys.excepthook = hook


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(None if argv is None else list(argv))
    if args.root is not None and args.demo:
        print("mer-viewer: give a dataset folder or --demo, not both", file=sys.stderr)
        return 2
    if args.classify is not None and args.root is None and not args.demo:
        print("mer-viewer: --classify needs a dataset folder or --demo", file=sys.stderr)
        return 2
    size = _size(args.size)

    from PySide6 import QtWidgets

    from .views.cloud_view import prepare_gl

    prepare_gl()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    from .infra.pyside_guard import protect

    guard = protect(app)  # noqa: F841 - keeps the top-up timer alive
    app.setApplicationName("mer-viewer")  # also the X11 WM_CLASS: the .desktop's StartupWMClass
    app.setOrganizationName("mer_viewer")
    app.setDesktopFileName("mer-viewer")  # Wayland: packaging/mer-viewer.desktop
    from .panels.about import app_icon

    app.setWindowIcon(app_icon())

    from .infra.settings import open_settings
    from .main_window import MainWindow

    settings = open_settings()
    scripted = args.screenshot is not None or args.classify is not None
    window = MainWindow(settings, restore=not scripted)
    _install_excepthook(window)
    from .infra.first_paint import FirstPaintReporter, requested

    reporter = FirstPaintReporter(window) if requested() else None
    taker = classifier = None
    if args.screenshot is not None:
        from .infra.screenshot import ScreenshotTaker

        window.apply_size(*size)
        taker = ScreenshotTaker(window, args.screenshot)
    if args.classify is not None:
        from .infra.scripted import ScriptedClassify

        def classified(ok: bool) -> None:
            if taker is not None:
                taker.start()  # the picture shows the result (or the error), then quits
            else:
                app.exit(0 if ok else 1)

        classifier = ScriptedClassify(window, args.classify or None, classified)
    window.show()

    if args.demo:
        window.open_demo(args.clip)
    elif args.root is not None:
        window.open_dataset(args.root, args.clip)
    elif not scripted:
        last = settings.value("datasets/last")
        if last and Path(str(last)).is_dir():
            window.open_dataset(str(last))
        else:
            window.messages.info("Open a CAS(ME)³ folder (File → Open, or drop it here), "
                                 "or File → Open demo corpus.")
    if classifier is not None:
        classifier.start()
    elif taker is not None:
        taker.start()
    code = app.exec()
    if reporter is not None or scripted:
        window.shutdown()
    if classifier is not None:
        return 0 if classifier.ok and (taker is None or taker.ok) else 1
    if taker is not None:
        return 0 if taker.ok else 1
    return code


if __name__ == "__main__":
    sys.exit(main())
