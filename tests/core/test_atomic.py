"""Atomic writes: the file's mode kept, the folder synced, whole files only under kills, and the
temporary files of killed writers recognised and removed (only those)."""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import time

import pytest

from mer_viewer.core import atomic
from mer_viewer.core.atomic import (
    STALE_AFTER_S,
    atomic_path,
    remove_stale_temps,
    temp_name,
    write_bytes_atomic,
)

posix = pytest.mark.skipif(os.name != "posix", reason="POSIX modes, fork and signals")


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@posix
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o664])
def test_replacing_a_file_keeps_its_mode(tmp_path, mode):
    target = tmp_path / "mer_annotations.json"
    target.write_text("{}")
    os.chmod(target, mode)
    write_bytes_atomic(target, b'{"a": 1}')
    assert target.read_bytes() == b'{"a": 1}' and _mode(target) == mode


@posix
def test_a_new_file_gets_the_mode_open_gives(tmp_path):
    reference = tmp_path / "by_open.json"
    reference.write_text("x")  # what open() makes under this umask
    write_bytes_atomic(tmp_path / "new.json", b"x")
    assert _mode(tmp_path / "new.json") == _mode(reference) == 0o666 & ~_umask()


@posix
def test_the_folder_is_synced_after_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(a, b):
        events.append("replace")
        real_replace(a, b)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_bytes_atomic(tmp_path / "a.json", b"1")
    assert events == ["fsync file", "replace", "fsync folder"]


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_temp_names_say_whose_they_are(tmp_path):
    target = tmp_path / "mer_annotations.json"
    name = temp_name(target)
    assert name.startswith(".tmp-mer_annotations.json.") and name.endswith(".json")
    assert f".{os.getpid()}." in name
    match = atomic._TEMP_NAME.match(name)
    assert match["target"] == "mer_annotations.json" and int(match["pid"]) == os.getpid()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@posix
def test_only_stale_temps_of_the_target_are_removed(tmp_path):
    target = tmp_path / "mer_annotations.json"
    dead = _dead_pid()
    dead_writer = tmp_path / temp_name(target, pid=dead)            # killed writer: stale
    live_writer = tmp_path / temp_name(target)                      # this process: in use
    old_live = tmp_path / temp_name(target)                         # untouched for long: stale
    other_host = tmp_path / temp_name(target, pid=dead, host="0" * 6)  # cannot tell: fresh
    other_target = tmp_path / temp_name(tmp_path / "other.json", pid=dead)
    lookalikes = [tmp_path / n for n in (".tmp-notes.txt", ".tmp-abcd1234.json", "notes.json",
                                         ".tmp-mer_annotations.json")]
    for p in (dead_writer, live_writer, old_live, other_host, other_target, *lookalikes):
        p.write_text("{")
    long_ago = time.time() - STALE_AFTER_S - 60
    os.utime(old_live, (long_ago, long_ago))
    removed = remove_stale_temps(tmp_path, target.name)
    assert sorted(removed) == sorted([dead_writer, old_live])
    assert {p.name for p in tmp_path.iterdir()} == {
        p.name for p in (live_writer, other_host, other_target, *lookalikes)}
    # every target at once (a run's checkpoints folder), and legacy names when asked
    removed = remove_stale_temps(tmp_path, legacy=lambda p: p.name == ".tmp-abcd1234.json")
    assert sorted(p.name for p in removed) == sorted([other_target.name, ".tmp-abcd1234.json"])


def _writer(target, versions):
    """In a forked child: write the versions in turn, forever, until killed."""
    try:
        while True:
            for data in versions:
                write_bytes_atomic(target, data)
    finally:
        os._exit(1)


@posix
def test_writes_are_whole_under_200_kills(tmp_path):
    """A writer killed (SIGKILL) at random moments 200 times: the target always holds one
    whole version, never a torn mix; the temporary files the kills leave are recognised
    as stale and removed."""
    target = tmp_path / "mer_annotations.json"
    # ~0.9 MB each, like a large sidecar: the kill often lands while a file is written
    versions = [json.dumps({"version": i, "edits": {f"k{j}": "x" * 90 for j in range(9000)}})
                .encode() for i in range(3)]
    rng = random.Random(0)
    left_behind = 0
    for _ in range(200):
        pid = os.fork()
        if pid == 0:
            _writer(target, versions)
        time.sleep(rng.uniform(0.0, 0.03))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        if target.exists():
            assert target.read_bytes() in versions
        temps = [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
        left_behind += len(temps)
        assert sorted(remove_stale_temps(tmp_path, target.name)) == sorted(temps)
    assert left_behind > 0  # some kills did land mid-write
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
