"""DESIGN.md §2/§4: tools/ and memory/ never import assistant/ (nor each other); only assistant/tui/
imports textual; importing the packages never pulls in the heavy libraries."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    "package, forbidden",
    [("tools", {"assistant", "memory", "textual"}), ("memory", {"assistant", "tools", "textual"})],
)
def test_lower_layers_never_import_upwards(package, forbidden):
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_modules(path) & forbidden)
        for path in (ROOT / package).rglob("*.py")
        if imported_modules(path) & forbidden
    }
    assert offenders == {}


def test_only_the_tui_imports_textual():
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "assistant").rglob("*.py")
        if "textual" in imported_modules(path) and "tui" not in path.relative_to(ROOT / "assistant").parts
    ]
    assert offenders == []


def test_importing_the_packages_stays_light():
    code = (
        "import sys, json, assistant, memory, tools; "
        "print(json.dumps(sorted(m for m in ('torch','transformers','chromadb','sentence_transformers',"
        "'langchain_core','pandas','textual') if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert json.loads(out.stdout) == []
