"""Per-user folders (platformdirs): demo corpus in data, results in cache, settings in config.

``XDG_DATA_HOME``, ``XDG_CACHE_HOME`` and ``XDG_CONFIG_HOME`` redirect them on Linux.
"""

from __future__ import annotations

from pathlib import Path

APP_NAME = "mer_viewer"


def data_dir() -> Path:
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def cache_dir() -> Path:
    from platformdirs import user_cache_path

    return user_cache_path(APP_NAME, appauthor=False)


def config_dir() -> Path:
    from platformdirs import user_config_path

    return user_config_path(APP_NAME, appauthor=False)


def demo_root() -> Path:
    """Where ``mer-viewer --demo`` (and ``make run``) keeps the default demo corpus."""
    return data_dir() / "demo"
