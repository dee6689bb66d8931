"""Check an untrusted video against a budget before decoding it, then decode only within that budget.

A served model (the Space, an inference endpoint) reads files it does not control. A 300 KB H.264 file can
hold 10000x10000 frames (300 MB each once decoded) or 20,000 frames at 600 fps. So:

* :func:`probe_within` reads the container with PyAV and decodes nothing (but, in an FLV or MPEG-PS file, the
  frames FFmpeg's own probe decodes: see :func:`_open_within`): the frame size (the decoder is opened with
  FFmpeg's ``max_pixels``, so even the probe FFmpeg runs while opening the file refuses a frame above the
  budget), the aspect ratio, the claimed fps, frame count and duration, then the packets
  themselves (counted up to the frame budget, never further), whose timestamps give the real frame count,
  fps and duration. Anything beyond a limit raises :class:`~hf_tiktokactions.errors.BudgetExceeded`
  naming the limit.
* :func:`decode_within` decodes the chosen frames with the decoder's ``max_pixels`` still set, seeks to the
  keyframe before each group of wanted frames instead of decoding through everything between them, stops
  after ``max_decoded_frames`` packets or at the deadline, refuses a frame whose size differs from the
  probed one, and shrinks each frame to its final short side as soon as it is decoded, so memory holds one
  full-size frame at a time.

:class:`VideoBudget` holds the limits; ``VideoBudget.from_env()`` reads them from the environment variables
in ``ENV_NAMES`` (the Space documents them in ``spaces/README.md``).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch

from hf_tiktokactions.data.decoding import _broken, _load_source, _quiet_ffmpeg_logs
from hf_tiktokactions.data.keyframe_seek import (
    Keyframe,
    PacketTimeline,
    demux_from_keyframe,
    frames_counted_in_display_order,
    keyframe_before,
    timestamps_shift_after_a_seek,
    untimed_frames_problem,
)
from hf_tiktokactions.data.transforms import short_side_resize
from hf_tiktokactions.display_rotation import upright_array
from hf_tiktokactions.errors import BudgetExceeded, VideoDecodeError
from hf_tiktokactions.video_streams import main_video_stream

__all__ = ["ENV_NAMES", "ProbedVideo", "VideoBudget", "check_deadline", "decode_within", "probe_within"]


@dataclass(frozen=True)
class VideoBudget:
    """What one video may cost. The defaults take any phone clip up to 4K, 240 fps and 3 minutes."""

    max_pixels: int = 3840 * 2160  # width x height of one frame
    max_aspect_ratio: float = 4.0  # long side / short side (bounds the short-side resize)
    max_fps: float = 240.0
    max_frames: int = 10_800  # 3 minutes at 60 fps
    max_seconds: float = 180.0
    max_decoded_frames: int = 3_000  # packets fed to the decoder for one request
    request_seconds: float = 60.0  # wall time of one request

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> VideoBudget:
        """The defaults, overridden by the environment variables of ``ENV_NAMES`` that are set."""
        environ = os.environ if environ is None else environ
        values = {}
        for field in fields(cls):
            name = ENV_NAMES[field.name]
            text = environ.get(name, "").strip()
            if not text:
                continue
            kind = int if isinstance(field.default, int) else float
            try:
                values[field.name] = kind(text)
            except ValueError:
                raise ValueError(f"{name}={text!r} is not a{'n integer' if kind is int else ' number'}") from None
            if not math.isfinite(values[field.name]) or values[field.name] <= 0:  # nan or inf turned a limit off
                raise ValueError(f"{name}={text!r} must be a positive, finite number")
        return cls(**values)


ENV_NAMES = {
    "max_pixels": "MAX_VIDEO_PIXELS",
    "max_aspect_ratio": "MAX_ASPECT_RATIO",
    "max_fps": "MAX_VIDEO_FPS",
    "max_frames": "MAX_VIDEO_FRAMES",
    "max_seconds": "MAX_VIDEO_SECONDS",
    "max_decoded_frames": "MAX_DECODED_FRAMES",
    "request_seconds": "REQUEST_TIMEOUT_SECONDS",
}


@dataclass(frozen=True)
class ProbedVideo:
    """A video that passed :func:`probe_within`: its real frame count, fps, duration and frame size.

    ``pts`` are the presentation timestamps of all frames in display order (frame ``i`` has ``pts[i]``);
    ``keyframes`` the (pts, dts) of the keyframes, by pts; ``counted``: frame ``i`` is the ``i``-th frame the
    decoder returns from the start (AVI, see ``keyframe_seek.py``), not the one with timestamp ``pts[i]``;
    ``from_start``: frames are decoded from the first keyframe, never from a seek (MPEG-PS, same file).
    """

    path: str
    num_frames: int
    fps: float
    duration: float
    height: int
    width: int
    pts: np.ndarray  # int64 (num_frames,)
    keyframes: tuple[Keyframe, ...]
    counted: bool = False
    from_start: bool = False

    @property
    def keyframe_pts(self) -> np.ndarray:
        """int64 (K,): the keyframes' presentation timestamps, ascending."""
        return np.asarray([pts for pts, _ in self.keyframes], dtype=np.int64)


def _refuse(field: str, message: str) -> BudgetExceeded:
    return BudgetExceeded(message, ENV_NAMES[field])


# FFmpeg's probe (avformat_find_stream_info, run by av.open) decodes a stream's packets until 20 frames came out
# (its guess of H.264's decode delay takes up to that many) or it read its probesize, 5,000,000 bytes by default.
_PROBE_DECODED_FRAMES = 20
_PROBE_BYTES = 5_000_000
# As the container's codec_whitelist, a name no decoder has: FFmpeg's probe then opens no decoder, decodes nothing.
_NO_PROBE_DECODER = {"codec_whitelist": "none"}


def _refuse_pixels(budget: VideoBudget, width: int | None = None, height: int | None = None) -> BudgetExceeded:
    """The refusal of a frame above ``budget.max_pixels``; the size is unknown where FFmpeg's decoder refused it."""
    what = f"The video is {width}x{height} pixels," if width else "The video's frames are"
    return _refuse(
        "max_pixels",
        f"{what} more than the {budget.max_pixels} pixels a frame allowed "
        f"({ENV_NAMES['max_pixels']}={budget.max_pixels}). Downscale it and try again.",
    )


# Below every FFmpeg log level: PyAV prints nothing, but keeps FFmpeg's last error line on the exception it raises
# (``error.log``), which is what tells max_pixels' refusal from other errors of the same code.
_NO_FFMPEG_LINES_PRINTED = -8  # AV_LOG_QUIET


def _refused_by_max_pixels(error: Exception) -> bool:
    """Whether FFmpeg's decoder refused a frame for ``max_pixels``. A damaged frame header (a Sorenson frame of width
    0, say) is the same EINVAL; FFmpeg's error line tells them apart. Without that line, it is taken as the limit."""
    import av

    if not isinstance(error, (av.error.ArgumentError, av.error.MemoryError)):
        return False
    log = getattr(error, "log", None)
    return not log or "exceeds specified max pixel count" in log[2]


def _decode_what_the_probe_would(path: str, limit: dict[str, str], budget: VideoBudget) -> None:
    """Decode, one thread and ``limit`` in place, what FFmpeg's probe would decode of each video stream of
    ``path``: up to ``_PROBE_DECODED_FRAMES`` frames within the first ``_PROBE_BYTES`` bytes. Raises
    ``BudgetExceeded`` for a frame beyond the budget; nothing else (the real open reports broken files)."""
    import av.logging

    # the level is PyAV's, process-wide: put back after (a Python log callback left on while other code decodes
    # with FFmpeg's threads is what PyAV's documentation warns against)
    level = av.logging.get_level()
    av.logging.set_level(_NO_FFMPEG_LINES_PRINTED)
    try:
        _decode_within(path, limit, budget)
    finally:
        av.logging.set_level(level)


def _decode_within(path: str, limit: dict[str, str], budget: VideoBudget) -> None:
    """The decoding :func:`_decode_what_the_probe_would` does, FFmpeg's log level already set."""
    import av

    with av.open(path, container_options=_NO_PROBE_DECODER, metadata_errors="ignore") as container:
        streams = list(container.streams.video)
        for stream in streams:
            width, height = stream.codec_context.width, stream.codec_context.height  # the codec parser's, or 0
            if width * height > budget.max_pixels:
                raise _refuse_pixels(budget, width, height)
            stream.codec_context.options = limit
            stream.codec_context.thread_count = 1
        decoded, read = {stream.index: 0 for stream in streams}, 0
        for packet in container.demux(streams) if streams else ():
            read += packet.size
            if decoded[packet.stream.index] < _PROBE_DECODED_FRAMES:
                try:
                    decoded[packet.stream.index] += len(packet.stream.codec_context.decode(packet))
                except av.error.FFmpegError as error:  # a damaged packet: the probe goes on too
                    if _refused_by_max_pixels(error):
                        raise _refuse_pixels(budget) from error
            if read >= _PROBE_BYTES or min(decoded.values()) >= _PROBE_DECODED_FRAMES:
                return


def _open_within(path: str, limit: dict[str, str], budget: VideoBudget):
    """``av.open(path)`` whose probe (FFmpeg's ``avformat_find_stream_info``, which decodes the first frames)
    decodes no frame above ``limit``.

    Most formats (MP4, Matroska, AVI, MPEG-TS) list their streams in the header: the probe's decoders take the
    limit as stream options. FLV and MPEG-PS (``.mpg``, ``.vob``) streams appear only while probing and PyAV
    (18 and later) refuses stream options for them, so what the probe will decode is first decoded under the
    limit (:func:`_decode_what_the_probe_would`), then the file is opened with no options. Opening it with a
    probe that decodes nothing instead would leave FFmpeg without the decode delay it guesses from those frames,
    and MPEG-PS packets without a timestamp of their own would get wrong ones.
    """
    import av

    try:
        return av.open(path, stream_options=[limit], metadata_errors="ignore")
    except ValueError as error:
        if "stream_options" not in str(error):
            raise
    _decode_what_the_probe_would(path, limit, budget)
    return av.open(path, metadata_errors="ignore")


def _open(path: str, budget: VideoBudget):
    """PyAV container whose (probe and real) decoder refuses frames of more than ``budget.max_pixels`` pixels."""
    _quiet_ffmpeg_logs("pyav")
    # FFmpeg counts a frame's pixels with its width padded to the SIMD stride (up to 64), so a frame right at the
    # budget needs that much slack; our own check in _check_size keeps to width x height exactly.
    longest_side = math.isqrt(int(budget.max_pixels * budget.max_aspect_ratio)) + 1
    limit = {"max_pixels": str(budget.max_pixels + 64 * longest_side)}
    container = _open_within(path, limit, budget)
    stream = main_video_stream(container)
    if stream is None:
        container.close()
        raise _broken(path, "no video stream")
    stream.codec_context.options = limit
    return container, stream


def _check_size(width: int, height: int, budget: VideoBudget) -> None:
    if width <= 0 or height <= 0:
        raise VideoDecodeError("the video stream has no frame size (corrupt header)")
    if width * height > budget.max_pixels:
        raise _refuse_pixels(budget, width, height)
    if max(width, height) / min(width, height) > budget.max_aspect_ratio:
        raise _refuse(
            "max_aspect_ratio",
            f"The video is {width}x{height} pixels, an aspect ratio beyond the {budget.max_aspect_ratio:g}:1 allowed "
            f"(MAX_ASPECT_RATIO={budget.max_aspect_ratio:g}). Crop it and try again.",
        )


def _check_counts(num_frames: int, fps: float, seconds: float, budget: VideoBudget) -> None:
    if fps > budget.max_fps:
        raise _refuse(
            "max_fps",
            f"The video has {fps:.0f} frames a second, more than the {budget.max_fps:g} allowed "
            f"(MAX_VIDEO_FPS={budget.max_fps:g}). Re-encode it at a lower frame rate and try again.",
        )
    if num_frames > budget.max_frames:
        raise _refuse(
            "max_frames",
            f"The video has more than the {budget.max_frames} frames allowed "
            f"(MAX_VIDEO_FRAMES={budget.max_frames}). Trim it and try again.",
        )
    if seconds > budget.max_seconds:
        raise _refuse(
            "max_seconds",
            f"The video is {seconds:.0f} s long, longer than the {budget.max_seconds:g} s allowed "
            f"(MAX_VIDEO_SECONDS={budget.max_seconds:g}). Trim it and try again.",
        )


def probe_within(source: str | os.PathLike, budget: VideoBudget) -> ProbedVideo:
    """Container facts of the local file ``source``, checked against ``budget``; nothing is decoded.

    Raises ``BudgetExceeded`` (naming the limit) for a video beyond the budget and ``VideoDecodeError`` for
    a missing, empty, corrupt or non-video file.
    """
    if "://" in os.fspath(source):
        raise ValueError(f"{source}: probe_within reads local files only; download the video first")
    path = _load_source(os.fspath(source))  # checks that it exists and is not empty
    try:
        container, stream = _open(path, budget)
    except (BudgetExceeded, VideoDecodeError):
        raise
    except Exception as error:
        raise _broken(path, error) from error
    with container:
        context = stream.codec_context
        _check_size(context.width, context.height, budget)
        claimed_fps = float(stream.average_rate or stream.guessed_rate or 0)
        claimed_seconds = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
        _check_counts(int(stream.frames or 0), claimed_fps, claimed_seconds, budget)

        timeline, packets = PacketTimeline(), 0
        try:
            for packet in container.demux(stream):  # reads packets, decodes nothing
                packets += packet.size > 0  # packets without a timestamp count too; the empty end marker not
                if packets > budget.max_frames:
                    _check_counts(packets, 0.0, 0.0, budget)
                timeline.add(packet)
        except BudgetExceeded:
            raise
        except Exception as error:
            raise _broken(path, error) from error
        time_base = float(stream.time_base or 0)
        height, width = context.height, context.width
        counted = frames_counted_in_display_order(container)
        from_start = counted or timestamps_shift_after_a_seek(container)
        untimed = untimed_frames_problem(timeline, container)
    if not timeline.shown_pts:
        raise _broken(path, "no frames")
    if untimed:
        raise _broken(path, untimed)
    pts_sorted = np.sort(np.asarray(timeline.shown_pts, dtype=np.int64))
    num_frames = len(pts_sorted)
    span = float(pts_sorted[-1] - pts_sorted[0]) * time_base
    measured_fps = round((num_frames - 1) / span, 3) if num_frames > 1 and span > 0 else 0.0
    seconds = max(claimed_seconds, span * num_frames / (num_frames - 1) if num_frames > 1 else 0.0)
    _check_counts(num_frames, max(claimed_fps, measured_fps), seconds, budget)
    return ProbedVideo(
        path,
        num_frames,
        measured_fps or claimed_fps,
        seconds,
        height,
        width,
        pts_sorted,
        tuple(timeline.sorted_keyframes()) or ((int(pts_sorted[0]),) * 2,),
        counted,
        from_start,
    )


def check_deadline(deadline: float | None, budget: VideoBudget) -> None:
    """Raise ``BudgetExceeded`` once ``time.monotonic()`` is past ``deadline`` (``None``: no deadline)."""
    if deadline is not None and time.monotonic() > deadline:
        raise _refuse(
            "request_seconds",
            f"This request took longer than the {budget.request_seconds:g} s allowed "
            f"(REQUEST_TIMEOUT_SECONDS={budget.request_seconds:g}) and was stopped. Try a shorter or smaller video.",
        )


def _decode_groups(probed: ProbedVideo, targets: np.ndarray) -> list[list[int]]:
    """Wanted pts in runs that share a decode pass: a new run starts where seeking beats decoding through.
    Counted frames (an AVI) and MPEG-PS are one run from the start."""
    if probed.from_start:
        return [targets.tolist()]
    groups: list[list[int]] = []
    for target in targets.tolist():
        key, _ = keyframe_before(probed.keyframes, target)
        if groups and key <= groups[-1][-1]:
            groups[-1].append(target)
        else:
            groups.append([target])
    return groups


def _decode_group(
    container,
    stream,
    probed: ProbedVideo,
    remaining: set[int],
    keep: Callable[..., None],
    decoded: int,
    budget: VideoBudget,
    deadline: float | None,
) -> int:
    """Decode from the keyframe shown at or before the first of ``remaining`` (their pts; counted frames: their
    positions, from the start) until each went to ``keep(frame, pts_or_position)``.

    ``decoded`` is the number of packets decoded so far for this video; returns it with this group's added.
    Raises ``BudgetExceeded`` past ``budget.max_decoded_frames`` packets or past the deadline.
    """
    context = stream.codec_context
    first = min(remaining)
    start = probed.keyframes[0] if probed.from_start else keyframe_before(probed.keyframes, first)
    packets = demux_from_keyframe(container, stream, start, first)
    if packets is None:
        raise _broken(probed.path, "the container cannot seek to a keyframe before the frames asked for")
    context.flush_buffers()
    position = 0

    def take(frames) -> None:
        nonlocal position
        for frame in frames:
            key = position if probed.counted else frame.pts
            position += 1
            keep(frame, key)
            remaining.discard(key)

    for packet in packets:
        if packet.size == 0:  # the demuxer's end-of-stream marker
            break
        decoded += 1
        if decoded > budget.max_decoded_frames:
            raise _refuse(
                "max_decoded_frames",
                f"Reading the frames this mode needs means decoding more than {budget.max_decoded_frames} "
                f"frames (MAX_DECODED_FRAMES={budget.max_decoded_frames}); the video has too few "
                "keyframes. Re-encode it (or trim it) and try again.",
            )
        check_deadline(deadline, budget)
        context.skip_frame = "DEFAULT" if probed.counted or packet.pts in remaining else "NONREF"
        take(context.decode(packet))
        if not remaining:
            break
    if remaining:  # frames still inside the decoder (reordering delay)
        context.skip_frame = "DEFAULT"
        take(context.decode(None))
    return decoded


def decode_within(
    probed: ProbedVideo,
    indices: Sequence[int],
    budget: VideoBudget,
    short_side: int | None = None,
    deadline: float | None = None,
    num_threads: int = 1,
) -> torch.Tensor:
    """Frames ``indices`` (sorted, distinct) of a probed video as uint8 (T, C, H, W).

    Each frame is resized so its shorter side is ``short_side`` right after decoding (``None``: full size).
    ``deadline`` is a ``time.monotonic()`` value. Raises ``BudgetExceeded`` when more than
    ``budget.max_decoded_frames`` packets would have to be decoded, when the deadline passes, or when a frame
    is larger than the probe said; ``VideoDecodeError`` when a wanted frame cannot be decoded.
    """
    wanted = np.asarray(indices, dtype=np.int64).reshape(-1)
    if wanted.size == 0 or wanted.min() < 0 or wanted.max() >= probed.num_frames or np.any(np.diff(wanted) <= 0):
        raise ValueError(f"indices must be sorted, distinct and in [0, {probed.num_frames})")
    keys = wanted if probed.counted else probed.pts[wanted]  # what _decode_group matches a decoded frame by
    slot_of = {int(key): slot for slot, key in enumerate(keys)}
    frames: list[torch.Tensor | None] = [None] * len(slot_of)
    decoded = 0

    def keep(frame, key: int) -> None:
        slot = slot_of.get(key)
        if slot is None or frames[slot] is not None:
            return
        if (frame.height, frame.width) != (probed.height, probed.width):
            raise _refuse(
                "max_pixels",
                f"A frame is {frame.width}x{frame.height} pixels where the video said {probed.width}x{probed.height}; "
                f"only videos of one frame size are taken, up to MAX_VIDEO_PIXELS={budget.max_pixels} pixels.",
            )
        upright = upright_array(frame.to_ndarray(format="rgb24"), frame.rotation)  # phone videos: as displayed
        image = torch.from_numpy(np.ascontiguousarray(upright)).permute(2, 0, 1).unsqueeze(0)  # (1, C, H, W)
        frames[slot] = short_side_resize(image, short_side)[0] if short_side else image[0]

    try:
        container, stream = _open(probed.path, budget)
    except (BudgetExceeded, VideoDecodeError):
        raise
    except Exception as error:
        raise _broken(probed.path, error) from error
    with container:
        context = stream.codec_context
        context.thread_count = num_threads
        if num_threads == 1:
            context.thread_type = "NONE"
        try:
            for group in _decode_groups(probed, np.sort(keys)):
                remaining = {target for target in group if frames[slot_of[target]] is None}
                if remaining:
                    decoded = _decode_group(container, stream, probed, remaining, keep, decoded, budget, deadline)
        except (BudgetExceeded, VideoDecodeError):
            raise
        except Exception as error:
            raise _broken(probed.path, error) from error
    missing = [int(wanted[slot]) for slot, frame in enumerate(frames) if frame is None]
    if missing:
        raise _broken(probed.path, f"frames {missing[:5]} could not be decoded")
    return torch.stack(frames)
