"""GL tests render for real (Xvfb + Mesa); without a display or GL they skip, saying why."""

from __future__ import annotations

import pytest

from tests.gui_helpers import gl_unavailable_reason


@pytest.fixture(autouse=True)
def _needs_gl(qapp):
    reason = gl_unavailable_reason()
    if reason is not None:
        pytest.skip(f"needs a real OpenGL context: {reason}")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/gl/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.gl)
