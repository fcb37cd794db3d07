"""Dataset browser: every row visible with its status, class filter, search, navigation."""

from __future__ import annotations

from mer_viewer.core.dataset import Dataset, Sample, Skipped
from mer_viewer.qt.panels.browser import COLUMNS, DatasetBrowser


def _rows(browser: DatasetBrowser):
    return [browser.row_at(i) for i in browser.visible_rows()]


def _status_texts(browser: DatasetBrowser) -> list[str]:
    col = COLUMNS.index("status")
    return [i.siblingAtColumn(col).data() for i in browser.visible_rows()]


def test_every_row_shown_skipped_with_reason(qtbot, demo_corpus):
    dataset = Dataset.open(demo_corpus)
    browser = DatasetBrowser()
    qtbot.addWidget(browser)
    browser.set_dataset(dataset)
    rows = _rows(browser)
    assert len(rows) == len(dataset.samples) + len(dataset.skipped)
    statuses = _status_texts(browser)
    for row, status in zip(rows, statuses):
        if isinstance(row, Skipped):
            assert status == f"skipped: {row.reason}"
        else:
            assert status == "ok"
    assert any("onset equals apex" in s for s in statuses)
    assert any("excluded: hand occlusion" in s for s in statuses)


def test_class_filter_and_search(qtbot, demo_corpus):
    dataset = Dataset.open(demo_corpus)
    browser = DatasetBrowser()
    qtbot.addWidget(browser)
    browser.set_dataset(dataset)
    browser.set_class_filter("4", "surprise")
    rows = _rows(browser)
    assert rows and all(isinstance(r, Sample) and r.label("4") == "surprise" for r in rows)
    assert len(rows) == dataset.counts()["4"]["surprise"]

    browser.set_class_filter("4", "")
    browser.status_box.setCurrentIndex(browser.status_box.findData("skipped"))
    assert all(isinstance(r, Skipped) for r in _rows(browser))
    browser.status_box.setCurrentIndex(browser.status_box.findData("all"))

    browser.search.setText("OCCLUSION")
    rows = _rows(browser)
    assert rows and all("occlusion" in r.reason for r in rows)
    browser.search.setText("spNO.3")
    assert {r.subject for r in _rows(browser)} == {"spNO.3"}
    browser.search.setText("no such thing")
    assert _rows(browser) == []
    assert "0 shown" in browser.summary.text()


def test_step_moves_between_samples_and_emits(qtbot, demo_corpus):
    dataset = Dataset.open(demo_corpus)
    browser = DatasetBrowser()
    qtbot.addWidget(browser)
    browser.set_dataset(dataset)
    seen = []
    browser.rowSelected.connect(seen.append)
    browser.step(1)
    browser.step(1)
    samples = [r for r in _rows(browser) if isinstance(r, Sample)]
    assert [s.key for s in seen] == [samples[0].key, samples[1].key]
    browser.step(-1)
    assert seen[-1].key == samples[0].key
    # selecting from code (the state driving the tree) does not echo
    assert browser.select_key(samples[2].key)
    assert len(seen) == 3
    assert browser.current_row().key == samples[2].key


def test_columns_sort_by_value_and_bad_quality_rows_are_marked(qtbot, demo_copy):
    from PySide6 import QtCore

    from mer_viewer.core.dataset.exceptions import BAD_QUALITY_FILE

    before = Dataset.open(demo_copy)
    sheet_order = [r.key for r in _rows_of(before)]
    sample = before.samples[0]
    (demo_copy / BAD_QUALITY_FILE).write_text(
        f"/data/casme3/{sample.subject}/{sample.clip}/color/{sample.apex}.jpg\n")
    dataset = Dataset.open(demo_copy)
    browser = DatasetBrowser()
    qtbot.addWidget(browser)
    browser.set_dataset(dataset)
    # the sheet's order until a column title is clicked
    assert [r.key for r in _rows(browser)] == sheet_order
    col = COLUMNS.index("onset")
    browser.tree.sortByColumn(col, QtCore.Qt.SortOrder.DescendingOrder)
    for index in range(browser.proxy.rowCount()):
        parent = browser.proxy.index(index, 0)
        onsets = [browser.row_at(browser.proxy.index(j, 0, parent)).onset or -1
                  for j in range(browser.proxy.rowCount(parent))]
        assert onsets == sorted(onsets, reverse=True)  # numbers, not text ("35" < "175")
    browser.tree.sortByColumn(0, QtCore.Qt.SortOrder.DescendingOrder)  # subjects by number
    subjects = [browser.proxy.index(i, 0).data() for i in range(browser.proxy.rowCount())]
    assert subjects == sorted(subjects, key=lambda s: -int(s.split(".")[1]))
    marked = next(i for i in browser.visible_rows() if browser.row_at(i).key == sample.key)
    status = marked.siblingAtColumn(COLUMNS.index("status")).data()
    assert status.startswith("ok ⚠") and f"apex frame {sample.apex}" in status
    assert marked.data() == f"{sample.clip} ⚠"


def _rows_of(dataset):
    """Rows in the browser's sheet order: by subject as first met, clip, onset."""
    rows = [*dataset.samples, *dataset.skipped]
    order = {s: i for i, s in enumerate(dict.fromkeys(r.subject for r in rows))}
    return sorted(rows, key=lambda r: (order[r.subject], r.clip.lower(), r.onset or 0))
