"""Person detection plumbing with a real (untrained) ultralytics YOLOv8n, and the pass / review decision.

The model is built from ultralytics' bundled ``yolov8n.yaml``: no weights exist offline, so these
tests check shapes, batching, class names and the offline guarantees, not detection quality.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from detector_doubles import ScriptedDetector

from hf_tiktokactions.curation.pipeline import (
    CurationOptions,
    DetectorFailed,
    StageOutput,
    decision_stage,
    detector_stage,
)
from hf_tiktokactions.curation.stages.person_detection import (
    PersonDetector,
    UltralyticsDetector,
    load_detector,
)
from hf_tiktokactions.errors import ConfigError, DetectorError


@pytest.fixture(scope="module")
def yolo() -> UltralyticsDetector:
    return UltralyticsDetector("yolov8n.yaml", classes=("person",), confidence=0.0001, image_size=160, device="cpu")


def test_ultralytics_detector_runs_one_batch_of_bgr_frames(yolo):
    assert isinstance(yolo, PersonDetector)
    assert os.environ["YOLO_OFFLINE"] == "1" and yolo.class_ids == [0] and yolo.labels == {0: "person"}
    frames = [np.random.default_rng(i).integers(0, 255, (120, 160, 3), dtype=np.uint8) for i in range(10)]
    detections = yolo.detect(frames)
    assert len(detections) == 10
    boxes = [box for per_frame in detections for box in per_frame]
    assert boxes, "an untrained model at confidence 1e-4 still proposes boxes"
    assert all(b["label"] == "person" and len(b["box"]) == 4 and 0 <= b["confidence"] <= 1 for b in boxes)
    assert yolo.detect([]) == []


def test_untrained_model_is_the_same_in_every_process():
    a = UltralyticsDetector("yolov8n.yaml", image_size=64, device="cpu")
    b = UltralyticsDetector("yolov8n.yaml", image_size=64, device="cpu")
    wa, wb = (next(iter(d.model.model.parameters())).detach() for d in (a, b))
    assert bool((wa == wb).all())


def test_person_classes_are_checked_and_several_can_count():
    two = UltralyticsDetector("yolov8n.yaml", classes=("person", "teddy bear"), image_size=64, device="cpu")
    assert two.class_ids == [0, 77]
    with pytest.raises(ConfigError, match="--person-classes \\['human'\\] are not classes"):
        UltralyticsDetector("yolov8n.yaml", classes=("human",), device="cpu")


def test_weights_are_never_downloaded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DetectorError, match="weights not found .*--detector none"):
        load_detector("yolov8n.pt")
    with pytest.raises(DetectorError, match="weights not found"):
        load_detector(str(tmp_path / "models" / "yolov8s.pt"))
    assert not any(tmp_path.rglob("*.pt"))
    assert load_detector("none") is None


def _stage(num_frames=10):
    record = {"status": None, "reason": None, "reasons": [], "person_frames": None, "person_boxes": None}
    record["source_path"] = "videos/dance.mp4"
    return StageOutput(record, [np.zeros((120, 160, 3), np.uint8)] * num_frames)


@pytest.mark.parametrize(
    "persons, expected", [([1] * 5 + [0] * 5, "pass"), ([2] * 4 + [0] * 6, "review"), ([0] * 10, "review")]
)
def test_decision_counts_frames_with_a_person(persons, expected):
    options = CurationOptions(detector="scripted", min_person_frames=5)
    stage = _stage()
    record = decision_stage(stage.record, detector_stage(stage, ScriptedDetector(persons)), options)
    assert record["status"] == expected
    assert record["person_frames"] == sum(1 for p in persons if p)
    assert len(record["person_boxes"]) == 10 and len(record["person_boxes"][0]) == persons[0]
    assert record["reason"].startswith(f"a person in {record['person_frames']} of 10 sampled frames")


def test_decision_without_detector_passes_and_rejected_videos_stay_rejected():
    stage = _stage()
    assert (
        decision_stage(stage.record, detector_stage(stage, None), CurationOptions(detector="none"))["status"] == "pass"
    )
    rejected = {"status": "rejected", "reason": "empty file (0 bytes)", "reasons": ["empty file (0 bytes)"]}
    assert detector_stage(StageOutput(rejected), ScriptedDetector([1] * 10)) is None
    assert decision_stage(rejected, None, CurationOptions(detector="scripted")) is rejected


def test_a_failing_detector_leaves_the_video_for_the_rerun_which_asks_it_again(tmp_path, monkeypatch):
    """A detector error (a GPU out of memory) was recorded as ``review``: the video's metadata file was written, so
    every rerun skipped it and it stayed in review for good. Now nothing is recorded and the rerun curates it."""
    from curation_files import write_scene_video

    from hf_tiktokactions.curation import engines
    from hf_tiktokactions.curation.index import load_index
    from hf_tiktokactions.curation.inputs import load_video_inputs

    class Broken:
        name = "broken"

        def detect(self, frames):
            raise RuntimeError("CUDA error: out of memory")

    write_scene_video(tmp_path / "videos" / "dance.mp4", [110], height=48, width=64)
    inputs, options = load_video_inputs(tmp_path / "videos"), CurationOptions(detector="scripted", short_side=48)
    for detector in (Broken(), ScriptedDetector([1] * 10)):
        monkeypatch.setattr(engines, "build_detector", lambda options, detector=detector: detector)
        result = engines.curate(inputs, tmp_path / "out", options, workers=1, progress=False)
    assert (result.processed, result.already_done) == (1, 0)
    assert [(row["status"], row["person_frames"]) for row in load_index(tmp_path / "out")] == [("pass", 10)]
    with pytest.raises(DetectorFailed, match=r"dance.mp4 \(RuntimeError: CUDA error: out of memory\)"):
        detector_stage(_stage(), Broken())
