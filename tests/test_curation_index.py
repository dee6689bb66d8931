"""The index is rebuilt from the metadata files (publishing it: ``test_curation_publish.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from curation_files import write_scene_video

from hf_tiktokactions.curation.engines import curate
from hf_tiktokactions.curation.index import INDEX_COLUMNS, load_index, save_index
from hf_tiktokactions.curation.inputs import load_video_inputs
from hf_tiktokactions.curation.pipeline import CurationOptions

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    videos = tmp_path_factory.mktemp("videos")
    write_scene_video(videos / "ok.mp4", [130])
    (videos / "broken.mp4").write_bytes(b"\x00" * 100)
    output = tmp_path_factory.mktemp("out")
    curate(load_video_inputs(videos), output, CurationOptions(detector="none"), workers=1, progress=False)
    return output


def test_index_has_the_required_columns_and_types(curated):
    index = load_index(curated)
    assert list(index.column_names) == list(INDEX_COLUMNS)
    rows = {r["video_id"]: r for r in index}
    assert rows["ok"]["status"] == "pass" and (curated / rows["ok"]["clip_path"]).is_file()
    assert rows["broken"]["status"] == "rejected" and rows["broken"]["clip_path"] is None
    assert rows["broken"]["person_frames"] is None and rows["broken"]["reason"]
    assert index.features["clip_start"].dtype == "float64" and index.features["person_frames"].dtype == "int32"


def test_index_follows_the_metadata_files(curated, tmp_path):
    copy = tmp_path / "copy"
    (copy / "metadata").mkdir(parents=True)
    record = json.loads((curated / "metadata" / "ok.json").read_text())
    for video_id in ("x", "y"):
        (copy / "metadata" / f"{video_id}.json").write_text(json.dumps({**record, "video_id": video_id}))
    (copy / "metadata" / ".z.json.abc.tmp").write_text("{half")  # an interrupted write is not a record
    assert save_index(copy)["video_id"] == ["x", "y"]
    (copy / "metadata" / "y.json").unlink()
    save_index(copy)
    assert load_index(copy / "index")["video_id"] == ["x"]
    assert sorted(p.name for p in copy.iterdir()) == ["index", "metadata"]


def _cli(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "dataset_scripts" / script), *args], capture_output=True, text=True, timeout=120
    )


def test_clis_end_user_errors_in_one_line(tmp_path):
    for result, expected in (
        (
            _cli("curate.py", "--videos", str(tmp_path / "nowhere"), "--output", str(tmp_path / "o")),
            "no such folder or file",
        ),
        (
            _cli("curate.py", "--videos", str(tmp_path), "--output", str(tmp_path / "o"), "--min-person-frames", "11"),
            "--min-person-frames",
        ),
        (_cli("push_index.py", "--index", str(tmp_path), "--repo-id", "org/name"), "no index here"),
        (_cli("push_index.py", "--index", str(tmp_path), "--repo-id", "noslash"), "ORG/NAME"),
    ):
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0]


def test_curate_cli_with_missing_weights_fails_before_any_work(tmp_path):
    write_scene_video(tmp_path / "v" / "a.mp4", [120])
    result = _cli(
        "curate.py",
        "--videos",
        str(tmp_path / "v"),
        "--output",
        str(tmp_path / "o"),
        "--detector",
        str(tmp_path / "yolov8n.pt"),
    )
    assert result.returncode == 2 and "weights not found" in result.stderr and "--detector none" in result.stderr
    assert not list((tmp_path / "o" / "metadata").glob("*.json"))
