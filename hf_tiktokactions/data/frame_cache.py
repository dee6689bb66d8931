"""Every frame of small videos decoded once and kept in memory, for sets read hundreds of times.

The embedded recipes train on a few hundred 64x64 clips of 32 frames for hundreds of epochs; decoding one
such clip costs about 24 ms of CPU (decord, 2-core box), which was a third of a `vit-mini` fine-tuning step's
CPU time, while keeping its frames costs 0.4 MB. :class:`DecodedVideoCache` decodes a video's frames once,
keeps them until a byte budget is spent (the last video kept may pass it; videos met after that are decoded on
every read, as without a cache) and serves ``read(indices)`` from memory with the same pixels, layout and
errors as ``open_video``.

A cache belongs to one process: the datasets that use one need persistent DataLoader workers (or none).
"""

from __future__ import annotations

import os

import numpy as np
import torch

from hf_tiktokactions.data.decoding import VideoReader, VideoSource, open_video
from hf_tiktokactions.errors import VideoDecodeError


class _CachedReader(VideoReader):
    """A video's decoded frames, (N, H, W, C) uint8, read like an open video."""

    backend = "cache"

    def __init__(self, name: str, frames: torch.Tensor, fps: float):
        super().__init__(name, frames.shape[0], fps, tuple(frames.shape[1:3]))
        self._frames = frames

    def _read_sorted(self, indices: np.ndarray) -> torch.Tensor:
        return self._frames[torch.from_numpy(indices)]


class DecodedVideoCache:
    """``open(source, backend)``: an open video like ``open_video``'s, from memory once it was decoded.

    Args:
        max_bytes: keep decoding into memory while fewer bytes than this are kept (the last video kept may pass
            it); 0 keeps none (``open`` is ``open_video``).
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._videos: dict[str | bytes, tuple[torch.Tensor, float]] = {}

    def __getstate__(self) -> dict:
        # a DataLoader sends the dataset to each worker: the frames stay in the process that decoded them
        return {**self.__dict__, "bytes": 0, "_videos": {}}

    def open(self, source: VideoSource, backend: str = "decord") -> VideoReader:
        key = _key(source)
        if key is not None and key in self._videos:
            return _CachedReader(_name(key), *self._videos[key])
        reader = open_video(source, backend)
        if key is None or self.bytes >= self.max_bytes:
            return reader
        with reader:
            try:
                frames = reader.read(np.arange(reader.num_frames)).permute(0, 2, 3, 1)  # (N, H, W, C)
            except VideoDecodeError:  # a frame the index promises is unreadable: read as without a cache
                return open_video(source, backend)
            fps = reader.fps
        self._videos[key] = (frames, fps)
        self.bytes += frames.numel() + (len(key) if isinstance(key, bytes) else 0)
        return _CachedReader(_name(key), frames, fps)


def _key(source: VideoSource) -> str | bytes | None:
    """A path, or the clip itself when a dataset embeds it (its bytes are its identity); None for a file object."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return source if isinstance(source, bytes) else None


def _name(key: str | bytes) -> str:
    return key if isinstance(key, str) else "<bytes video>"  # as open_video names one


__all__ = ["DecodedVideoCache"]
