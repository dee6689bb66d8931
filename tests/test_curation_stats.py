"""The appendix statistics, checked number by number against a constructed index (see index_files.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from index_files import APPENDIX_SPEC, CATALOGUE_CSV, build_output
from PIL import Image

from hf_tiktokactions.collection.hashtags import load_catalogue
from hf_tiktokactions.curation.governance.stats import (
    VideoFacts,
    compute_statistics,
    hashtag_range_name,
    reason_kind,
    statistics_of_index,
    write_statistics,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def appendix(tmp_path_factory):
    output = tmp_path_factory.mktemp("curated")
    build_output(output, APPENDIX_SPEC)
    catalogue_csv = output.parent / "catalogue.csv"
    catalogue_csv.write_text(CATALOGUE_CSV)
    return output, catalogue_csv


@pytest.fixture(scope="module")
def stats(appendix):
    output, catalogue_csv = appendix
    return statistics_of_index(output, load_catalogue(catalogue_csv))


def test_totals_and_clip_hours(stats):
    totals = stats["totals"]
    assert (totals["videos"], totals["pass"], totals["review"], totals["rejected"]) == (2286, 2274, 6, 6)
    assert totals["clips"] == 2274 and totals["videos_without_hashtag"] == 1
    clip_seconds = 805 * 10 + 610 * 7 + 420 * 4 + 230 * 7 + 199 * 4 + 10 * 10  # 12 s scenes are clipped to 10 s
    assert totals["clip_hours"] == pytest.approx(clip_seconds / 3600, abs=1e-5)
    assert totals["mean_clip_seconds"] == pytest.approx(clip_seconds / 2274, abs=1e-5)


def test_reasons_grouped_by_kind(stats):
    assert stats["status"]["pass"]["reasons"] == [
        {"reason": "a person in N of N sampled frames", "videos": 2274, "example": "a person in 5 of 10 sampled frames"}
    ]
    review = stats["status"]["review"]["reasons"]
    assert [(r["reason"], r["videos"]) for r in review] == [
        ("a person in N of N sampled frames (< --min-person-frames N)", 6)
    ]
    rejected = {r["reason"]: r["videos"] for r in stats["status"]["rejected"]["reasons"]}
    assert rejected == {
        "too short: the longest scene lasts N s < N s": 3,
        "too short: N s < N s": 2,
        "file not found": 1,
    }
    assert (
        reason_kind("clip check failed: wrote 120 frames, the clip container holds 119")
        == "clip check failed: wrote N frames, the clip container holds N"
    )


def test_hashtag_ranges_and_the_tags_below_200(stats):
    ranges = stats["hashtag_ranges"]
    assert ranges["counted_hashtags"] == 6
    assert [(r["range"], r["hashtags"]) for r in ranges["ranges"]] == [
        ("200-400", 1),
        ("400-600", 1),
        ("600-800", 1),
        ("800+", 1),
    ]
    assert all(r["share"] == pytest.approx(1 / 6, abs=1e-6) for r in ranges["ranges"])
    assert ranges["below"]["names"] == ["mystery", "sax"] and ranges["below"]["share"] == pytest.approx(2 / 6, abs=1e-6)
    assert ranges["catalogue_without_videos"] == ["chacha"]
    assert [hashtag_range_name(n) for n in (0, 199, 200, 399, 400, 799, 800, 5000)] == [
        "<200",
        "<200",
        "200-400",
        "200-400",
        "400-600",
        "600-800",
        "800+",
        "800+",
    ]
    # the bar chart order: most counted videos first
    assert list(stats["hashtags"]) == ["salsa", "tango", "waltz", "piano", "sax", "mystery"]
    assert stats["hashtags"]["tango"] == {
        "videos": 616,
        "pass": 610,
        "review": 6,
        "rejected": 0,
        "counted": 610,
        "category": "dance",
        "principle": "specification",
    }


def test_scene_length_table_before_clipping(stats):
    table = {d["range"]: (d["videos"], d["pass"], d["review"], d["rejected"]) for d in stats["durations"]}
    assert table == {
        "< 3.5 s": (5, 0, 0, 5),  # 3 with a 2.1 s longest scene, 2 sources of 2 s
        "3.5-5 s": (619, 619, 0, 0),
        "5-10 s": (846, 840, 6, 0),
        "10+ s": (815, 815, 0, 0),
        "unknown": (1, 0, 0, 1),
    }


def test_categories_and_principles(stats):
    categories = stats["categories"]
    assert list(categories) == ["dance", "kinetics", "(not in the catalogue)"]
    assert (categories["dance"]["hashtags"], categories["dance"]["videos"], categories["dance"]["rejected"]) == (
        3,
        1844,
        3,
    )
    assert (categories["kinetics"]["hashtags"], categories["kinetics"]["videos"]) == (2, 431)
    assert categories["(not in the catalogue)"]["videos"] == 10
    assert {k: v["hashtags"] for k, v in stats["principles"].items()} == {
        "specification": 3, "generalization": 1, "noun_substitution": 1, "(not in the catalogue)": 1,
    }  # fmt: skip


def test_files_written(stats, tmp_path):
    paths = write_statistics(stats, tmp_path)
    assert json.loads(paths["json"].read_text())["totals"]["videos"] == 2286
    markdown = paths["markdown"].read_text()
    assert "| 3.5-5 s | 619 | 619 | 0 | 0 |" in markdown and "| 800+ | 1 | 16.7% |" in markdown
    assert "| <200 | 2 | 33.3% |" in markdown and "Below 200: mystery, sax." in markdown
    assert (
        "| dance | 3 | 1,844 | 1,835 | 6 | 3 |" in markdown
        and "![videos_per_hashtag](videos_per_hashtag.png)" in markdown
    )
    for name in ("videos_per_hashtag", "hashtag_ranges", "durations", "categories"):
        with Image.open(paths[name]) as image:
            assert image.format == "PNG" and image.width >= 500


def test_bar_chart_stays_readable_with_hundreds_of_hashtags(tmp_path):
    facts = [
        VideoFacts(f"t{t}-{i}", f"tag{t:03d}", "pass", "ok", 6.0, 6.0) for t in range(300) for i in range(t % 7 + 1)
    ]
    stats = compute_statistics(facts)
    everything = write_statistics(stats, tmp_path / "all")["videos_per_hashtag"]
    top = write_statistics(stats, tmp_path / "top", top_n=40)["videos_per_hashtag"]
    with Image.open(everything) as tall, Image.open(top) as short:
        assert tall.height >= 300 * 14  # at least 14 pixels a bar: the tag labels do not overlap
        assert short.height < tall.height / 4
    assert stats["hashtag_ranges"]["below"]["hashtags"] == 300


def test_cli_writes_everything(appendix, tmp_path):
    output, catalogue_csv = appendix
    result = subprocess.run(
        [sys.executable, str(ROOT / "dataset_scripts" / "stats.py"),
         "--index", str(output / "index"), "--output", str(tmp_path), "--hashtags", str(catalogue_csv)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "2286 videos (2274 pass, 6 review, 6 rejected), 6 hashtags" in result.stdout
    names = {p.name for p in tmp_path.iterdir()}
    assert {
        "stats.json",
        "stats.md",
        "README.md",
        "videos_per_hashtag.png",
        "hashtag_ranges.png",
        "durations.png",
        "categories.png",
    } <= names


def test_cli_without_an_index_fails_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "dataset_scripts" / "stats.py"),
         "--index", str(tmp_path), "--output", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "no index here" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
