"""Read chosen frames of a video file as one uint8 tensor.

``open_video(source, backend)`` returns a ``VideoReader``: ``.info`` (frame count, fps, duration, size,
read from the container index, no decoding) and ``.read(indices)`` -> uint8 (T, C, H, W). ``read_frames``
does both in one call. Backends:

* ``"decord"`` (default): its wheel bundles FFmpeg, so a pip-only install works on x86-64.
* ``"torchcodec"``: needs the system FFmpeg libraries (Debian ``ffmpeg``).
* ``"pyav"``: decodes from the keyframe before the first wanted frame and tells FFmpeg to skip the
  non-reference frames nobody asked for (``skip_frame=NONREF``), which returns the same pixels and, on
  B-frame-heavy H.264, decodes fewer frames. Also the fallback: a file the chosen backend cannot open or
  read is tried once with PyAV before it counts as broken, and a backend that is not installed (decord
  has no wheels for ARM Linux or Apple silicon) is replaced by PyAV for the whole process, with one
  warning. All three use FFmpeg's decoders and colour conversion: on 8-bit video they return the same uint8
  pixels; on 10-bit video (HDR phone video) each converts to 8-bit RGB its own way, a few levels apart on
  average. An AVI with B-frames (an XviD or DivX file, as UCF101 and HMDB51 are stored) and an MPEG transport
  stream (``.ts``, ``.mts``, ``.m2ts``) are always read with PyAV: decord and torchcodec return other frames than
  asked on them; so is an MPEG program stream (``.mpg``, ``.vob``), of which torchcodec, asked for several frames
  at once, returns earlier ones. So is an MP4 whose edit list hides its first frames (trimmed by stream copy,
  ``ffmpeg -ss 1 -c copy``), on which decord counts the hidden frames and returns frames from before the cut.
  So is a video with open GOPs (x265's default for HEVC: B-frames decoded after a keyframe are shown before
  it), on which decord, seeking to such a keyframe, returns later frames than asked. Finding one demuxes the first
  GOPs; a local file's answer is kept while its inode, size, modification and change times stay the same.

Every backend reads the file's main video stream (``video_streams.main_video_stream``): never a cover picture, nor
a thumbnail or proxy track that FFmpeg would pick before the video (an MP4's or MOV's first video track). torchcodec
is told which stream that is; decord cannot be, so a file of more than one video track (cover pictures aside) is read
with PyAV. Telling that costs nothing more: it is read from the header the checks below open anyway.

Frames come out upright: a phone video's display rotation (the MP4 display matrix, the old ``rotate``
tag) is applied, so a portrait video recorded by a sensor in landscape reads as portrait, and
``info.height``/``info.width`` are the upright size. decord (its wheel's FFmpeg) and torchcodec (0.11 and
later) apply it themselves; the PyAV reader turns each frame by the angle PyAV reports in
``frame.rotation`` (the display matrix's counter-clockwise rotation, a multiple of 90 degrees for phone
videos).

The returned tensor is a (T, C, H, W) view of a (T, H, W, C) buffer (channels-last memory), which is the
layout torch's uint8 resize kernels are fastest on; call ``.contiguous()`` for a planar copy.

A missing, empty, truncated, corrupt or non-video file raises ``VideoDecodeError`` naming the file.
One case opens without error: an MP4 written with its index first (``movflags=faststart``) and cut off
inside the frame data; FFmpeg trims the index to the packets present, so ``num_frames`` is smaller, the
frames before the cut read correctly, and reading the last few (whose data or references were cut off)
raises ``VideoDecodeError``.
``source`` is a local path or an fsspec URL (``s3://...``, ``hf://...``), which is read into memory first.
"""

from __future__ import annotations

import functools
import importlib
import io
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple

import numpy as np
import torch

from hf_tiktokactions.data.keyframe_seek import (
    PacketTimeline,
    demux_from_keyframe,
    frames_counted_in_display_order,
    keyframe_before,
    timestamps_shift_after_a_seek,
    untimed_frames_problem,
)
from hf_tiktokactions.display_rotation import quarter_turns, upright_array
from hf_tiktokactions.errors import VideoDecodeError
from hf_tiktokactions.video_streams import main_video_stream, shown_frame_count, video_stream_duration, video_tracks

__all__ = ["VideoInfo", "VideoReader", "BACKENDS", "open_video", "read_frames", "probe_video"]

VideoSource = str | os.PathLike | bytes | BinaryIO
BACKENDS = ("decord", "torchcodec", "pyav")


@dataclass(frozen=True)
class VideoInfo:
    """What a container says about its first video stream."""

    num_frames: int
    fps: float
    height: int
    width: int

    @property
    def duration(self) -> float:
        """Seconds, as ``num_frames / fps``."""
        return self.num_frames / self.fps if self.fps > 0 else 0.0


def _name(source: VideoSource) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return getattr(source, "name", f"<{type(source).__name__} video>")


def _is_url(source: VideoSource) -> bool:
    return isinstance(source, str) and "://" in source and not source.startswith("file://")


def _load_source(source: VideoSource) -> str | io.BytesIO:
    """A local path (checked to exist and be non-empty) or the bytes of a remote/in-memory file."""
    name = _name(source)
    if isinstance(source, bytes):
        data = source
    elif hasattr(source, "read"):
        data = source.read()
    elif _is_url(source):
        import fsspec

        try:
            with fsspec.open(source, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            raise VideoDecodeError(f"{name}: no such file; check the URL") from None
        except Exception as error:
            raise VideoDecodeError(f"{name}: cannot read ({error})") from error
    else:
        path = os.fspath(source)
        if path.startswith("file://"):
            path = path[len("file://") :]
        if not os.path.isfile(path):
            raise VideoDecodeError(f"{path}: no such file; check the path")
        if os.path.getsize(path) == 0:
            raise VideoDecodeError(f"{path}: the file is empty (0 bytes); re-download or drop it")
        return path
    if not data:
        raise VideoDecodeError(f"{name}: the file is empty (0 bytes); re-download or drop it")
    buffer = io.BytesIO(data)
    buffer.name = name
    return buffer


def _broken(name: str, error: BaseException | str) -> VideoDecodeError:
    return VideoDecodeError(
        f"{name}: cannot decode this file: it is truncated, corrupt or not a video ({error}); "
        "re-download it or drop it from the list"
    )


def _check_indices(indices: Sequence[int], num_frames: int, name: str) -> np.ndarray:
    array = np.asarray(indices, dtype=np.int64).reshape(-1)
    if array.size == 0:
        raise ValueError("read() needs at least one frame index")
    if array.min() < 0 or array.max() >= num_frames:
        raise IndexError(f"{name}: frame indices must be in [0, {num_frames}), got {array.min()}..{array.max()}")
    return array


class VideoReader:
    """An open video: ``info`` and ``read(indices)``. Subclasses implement ``_read_sorted``."""

    backend = ""

    def __init__(self, name: str, num_frames: int, fps: float, size: tuple[int, int] | None = None):
        self.name = name
        self.num_frames = num_frames
        self.fps = fps
        self._size = size

    @property
    def info(self) -> VideoInfo:
        """Frame count, fps and (H, W); a backend that only learns the size by decoding does so on first use."""
        if self._size is None:
            self._size = self._frame_size()
        return VideoInfo(self.num_frames, self.fps, *self._size)

    def _frame_size(self) -> tuple[int, int]:
        return tuple(self._read_sorted(np.zeros(1, dtype=np.int64)).shape[1:3])

    def read(self, indices: Sequence[int]) -> torch.Tensor:
        """Frames ``indices`` (any order, repeats allowed) as uint8 (T, C, H, W), channels-last memory.

        Each distinct frame is decoded once, in file order.
        """
        wanted = _check_indices(indices, self.num_frames, self.name)
        unique, inverse = np.unique(wanted, return_inverse=True)
        try:
            frames = self._read_sorted(unique)  # (U, H, W, C) uint8
        except VideoDecodeError:
            raise
        except Exception as error:
            raise _broken(self.name, error) from error
        if frames.shape[0] != unique.size:
            raise _broken(self.name, f"got {frames.shape[0]} of {unique.size} frames")
        if unique.size != wanted.size or not np.array_equal(unique, wanted):
            frames = frames[torch.from_numpy(inverse.reshape(-1))]
        return frames.permute(0, 3, 1, 2)

    def _read_sorted(self, indices: np.ndarray) -> torch.Tensor:
        raise NotImplementedError

    def close(self) -> None:
        """Release the decoder."""

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _MisreadByThisBackend(Exception):
    """Raised by a reader that opened a file it would read other frames of than a player shows: PyAV reads it."""


class _DecordReader(VideoReader):
    backend = "decord"

    def __init__(self, source: str | io.BytesIO, name: str, num_threads: int, stream_index: int | None = None):
        if stream_index is not None:  # decord reads the stream its FFmpeg picks and cannot be told another
            raise _MisreadByThisBackend
        import decord

        self._reader = decord.VideoReader(source, num_threads=num_threads, ctx=decord.cpu(0))
        fps = float(self._reader.get_avg_fps())
        if len(self._reader) and self._reader.get_frame_timestamp(0)[0] < -0.5 / (fps or 30):
            # An edit list hides the first frames (an MP4 trimmed by stream copy): decord counts them, and returns
            # them, or frames a second early, depending on how it seeks. PyAV reads such files as a player shows them.
            raise _MisreadByThisBackend
        # decord learns the frame size only by decoding a frame, so the size is left to `info` on demand
        super().__init__(name, len(self._reader), fps)

    def _read_sorted(self, indices: np.ndarray) -> torch.Tensor:
        batch = self._reader.get_batch(indices.tolist())
        return torch.utils.dlpack.from_dlpack(batch.to_dlpack())  # no copy

    def close(self) -> None:
        self._reader = None


class _TorchCodecReader(VideoReader):
    backend = "torchcodec"

    def __init__(self, source: str | io.BytesIO, name: str, num_threads: int, stream_index: int | None = None):
        from torchcodec.decoders import VideoDecoder

        self._decoder = VideoDecoder(
            source, stream_index=stream_index, seek_mode="exact", dimension_order="NHWC", num_ffmpeg_threads=num_threads
        )
        meta = self._decoder.metadata
        fps = meta.average_fps or 0.0
        super().__init__(name, int(meta.num_frames or 0), float(fps), (int(meta.height), int(meta.width)))

    def _read_sorted(self, indices: np.ndarray) -> torch.Tensor:
        return self._decoder.get_frames_at(indices.tolist()).data

    def close(self) -> None:
        self._decoder = None


class _PyAVReader(VideoReader):
    """Decodes from the keyframe shown before the first wanted frame; skips unwanted non-reference frames.

    An AVI is read by counting frames from its start instead (``keyframe_seek.frames_counted_in_display_order``),
    an MPEG-PS file from its start, by timestamp (``keyframe_seek.timestamps_shift_after_a_seek``). It reads
    ``main_video_stream``, which is the ``stream_index`` the other readers are given.
    """

    backend = "pyav"

    def __init__(self, source: str | io.BytesIO, name: str, num_threads: int, stream_index: int | None = None):
        import av

        self._container = av.open(source)
        self._stream = main_video_stream(self._container)
        if self._stream is None:
            self._container.close()
            raise _broken(name, "no video stream")
        context = self._stream.codec_context
        context.thread_count = num_threads
        if num_threads == 1:
            context.thread_type = "NONE"
        # Presentation timestamps of all frames, in display order: frame index i has pts self._pts[i].
        timeline = PacketTimeline()
        for packet in self._container.demux(self._stream):
            timeline.add(packet)
        self._pts = np.sort(np.asarray(timeline.shown_pts, dtype=np.int64))
        self._keyframes = timeline.sorted_keyframes()
        self._count_frames = frames_counted_in_display_order(self._container)
        self._from_start = self._count_frames or timestamps_shift_after_a_seek(self._container)
        untimed = untimed_frames_problem(timeline, self._container)
        if untimed:
            self._container.close()
            raise _broken(name, untimed)
        rate = self._stream.average_rate or self._stream.guessed_rate or 0
        # The upright size is known once a frame (and its display rotation) is decoded: `info` asks on demand.
        super().__init__(name, len(self._pts), float(rate))

    def _read_sorted(self, indices: np.ndarray) -> torch.Tensor:
        context = self._stream.codec_context
        # Each decoded frame's place: its pts, or in an AVI its position in the decoder's output from the start.
        keys = indices if self._count_frames else self._pts[indices]
        wanted = {int(key): slot for slot, key in enumerate(keys)}
        frames: torch.Tensor | None = None  # (U, H, W, 3), allocated at the first frame's upright size
        done = np.zeros(len(wanted), dtype=bool)
        found, counted = 0, 0
        start = self._keyframes[0] if self._from_start else keyframe_before(self._keyframes, int(keys[0]))
        packets = demux_from_keyframe(self._container, self._stream, start, int(self._pts[indices[0]]))
        if packets is None:
            raise _broken(self.name, "the container cannot seek to a keyframe before the frames asked for")
        context.flush_buffers()

        def take(decoded) -> int:
            nonlocal frames, counted
            got = 0
            for frame in decoded:
                slot = wanted.get(counted if self._count_frames else frame.pts)
                counted += 1
                if slot is not None and not done[slot]:
                    array = upright_array(frame.to_ndarray(format="rgb24"), frame.rotation)
                    if frames is None:
                        frames = torch.empty((len(wanted), *array.shape), dtype=torch.uint8)
                    frames[slot] = torch.from_numpy(np.ascontiguousarray(array))
                    done[slot] = True
                    got += 1
            return got

        for packet in packets:
            if packet.size == 0:  # the demuxer's end-of-stream marker
                break
            skippable = not self._count_frames and packet.pts not in wanted
            context.skip_frame = "NONREF" if skippable else "DEFAULT"
            found += take(context.decode(packet))
            if found == len(wanted):
                break
        if found < len(wanted):
            context.skip_frame = "DEFAULT"
            found += take(context.decode(None))
        if found < len(wanted):
            missing = indices[~done].tolist()
            raise _broken(self.name, f"frames {missing[:5]} could not be decoded")
        return frames

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


_READERS = {"decord": _DecordReader, "torchcodec": _TorchCodecReader, "pyav": _PyAVReader}
_QUIETED: set[str] = set()


def _quiet_ffmpeg_logs(backend: str) -> None:
    """Broken files are reported as VideoDecodeError; FFmpeg's own lines about them would only be noise."""
    if backend in _QUIETED:
        return
    _QUIETED.add(backend)
    if backend == "decord":
        import decord

        decord.logging.set_level(decord.logging.QUIET)
    elif backend == "pyav":
        import av.logging

        av.logging.set_level(None)


def _rewind(source: str | io.BytesIO) -> str | io.BytesIO:
    if isinstance(source, io.BytesIO):
        source.seek(0)
    return source


def _open_with(
    backend: str, source: str | io.BytesIO, name: str, num_threads: int, stream_index: int | None = None
) -> VideoReader:
    _quiet_ffmpeg_logs(backend)
    reader = _READERS[backend](_rewind(source), name, num_threads, stream_index)
    if reader.num_frames <= 0:
        reader.close()
        raise _broken(name, "no frames")
    return reader


_MODULES = {"decord": "decord", "torchcodec": "torchcodec.decoders", "pyav": "av"}


@functools.cache
def _installed_or_pyav(backend: str) -> str:
    """``backend`` if it imports in this process, else ``"pyav"`` (with one warning a process)."""
    if backend == "pyav":
        return backend
    try:
        importlib.import_module(_MODULES[backend])
    except Exception as error:  # not installed, or (torchcodec) the FFmpeg libraries it needs are missing
        warnings.warn(
            f"the {backend!r} video backend cannot be used here ({type(error).__name__}: {error}); decoding with "
            "PyAV instead, which returns the same frames",
            stacklevel=3,
        )
        return "pyav"
    return backend


class _FallbackReader(VideoReader):
    """The chosen backend, with PyAV as a second try when a read fails (a truncated tail, say)."""

    def __init__(self, primary: VideoReader, source: str | io.BytesIO, num_threads: int):
        super().__init__(primary.name, primary.num_frames, primary.fps, primary._size)
        self.backend = primary.backend
        self._primary, self._source, self._num_threads = primary, source, num_threads

    def read(self, indices: Sequence[int]) -> torch.Tensor:
        try:
            return self._primary.read(indices)
        except VideoDecodeError as error:
            try:
                with _open_with("pyav", self._source, self.name, self._num_threads) as fallback:
                    return fallback.read(indices)
            except Exception:
                raise error from None

    def _frame_size(self) -> tuple[int, int]:
        return tuple(self.read([0]).shape[2:])  # through `read`, so a frame decord cannot turn comes from PyAV

    def close(self) -> None:
        self._primary.close()


MPEG_TS_SUFFIXES = (".ts", ".mts", ".m2ts")


# answers kept per process: a dataset's files are opened once an epoch, each time in another loader worker, so a
# worker keeps every file of UCF101 (13,320) or HMDB51 (6,766) after a few epochs; about 300 bytes an answer
_KNOWN_FILES = 16384


class _Route(NamedTuple):
    """How to read a file: ``only_pyav``, it is one the other backends misread; ``stream_index``, the video stream to
    read where it holds several (``video_streams.main_video_stream``), else None (the backends' own choice is it)."""

    only_pyav: bool
    stream_index: int | None = None


def _how_to_read(source: str | io.BytesIO, name: str) -> _Route:
    """How to read ``source`` (``_read_container``). A local file's answer is kept, keyed by its
    path, size and modification time, so a file replaced in place is looked at again; epochs reopen every file. Its
    inode and change time are in the key too: a copy that keeps the replaced file's size and modification time (cp
    -p, rsync -a, tar) gets a new inode or change time, which no program can set back; a relative path that names
    another file from another working directory gets another inode."""
    if not isinstance(source, str):
        return _read_container(source, name)
    try:
        stat = os.stat(source)
    except OSError:  # gone since it was found: the chosen backend reports it
        return _Route(False)
    return _file_how_to_read(source, stat.st_size, stat.st_mtime_ns, (stat.st_dev, stat.st_ino, stat.st_ctime_ns))


@functools.lru_cache(maxsize=_KNOWN_FILES)
def _file_how_to_read(path: str, size: int, mtime_ns: int, identity: tuple[int, int, int]) -> _Route:
    return _read_container(path, path)


def _read_container(source: str | io.BytesIO, name: str) -> _Route:
    """Files the other backends misread, and the video stream to read in a file of several (``_Route``).
    An MPEG transport stream (camcorders' .mts): decord returns other frames than asked, or never returns. An AVI
    whose video has B-frames (UCF101 and HMDB51 are XviD / DivX AVIs): decord misreads where a B-frame is packed
    with the P-frame after it, torchcodec wherever B-frames reorder. The PyAV reader seeks by decode time in the
    first and counts decoded frames in the second (``keyframe_seek.py``).
    An MPEG program stream (``.mpg``, ``.vob``): torchcodec, asked for several frames in one call, returns earlier
    frames than asked (0, 2, 5, 8 for 0, 3, 6, 9); the PyAV reader decodes it from the start.
    A file with open GOPs (x265's default, HEVC as phones and the web make it): decord, seeking to a keyframe
    that B-frames shown before it follow in decode order, returns later frames than asked."""
    suffix = os.path.splitext(name.lower())[1]
    if suffix in MPEG_TS_SUFFIXES:
        return _Route(True)
    import av

    try:
        with av.open(_rewind(source), metadata_errors="ignore") as container:
            stream = main_video_stream(container)
            if stream is None:
                return _Route(False)
            index = stream.index if len(video_tracks(container)) > 1 else None
            if timestamps_shift_after_a_seek(container):  # MPEG-PS
                return _Route(True, index)
            if suffix == ".avi":
                return _Route(bool(stream.codec_context.has_b_frames), index)
            return _Route(bool(stream.codec_context.has_b_frames) and _has_open_gops(container, stream), index)
    except Exception:  # the chosen backend reports a broken file in its own words
        return _Route(False)


def _has_open_gops(container, stream, keyframes: int = 3) -> bool:
    """Whether a keyframe after the first of ``stream`` is followed, in decode order, by a frame shown before it
    (an open GOP: HEVC's CRA with its leading pictures, H.264's recovery point). Reads packets only, up to the
    ``keyframes``-th keyframe."""
    seen, keyframe_pts = 0, None
    for packet in container.demux(stream):
        if packet.pts is None:
            continue
        if packet.is_keyframe:
            seen += 1
            if seen > keyframes:
                return False
            keyframe_pts = packet.pts if seen > 1 else None
        elif keyframe_pts is not None and packet.pts < keyframe_pts:
            return True
    return False


def open_video(source: VideoSource, backend: str = "decord", num_threads: int = 1) -> VideoReader:
    """Open ``source`` with ``backend`` (falling back to PyAV); reads the index only, decodes nothing.

    ``num_threads`` is the decoder's thread count: 1 in DataLoader workers, which are the parallelism.
    Raises ``VideoDecodeError`` for a missing, empty, corrupt or non-video file.
    """
    if backend not in _READERS:
        raise ValueError(f"unknown video backend {backend!r}; use one of {BACKENDS}")
    backend = _installed_or_pyav(backend)
    name = _name(source)
    loaded = _load_source(source)
    route = _how_to_read(loaded, name) if backend != "pyav" else _Route(False)
    if route.only_pyav:
        backend = "pyav"
    try:
        primary = _open_with(backend, loaded, name, num_threads, route.stream_index)
    except _MisreadByThisBackend:
        return _open_with("pyav", loaded, name, num_threads)
    except Exception as error:
        if backend == "pyav":
            raise error if isinstance(error, VideoDecodeError) else _broken(name, error) from error
        try:
            return _open_with("pyav", loaded, name, num_threads)
        except VideoDecodeError:
            raise
        except Exception:
            raise _broken(name, error) from error
    if backend == "pyav":
        return primary
    return _FallbackReader(primary, loaded, num_threads)


def read_frames(
    source: VideoSource, indices: Sequence[int], backend: str = "decord", num_threads: int = 1
) -> torch.Tensor:
    """Frames ``indices`` of ``source`` as uint8 (T, C, H, W) (channels-last memory)."""
    with open_video(source, backend, num_threads) as reader:
        return reader.read(indices)


def probe_video(source: VideoSource) -> VideoInfo:
    """Frame count, fps and upright size from the container (PyAV).

    Demuxes the index; decodes the first frame only, for its display rotation (PyAV shows it on frames).
    """
    import av

    name = _name(source)
    loaded = _load_source(source)
    try:
        with av.open(loaded) as container:
            stream = main_video_stream(container)
            if stream is None:
                raise _broken(name, "no video stream")
            seconds = video_stream_duration(container, stream)
            num_frames = shown_frame_count(stream, seconds) or sum(
                1 for p in container.demux(stream) if p.pts is not None
            )
            rate = stream.average_rate or stream.guessed_rate or 0
            size = (stream.codec_context.height, stream.codec_context.width)
            if quarter_turns(_first_frame_rotation(container, stream)) % 2:
                size = size[::-1]
            info = VideoInfo(int(num_frames), float(rate), *size)
    except VideoDecodeError:
        raise
    except Exception as error:
        raise _broken(name, error) from error
    if info.num_frames <= 0:
        raise _broken(name, "no frames")
    return info


def _first_frame_rotation(container, stream) -> float:
    """The display rotation of ``stream``'s first frame (0 when it cannot be decoded: reading will say why)."""
    try:
        container.seek(0, stream=stream)
        return next(container.decode(stream)).rotation
    except Exception:
        return 0.0
