"""The package's layout stays as the README's Layout section shows it: every module of
``mer_viewer/qt/`` in a sub-package with a docstring (app.py and main_window.py on top), and no
module importing another module's private (``_name``) names. The import directions between
the sub-packages are import-linter contracts (pyproject.toml)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "mer_viewer"
QT = PACKAGE / "qt"
SUBPACKAGES = ("infra", "views", "panels")

#: Pre-existing crossings outside qt/, each between a module and the sibling split off it
#: (importer, imported module, name). The test fails once one is gone, so the list only shrinks.
SPLIT_SIBLINGS: set[tuple[str, str, str]] = set()  # none left


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_module(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def private_imports(root: Path = PACKAGE) -> set[tuple[str, str, str]]:
    """(importer, module, name) for every ``from module import _name`` in ``root``'s modules
    where ``module`` is another module of mer_viewer (a private submodule counts too)."""
    found = set()
    for path in sorted(root.rglob("*.py")):
        importer = _module_name(path, root)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            module = _imported_module(node, importer, path.name == "__init__.py")
            if module.split(".")[0] != "mer_viewer" or module == importer:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.add((importer, module, alias.name))
    return found


def test_no_module_imports_another_modules_private_names():
    found = private_imports()
    assert found - SPLIT_SIBLINGS == set()
    assert SPLIT_SIBLINGS - found == set(), "a crossing is gone: take it off SPLIT_SIBLINGS"


def test_the_guard_sees_relative_and_absolute_crossings(tmp_path):
    pkg = tmp_path / "mer_viewer" / "qt" / "views"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('from .a import _x\n')
    (pkg / "b.py").write_text("from ..infra.c import _y, z\nfrom mer_viewer.core import _w\n"
                              "from . import __all__\n")
    assert private_imports(tmp_path / "mer_viewer") == {
        ("mer_viewer.qt.views", "mer_viewer.qt.views.a", "_x"),
        ("mer_viewer.qt.views.b", "mer_viewer.qt.infra.c", "_y"),
        ("mer_viewer.qt.views.b", "mer_viewer.core", "_w"),
    }


def test_qt_modules_live_in_sub_packages_that_say_what_they_hold():
    assert sorted(p.name for p in QT.glob("*.py")) == ["__init__.py", "app.py", "main_window.py"]
    for name in SUBPACKAGES:
        init = QT / name / "__init__.py"
        tree = ast.parse(init.read_text(encoding="utf-8"))
        doc = ast.get_docstring(tree)
        assert doc and "\n" not in doc.strip(), f"{init}: a one-line docstring"
        assert not [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))], init
    packages = {p.parent.name for p in QT.rglob("*.py") if p.parent != QT}
    assert packages == set(SUBPACKAGES)
