"""Write the app icon (mer_viewer/resources/icons): the SVG, then its PNG renderings.

The picture is the product in small: a face outline of points, coloured as the
3D view colours motion, (r̂, θ̂, φ̂) as RGB, black where nothing moved.

    python packaging/make_icons.py          # rewrite the SVG and every PNG size
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ICONS = ROOT / "mer_viewer" / "resources" / "icons"


def face_points() -> list[tuple[float, float, tuple[int, int, int]]]:
    """(x, y, rgb) of the dots on a 256-unit canvas: a face-shaped cloud with a moving mouth
    corner, eyebrow and cheek in motion colours, the rest motionless (dark)."""
    dots = []
    step = 15.0
    cx, cy, rx, ry = 128.0, 134.0, 80.0, 100.0
    row = 0
    y = cy - ry + step / 2
    while y < cy + ry:
        x0 = cx - rx + (step / 2 if row % 2 else 0.0)
        x = x0
        while x <= cx + rx:
            u, v = (x - cx) / rx, (y - cy) / ry
            if u * u + v * v <= 0.97:
                dots.append((x, y, _color(u, v)))
            x += step
        y += step * math.sqrt(3) / 2
        row += 1
    return dots


def _color(u: float, v: float) -> tuple[int, int, int]:
    """Motion colour of a point of the unit face: three action-unit regions, black elsewhere."""
    regions = (  # centre (u, v), radius, amplitude r̂, direction θ̂, elevation φ̂
        ((0.42, 0.48), 0.34, 1.00, 0.15, 0.55),   # right lip corner (AU12: up and out)
        ((-0.40, -0.42), 0.30, 0.80, 0.85, 0.70),  # left brow (AU1+2: up)
        ((0.45, 0.10), 0.28, 0.65, 0.55, 0.95),   # right cheek (AU6)
    )
    best = None
    for (ru, rv), radius, amp, theta, phi in regions:
        d = math.hypot(u - ru, v - rv) / radius
        if d < 1.0:
            w = amp * (1.0 - d * d)
            if best is None or w > best[0]:
                best = (w, theta, phi)
    if best is None or best[0] < 0.12:
        return (38, 42, 52)  # motionless: dark, as black points on the dark tile
    w, theta, phi = best
    return tuple(int(round(255 * min(1.0, c))) for c in (0.25 + 0.75 * w, theta, phi))


def svg() -> str:
    dots = "\n".join(
        f'    <circle cx="{x:.1f}" cy="{y:.1f}" r="5.6" fill="#{r:02x}{g:02x}{b:02x}"/>'
        for x, y, (r, g, b) in face_points())
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- mer-viewer icon, written by packaging/make_icons.py: a face as a point cloud in motion colours -->
<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">
  <rect x="8" y="8" width="240" height="240" rx="44" ry="44" fill="#10141c"/>
  <g>
{dots}
  </g>
</svg>
"""


def render_png(svg_path: Path, size: int, out: Path) -> None:
    from PySide6 import QtCore, QtGui, QtSvg

    renderer = QtSvg.QSvgRenderer(str(svg_path))
    if not renderer.isValid():
        raise SystemExit(f"{svg_path}: not a valid SVG")
    image = QtGui.QImage(size, size, QtGui.QImage.Format.Format_ARGB32)
    image.fill(QtCore.Qt.GlobalColor.transparent)
    painter = QtGui.QPainter(image)
    painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(out)):
        raise SystemExit(f"{out}: could not write")


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from PySide6 import QtGui

    from mer_viewer.resources import ICON_SIZES

    app = QtGui.QGuiApplication.instance() or QtGui.QGuiApplication(["make_icons", "-platform", "offscreen"])  # noqa: F841
    ICONS.mkdir(parents=True, exist_ok=True)
    svg_path = ICONS / "mer-viewer.svg"
    svg_path.write_text(svg(), encoding="utf-8")
    for size in ICON_SIZES:
        render_png(svg_path, size, ICONS / f"mer-viewer-{size}.png")
    print(f"wrote {svg_path} and {len(ICON_SIZES)} PNG sizes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
