"""The hashtag catalogue: the shipped file is valid, and every kind of mistake is named clearly."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from hf_tiktokactions.collection.hashtags import CATEGORIES, PRINCIPLES, load_catalogue, resolve_hashtags
from hf_tiktokactions.errors import CatalogueError

REPO = Path(__file__).resolve().parents[1]
CATALOGUE = REPO / "dataset_scripts" / "hashtags.csv"
HEADER = "hashtag,category,principle,notes\n"


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "tags.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def test_shipped_catalogue_is_valid_and_covers_the_paper():
    tags = load_catalogue(CATALOGUE)
    names = {t.name for t in tags}
    assert len(tags) >= 300
    assert {"basketball", "chacha", "salsa", "tango", "waltz", "piano", "shoerepair", "cuttingcakes",
            "flowerchallenge", "sax", "mopping"} <= names  # fmt: skip
    assert set(Counter(t.category for t in tags)) == set(CATEGORIES)
    assert set(Counter(t.principle for t in tags)) == set(PRINCIPLES)
    assert all(t.notes for t in tags)


@pytest.mark.parametrize(
    "row, expected",
    [
        ("#salsa,dance,specification,\n", "without '#'"),
        ("salsa dance,dance,specification,\n", "malformed hashtag 'salsa dance'"),
        ("Salsa,dance,specification,\n", "malformed hashtag 'Salsa'"),
        ("salsa,cooking,specification,\n", "unknown category 'cooking'"),
        ("salsa,dance,guesswork,\n", "unknown selection principle 'guesswork'"),
    ],
)
def test_bad_rows_are_named_with_file_and_line(tmp_path, row, expected):
    path = write(tmp_path, "tango,dance,specification,ok\n" + row)
    with pytest.raises(CatalogueError, match=expected) as info:
        load_catalogue(path)
    assert f"{path}:3" in str(info.value)


def test_duplicates_name_both_lines(tmp_path):
    path = write(tmp_path, "tango,dance,specification,\nwaltz,dance,specification,\ntango,dance,specification,\n")
    with pytest.raises(CatalogueError, match=r"duplicate hashtag 'tango' \(first listed on line 2\)"):
        load_catalogue(path)


def test_missing_columns_empty_and_missing_file(tmp_path):
    with pytest.raises(CatalogueError, match="missing column"):
        load_catalogue(write(tmp_path, "tango,dance\n", header="hashtag,category\n"))
    with pytest.raises(CatalogueError, match="lists no hashtags"):
        load_catalogue(write(tmp_path, ""))
    with pytest.raises(CatalogueError, match="does not exist"):
        load_catalogue(tmp_path / "nope.csv")


def test_principle_spellings_are_normalised(tmp_path):
    path = write(tmp_path, "cakecutting,kinetics,Noun-verb order,\nholi,social-cultural,social/cultural,\n")
    tags = load_catalogue(path)
    assert [(t.category, t.principle) for t in tags] == [
        ("kinetics", "noun_verb_order"),
        ("social_cultural", "social_cultural"),
    ]


def test_hashtags_option_takes_a_file_or_a_comma_list(tmp_path):
    assert [t.name for t in resolve_hashtags("salsa, tango,waltz")] == ["salsa", "tango", "waltz"]
    assert [t.name for t in resolve_hashtags(str(write(tmp_path, "tango,dance,specification,\n")))] == ["tango"]
    with pytest.raises(CatalogueError, match="duplicate hashtag 'salsa'"):
        resolve_hashtags("salsa,salsa")
    with pytest.raises(CatalogueError, match="names no hashtag"):
        resolve_hashtags(" , ")
    with pytest.raises(CatalogueError, match="does not exist"):
        resolve_hashtags(str(tmp_path / "missing.csv"))


def test_curation_import_stays_light():
    """The collection and download modules must not pull torch or the model/training layers."""
    code = (
        "import sys; import hf_tiktokactions.collection.collect, hf_tiktokactions.collection.download, "
        "hf_tiktokactions.testing.research_api_server; "
        "heavy = [m for m in ('torch', 'transformers', 'hf_tiktokactions.modeling', 'hf_tiktokactions.training', "
        "'hf_tiktokactions.hub') if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_papers_examples_carry_the_papers_principles():
    principles = {t.name: t.principle for t in load_catalogue(CATALOGUE)}
    assert principles["piano"] == "noun_substitution" and principles["cuttingcakes"] == "consolidation"


def test_the_catalogue_says_it_is_ours_and_comment_lines_keep_line_numbers(tmp_path):
    first = CATALOGUE.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# Our own catalogue of 500 hashtags") and "386" in first and "not published" in first
    path = write(
        tmp_path, "tango,dance,specification,\nsalsa,cooking,specification,\n", "# ours\n# two lines\n" + HEADER
    )
    with pytest.raises(CatalogueError, match="unknown category 'cooking'") as info:
        load_catalogue(path)
    assert f"{path}:5" in str(info.value)  # the file's own line number, comments counted


def test_collecting_doc_counts_match_the_catalogue():
    """docs/COLLECTING.md: the catalogue size, the request count at 900 videos a hashtag and the count tables."""
    tags = load_catalogue(CATALOGUE)
    doc = (REPO / "docs" / "COLLECTING.md").read_text()
    n = len(tags)
    assert f"our own\ncatalogue of {n} hashtags" in doc and f"our own catalogue of {n} hashtags" in doc
    assert f"{n} × 900 / 100 = {n * 9:,} requests" in doc and f"({n * 900:,} records)" in doc
    days = {4: "four", 5: "five", 6: "six", 7: "seven"}[-(-n * 9 // 1000)]
    assert f"plan on **{days} days or more**" in doc
    for name, count in Counter(t.principle for t in tags).items():
        assert f"| `{name}` | {count} |" in doc, name
    for name, count in Counter(t.category for t in tags).items():
        assert f"| `{name}` | {count} |" in doc, name
    assert f"| **all** | **{n}** |" in doc
