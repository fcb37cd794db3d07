"""One spelling of colour in identifiers: ``color``, as Qt, pyqtgraph, OpenGL and OpenCV spell
it. User-visible text, file-format keys and folder names may keep "colour"."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def identifiers(tree: ast.AST):
    """(line, name) of every name the code defines or uses, f-string expressions included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            yield node.lineno, node.id
        elif isinstance(node, ast.Attribute):
            yield node.lineno, node.attr
        elif isinstance(node, ast.arg):
            yield node.lineno, node.arg
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.lineno, node.name
        elif isinstance(node, ast.keyword) and node.arg:
            yield node.value.lineno, node.arg
        elif isinstance(node, ast.alias):
            yield node.lineno, node.asname or node.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.lineno, node.module


def british_identifiers(roots) -> list[tuple[str, int, str]]:
    found = []
    for root in roots:
        for path in sorted(Path(root).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            found += [(str(path), line, name) for line, name in identifiers(tree)
                      if "colour" in name.lower()]
    return found


def test_every_identifier_spells_color_one_way():
    assert british_identifiers(REPO / d for d in ("mer_viewer", "tests", "packaging")) == []


def test_the_check_reads_names_not_text(tmp_path):
    (tmp_path / "a.py").write_text(
        '"""Colour maps."""\nLABEL = "colour"  # colour\n'
        'def f(Colour_map, *, x=1):\n    return f"{obj.bad_COLOUR}", g(colours=2)\n')
    names = {name for _, _, name in british_identifiers([tmp_path])}
    assert names == {"Colour_map", "bad_COLOUR", "colours"}
