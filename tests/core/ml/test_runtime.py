"""``import_torch``: torch's libraries linked through ctypes (GIL released), then imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/maps: Linux")
def test_import_torch_links_the_libraries_before_the_import():
    # a fresh interpreter: in this one torch may already be imported
    code = textwrap.dedent("""
        import sys
        import mer_viewer.core.ml.runtime as runtime
        linked = []
        real = runtime._preload_torch_libraries
        def spy():
            real()
            linked.append("torch" not in sys.modules)
            maps = open("/proc/self/maps").read()
            linked.append("libtorch_cpu" in maps and "torch/_C." in maps)
        runtime._preload_torch_libraries = spy
        torch = runtime.import_torch()
        assert linked == [True, True], linked
        assert torch.ones(2).sum().item() == 2.0
        assert runtime.import_torch() is torch
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
