"""Small real media files for the curation tests: videos with hard cuts, variable frame rate, audio
only, and damaged copies (truncated, corrupt). Everything is written with PyAV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from video_files import add_thumbnail_track

# Neighbours differ in hue, saturation and brightness, so PySceneDetect's content detector sees a cut.
PALETTE = [(230, 60, 50), (20, 40, 160), (240, 240, 90), (10, 90, 20), (250, 170, 230), (40, 20, 60)]


def _scene_frame(scene: int, index: int, height: int, width: int) -> np.ndarray:
    """A coloured frame with a bar moving across it (some motion inside a scene, no cut)."""
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = PALETTE[scene % len(PALETTE)]
    x = (index * 3) % max(1, width - 8)
    frame[:, x : x + 8] = 255 - np.array(PALETTE[scene % len(PALETTE)], np.uint8)
    return frame


def write_scene_video(
    path: str | Path,
    scene_frames: list[int],
    height: int = 120,
    width: int = 160,
    fps: int = 30,
    faststart: bool = False,
    **container: Any,
) -> Path:
    """An H.264 MP4 whose scenes last ``scene_frames`` frames each, separated by hard cuts (``container``: the
    container options of :func:`write_frames`)."""
    times = [i / fps for i in range(sum(scene_frames))]
    frames = [_scene_frame(s, i, height, width) for s, n in enumerate(scene_frames) for i in range(n)]
    return write_frames(path, frames, times, fps, faststart, **container)


def write_frames(
    path: str | Path,
    frames: list[np.ndarray],
    times: list[float],
    fps: float = 30,
    faststart: bool = False,
    container_format: str = "mp4",
    sample_aspect_ratio: Fraction | None = None,
    thumbnail_track: bool = False,
    last_frame_seconds: float | None = None,
) -> Path:
    """Encode RGB frames with start times ``times`` (seconds): a VFR file when the steps vary.

    ``faststart`` puts the MP4 index first, so a truncated copy still opens (and decodes fewer frames).
    ``container_format="matroska"`` writes an MKV (no frame count in the container; a ``DURATION`` tag per track).
    ``sample_aspect_ratio`` makes an anamorphic encode: non-square pixels a player stretches by that ratio.
    ``thumbnail_track`` puts a one-frame 64x64 MJPEG track before the video (``video_files.add_thumbnail_track``).
    ``last_frame_seconds``: how long the last frame is shown (the packet's duration).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    time_base = Fraction(1, 90000)
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format=container_format, options=options) as container:
        thumbnail = add_thumbnail_track(container) if thumbnail_track else []
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.time_base = stream.codec_context.time_base = time_base
        stream.options = {"crf": "23", "preset": "ultrafast"}
        if sample_aspect_ratio is not None:
            stream.codec_context.sample_aspect_ratio = sample_aspect_ratio
        container.mux(thumbnail)
        packets = []
        for array, time in zip(frames, times):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts, frame.time_base = int(round(time / time_base)), time_base
            packets += stream.encode(frame)
        packets += stream.encode()
        if last_frame_seconds is not None:  # how long the last frame is shown (a still end of a screen recording)
            max(packets, key=lambda packet: packet.pts).duration = int(round(last_frame_seconds / time_base))
        for packet in packets:
            container.mux(packet)
    return path


def write_vfr_video(path: str | Path, seconds: float = 5.0, height: int = 120, width: int = 160) -> Path:
    """One scene whose frame rate alternates between 30 and 10 fps every second."""
    times, t = [], 0.0
    while t < seconds:
        times.append(t)
        t += 1 / 30 if int(t) % 2 == 0 else 1 / 10
    frames = [_scene_frame(0, i, height, width) for i in range(len(times))]
    return write_frames(path, frames, times, fps=20)


def write_audio_only(path: str | Path, seconds: float = 5.0, cover_art: bool = False) -> Path:
    """An MP4 holding an AAC audio track (a sine). ``cover_art``: and its cover art, a PNG picture stored as a video
    stream marked *attached picture* (what music files and some phone exports carry)."""
    path = Path(path)
    rate = 44100
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        if cover_art:
            cover = container.add_stream("png")
            cover.width = cover.height = 64
            cover.pix_fmt = "rgb24"
            cover.disposition = av.stream.Disposition.attached_pic
            picture = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 90, np.uint8), format="rgb24")
            picture.pts = 0
            for packet in [*cover.encode(picture), *cover.encode()]:
                container.mux(packet)
        samples = (np.sin(np.arange(int(seconds * rate)) * 2 * np.pi * 440 / rate) * 0.3).astype(np.float32)
        for start in range(0, samples.size, 1024):
            chunk = samples[start : start + 1024][None, :]
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def truncated_copy(source: Path, target: Path, keep: float = 0.5) -> Path:
    """The first ``keep`` fraction of ``source`` (a download that stopped half-way)."""
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * keep)])
    return target


def corrupt_copy(source: Path, target: Path) -> Path:
    """``source`` with its container header overwritten by deterministic garbage."""
    data = bytearray(source.read_bytes())
    garbage = np.random.default_rng(0).integers(0, 256, size=min(4096, len(data)), dtype=np.uint8).tobytes()
    data[: len(garbage)] = garbage
    target.write_bytes(bytes(data))
    return target
