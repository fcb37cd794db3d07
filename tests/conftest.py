"""Shared test set-up: one Qt platform per pytest process, private user folders, a demo corpus.

pytest-xvfb (when Xvfb is installed) has started a virtual display by the time
``pytest_configure`` below runs (``trylast``); with a display Qt uses xcb and the
GL tests run, without one Qt renders offscreen and the GL tests skip.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

# The same examples on every run: a property test that finds a new case fails
# where someone runs it on purpose, not at random in CI.
hypothesis_settings.register_profile("mer", derandomize=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "mer"))

_PRIVATE = Path(tempfile.mkdtemp(prefix="mer-tests-"))


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    if "QT_QPA_PLATFORM" not in os.environ:
        has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
        if sys.platform.startswith("linux") and not has_display:
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
    try:  # before pytest-qt creates the QApplication
        from mer_viewer.qt.views.cloud_view import prepare_gl
    except ImportError:  # no Qt here: the GUI tests will skip
        pass
    else:
        prepare_gl()
        from mer_viewer.qt.infra.pyside_guard import protect

        protect()  # PySide6 6.12.0 on Python 3.11 loses a reference to True per emit
    # Settings, cache and data of the app go to a private folder, never the user's own.
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        os.environ[name] = str(_PRIVATE / name.lower())


def pytest_unconfigure(config):
    shutil.rmtree(_PRIVATE, ignore_errors=True)


@pytest.fixture(scope="session")
def demo_corpus(tmp_path_factory) -> Path:
    """A tiny demo corpus (2 subjects × 2 clips plus the anomalous rows), built once."""
    from mer_viewer.core.dataset.demo import build_demo

    out = tmp_path_factory.mktemp("corpus") / "demo"
    for _ in build_demo(out, subjects=2, clips_per_subject=2, seed=0, workers=2):
        pass
    return out


@pytest.fixture
def demo_copy(demo_corpus, tmp_path) -> Path:
    """A private copy of the demo corpus, for tests that write edits beside it."""
    target = tmp_path / "demo"
    shutil.copytree(demo_corpus, target)
    return target


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray for every Ray test (starting one costs seconds): 2 CPUs, no dashboard,
    a small object store, its files in a private folder; shut down (its processes ended)
    when the session ends. The jobs under test find it initialised and use it as it is.
    Returns the RayOptions of tasks of one CPU, retried twice."""
    import ray

    from mer_viewer.core.cluster import RayOptions

    folder = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # socket paths must stay short
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=80 * 2**20,
             logging_level="WARNING", log_to_driver=False, _temp_dir=folder)
    try:
        yield RayOptions("local", cpus_per_task=1, max_retries=2)
    finally:
        ray.shutdown()
        shutil.rmtree(folder, ignore_errors=True)
