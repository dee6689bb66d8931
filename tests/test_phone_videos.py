"""Phone videos: a portrait video stored sideways with a display matrix is read upright everywhere.

The files are real MP4s: H.264 frames written turned on their side, then stream-copied (no re-encode) with
the display matrix a phone writes (:func:`video_files.rotate_video`). The readers' own tests
(``test_data_decoding.py``) check every decoding backend pixel for pixel; here curation (the decode pass, the
clip writer, the frames handed to the person detector), face blurring and the Space.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from curation_files import write_frames
from video_files import can_write_display_rotation, frame_index_of, rotate_video, write_test_video

from hf_tiktokactions.curation.engines import curate
from hf_tiktokactions.curation.governance.privacy import blur_faces
from hf_tiktokactions.curation.inputs import VideoInput, load_video_inputs
from hf_tiktokactions.curation.pipeline import CurationOptions, video_stage

pytestmark = pytest.mark.skipif(not can_write_display_rotation(), reason="writing a display matrix needs PyAV >= 18")

REPO_ROOT = Path(__file__).resolve().parents[1]
HEIGHT, WIDTH = 160, 96  # the upright (portrait) size
ROTATION = -90  # what an iPhone writes for a portrait video (ffprobe: "rotation of -90.00 degrees")
NUM_FRAMES, FPS = 120, 30


def portrait_frame() -> np.ndarray:
    """Upright RGB (HEIGHT, WIDTH, 3): dark grey with a white block in the top-left corner."""
    frame = np.full((HEIGHT, WIDTH, 3), 40, np.uint8)
    frame[:40, :32] = 230
    return frame


def block_corner(frame: np.ndarray) -> str:
    """Which corner of an (H, W, C) frame holds the bright block."""
    rows, columns = np.nonzero(frame.mean(axis=2) > 150)
    height, width = frame.shape[:2]
    return ("top" if rows.mean() < height / 2 else "bottom") + "-" + ("left" if columns.mean() < width / 2 else "right")


@pytest.fixture(scope="module")
def phone_video(tmp_path_factory) -> Path:
    """4 s, one scene; stored sideways (WIDTH x HEIGHT), the display matrix turns it back."""
    folder = tmp_path_factory.mktemp("phone")
    stored = np.ascontiguousarray(np.rot90(portrait_frame(), -ROTATION // 90))  # what the sensor recorded
    times = [i / FPS for i in range(NUM_FRAMES)]
    write_frames(folder / "stored.mp4", [stored] * NUM_FRAMES, times, fps=FPS)
    videos = folder / "videos"
    videos.mkdir()
    path = rotate_video(folder / "stored.mp4", videos / "phone.mp4", ROTATION)
    with av.open(str(path)) as container:  # the frames in the file are sideways, only the matrix turns them
        frame = next(container.decode(video=0))
        assert frame.rotation == ROTATION and (frame.height, frame.width) == (WIDTH, HEIGHT)
    return path


@pytest.mark.parametrize(
    "limits",
    [{}, {"min_seconds": 1.0, "max_seconds": 1.5, "max_buffer_seconds": 0.1, "min_scene_len": 5}],
    ids=["one-pass", "window-decoded-again"],
)
def test_curation_writes_an_upright_clip_without_a_display_matrix(phone_video, tmp_path, limits):
    output = tmp_path / "curated"
    options = CurationOptions(detector="none", **limits)
    curate(load_video_inputs(phone_video.parent), output, options, workers=1, progress=False)
    record = json.loads((output / "metadata" / "phone.json").read_text())
    assert record["status"] == "pass", record
    assert any("decoded a second time" in note for note in record["reasons"]) == bool(limits)
    assert (record["width"], record["height"]) == (WIDTH, HEIGHT)
    assert (record["clip_width"], record["clip_height"]) == (WIDTH, HEIGHT)
    with av.open(str(output / record["clip_path"])) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == record["clip_num_frames"] > 0
    for frame in frames[:: len(frames) // 4]:
        assert frame.rotation == 0  # upright pixels, nothing left for a player to turn
        assert (frame.height, frame.width) == (HEIGHT, WIDTH)
        assert block_corner(frame.to_ndarray(format="rgb24")) == "top-left"
    if shutil.which("ffprobe"):
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(output / record["clip_path"])],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert "side_data_list" not in json.loads(probe.stdout)["streams"][0]


def test_the_person_detector_gets_upright_frames(phone_video, tmp_path):
    stage = video_stage(VideoInput("phone", str(phone_video)), tmp_path, CurationOptions(detector="none"))
    assert stage.frames, stage.record
    for bgr in stage.frames:
        assert bgr.shape == (HEIGHT, WIDTH, 3) and block_corner(bgr) == "top-left"


class NoFaces:
    """A face detector that finds nothing, so the blurred video is the input re-encoded."""

    def detect(self, frames):
        return [[] for _ in frames]


def test_face_blurring_writes_an_upright_video(phone_video, tmp_path):
    (result,) = blur_faces(phone_video, tmp_path / "blurred.mp4", NoFaces())
    assert result.frames == NUM_FRAMES
    with av.open(str(tmp_path / "blurred.mp4")) as container:
        frame = next(container.decode(video=0))
    assert frame.rotation == 0 and (frame.height, frame.width) == (HEIGHT, WIDTH)
    assert block_corner(frame.to_ndarray(format="rgb24")) == "top-left"


def _load_space():
    spec = importlib.util.spec_from_file_location("space_app_under_test", REPO_ROOT / "spaces" / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_space_classifies_the_upright_frames(tmp_path):
    pytest.importorskip("gradio")
    from test_hub_export import tiny_classifier

    from hf_tiktokactions.hub.export import export_model

    tiny_classifier(tmp_path / "model")
    export_model(tmp_path / "model", tmp_path / "export", preprocessing={"sampling_rate": 2})
    classifier = _load_space().ActionClassifier(str(tmp_path / "export"))
    # a portrait "index" video (the frame number in vertical stripes), once upright and once as a phone stores it
    upright = write_test_video(tmp_path / "upright.mp4", 48, 64, 48, fps=30)
    phone = write_test_video(tmp_path / "phone.mp4", 48, 64, 48, fps=30, display_rotation=90)
    seen_upright, seen_phone = classifier.predict(str(upright)), classifier.predict(str(phone))
    # the centre crop of a portrait frame keeps its full width, so every stripe is in the gallery frames
    indices = [frame_index_of(frame) for frame in seen_phone.frames]
    assert indices == [frame_index_of(frame) for frame in seen_upright.frames]
    assert indices == sorted(indices) and len(set(indices)) == len(indices) > 1
    assert seen_phone.scores.keys() == seen_upright.scores.keys()
    for label, score in seen_upright.scores.items():
        assert seen_phone.scores[label] == pytest.approx(score, abs=0.02)


def test_the_shipped_processor_refuses_a_pyav_that_would_read_phone_videos_sideways(phone_video, monkeypatch):
    """PyAV before 14 has no ``VideoFrame.rotation``: the shipped processor read phone videos sideways without a word
    (the Space and the cards pinned older PyAV). It names the version to install instead. An older PyAV is stood
    in for by a frame class without the attribute."""
    from hf_tiktokactions.modeling.video_processing_videomaev2 import read_video_frames

    frames, _ = read_video_frames(str(phone_video), lambda metadata: [0])
    assert tuple(frames.shape[-2:]) == (HEIGHT, WIDTH)  # upright with this PyAV
    monkeypatch.setattr(av, "VideoFrame", type("VideoFrame", (), {}))
    with pytest.raises(ImportError, match=r"needs PyAV 14\.0 or newer.*pip install 'av>=14\.0'"):
        read_video_frames(str(phone_video), lambda metadata: [0])
