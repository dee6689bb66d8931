"""The local process pool and Ray run the same stages and produce the same index."""

from __future__ import annotations

import pytest

from curation_files import write_scene_video
from hf_tiktokactions.curation.engines import curate
from hf_tiktokactions.curation.index import load_index
from hf_tiktokactions.curation.inputs import load_video_inputs
from hf_tiktokactions.curation.pipeline import CurationOptions

ray = pytest.importorskip("ray")

# The untrained YOLOv8n from ultralytics' bundled config: the detector stage really runs (in pool
# workers, and in a Ray actor), and is seeded, so both engines see the same model.
OPTIONS = CurationOptions(detector="yolov8n.yaml", detector_image_size=96, person_confidence=0.01, min_person_frames=3)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    write_scene_video(folder / "a.mp4", [150])
    write_scene_video(folder / "b.mp4", [40, 130, 30])
    write_scene_video(folder / "c.mp4", [60, 60])  # rejected: longest scene 2 s
    (folder / "d.mp4").write_bytes(b"")
    write_scene_video(folder / "e.mp4", [330], height=96, width=128)
    return load_video_inputs(folder)


def _rows(output):
    index = load_index(output)
    rows = index.remove_columns(["clip_path", "metadata_path"]).to_list()
    return rows, [p is not None for p in index["clip_path"]]


def test_local_and_ray_engines_give_the_same_index(videos, tmp_path):
    local = curate(videos, tmp_path / "local", OPTIONS, engine="local", workers=2, progress=False)
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        remote = curate(videos, tmp_path / "ray", OPTIONS, engine="ray", workers=2, progress=False)
    finally:
        ray.shutdown()
    assert local.processed == remote.processed == 5
    assert local.by_status == remote.by_status and local.by_status["rejected"] == 2
    assert _rows(tmp_path / "local") == _rows(tmp_path / "ray")
    ran_detector = [r for r in _rows(tmp_path / "ray")[0] if r["status"] != "rejected"]
    assert ran_detector and all(r["person_frames"] is not None for r in ran_detector)
