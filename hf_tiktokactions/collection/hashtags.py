"""The hashtag catalogue: which hashtags the collection queries, and why each one is there.

The catalogue is a CSV file with the columns ``hashtag, category, principle, notes``. ``category``
is one of :data:`CATEGORIES`; ``principle`` names the selection principle of the paper that
introduced the hashtag (:data:`PRINCIPLES`). Hashtags are written without ``#``, in lower case,
with letters, digits and underscores only, which is what the Research API's ``hashtag_name``
condition matches. Lines before the header that start with ``#`` are comments (the shipped catalogue says
there what it is).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from hf_tiktokactions.errors import CatalogueError

CATEGORIES = ("dance", "sports", "fitness", "kinetics", "social_cultural")
PRINCIPLES = (
    "generalization",
    "specification",
    "noun_substitution",
    "noun_verb_order",
    "consolidation",
    "social_cultural",
)
COLUMNS = ("hashtag", "category", "principle", "notes")

_TAG = re.compile(r"^[a-z0-9_]{1,100}$")


@dataclass(frozen=True)
class Hashtag:
    """One catalogue row."""

    name: str
    category: str = ""
    principle: str = ""
    notes: str = ""


def _canonical(value: str) -> str:
    """'Noun-verb order' and 'noun verb order' both mean ``noun_verb_order``."""
    return re.sub(r"[\s\-/]+", "_", value.strip().lower())


def check_tag(tag: str, where: str) -> str:
    """Return ``tag`` if it is a well-formed hashtag name, else raise naming ``where``."""
    if tag.startswith("#"):
        raise CatalogueError(f"{where}: write hashtag {tag!r} without '#', as {tag.lstrip('#')!r}")
    if not _TAG.match(tag):
        raise CatalogueError(
            f"{where}: malformed hashtag {tag!r}; use lower-case letters, digits and '_' only "
            "(no spaces or punctuation)"
        )
    return tag


def load_catalogue(path: str | Path) -> list[Hashtag]:
    """Read and validate a catalogue CSV; every problem is reported with its file and line."""
    path = Path(path)
    if not path.is_file():
        raise CatalogueError(f"hashtag catalogue {path} does not exist")
    with path.open(newline="", encoding="utf-8") as handle:
        lines = handle.read().splitlines(keepends=True)
        comments = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
        reader = csv.DictReader(lines[comments:])  # leading "# ..." lines describe the catalogue
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise CatalogueError(f"{path}: missing column(s) {', '.join(missing)}; expected header {','.join(COLUMNS)}")
        rows: list[Hashtag] = []
        first_line: dict[str, int] = {}
        for row in reader:
            where = f"{path}:{reader.line_num + comments}"
            name = (row["hashtag"] or "").strip()
            check_tag(name, where)
            category = _canonical(row["category"] or "")
            if category not in CATEGORIES:
                raise CatalogueError(
                    f"{where}: unknown category {row['category']!r} for {name!r}; use one of {', '.join(CATEGORIES)}"
                )
            principle = _canonical(row["principle"] or "")
            if principle not in PRINCIPLES:
                raise CatalogueError(
                    f"{where}: unknown selection principle {row['principle']!r} for {name!r}; "
                    f"use one of {', '.join(PRINCIPLES)}"
                )
            if name in first_line:
                raise CatalogueError(f"{where}: duplicate hashtag {name!r} (first listed on line {first_line[name]})")
            first_line[name] = reader.line_num + comments
            rows.append(Hashtag(name, category, principle, (row["notes"] or "").strip()))
    if not rows:
        raise CatalogueError(f"{path}: the catalogue lists no hashtags")
    return rows


def resolve_hashtags(spec: str) -> list[Hashtag]:
    """``--hashtags`` accepts a catalogue file or a comma-separated list such as ``salsa,tango``."""
    if Path(spec).is_file() or spec.endswith(".csv"):
        return load_catalogue(spec)
    names = [part.strip() for part in spec.split(",") if part.strip()]
    if not names:
        raise CatalogueError(f"--hashtags {spec!r} names no hashtag")
    seen: set[str] = set()
    tags = []
    for name in names:
        check_tag(name, f"--hashtags {spec!r}")
        if name in seen:
            raise CatalogueError(f"--hashtags {spec!r}: duplicate hashtag {name!r}")
        seen.add(name)
        tags.append(Hashtag(name))
    return tags
