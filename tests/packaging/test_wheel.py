"""The wheel a researcher installs without a checkout: its contents, and ``mer classify`` with
the bundled model and ``mer-viewer --version`` from a fresh virtual environment.

The fresh environment (no system site-packages) gets the wheel and every dependency from a
local wheelhouse (``MER_WHEELHOUSE``, default ``~/.cache/mer_viewer-wheelhouse``), filled by
pip from the package indexes the first time a requirement is missing (~1 minute), and
installed by uv, which links the files from its cache there (``.uv-cache``; 2 GB): ~3 s,
against ~5 minutes for ``pip install`` of the same wheels on our 2-core machines (unpacking
and compiling 2.5 GB).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from mer_viewer import __version__

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ROOT / "mer_viewer" / "resources"
#: What must ship: both bundled checkpoints with their reports, and the icon.
SHIPPED = sorted(str(p.relative_to(ROOT)) for p in RESOURCES.rglob("*")
                 if p.is_file() and p.suffix in {".pt", ".md", ".json", ".svg", ".png"})
WHEELHOUSE = Path(os.environ.get("MER_WHEELHOUSE", Path.home() / ".cache" / "mer_viewer-wheelhouse"))


def _run(args, timeout=900, **kwargs) -> subprocess.CompletedProcess:
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                         **kwargs)
    assert out.returncode == 0, f"{args}\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(wheel, sdist) as ``make dist`` builds them: the sdist, then the wheel from the sdist."""
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out,
          _clean_source(tmp_path_factory.mktemp("src"))])
    (wheel,), (sdist,) = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    return wheel, sdist


def _clean_source(target: Path) -> Path:
    """The checkout's files as git sees them (tracked or not ignored), without the build
    leftovers of an editable install: a stale ``*.egg-info/SOURCES.txt`` would put files into
    the sdist that the package configuration does not."""
    if not (ROOT / ".git").exists():  # an unpacked sdist: everything but build leftovers
        shutil.copytree(ROOT, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
            "*.egg-info", "build", "dist", ".venv", "__pycache__"))
        return target
    files = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                 cwd=ROOT).stdout.split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.fixture(scope="module")
def installed(built, tmp_path_factory) -> Path:
    """A fresh virtual environment (no system site-packages) with the wheel installed; its bin/."""
    wheel, _ = built
    env_dir = tmp_path_factory.mktemp("venv") / "env"
    uv_env = {**os.environ, "UV_CACHE_DIR": str(WHEELHOUSE / ".uv-cache"), "UV_NO_CONFIG": "1"}
    uv = [sys.executable, "-m", "uv"]
    _run([*uv, "venv", "--quiet", "--python", sys.executable, env_dir], env=uv_env)
    install = [*uv, "pip", "install", "--quiet", "--python", env_dir / "bin" / "python",
               "--no-index", "--find-links", WHEELHOUSE, wheel]
    start = time.perf_counter()
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    first = subprocess.run([str(a) for a in install], capture_output=True, text=True,
                           timeout=900, env=uv_env)
    if first.returncode != 0:  # a requirement not in the wheelhouse yet: fetch it, then again
        _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", WHEELHOUSE,
              "--find-links", WHEELHOUSE, wheel], timeout=1800)
        for own in WHEELHOUSE.glob("mer_viewer-*.whl"):
            own.unlink()
        _run(install, env=uv_env)
    print(f"\nfresh venv install of {wheel.name}: {time.perf_counter() - start:.0f} s "
          f"({'from the wheelhouse' if first.returncode == 0 else 'wheelhouse filled first'})")
    assert not (env_dir / "pyvenv.cfg").read_text().count("include-system-site-packages = true")
    return env_dir / "bin"


def test_wheel_and_sdist_carry_checkpoints_reports_and_icon(built):
    wheel, sdist = built
    assert "mer_viewer/resources/models/pointnet2_3class.pt" in SHIPPED
    assert "mer_viewer/resources/models/pointnet2_4class.report.md" in SHIPPED
    assert "mer_viewer/resources/icons/mer-viewer.svg" in SHIPPED
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for name in SHIPPED:  # byte for byte what the checkout has
            assert name in names, f"{wheel.name} lacks {name}"
            assert (hashlib.sha256(z.read(name)).digest()
                    == hashlib.sha256((ROOT / name).read_bytes()).digest()), name
        dist_info = f"mer_viewer-{__version__}.dist-info"
        metadata = z.read(f"{dist_info}/METADATA").decode()
        entry_points = z.read(f"{dist_info}/entry_points.txt").decode()
    assert f"\nVersion: {__version__}\n" in metadata
    assert "mer = mer_viewer.cli:main" in entry_points
    assert "mer-viewer = mer_viewer.qt.app:main" in entry_points
    assert not any(n.startswith(("tests/", "packaging/")) for n in names)
    with tarfile.open(sdist) as t:
        top = f"mer_viewer-{__version__}"
        members = {m.name.removeprefix(top + "/") for m in t.getmembers()}
    for name in [*SHIPPED, "LICENSE", "CHANGELOG.md", "packaging/mer-viewer.spec",
                 "packaging/mer-viewer.desktop", "packaging/io.github.mer_viewer.metainfo.xml"]:
        assert name in members, f"{sdist.name} lacks {name}"


def test_installed_wheel_classifies_with_the_bundled_model(installed, tmp_path):
    from mer_viewer.core.dataset import Dataset
    from mer_viewer.core.ml.classify import bundled_checkpoint, classify

    elsewhere = tmp_path / "elsewhere"  # not the checkout: nothing of it on sys.path
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    located = _run([installed / "python", "-c", "import mer_viewer; print(mer_viewer.__file__)"],
                   cwd=elsewhere, env=env).stdout.strip()
    assert Path(located).is_relative_to(installed.parent), located

    corpus = elsewhere / "corpus"
    _run([installed / "mer", "demo", "--out", corpus, "--subjects", "1", "--clips", "2",
          "--macro", "0", "--workers", "2"], cwd=elsewhere, env=env)
    sample = Dataset.open(corpus).samples[0]
    out = _run([installed / "mer", "classify", corpus, sample.subject, sample.clip, "--json"],
               cwd=elsewhere, env=env)
    result = json.loads(out.stdout)
    # the same clip through the checkout's code and checkpoint, in this process
    expected = classify(sample, bundled_checkpoint("3"))
    assert result["predicted"] == expected.predicted
    assert result["probabilities"].keys() == expected.probabilities.keys()
    for name, p in expected.probabilities.items():
        assert result["probabilities"][name] == pytest.approx(p, abs=1e-5)

    version = _run([installed / "mer-viewer", "--version"], cwd=elsewhere, env=env).stdout
    lines = version.splitlines()
    assert lines[0] == f"mer-viewer {__version__}"
    import torch

    assert f"PyTorch {torch.__version__}" in lines
    assert any(line.startswith("device: ") for line in lines)
    assert any("68-landmark" in line and "NON-COMMERCIAL" in line for line in lines)
