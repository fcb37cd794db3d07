"""The GUI thread is kept free: face models load in a helper process the window starts."""

from __future__ import annotations

import gc
import sys

from mer_viewer.core import face
from tests.gui_helpers import clip_spec, make_window, open_and_wait


def test_window_warms_up_the_face_models_without_loading_them_here(qtbot, demo_corpus,
                                                                   tmp_path, monkeypatch):
    monkeypatch.setattr(face, "_helper", None)  # as in a fresh process
    monkeypatch.setattr(face, "_models_cache", None)
    switch = sys.getswitchinterval()
    gc.unfreeze()  # as in a fresh process
    try:
        window = make_window(qtbot, tmp_path)
        # no clip opened: the window alone gets the models ready
        qtbot.waitUntil(face.models_ready, timeout=120_000)
        assert window.state.sample is None
        assert sys.getswitchinterval() <= 0.001
        assert gc.get_freeze_count() > 10_000  # the start-up's objects: out of full collections
        # the first clip missing from the cache is computed with them, none loaded here
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "fresh-cache"))
        open_and_wait(qtbot, window, demo_corpus, clip_spec(demo_corpus, 1), timeout_s=180)
        assert window.cloud_panel.ready and window.state.cloud is not None
        assert list((tmp_path / "fresh-cache").rglob("*.npz"))  # computed, not read
        assert face._models_cache is None
    finally:
        face._drop_helper()
        sys.setswitchinterval(switch)
