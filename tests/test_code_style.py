"""Functions stay short enough to read: none outside ``tests/`` over 100 lines (the guideline is about 80).

Ruff (lint and format, configured in pyproject.toml) is run by ``.ci/run``, not here.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 100
# Source folders at the repository root; tests/ is left out on purpose (a test reads top to bottom).
SOURCE_DIRS = ("hf_tiktokactions", "benchmarks", "dataset_scripts", "training", "spaces")
# Functions allowed over MAX_LINES for now, as "path:function"; remove an entry once its function is short (the
# test fails while an entry is stale).
ALLOWED: set[str] = set()


def long_functions(path: Path, root: Path, max_lines: int = MAX_LINES) -> dict[str, int]:
    """``{"relative/path.py:name": lines}`` for every function or method in ``path`` longer than ``max_lines``.

    A function's length runs from its ``def`` line to its last line (decorators not counted).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    relative = path.relative_to(root).as_posix()
    return {
        f"{relative}:{node.name}": node.end_lineno - node.lineno + 1
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > max_lines
    }


def _source_files() -> list[Path]:
    files = [ROOT / "setup.py"]
    for folder in SOURCE_DIRS:
        files.extend(sorted((ROOT / folder).rglob("*.py")))
    return [f for f in files if f.is_file()]


def test_no_function_outside_tests_is_over_100_lines():
    found: dict[str, int] = {}
    for path in _source_files():
        found.update(long_functions(path, ROOT))
    offenders = {name: lines for name, lines in found.items() if name not in ALLOWED}
    assert not offenders, (
        f"functions over {MAX_LINES} lines (split them into named helpers or labelled phases): "
        + ", ".join(f"{name} ({lines} lines)" for name, lines in sorted(offenders.items()))
    )
    stale = sorted(ALLOWED - found.keys())
    assert not stale, f"these are no longer over {MAX_LINES} lines (or gone); drop them from ALLOWED: {stale}"


def test_long_functions_counts_from_def_to_last_line(tmp_path):
    lines = [f"x{i} = {i}" for i in range(MAX_LINES - 1)]  # with the def line: exactly MAX_LINES, allowed
    function = "\n".join(["def short():", *(f"    {line}" for line in lines)])
    method = "\n".join(["    async def long(self):", *(f"        {line}" for line in lines), "        return None"])
    source = tmp_path / "module.py"
    source.write_text(f"{function}\n\n\nclass C:\n{method}\n", encoding="utf-8")
    assert long_functions(source, tmp_path) == {"module.py:long": MAX_LINES + 1}
