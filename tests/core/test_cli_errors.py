"""Every failure of a ``mer`` command is one line ``mer CMD: error: ...`` and a non-zero exit,
never a traceback (unless MER_DEBUG=1 asks for it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mer_viewer import cli
from mer_viewer.cli import main
from mer_viewer.core.dataset import Dataset

from .casme_fixture import build_root

REPO = Path(__file__).resolve().parents[2]


def _error_line(capsys, command: str) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err, captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mer {command}: error: "), captured.err
    return lines[0]


@pytest.fixture()
def root(tmp_path):
    return build_root(tmp_path / "casme3")


def _sample_args(root):
    sample = Dataset.open(root).samples[0]
    return [str(root), sample.subject, sample.id.split("_", 1)[1]]


@pytest.mark.parametrize("command, out", [
    ("cloud", "/proc/x.npz"), ("cloud", "{file}/x.ply"), ("flow", "/proc/x.png"),
    ("flow", "{file}/x.npz"),
])
def test_an_unwritable_out_is_one_line_naming_it(demo_corpus, tmp_path, capsys, command, out):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    out = out.format(file=blocker)
    code = main([command, *_sample_args(demo_corpus), "--out", out])
    line = _error_line(capsys, command)
    assert code == 1 and line.startswith(f"mer {command}: error: {out}: cannot write (")
    if out.startswith(str(blocker)):
        assert f"{blocker} is a file, not a folder" in line


def test_mer_demo_into_a_path_through_a_file(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    out = blocker / "demo"
    assert main(["demo", "--out", str(out), "--subjects", "1", "--clips", "1", "--macro", "0",
                 "--workers", "1"]) == 1
    line = _error_line(capsys, "demo")
    assert line == f"mer demo: error: {out}: cannot write ({blocker} is a file, not a folder)"


def _raise(exc: BaseException):
    def handler(args):
        raise exc

    return handler


@pytest.mark.parametrize("exc, expected", [
    (RecursionError("maximum recursion depth exceeded"),
     "RecursionError: maximum recursion depth exceeded (MER_DEBUG=1 shows the traceback)"),
    (MemoryError(), "MemoryError (MER_DEBUG=1 shows the traceback)"),
    (KeyError("x"), "KeyError: 'x' (MER_DEBUG=1 shows the traceback)"),
    (ValueError("first\nsecond"), "ValueError: first (MER_DEBUG=1 shows the traceback)"),
    (PermissionError(13, "Permission denied", "/ro/x.npz"), "/ro/x.npz: permission denied"),
    (OSError(28, "No space left on device", "/full/run/metrics.json"),
     "/full/run/metrics.json: no space left on the device"),
    (OSError(18, "Invalid cross-device link", "/a/.tmp-1", None, "/b/x"),
     "/a/.tmp-1 -> /b/x: invalid cross-device link"),
])
def test_any_exception_is_one_line_and_exit_1(root, monkeypatch, capsys, exc, expected):
    monkeypatch.delenv("MER_DEBUG", raising=False)
    monkeypatch.setattr(cli, "_cmd_info", _raise(exc))
    assert main(["info", str(root)]) == 1
    assert _error_line(capsys, "info") == f"mer info: error: {expected}"


def test_mer_debug_adds_the_traceback(root, monkeypatch, capsys):
    monkeypatch.setenv("MER_DEBUG", "1")
    monkeypatch.setattr(cli, "_cmd_info", _raise(RecursionError("too deep")))
    assert main(["info", str(root)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "RecursionError: too deep" in err
    assert err.splitlines()[-1] == "mer info: error: RecursionError: too deep"


@pytest.mark.parametrize("exc, code, line", [
    (KeyboardInterrupt(), 130, "mer info: interrupted"),
    (cli.UsageError("--points must be at least 1"), 2, "mer info: error: --points must be at least 1"),
])
def test_interrupt_and_usage_keep_their_exit_codes(root, monkeypatch, capsys, exc, code, line):
    monkeypatch.setattr(cli, "_cmd_info", _raise(exc))
    assert main(["info", str(root)]) == code
    assert capsys.readouterr().err.splitlines() == [line]


def _mer(*args: str, stdout) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MER_DEBUG", None)
    return subprocess.Popen([sys.executable, "-m", "mer_viewer.cli", *args], cwd=REPO, env=env,
                            stdout=stdout, stderr=subprocess.PIPE, text=True)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_mer_info_json_to_a_full_disk(root):
    with open("/dev/full", "w") as full:
        process = _mer("info", str(root), "--json", stdout=full)
        _, err = process.communicate(timeout=120)
    assert process.returncode == 1
    assert err.splitlines() == ["mer info: error: <stdout>: no space left on the device"], err


def test_mer_info_into_a_closed_pipe_exits_quietly(root):
    process = _mer("info", str(root), "--json", stdout=subprocess.PIPE)
    process.stdout.close()  # the reader goes away before anything is written (``| head -0``)
    err = process.stderr.read()
    process.wait(timeout=120)
    assert process.returncode == 141 and err == "", err
