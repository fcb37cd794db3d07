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
    for index in range(browser.model.rowCount()):
        parent = browser.model.index(index, 0)
        onsets = [browser.row_at(browser.model.index(j, 0, parent)).onset or -1
                  for j in range(browser.model.rowCount(parent))]
        assert onsets == sorted(onsets, reverse=True)  # numbers, not text ("35" < "175")
    browser.tree.sortByColumn(0, QtCore.Qt.SortOrder.DescendingOrder)  # subjects by number
    subjects = [browser.model.index(i, 0).data() for i in range(browser.model.rowCount())]
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


def _with_rows(dataset, samples=None, skipped=None):
    """The dataset with other rows (as reopening it with edits or another sheet gives)."""
    return Dataset(dataset.root, dataset.sheet, list(samples or dataset.samples),
                   list(dataset.skipped if skipped is None else skipped), dataset.kind,
                   dataset.layouts)


def test_an_edit_updates_its_row_in_place_and_keeps_the_selection(qtbot, demo_corpus):
    import dataclasses

    dataset = Dataset.open(demo_corpus)
    browser = DatasetBrowser()
    qtbot.addWidget(browser)
    browser.set_dataset(dataset)
    target = dataset.samples[1]
    assert browser.select_key(target.key)
    browser.tree.collapse(browser.model.index(1, 0))  # the user's own expansion is kept too
    collapsed = browser.model.subjects[1]
    resets = []
    browser.model.modelReset.connect(lambda: resets.append(1))
    edited = dataclasses.replace(target, apex=target.apex + 1, edited=True)
    samples = [edited if s.key == target.key else s for s in dataset.samples]
    browser.set_dataset(_with_rows(dataset, samples))
    assert resets == []
    assert browser.current_row() == edited
    row = next(i for i in browser.visible_rows() if browser.row_at(i).key == target.key)
    assert row.siblingAtColumn(COLUMNS.index("apex")).data() == target.apex + 1
    assert row.siblingAtColumn(COLUMNS.index("status")).data() == "edited"
    subject = browser.model.index(browser.model.subjects.index(collapsed), 0)
    assert not browser.tree.isExpanded(subject)
    browser.status_box.setCurrentIndex(browser.status_box.findData("edited"))
    assert [r.key for r in _rows(browser)] == [target.key]
    assert browser.current_row() == edited  # still selected through the filter

    # other rows (a row gone): the tree is rebuilt
    browser.status_box.setCurrentIndex(browser.status_box.findData("all"))
    browser.set_dataset(_with_rows(dataset, dataset.samples[1:]))
    assert resets == [1]
    assert [r.key for r in _rows(browser) if isinstance(r, Sample)] == \
        [r.key for r in _rows_of(_with_rows(dataset, dataset.samples[1:]))
         if isinstance(r, Sample)]


def test_sorting_and_filtering_keep_the_selected_row(qtbot, demo_corpus):
    from PySide6 import QtCore

    dataset = Dataset.open(demo_corpus)
    browser = DatasetBrowser()
    qtbot.addWidget(browser)
    browser.set_dataset(dataset)
    target = dataset.samples[-1]
    browser.select_key(target.key)
    browser.tree.sortByColumn(COLUMNS.index("apex"), QtCore.Qt.SortOrder.DescendingOrder)
    assert browser.current_row().key == target.key
    browser.search.setText(target.clip)
    assert browser.current_row().key == target.key
    browser.search.setText("no such thing")
    assert browser.current_row() is None
    browser.search.setText("")
    assert len(_rows(browser)) == len(dataset.samples) + len(dataset.skipped)


def test_columns_are_wide_enough_for_every_text(qtbot, demo_corpus):
    import dataclasses

    dataset = Dataset.open(demo_corpus)
    long_au = dataclasses.replace(dataset.samples[-1], au=("L12", "R14", "AU25", "AU26",
                                                           "L1", "R2", "AU4", "AU7"))
    dataset = _with_rows(dataset, [*dataset.samples[:-1], long_au])
    browser = DatasetBrowser()
    qtbot.addWidget(browser)
    browser.set_dataset(dataset)
    metrics = browser.tree.fontMetrics()
    for col in range(len(COLUMNS) - 1):  # the last one stretches
        texts = [str(i.siblingAtColumn(col).data()) for i in browser.visible_rows()]
        widest = max(metrics.horizontalAdvance(t) for t in texts)
        assert browser.tree.columnWidth(col) > widest, COLUMNS[col]
