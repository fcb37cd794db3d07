"""Stopgap for PySide6 6.12.0 on Python < 3.12, which loses references to singletons:
every ``Signal.emit`` from Python drops one to True, every Python slot called from a
C++ signal drops one to None.

On those Pythons the singletons are not immortal, so after a few thousand signals
the interpreter aborts ("deallocating True or False" / "deallocating None"). Until
the dependency pin excludes that release, references are kept in reserve and
topped up before they run out (8 bytes per lost reference). A sound PySide6, or
Python ≥ 3.12, installs nothing.
"""

from __future__ import annotations

import ctypes
import sys

TOP_UP = 2_000_000
LOW_WATER = 1_000_000
_RESERVE: list = []
ctypes.pythonapi.Py_IncRef(ctypes.py_object(_RESERVE))  # outlives shutdown: never given back
_LEAKY: list = []


def leaks() -> list:
    """The singletons this PySide6 loses references to (True and/or None)."""
    from PySide6 import QtCore

    class _Probe(QtCore.QObject):
        ping = QtCore.Signal()

    probe = _Probe()
    probe.objectNameChanged.connect(lambda _name: None)  # a C++ signal into a Python slot
    _RESERVE.extend([True, None] * 256)  # the probe itself must never be what runs out
    before = sys.getrefcount(True), sys.getrefcount(None)
    for i in range(32):
        probe.ping.emit()
        probe.setObjectName(f"probe{i}")
    lost_true = before[0] - sys.getrefcount(True)
    lost_none = before[1] - sys.getrefcount(None)
    return [obj for obj, lost in ((True, lost_true), (None, lost_none)) if lost >= 16]


def _top_up() -> None:
    for obj in _LEAKY:
        if sys.getrefcount(obj) < LOW_WATER:
            _RESERVE.extend([obj] * TOP_UP)


def protect(parent=None):
    """Install the reserve when this PySide6 leaks; with a ``parent`` QObject also a timer
    that tops it up. Returns the timer (or None when nothing is needed or no parent)."""
    if sys.version_info >= (3, 12) or _LEAKY:
        return None
    _LEAKY.extend(leaks())
    if not _LEAKY:
        return None
    for obj in _LEAKY:
        _RESERVE.extend([obj] * TOP_UP)
    if parent is None:
        return None
    from PySide6 import QtCore

    timer = QtCore.QTimer(parent, interval=500)
    timer.timeout.connect(_top_up)  # a Python slot too: the reserve covers its own cost
    timer.start()
    return timer
