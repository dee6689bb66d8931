"""The repository stands alone: its files cite only files inside it and speak of the product.

A user who clones the repository has nothing else, so no file outside ``tests/`` may point to design notes or
folders beside the checkout, and no doc, docstring or comment may date a fact by the work session that produced
it (a dated run, "run of 2026-11-26", says the same to a reader).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# folders that are never part of the product's text, for a copy of the tree without git
SKIPPED_FOLDERS = {".git", ".venv", "venv", "build", "dist", "node_modules", "__pycache__", ".pytest_cache"}
# references to what lies outside the repository (the tests themselves name them, so tests/ is exempt)
OUTSIDE = re.compile(r"\.\./shared/|\bDESIGN\.md\b")
# "session 4", "session-2": how the work was organised, not what the product is
WORK_SESSION = re.compile(r"\bsession[ -]?\d+\b", re.IGNORECASE)
# how the work was handed out and organised ("the command", "in this session", "no GPU was lent")
WORK_PROCESS = re.compile(r"\b(?:this|that) session\b|\bthe issue's\b|\bissue #?\d+\b|\bwas lent\b", re.IGNORECASE)


def _repository_files() -> list[Path]:
    """The tracked files (``git ls-files``), or every file of the tree where it is not a git checkout."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split("\0")
        return [ROOT / name for name in listed if name and (ROOT / name).is_file()]
    except (OSError, subprocess.CalledProcessError):
        return [
            path
            for path in ROOT.rglob("*")
            if path.is_file() and not SKIPPED_FOLDERS.intersection(path.relative_to(ROOT).parts)
        ]


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None  # a binary file


def _matches(pattern: re.Pattern, in_tests: bool) -> list[str]:
    found = []
    for path in _repository_files():
        relative = path.relative_to(ROOT)
        if path == Path(__file__).resolve() or (not in_tests and relative.parts[0] == "tests"):
            continue  # this file spells the patterns out
        text = _text(path)
        for number, line in enumerate((text or "").splitlines(), start=1):
            if pattern.search(line):
                found.append(f"{relative}:{number}: {line.strip()}")
    return found


def test_the_repository_scans_its_own_files():
    names = {path.relative_to(ROOT).as_posix() for path in _repository_files()}
    assert {"README.md", "docs/BENCHMARKS.md", "hf_tiktokactions/__init__.py"} <= names


def test_no_file_outside_tests_cites_notes_outside_the_repository():
    assert _matches(OUTSIDE, in_tests=False) == [], "cite files inside the repository (or copy the facts in)"


def test_no_file_dates_a_fact_by_a_work_session():
    assert _matches(WORK_SESSION, in_tests=True) == [], 'say "run of YYYY-MM-DD" (and the machine) instead'


def test_no_file_speaks_of_how_the_work_was_organised():
    assert _matches(WORK_PROCESS, in_tests=True) == [], "speak of the product and date a run by its date and machine"


def test_the_patterns_catch_what_they_are_for():
    assert OUTSIDE.search("see ../shared/reference/x.md") and OUTSIDE.search("the anchors in DESIGN.md")
    assert WORK_SESSION.search("(Session 4, 2-core box)") and WORK_SESSION.search("the session-2 search")
    assert not WORK_SESSION.search("requests.Session()") and not WORK_SESSION.search("start_new_session=True")
    assert not WORK_SESSION.search("<temp>/session_<date>_<pid>/sockets")
    assert WORK_PROCESS.search("two runs of the issue's command") and WORK_PROCESS.search("not run in this session")
    assert WORK_PROCESS.search("see issue #12") and WORK_PROCESS.search("no GPU was lent")
    assert not WORK_PROCESS.search("torchrun starts each rank in a session of its own")
    assert not WORK_PROCESS.search("the ids the API issues")
