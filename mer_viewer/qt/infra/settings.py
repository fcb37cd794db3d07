"""Persistent settings (QSettings in the platformdirs config folder) and recent datasets."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore

from ...core.paths import config_dir

RECENT_KEY = "datasets/recent"
MAX_RECENT = 8


def settings_file() -> Path:
    """``<config dir>/mer-viewer.ini`` (``XDG_CONFIG_HOME`` redirects it on Linux)."""
    return config_dir() / "mer-viewer.ini"


def open_settings() -> QtCore.QSettings:
    """The app's settings, as an INI file in the user config folder (no registry, no plist)."""
    path = settings_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    return QtCore.QSettings(str(path), QtCore.QSettings.Format.IniFormat)


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]


def recent_datasets(settings: QtCore.QSettings) -> list[str]:
    """Recently opened dataset folders, newest first, those that still exist."""
    return [p for p in _as_list(settings.value(RECENT_KEY)) if Path(p).is_dir()]


def add_recent(settings: QtCore.QSettings, root: Path | str) -> list[str]:
    """Put ``root`` first in the recent list (no duplicates, at most MAX_RECENT)."""
    text = str(Path(root).expanduser().resolve())
    items = [text] + [p for p in _as_list(settings.value(RECENT_KEY)) if p != text]
    items = items[:MAX_RECENT]
    settings.setValue(RECENT_KEY, items)
    return items


def value(settings: QtCore.QSettings, key: str, default, kind=None):
    """``settings.value`` converted to ``kind`` (type of ``default``), falling back on bad data."""
    kind = kind or type(default)
    raw = settings.value(key, default)
    try:
        if kind is bool:
            return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
        return kind(raw)
    except (TypeError, ValueError):
        return default
