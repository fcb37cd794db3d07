"""The annotation sidecar: two editors never lose each other's edits, every value type-checked,
an unreadable sidecar set aside (never deleted) or ignored, stale temp files removed."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from mer_viewer.cli import build_parser, main
from mer_viewer.core.atomic import STALE_AFTER_S, temp_name
from mer_viewer.core.dataset import Dataset
from mer_viewer.core.dataset import edits as edits_module
from mer_viewer.core.dataset.edits import (
    SIDECAR_NAME,
    EditConflictError,
    EditStore,
    SampleEdit,
    SidecarError,
    set_aside,
)
from mer_viewer.core.errors import DatasetError

from .casme_fixture import build_root

A, B, C = "spNO.1_a_2", "spNO.2_j_1", "spNO.5_c_3"  # three loadable rows


@pytest.fixture()
def root(tmp_path):
    return build_root(tmp_path / "casme3")


def _sidecar(root: Path) -> Path:
    return root / SIDECAR_NAME


def _saved_edits(root: Path) -> dict:
    return json.loads(_sidecar(root).read_text())["edits"]


# --- two editors ------------------------------------------------------------------------------

def test_two_editors_of_different_rows_keep_both_edits(root):
    first, second = EditStore.load(root), EditStore.load(root)
    first.set(A, SampleEdit(apex=6))
    first.save()
    second.set(B, SampleEdit(notes="checked"))
    second.save()  # last writer: used to drop the first one's apex
    assert _saved_edits(root) == {A: {"apex": 6}, B: {"notes": "checked"}}
    assert second.merged_keys == (A,) and second.get(A) == SampleEdit(apex=6)
    # the first editor goes on: its next save keeps the second one's row too
    first.set(C, SampleEdit(exclude=True, exclude_reason="blink"))
    first.save()
    assert set(_saved_edits(root)) == {A, B, C} and first.merged_keys == (B,)
    dataset = Dataset.open(root)
    assert dataset.find("spNO.1", "a_2").apex == 6
    assert C in {s.key for s in dataset.skipped if s.reason == "excluded: blink"}


@pytest.mark.parametrize("theirs, ours", [
    (SampleEdit(apex=6), SampleEdit(apex=7)),
    (SampleEdit(apex=6), None),           # they edit, we remove
    (None, SampleEdit(notes="mine")),     # they remove, we edit
])
def test_two_editors_of_one_row_are_refused_and_the_file_keeps_the_first(root, theirs, ours):
    seed = EditStore.load(root)
    seed.set(A, SampleEdit(onset=2))
    seed.save()
    first, second = EditStore.load(root), EditStore.load(root)
    first.set(A, theirs) if theirs is not None else first.remove(A)
    first.save()
    written = _sidecar(root).read_bytes()
    second.set(A, ours) if ours is not None else second.remove(A)
    second.set(B, SampleEdit(notes="unrelated"))
    with pytest.raises(EditConflictError) as e:
        second.save()
    assert isinstance(e.value, DatasetError) and e.value.keys == (A,)
    message = str(e.value)
    assert message.startswith(f"{_sidecar(root)}: changed by someone else") and A in message
    assert _sidecar(root).read_bytes() == written  # nothing overwritten, nothing merged
    assert second.get(A) == ours  # our unsaved edit is still there to redo


def test_the_same_change_by_both_is_no_conflict(root):
    first, second = EditStore.load(root), EditStore.load(root)
    for store in (first, second):
        store.set(A, SampleEdit(apex=6))
    first.save()
    second.save()
    assert _saved_edits(root) == {A: {"apex": 6}}


def test_a_save_landing_during_ours_is_merged_not_overwritten(root, monkeypatch):
    """Someone saves between our check and our rename: we notice, merge and write again."""
    ours, theirs = EditStore.load(root), EditStore.load(root)
    ours.set(A, SampleEdit(apex=6))
    theirs.set(B, SampleEdit(apex=3))
    real = edits_module.atomic_path
    calls = []

    @contextmanager
    def racing(path, **options):
        calls.append(path)
        with real(path, **options) as tmp:
            yield tmp
            if len(calls) == 1:  # after we read and merged the file, before we replace it
                with monkeypatch.context() as m:
                    m.setattr(edits_module, "atomic_path", real)
                    theirs.save()

    monkeypatch.setattr(edits_module, "atomic_path", racing)
    ours.save()
    assert len(calls) == 2 and _saved_edits(root) == {A: {"apex": 6}, B: {"apex": 3}}


def test_copies_share_what_was_loaded(root):
    store = EditStore.load(root)
    other = EditStore.load(root)
    other.set(B, SampleEdit(apex=3))
    other.save()
    copy = store.copy()
    copy.set(A, SampleEdit(apex=6))
    copy.save()  # knows it loaded an empty sidecar: merges the other editor's row
    assert set(_saved_edits(root)) == {A, B}


# --- what a sidecar may hold ----------------------------------------------------------------------

def _write_sidecar(root: Path, edits: object = None, top: dict | None = None) -> Path:
    data = {"format": "mer_viewer.annotations", "version": 1, "edits": edits or {}, **(top or {})}
    _sidecar(root).write_text(json.dumps(data))
    return _sidecar(root)


@pytest.mark.parametrize("edits, top, problem", [
    ({A: {"exclude": "false"}}, {}, f'edits.{A}.exclude must be true or false, got "false"'),
    ({A: {"exclude": 0}}, {}, f"edits.{A}.exclude must be true or false, got 0"),
    ({A: {"apex": "12"}}, {}, f'edits.{A}.apex must be a whole number, got "12"'),
    ({A: {"apex": 12.0}}, {}, f"edits.{A}.apex must be a whole number, got 12.0"),
    ({A: {"apex": True}}, {}, f"edits.{A}.apex must be a whole number, got true"),
    ({A: {"onset": -1}}, {}, f"edits.{A}.onset must be a frame number from 0 to 10000000"),
    ({A: {"offset": 10_000_001}}, {}, f"edits.{A}.offset must be a frame number from 0"),
    ({A: {"emotion": 5}}, {}, f"edits.{A}.emotion must be text, got 5"),
    ({A: {"notes": ["a"]}}, {}, f'edits.{A}.notes must be text, got ["a"]'),
    ({A: {"apex_frame": 5}}, {}, f"edits.{A} has unknown field(s) apex_frame"),
    ({A: "apex 5"}, {}, f'edits.{A} must be a mapping, got "apex 5"'),
    ({" ": {"apex": 5}}, {}, "edits has an empty row key"),
    (None, {"edits": [A]}, "edits must map row keys to edits"),
    (None, {"version": "1"}, 'version must be a whole number from 1 to 1, got "1"'),
    (None, {"version": True}, "version must be a whole number from 1 to 1, got true"),
    (None, {"version": 0}, "version must be a whole number from 1 to 1, got 0"),
    (None, {"version": 2}, "written by a newer mer_viewer (version 2)"),
    (None, {"format": "labelme"}, "not a mer_viewer annotation file"),
])
def test_values_of_the_wrong_type_are_named(root, edits, top, problem):
    path = _write_sidecar(root, edits, top)
    with pytest.raises(SidecarError) as e:
        EditStore.load(root)
    assert str(e.value) == f"{path}: {problem}" or str(e.value).startswith(f"{path}: {problem}")
    with pytest.raises(DatasetError):  # and the dataset does not open with it silently
        Dataset.open(root)


def test_exclude_false_as_text_never_excludes(root):
    _write_sidecar(root, {A: {"exclude": "false"}})
    with pytest.raises(SidecarError):
        Dataset.open(root)
    _write_sidecar(root, {A: {"exclude": False, "apex": None, "notes": "kept"}})
    assert Dataset.open(root).find("spNO.1", "a_2").notes == "kept"


@pytest.mark.parametrize("raw, problem", [
    (b"{not json", "unreadable annotation sidecar (not valid JSON: "),
    (b'{"format": "mer_viewer.annotations", "version": 1, "version": 1}',
     'unreadable annotation sidecar ("version" appears more than once'),
    (b'{"format": "mer_viewer.annotations", "version": 1, "edits": {"\xff": {}}}',
     "unreadable annotation sidecar (not UTF-8 text"),
    (b"", "unreadable annotation sidecar (not valid JSON"),
])
def test_unparsable_sidecars_are_named(root, raw, problem):
    _sidecar(root).write_bytes(raw)
    with pytest.raises(SidecarError) as e:
        EditStore.load(root)
    assert str(e.value).startswith(f"{_sidecar(root)}: {problem}")


def test_a_sidecar_that_cannot_be_read(root, monkeypatch):
    _write_sidecar(root)
    real = Path.read_bytes

    def denied(self):
        if self.name == SIDECAR_NAME:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(SidecarError) as e:
        Dataset.open(root)
    assert str(e.value) == f"{_sidecar(root)}: unreadable annotation sidecar (Permission denied)"


# --- set aside, ignore ------------------------------------------------------------------------

def test_set_aside_renames_and_never_deletes(root):
    path = _sidecar(root)
    path.write_bytes(b"{broken")
    moved = set_aside(path)
    assert not path.exists() and moved.read_bytes() == b"{broken"
    assert moved.parent == root and moved.name.startswith(f"{SIDECAR_NAME}.unreadable-")
    time.strptime(moved.name.rsplit("unreadable-", 1)[1], "%Y%m%d-%H%M%S")
    assert len(Dataset.open(root).samples) > 0  # opens without it
    path.write_bytes(b"{broken again")  # the same second: a second name, nothing overwritten
    again = set_aside(path)
    assert again != moved and again.read_bytes() == b"{broken again"
    assert moved.read_bytes() == b"{broken"


def test_cli_bad_sidecar_is_one_line_and_ignore_edits_opens(root, capsys):
    _write_sidecar(root, {A: {"exclude": "false"}})
    assert main(["info", str(root)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(_sidecar(root)) in err and "--ignore-edits" in err
    assert f'edits.{A}.exclude must be true or false, got "false"' in err
    assert main(["info", str(root), "--ignore-edits", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert any(s["subject"] == "spNO.1" and s["onset"] == 2 for s in out["samples"])
    assert _sidecar(root).exists()  # ignored, not touched


@pytest.mark.parametrize("argv", [
    ["info", "R"], ["cloud", "R", "spNO.1", "a", "--out", "x.npz"], ["flow", "R", "s", "c",
                                                                        "--out", "x.png"],
    ["preprocess", "R"], ["train", "R", "--out", "run"], ["classify", "R", "s", "c"],
    ["experiment", "R", "--out", "exp"],
])
def test_every_command_that_opens_a_dataset_takes_ignore_edits(argv):
    assert build_parser().parse_args(argv + ["--ignore-edits"]).ignore_edits


# --- files beside the sidecar ----------------------------------------------------------------------

@pytest.mark.skipif(os.name != "posix", reason="POSIX modes and pids")
def test_saving_keeps_the_mode_and_removes_stale_temps(root):
    store = EditStore.load(root)
    store.set(A, SampleEdit(apex=6))
    store.save()
    os.chmod(_sidecar(root), 0o644)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    killed = root / temp_name(_sidecar(root), pid=child.pid)  # a writer killed mid-save
    killed.write_text('{"format": "mer_viewer.annotations", "ver')
    legacy = root / ".tmp-k2j4_x9q.json"  # the mkstemp name of older versions, long left
    legacy.write_text('{\n  "format": "mer_viewer.annotations",\n  "version": 1,\n  "ed')
    legacy_fresh = root / ".tmp-aaaa1111.json"  # might be a live old writer's: kept
    legacy_fresh.write_text("")
    not_ours = root / ".tmp-zzzz9999.json"  # old, but not a sidecar: kept
    not_ours.write_text('{"something": "else"}')
    long_ago = time.time() - STALE_AFTER_S - 60
    for p in (legacy, not_ours):
        os.utime(p, (long_ago, long_ago))
    assert len(EditStore.load(root)) == 1
    assert not killed.exists() and not legacy.exists()
    assert legacy_fresh.exists() and not_ours.exists()
    store.set(B, SampleEdit(apex=3))
    store.save()
    assert stat.S_IMODE(os.stat(_sidecar(root)).st_mode) == 0o644
