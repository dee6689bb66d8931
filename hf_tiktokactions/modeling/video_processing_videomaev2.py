"""The video processor of an exported VideoMAE V2 classifier, for ``AutoVideoProcessor`` and transformers' pipeline.

``pipeline("video-classification", model=EXPORT, trust_remote_code=True)(path)`` calls the video processor with
``do_sample_frames=True``; transformers' default sampling spreads ``num_frames`` over the whole video, but the
model was trained on dense clips. This processor gives the model the clip it was trained and tested on, the same
way the project's own inference serves a single view (``inference.py``, ``data/views.py`` of its package):

1. frames: the official validation clip, ``num_frames`` frames spread evenly over the centred span of
   ``num_frames x sampling_rate`` frames (``segment_based``: the middle frame of each of ``num_frames`` equal
   segments); a shorter video is spread over its length and padded with its last frame;
2. decode: a file is read with PyAV (what ``pip install "av>=14.0"`` gives; no system FFmpeg, no torchcodec), frame
   ``i`` is the ``i``-th presentation timestamp, and phone videos are turned upright by their display rotation
   (``VideoFrame.rotation``, which PyAV has from 14.0 on); a one-frame file (a still image) is refused; the video
   stream read is the package's (never a cover picture, nor a camera's thumbnail or an editor's proxy track that
   FFmpeg would pick before the video);
3. pixels: the official resize of the short side to ``size["shortest_edge"]`` (bilinear, no antialiasing, the
   long side truncated) on uint8, centre crop of ``crop_size`` (offsets rounded half to even, as upstream's
   ``CenterCrop``), ``x / 255`` normalised with ``image_mean`` / ``image_std`` (ImageNet).

Output: ``pixel_values`` float (B, T, C, H, W). Shipped as Hub remote code: it imports only numpy, torch,
transformers and (to read files) PyAV, never this package.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import VideosKwargs
from transformers.video_processing_utils import BaseVideoProcessor
from transformers.video_utils import VideoMetadata


def clip_indices(num_video_frames: int, num_frames: int, sampling_rate: int, segment_based: bool = False) -> np.ndarray:
    """int64 (num_frames,): the official validation clip (``VideoClsDataset`` validation mode), or the middle
    frame of each TSN segment.

    Dense: ``np.linspace`` over the span ``num_frames * sampling_rate`` centred in the video, truncated to
    integers; a video no longer than the span gets ``num_video_frames // sampling_rate`` indices spread over it,
    padded with its last frame. Segments: with fewer frames than segments, the first frames (or every frame,
    padded in front with frame 0).
    """
    if num_video_frames < 1:
        raise ValueError(f"a video needs at least one frame, got {num_video_frames}")
    if segment_based:
        length = num_video_frames // num_frames
        if length > 0:
            return np.arange(num_frames, dtype=np.int64) * length + length // 2
        if num_video_frames > num_frames:
            return np.arange(num_frames, dtype=np.int64)
        padding = np.zeros(num_frames - num_video_frames, dtype=np.int64)
        return np.concatenate([padding, np.arange(num_video_frames, dtype=np.int64)])
    span = num_frames * sampling_rate
    if num_video_frames <= span:
        spread = np.linspace(0, num_video_frames, num=num_video_frames // sampling_rate)
        index = np.concatenate([spread, np.full(num_frames - len(spread), float(num_video_frames))])
        return np.clip(index, 0, num_video_frames - 1).astype(np.int64)
    end = (span + num_video_frames) // 2
    return np.clip(np.linspace(end - span, end, num=num_frames), end - span, end - 1).astype(np.int64)


def _upright(array: np.ndarray, rotation: float | None) -> np.ndarray:
    """(H, W, C) turned counter-clockwise by the frame's display rotation (degrees), as a player shows it."""
    turns = int(round((rotation or 0) / 90)) % 4
    return np.ascontiguousarray(np.rot90(array, turns)) if turns else array


def _main_video_stream(container):
    """The file's video stream, never a cover picture (an MP4's or MP3's attached picture); None when there is none.
    Of several, the one the header declares the most frames of, then seconds (Matroska's ``DURATION`` tag), then
    pixels, FFmpeg's choice on a tie: not the one-frame thumbnail or the proxy track cameras and editors put first,
    which FFmpeg picks in an MP4 or MOV. The package's ``video_streams.main_video_stream``, repeated: this file ships
    alone, and may meet a PyAV older than the package's (``streams.best`` is PyAV 13's, ``Stream.disposition`` 12's)."""
    attached_picture = 0x0400  # FFmpeg's AV_DISPOSITION_ATTACHED_PIC
    videos = [s for s in container.streams.video if not int(getattr(s, "disposition", 0)) & attached_picture]
    if len(videos) <= 1:
        return videos[0] if videos else None
    best = container.streams.best("video") if hasattr(container.streams, "best") else None

    def length(stream):
        seconds, tag = 0.0, stream.metadata.get("DURATION") or stream.metadata.get("duration") or ""
        if stream.duration is not None and stream.time_base is not None:
            seconds = float(stream.duration * stream.time_base)
        elif tag:
            try:
                hours, minutes, rest = tag.split(":")
                seconds = int(hours) * 3600 + int(minutes) * 60 + float(rest)
            except ValueError:
                pass
        context = stream.codec_context
        pixels = context.width * context.height if context is not None else 0
        return int(stream.frames or 0), seconds, pixels, stream is best

    return max(videos, key=length)


def read_video_frames(path: str, sample_indices) -> tuple[torch.Tensor, VideoMetadata]:
    """uint8 (T, C, H, W) frames ``sample_indices(metadata)`` of the video file ``path``, upright, and its metadata.

    Frames are counted from the packets' timestamps (nothing decoded), then decoded from the start until every
    wanted one is found, matched by timestamp; in an AVI by their place in the decoder's output, since DivX and XviD
    files (UCF101, HMDB51) pack a B-frame with the P-frame after it and their frames' timestamps are made up.
    """
    import av

    if not hasattr(av.VideoFrame, "rotation"):  # older PyAV would give a phone video's frames sideways
        raise ImportError(
            f"reading video files needs PyAV 14.0 or newer, which turns phone videos upright (installed: "
            f"{av.__version__}): pip install 'av>=14.0'"
        )
    with av.open(str(path), metadata_errors="ignore") as container:
        stream = _main_video_stream(container)
        if stream is None:
            raise ValueError(f"{path}: no video stream (an audio file?)")
        pts, untimed = [], 0
        for packet in container.demux(stream):
            if packet.pts is None:
                untimed += packet.size > 0  # the demuxer's empty end marker is no frame
            elif not getattr(packet, "is_discard", False):  # an edit list's cut packets are decoded, never shown
                pts.append(packet.pts)
        pts.sort()
        if untimed and container.format.name == "mpeg":  # H.264 in MPEG-PS: its frames cannot be told apart
            raise ValueError(f"{path}: {untimed} of its {untimed + len(pts)} frames carry no timestamp")
        if not pts:
            raise ValueError(f"{path}: no video frames")
        if len(pts) == 1:  # FFmpeg opens a still image as a one-frame video; the Space refuses it too
            raise ValueError(f"{path}: a single image, not a video (one frame)")
        fps = float(stream.average_rate or stream.guessed_rate or 0) or None
        metadata = VideoMetadata(
            total_num_frames=len(pts), fps=fps, width=stream.codec_context.width, height=stream.codec_context.height
        )
        indices = np.asarray(sample_indices(metadata), dtype=np.int64).reshape(-1)
        metadata.frames_indices = indices
        counted = container.format.name == "avi"
        keys = [int(i) if counted else pts[int(i)] for i in indices]  # what a decoded frame is matched by
        wanted = set(keys)
        found: dict[int, np.ndarray] = {}
        container.seek(0, stream=stream)
        for position, frame in enumerate(container.decode(stream)):
            key = position if counted else frame.pts
            if key in wanted and key not in found:
                found[key] = _upright(frame.to_ndarray(format="rgb24"), getattr(frame, "rotation", 0))
            if len(found) == len(wanted):
                break
    missing = [int(i) for i, key in zip(indices, keys) if key not in found]
    if missing:
        raise ValueError(f"{path}: frames {missing[:5]} could not be decoded")
    frames = np.stack([found[key] for key in keys])  # (T, H, W, C)
    return torch.from_numpy(frames).permute(0, 3, 1, 2), metadata


def short_side_resize(video: torch.Tensor, size: int) -> torch.Tensor:
    """(T, C, H, W) -> shorter side ``size``, the long side truncated, bilinear without antialiasing (the official
    test resize, ``cv2.resize(INTER_LINEAR)``); dtype kept."""
    height, width = video.shape[-2:]
    new = (size, max(1, int(size * width / height))) if height <= width else (max(1, int(size * height / width)), size)
    if tuple(new) == (height, width):
        return video
    return F.interpolate(video, size=new, mode="bilinear", antialias=False, align_corners=False)


def center_crop(video: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(T, C, H, W) -> (T, C, height, width) from the middle (offsets rounded half to even, as upstream's
    ``CenterCrop``)."""
    top, left = round((video.shape[-2] - height) / 2), round((video.shape[-1] - width) / 2)
    return video[..., top : top + height, left : left + width]


class VideoMAEv2VideoProcessorKwargs(VideosKwargs, total=False):
    sampling_rate: int | None
    segment_based: bool | None
    num_views: int | None
    num_crops: int | None


class VideoMAEv2VideoProcessor(BaseVideoProcessor):
    """Takes the model's clip from a video (file path, or decoded (T, H, W, C) / (T, C, H, W) frames).

    ``processor(video_or_path, return_tensors="pt")["pixel_values"]`` is (B, T, C, crop, crop), ImageNet-normalised.
    ``num_views`` and ``num_crops`` are the multi-view test setting the model was evaluated with (kept for reference).
    """

    valid_kwargs = VideoMAEv2VideoProcessorKwargs
    model_input_names = ["pixel_values"]
    resample = 2  # bilinear
    image_mean = [0.485, 0.456, 0.406]
    image_std = [0.229, 0.224, 0.225]
    size = {"shortest_edge": 224}
    crop_size = {"height": 224, "width": 224}
    do_resize = True
    do_center_crop = True
    do_rescale = True
    do_normalize = True
    do_convert_rgb = True
    do_sample_frames = True
    num_frames = 16
    sampling_rate = 4
    segment_based = False
    num_views = 5
    num_crops = 3

    def sample_frames(
        self,
        metadata: VideoMetadata,
        num_frames: int | None = None,
        sampling_rate: int | None = None,
        segment_based: bool | None = None,
        **kwargs,
    ) -> np.ndarray:
        """The model's clip (see ``clip_indices``), not frames spread over the whole video."""
        return clip_indices(
            int(metadata.total_num_frames),
            int(num_frames or self.num_frames),
            int(sampling_rate or self.sampling_rate),
            bool(self.segment_based if segment_based is None else segment_based),
        )

    def _frames(self, video, settings: dict, sample: bool) -> torch.Tensor:
        """One video (a path, or decoded frames) -> uint8 (T, C, H, W), the model's clip when ``sample``."""

        def indices(metadata: VideoMetadata) -> np.ndarray:
            return self.sample_frames(
                metadata, settings["num_frames"], settings["sampling_rate"], settings["segment_based"]
            )

        if isinstance(video, str):
            return read_video_frames(video, indices if sample else lambda metadata: range(metadata.total_num_frames))[0]
        frames = video if isinstance(video, torch.Tensor) else torch.as_tensor(np.asarray(video))
        if frames.ndim != 4:
            raise ValueError(
                f"a video is a path or (T, H, W, C) / (T, C, H, W) frames, got shape {tuple(frames.shape)}"
            )
        if frames.shape[-1] in (1, 3) and frames.shape[1] not in (1, 3):
            frames = frames.permute(0, 3, 1, 2)
        if frames.shape[1] == 1:
            frames = frames.expand(-1, 3, -1, -1)
        if sample:
            frames = frames[torch.as_tensor(indices(VideoMetadata(total_num_frames=len(frames))))]
        return frames

    def preprocess(self, videos, **kwargs) -> BatchFeature:
        """``videos``: a path, decoded frames, or a list of those -> ``pixel_values`` (B, T, C, crop, crop).

        Decoded frames are a (T, H, W, C) / (T, C, H, W) array or tensor, or a list of frames ((H, W, C) /
        (C, H, W) arrays or PIL images: one video, as transformers' video processors take it); a list of such
        lists, or a (B, T, ...) array, is a batch.

        A path gives the model's clip unless ``do_sample_frames=False`` is passed (then every frame); decoded
        frames are sampled when ``do_sample_frames`` (the call's, else the config's) is true.
        """
        unknown = set(kwargs) - set(self.valid_kwargs.__annotations__) - {"return_tensors"}
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected arguments {sorted(unknown)}")
        return_tensors = kwargs.pop("return_tensors", None)
        settings = {name: getattr(self, name, None) for name in self.valid_kwargs.__annotations__}
        settings.update({name: value for name, value in kwargs.items() if value is not None})
        batch = _as_videos(videos)
        clips = []
        for video in batch:
            sample = (
                kwargs.get("do_sample_frames") is not False if isinstance(video, str) else settings["do_sample_frames"]
            )
            clips.append(self._clip(self._frames(video, settings, bool(sample)), settings))
        return BatchFeature(data={"pixel_values": torch.stack(clips)}, tensor_type=return_tensors)

    def _clip(self, frames: torch.Tensor, settings: dict) -> torch.Tensor:
        """uint8 (T, C, H, W) -> float (T, C, crop, crop)."""
        if settings["do_resize"]:
            size = settings["size"]
            shortest = _get(size, "shortest_edge") or min(_get(size, "height"), _get(size, "width"))
            frames = short_side_resize(frames.contiguous(), int(shortest))
        if settings["do_center_crop"]:
            crop = settings["crop_size"]
            frames = center_crop(frames, int(_get(crop, "height")), int(_get(crop, "width")))
        video = frames.float()
        if settings["do_rescale"]:
            video = video * float(settings["rescale_factor"])
        if settings["do_normalize"]:
            mean = torch.tensor(settings["image_mean"], dtype=torch.float32).view(1, -1, 1, 1)
            std = torch.tensor(settings["image_std"], dtype=torch.float32).view(1, -1, 1, 1)
            video = (video - mean) / std
        return video


def _as_videos(videos) -> list:
    """What ``preprocess`` was given -> a list of videos, each a path or (T, ...) frames."""
    if isinstance(videos, (str, os.PathLike)):
        return [os.fspath(videos)]
    if not isinstance(videos, (list, tuple)):
        array = videos if isinstance(videos, torch.Tensor) else np.asarray(videos)
        return list(array) if array.ndim == 5 else [array]
    if not videos:
        raise ValueError("no video given: pass a path, frames, or a list of those")
    if all(_is_frame(item) for item in videos):  # the frames of one video
        return [np.stack([_frame_array(frame) for frame in videos])]
    return [
        np.stack([_frame_array(frame) for frame in item])
        if isinstance(item, (list, tuple))
        else os.fspath(item)
        if isinstance(item, os.PathLike)
        else item
        for item in videos
    ]


def _is_pil_image(item) -> bool:
    return hasattr(item, "convert") and hasattr(item, "getbands")


def _is_frame(item) -> bool:
    """A PIL image, or an (H, W, C) / (C, H, W) array or tensor."""
    return _is_pil_image(item) or getattr(item, "ndim", None) == 3


def _frame_array(frame) -> np.ndarray:
    """One frame -> an array: a PIL image as RGB (H, W, 3), an array or tensor as it is."""
    if _is_pil_image(frame):
        return np.asarray(frame.convert("RGB"))
    return frame.numpy() if isinstance(frame, torch.Tensor) else np.asarray(frame)


def _get(size, key: str):
    """``size[key]`` of a plain dict or of transformers' ``SizeDict`` (None when absent)."""
    return size.get(key) if isinstance(size, dict) else getattr(size, key, None)


__all__ = ["VideoMAEv2VideoProcessor", "clip_indices", "read_video_frames"]
