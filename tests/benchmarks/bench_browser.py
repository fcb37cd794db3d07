"""Dataset browser: GUI-thread time to show a sheet and to apply one edit, by sheet size.

Run (offscreen Qt is enough):

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/benchmarks/bench_browser.py [DEMO_ROOT]

The demo corpus's rows are repeated under new subject names up to the real CAS(ME)³ Part A
size (~900 rows) and beyond. Each case is the GUI thread's CPU time (``time.thread_time``,
robust to other processes on a shared machine) from the call until the tree has painted.
Times are per change (each case makes two: there and back). The reference, measured in the same run, is a tree of one ``QStandardItem`` per cell behind a
``QSortFilterProxyModel`` (the browser before ``SampleTreeModel``), which rebuilds on every
edit. Goal: < 100 ms per case at the real size.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

from demo_corpus import corpus_root

REPO = Path(__file__).resolve().parents[2]


def _bigger(dataset, copies: int):
    from mer_viewer.core.dataset import Dataset

    def rename(rows):
        return [dataclasses.replace(r, subject=f"{r.subject}-{k}") for k in range(copies)
                for r in rows]

    return Dataset(dataset.root, dataset.sheet, rename(dataset.samples),
                   rename(dataset.skipped), dataset.kind, dataset.layouts)


def _edited(dataset):
    from mer_viewer.core.dataset import Dataset

    first = dataset.samples[0]
    samples = [dataclasses.replace(first, apex=first.apex + 1, edited=True),
               *dataset.samples[1:]]
    return Dataset(dataset.root, dataset.sheet, samples, list(dataset.skipped), dataset.kind,
                   dataset.layouts)


class ReferenceBrowser:
    """One QStandardItem per cell behind a recursive-filtering proxy, refilled on each call."""

    def __init__(self):
        from PySide6 import QtCore, QtGui, QtWidgets

        from mer_viewer.qt.panels.sample_model import COLUMNS

        self.model = QtGui.QStandardItemModel(0, len(COLUMNS))
        self.proxy = QtCore.QSortFilterProxyModel()
        self.proxy.setRecursiveFilteringEnabled(True)
        self.proxy.setFilterKeyColumn(-1)  # the search looks in every column
        self.proxy.setFilterCaseSensitivity(QtCore.Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setSourceModel(self.model)
        self.tree = QtWidgets.QTreeView()
        self.tree.setModel(self.proxy)
        self.tree.setUniformRowHeights(True)
        self.tree.resize(600, 900)

    def set_dataset(self, dataset) -> None:
        from PySide6 import QtCore, QtGui

        from mer_viewer.qt.panels.sample_model import COLUMNS, row_cells, sort_key

        self.model.removeRows(0, self.model.rowCount())
        subjects = {}
        rows = [*dataset.samples, *dataset.skipped]
        order = {s: i for i, s in enumerate(dict.fromkeys(r.subject for r in rows))}
        rows.sort(key=lambda r: (order[r.subject], r.clip.lower(), r.onset or 0))
        for row in rows:
            parent = subjects.get(row.subject)
            if parent is None:
                parent = subjects[row.subject] = QtGui.QStandardItem(row.subject)
                self.model.appendRow([parent] + [QtGui.QStandardItem("") for _ in COLUMNS[1:]])
            items = []
            for value in row_cells(row):
                item = QtGui.QStandardItem()
                item.setData(value, QtCore.Qt.ItemDataRole.DisplayRole)
                item.setData(sort_key(value), QtCore.Qt.ItemDataRole.UserRole + 3)
                items.append(item)
            parent.appendRow(items)
        self.tree.expandAll()
        for col in range(len(COLUMNS) - 1):
            self.tree.resizeColumnToContents(col)


def _time(app, widget, call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.thread_time()
        call()
        widget.repaint()
        app.processEvents()
        times.append((time.thread_time() - t0) * 1e3)
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    from PySide6 import QtWidgets

    from mer_viewer.core.dataset import Dataset
    from mer_viewer.qt.panels.browser import DatasetBrowser

    app = QtWidgets.QApplication(sys.argv[:1])
    root = corpus_root(args.root, subjects=2, clips_per_subject=3, workers=2)
    base = Dataset.open(root)
    print(f"Dataset browser, GUI-thread CPU ms (median of {args.repeats}); corpus {root}")
    print("| rows | case | browser | reference (item per cell + proxy) | ratio | goal |")
    print("|---|---|---|---|---|---|")
    unit = len(base.samples) + len(base.skipped)
    for copies in sorted({1, max(1, round(900 / unit)), max(1, round(3600 / unit))}):
        dataset = _bigger(base, copies)
        edited = _edited(dataset)
        n = len(dataset.samples) + len(dataset.skipped)
        browser, reference = DatasetBrowser(), ReferenceBrowser()
        browser.resize(600, 900)
        browser.show()
        reference.tree.show()
        app.processEvents()
        other = _bigger(base, copies + 1)  # another sheet: showing it is a reset
        cases = [  # (case, ours, theirs): each makes two changes
            ("open a sheet", lambda d=dataset, o=other: (browser.set_dataset(o),
                                                         browser.set_dataset(d)),
             lambda d=dataset, o=other: (reference.set_dataset(o), reference.set_dataset(d))),
            ("one row edited", lambda d=dataset, e=edited: (browser.set_dataset(e),
                                                            browser.set_dataset(d)),
             lambda d=dataset, e=edited: (reference.set_dataset(e),
                                          reference.set_dataset(d))),
            ("search typed", lambda: (browser.search.setText("sad"), browser.search.setText("")),
             lambda: (reference.proxy.setFilterFixedString("sad"),
                      reference.proxy.setFilterFixedString(""))),
        ]
        browser.set_dataset(dataset)
        for case, ours, theirs in cases:
            ms = _time(app, browser.tree, ours, args.repeats) / 2
            ref = _time(app, reference.tree, theirs, args.repeats) / 2
            goal = "< 100 ms" if 800 <= n <= 1000 else ""
            print(f"| {n} | {case} | {ms:.0f} ms | {ref:.0f} ms | {ref / max(ms, 1e-3):.1f}× "
                  f"| {goal} |")
        browser.close()
        reference.tree.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
