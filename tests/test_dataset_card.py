"""The dataset card of a curated index: built from the index and its statistics, valid offline, pushed with it.

The Hub is never contacted: the upload calls (``HfApi.create_repo`` / ``upload_file`` and
``Dataset.push_to_hub``) are replaced by recorders; the offline case runs the real CLI with HF_HUB_OFFLINE=1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import DatasetCard
from index_files import CATALOGUE_CSV, build_output

from hf_tiktokactions.collection.hashtags import load_catalogue
from hf_tiktokactions.curation.governance.stats import statistics_of_index
from hf_tiktokactions.hub.dataset_card import card_for_curated_folder, index_dataset_card

ROOT = Path(__file__).resolve().parent.parent
SPEC = [
    ("salsa", "pass", 12, "12s"),
    ("salsa", "review", 2, "7s"),
    ("piano", "pass", 5, "4s"),
    ("sax", "rejected", 3, "short_scene"),
]


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    output = tmp_path_factory.mktemp("curated")
    build_output(output, SPEC)
    (output / "curation_summary.json").write_text(json.dumps({"options": {
        "detector": "yolov8n.pt", "num_frames": 10, "min_person_frames": 5, "min_seconds": 3.5, "max_seconds": 10.0,
        "scene_threshold": 27.0, "min_scene_len": 15, "short_side": 320, "crf": 23, "gop": 16,
    }}))  # fmt: skip
    collection = tmp_path_factory.mktemp("collection")
    (collection / "summary.json").write_text(json.dumps({
        "total_videos": 40, "request": {"hashtags": ["salsa", "piano", "sax", "tango"], "start_date": "20230101",
        "end_date": "20230630", "max_per_hashtag": 900, "fields": ["id", "create_time", "username"]},
    }))  # fmt: skip
    catalogue = output.parent / "card_catalogue.csv"
    catalogue.write_text(CATALOGUE_CSV)
    return output, collection, load_catalogue(catalogue)


def test_card_validates_offline_and_holds_every_section(curated, tmp_path):
    output, collection, catalogue = curated
    stats = statistics_of_index(output, catalogue)
    card_for_curated_folder(output, stats, collection).save(tmp_path / "README.md")
    card = DatasetCard.load(tmp_path / "README.md")  # a local path: parsed and checked offline
    data = card.data.to_dict()
    assert data["task_categories"] == ["video-classification"] and "private" in data["tags"]
    assert data["size_categories"] in ("n<1K", ["n<1K"]) and data["license"] == "other"
    assert data["license_name"] == "tiktok-research-api-terms" and "not redistributed" in data["license_details"]
    assert data["viewer"] is False
    text = card.text
    for heading in (
        "## Collection",
        "## Hashtag selection principles",
        "## Processing",
        "## Detailed statistics",
        "## Intended use",
        "## Ethics, privacy and retention",
        "## Retention",
    ):
        assert heading in text
    assert text.index("## Detailed statistics") < text.index("## Intended use") < text.index("## Retention")
    # numbers from the index and the runs
    assert "| videos | 22 |" in text and "| clips | 17 |" in text and "| hashtags searched | 4 |" in text
    assert "| video creation dates | 20230101..20230630 |" in text and "- video records collected: 40" in text
    assert "| specification | narrower tags under a broad one" in text and "| 1 | 14 |" in text
    assert "| 10+ s | 12 | 12 | 0 | 0 |" in text and "| < 3.5 s | 3 | 0 | 0 | 3 |" in text
    assert "too short: the longest scene lasts N s < N s | 3 |" in text
    assert "A person detector (`yolov8n.pt`) looks at 10 evenly spaced frames" in text
    # purge's folder option is --index (--output names an output folder on the other commands)
    assert "Every 15 days" in text and "purge.py --index DIR --refresh" in text and "Last purge" not in text
    assert "purge.py --index DIR`" in text and "--output DIR" not in text


def test_card_reports_the_last_purge(curated, tmp_path):
    output, _, catalogue = curated
    stats = statistics_of_index(output, catalogue)
    log = {"mode": "refresh", "started_at": "2026-01-02T03:04:05+00:00", "finished_at": "2026-01-02T03:05:00+00:00",
           "counts": {"videos_removed": 2}, "refresh": {"unavailable": 2}}  # fmt: skip
    card = index_dataset_card(stats, retention=log)
    assert (
        "- Last purge / refresh: 2026-01-02T03:05:00+00:00 (refresh): 2 videos removed, 2 no longer available."
        in card.text
    )
    DatasetCard(str(card))  # round-trips


def test_push_index_card_states_what_went_up(curated, monkeypatch, tmp_path):
    """Only the Hub calls are mocked (``HfApi.repo_info`` says the repository does not exist; ``create_repo`` and
    ``upload_folder`` record); the folder uploaded, its shards and card are real."""
    import httpx
    import huggingface_hub
    from huggingface_hub.errors import RepositoryNotFoundError

    output, _, _ = curated
    sys.path.insert(0, str(ROOT / "dataset_scripts"))
    try:
        import push_index as push_cli
    finally:
        sys.path.pop(0)
    calls, uploaded = [], {}

    def missing(self, repo_id, **kw):
        calls.append(("repo_info", repo_id, kw))
        raise RepositoryNotFoundError("404", response=httpx.Response(404, request=httpx.Request("GET", "x")))

    def upload_folder(self, **kw):
        calls.append(("upload_folder", kw["repo_id"], kw))
        uploaded.update(
            {str(p.relative_to(kw["folder_path"])): p.read_text() for p in Path(kw["folder_path"]).glob("*.md")}
        )

    monkeypatch.setattr(huggingface_hub.HfApi, "repo_info", missing)
    monkeypatch.setattr(
        huggingface_hub.HfApi, "create_repo", lambda self, repo_id, **kw: calls.append(("create_repo", repo_id, kw))
    )
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    assert push_cli.main(["--index", str(output), "--repo-id", "my-lab/index", "--token", "hf_x"]) == 0
    assert [c[0] for c in calls] == ["repo_info", "create_repo", "upload_folder"]
    assert calls[1][2]["private"] is True and calls[1][2]["repo_type"] == "dataset"
    card = DatasetCard(uploaded["README.md"])
    assert card.data.task_categories == ["video-classification"] and "## Retention" in card.text
    assert "(private)" in card.data.pretty_name and "is **private**" in card.text
    assert "never video files" not in card.text and "holds no video files" in card.text
    assert card.data.configs[0]["data_files"][0]["path"] == "data/train-*"

    assert push_cli.main(["--index", str(output), "--repo-id", "my-lab/index", "--token", "hf_x", "--no-card"]) == 0
    assert "dataset_info" in uploaded["README.md"] and "## Retention" not in uploaded["README.md"]


def test_push_offline_fails_in_one_line(curated):
    output, _, _ = curated
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_TOKEN": "hf_dummy"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "dataset_scripts" / "push_index.py"),
         "--index", str(output), "--repo-id", "my-lab/index"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: pushing to my-lab/index failed")


def test_the_dataset_card_command_builds_the_same_card_from_stats_json(curated, tmp_path, capsys):
    from hf_tiktokactions.cli_errors import run_cli
    from hf_tiktokactions.curation.governance.stats import write_statistics
    from hf_tiktokactions.hub.__main__ import main as hub_main

    output, _, catalogue = curated
    stats = statistics_of_index(output, catalogue)
    stats_json = write_statistics(stats, tmp_path / "stats")["json"]
    assert hub_main(["dataset-card", "--stats", str(stats_json), "--output", str(tmp_path / "card")]) == 0
    card = DatasetCard.load(tmp_path / "card" / "README.md")
    assert card.text == index_dataset_card(json.loads(stats_json.read_text())).text
    assert "## Detailed statistics" in card.text and "| clips | 17 |" in card.text

    flat = tmp_path / "flat.json"  # the statistics dict the command took before it used this builder
    flat.write_text(json.dumps({"num_videos": 10, "num_clips": 12, "per_category": {"dance": 10}}))
    assert run_cli(hub_main, ["dataset-card", "--stats", str(flat), "--output", str(tmp_path / "bad")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {flat}: not the stats.json of a curated index (missing totals")
    assert "dataset_scripts/stats.py --index DIR --output-dir OUT" in error and not (tmp_path / "bad").exists()


def test_the_license_note_matches_what_is_published(curated):
    """A public push (or one left to the namespace's default) kept "Private research index" in its license note."""
    from hf_tiktokactions.curation.publish import PublishedContents

    output, _, catalogue = curated
    stats = statistics_of_index(output, catalogue)

    def note(private: bool | None, clips: bool = False) -> str:
        contents = PublishedContents(10, ["video_id"], clips, ("pass",), repo_id="lab/index", private=private)
        return index_dataset_card(stats, contents=contents).data.license_details

    assert note(True).startswith("Private research index")
    assert note(False).startswith("Research index without videos") and "Private" not in note(None)
    assert note(False, clips=True).startswith("Research index with clips")
    assert index_dataset_card(stats).data.license_details.startswith("Private research index")
