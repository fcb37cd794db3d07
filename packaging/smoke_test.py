"""Smoke test of the one-folder app (``make app`` runs it under Xvfb): fresh user folders, then
``mer --version``, ``mer-viewer --demo --screenshot`` (the demo corpus built on first use),
``mer classify`` with the bundled model, and the time to the window's first paint.

    xvfb-run -a -s "-screen 0 1920x1080x24" python packaging/smoke_test.py dist/mer-viewer
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mer_viewer import __version__  # noqa: E402


def run(args: list, env: dict, timeout: float = 600.0) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    out = subprocess.run([str(a) for a in args], env=env, capture_output=True, text=True,
                         timeout=timeout, cwd=env["HOME_FOR_RUNS"])
    took = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"smoke test: {' '.join(map(str, args))} exited {out.returncode}\n"
                         f"{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out, took


def first_paint_s(app: Path, env: dict) -> float:
    env = {**env, "MER_VIEWER_REPORT_FIRST_PAINT": "1"}
    start = time.time()
    out, _ = run([app / "mer-viewer"], env, timeout=120)
    line = next(l for l in out.stdout.splitlines() if l.startswith("first-paint "))
    return json.loads(line[len("first-paint "):])["time_s"] - start


def main(argv: list[str]) -> int:
    app = Path(argv[1] if len(argv) > 1 else "dist/mer-viewer").resolve()
    if not os.environ.get("DISPLAY"):
        raise SystemExit("smoke test: needs a display; run it under xvfb-run")
    work = Path(tempfile.mkdtemp(prefix="mer-app-smoke-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(XDG_DATA_HOME=str(work / "data"), XDG_CACHE_HOME=str(work / "cache"),
               XDG_CONFIG_HOME=str(work / "config"), HOME_FOR_RUNS=str(work))
    env.pop("QT_QPA_PLATFORM", None)  # the GL views need xcb

    out, took = run([app / "mer", "--version"], env)
    lines = out.stdout.splitlines()
    assert lines[0] == f"mer {__version__}", lines[:1]
    assert any("68-landmark" in l and "NON-COMMERCIAL" in l for l in lines), out.stdout
    print(f"mer --version: {took:.1f} s\n  " + "\n  ".join(lines[:9]))

    shot = work / "demo.png"
    _, took = run([app / "mer-viewer", "--demo", "--screenshot", shot], env)
    image = np.asarray(Image.open(shot).convert("RGB"))
    colors = len(np.unique(image.reshape(-1, 3), axis=0))
    assert image.shape[:2] == (1000, 1600), image.shape
    assert colors > 2000, f"{shot}: only {colors} colours, the window looks empty"
    print(f"mer-viewer --demo --screenshot (demo corpus built on first use): {took:.1f} s, "
          f"{image.shape[1]}x{image.shape[0]}, {colors} colours: {shot}")

    demo = work / "data" / "mer_viewer" / "demo"
    info = json.loads(run([app / "mer", "info", demo, "--json"], env)[0].stdout)
    sample = info["samples"][0]
    out, took = run([app / "mer", "classify", demo, sample["subject"], sample["clip"], "--json"], env)
    result = json.loads(out.stdout)
    probabilities = result["probabilities"]
    assert result["predicted"] in probabilities and abs(sum(probabilities.values()) - 1) < 1e-4, result
    print(f"mer classify (bundled model) {sample['subject']}/{sample['clip']}: "
          f"{result['predicted']} {max(probabilities.values()):.2f}, {took:.1f} s")

    starts = [first_paint_s(app, env) for _ in range(3)]
    size = sum(f.stat().st_size for f in app.rglob("*") if f.is_file() and not f.is_symlink())
    print(f"start-up to first paint: median {statistics.median(starts):.2f} s "
          f"({', '.join(f'{s:.2f}' for s in starts)})")
    print(f"bundle: {size / 2**20:.0f} MiB in {app}")
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
