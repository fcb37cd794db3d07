"""The dataset's official exception lists (damaged and bad-quality frames) applied by the loader."""

from __future__ import annotations

import json

import pytest

from mer_viewer.cli import main
from mer_viewer.core.dataset import Dataset
from mer_viewer.core.dataset.exceptions import BAD_QUALITY_FILE, DAMAGED_FILE, load_exceptions

from .casme_fixture import build_root

# As distributed: "<subject> <Clip as in the sheet, case may differ> <n>.jpg  <reason>" and
# absolute paths of the machine that made the list.
DAMAGED = ("spNO.1 A 2.jpg  the image cannot open\n"
           "spNO.2 J 4.jpg  the image cannot open\r\n"
           "spNO.9 b 7.jpg  the image cannot open\n")
BAD_QUALITY = ("/media/casme3/Part_A/data/part_A/spNO.1/a/color/6.jpg\n"
               "D:\\CASME3\\part_A\\spNO.5\\c\\color\\5.jpg\n"
               "/media/casme3/Part_A/data/part_A/spNO.1/a/color/9.jpg\n")


@pytest.fixture
def root(tmp_path):
    return build_root(tmp_path / "casme3")


def _write_lists(root, folder="exception"):
    target = root / folder if folder else root
    target.mkdir(exist_ok=True)
    (target / DAMAGED_FILE).write_text(DAMAGED)
    (target / BAD_QUALITY_FILE).write_text(BAD_QUALITY)


def _by_onset(dataset, subject, clip):
    samples = {s.onset: s for s in dataset.samples if (s.subject, s.clip) == (subject, clip)}
    skipped = {s.onset: s for s in dataset.skipped if (s.subject, s.clip) == (subject, clip)}
    return samples, skipped


@pytest.mark.parametrize("folder", ["exception", ""])
def test_damaged_onset_or_apex_skips_bad_quality_warns(root, folder):
    before = Dataset.open(root)
    _write_lists(root, folder)
    dataset = Dataset.open(root)
    samples, skipped = _by_onset(dataset, "spNO.1", "a")
    # spNO.1 a onset 2 apex 5: onset frame 2 damaged -> skipped with the list's reason
    assert 2 not in samples
    assert "onset frame 2 damaged" in skipped[2].reason
    assert "the image cannot open" in skipped[2].reason
    # spNO.1 a onset 4 apex 6: apex frame 6 of bad quality -> kept, with a warning
    assert samples[4].warnings == (f"apex frame 6 of bad quality ({BAD_QUALITY_FILE})",)
    # spNO.2 j onset 1 apex 4 (listed as "J 4.jpg"): apex damaged, case ignored
    samples_j, skipped_j = _by_onset(dataset, "spNO.2", "j")
    assert 1 not in samples_j and "apex frame 4 damaged" in skipped_j[1].reason
    # a Windows path in the bad-quality list: spNO.5 c apex 5
    samples_c, _ = _by_onset(dataset, "spNO.5", "c")
    assert samples_c[3].warnings and "apex frame 5" in samples_c[3].warnings[0]
    # nothing else changed; frame 9 (bad quality, neither onset nor apex) warns nobody
    assert len(dataset.samples) == len(before.samples) - 2
    assert sum(bool(s.warnings) for s in dataset.samples) == 2


def test_info_json_reports_warnings_and_damaged_reasons(root, capsys):
    _write_lists(root)
    assert main(["info", str(root), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    warned = [s for s in data["samples"] if s["warnings"]]
    assert {(s["subject"], s["clip"], s["onset"]) for s in warned} == {("spNO.1", "a", 4),
                                                                      ("spNO.5", "c", 3)}
    assert all(s["warnings"] == [] for s in data["samples"] if s not in warned)
    reasons = {(s["subject"], s["onset"]): s["reason"] for s in data["skipped"]}
    assert "damaged" in reasons[("spNO.1", 2)]


def test_lines_that_name_no_frame_are_warnings_not_errors(root):
    _write_lists(root)
    with open(root / "exception" / DAMAGED_FILE, "a") as handle:
        handle.write("this line names no frame\n")
    dataset = Dataset.open(root)
    assert any(DAMAGED_FILE in w and ":4:" in w for w in dataset.warnings)
    assert "onset frame 2 damaged" in _by_onset(dataset, "spNO.1", "a")[1][2].reason


def test_parse_official_formats(root):
    _write_lists(root)
    found = load_exceptions(root)
    assert found.damaged_reason("spNO.1", "a", 2) == "the image cannot open"
    assert found.damaged_reason("SPNO.2", "j", 4) == "the image cannot open"
    assert found.is_bad_quality("spNO.1", "A", 9)
    assert not found.is_bad_quality("spNO.1", "a", 2)
    assert len(found.damaged) == 3 and len(found.bad_quality) == 3


def test_info_text_lists_bad_quality_samples(root, capsys):
    _write_lists(root)
    assert main(["info", str(root)]) == 0
    out = capsys.readouterr().out
    assert "kept with bad-quality frames: 2" in out
    assert "spNO.1 a onset 4: apex frame 6 of bad quality" in out
