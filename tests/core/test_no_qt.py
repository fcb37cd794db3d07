"""``mer_viewer.core`` is importable and usable with Qt absent."""

from __future__ import annotations

import subprocess
import sys

PROBE = r"""
import importlib, pkgutil, sys
# Make every Qt binding unimportable, as on a headless server without Qt.
for name in ("PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6", "qtpy"):
    sys.modules[name] = None
import mer_viewer.core
names = [m.name for m in pkgutil.walk_packages(mer_viewer.core.__path__, "mer_viewer.core.")]
for name in names:
    importlib.import_module(name)
import mer_viewer.cli
mer_viewer.cli.build_parser()
import mer_viewer.about, mer_viewer.resources  # what `mer --version` and the bundled models need
assert mer_viewer.about._qt_version() == mer_viewer.about.NOT_INSTALLED
print(len(names))
"""


def test_core_imports_no_qt():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 5  # the probe really walked the package


def test_core_pulls_no_qt_module_in():
    probe = ("import sys, importlib, pkgutil, mer_viewer.core as c\n"
             "[importlib.import_module(m.name) for m in pkgutil.walk_packages(c.__path__, 'mer_viewer.core.')]\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "{'PySide6','PyQt5','PyQt6','shiboken6','qtpy','pyqtgraph','superqt'}))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
