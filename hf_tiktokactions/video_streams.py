"""Which stream of a media file is its video, and how many frames it shows (PyAV only, no torch: every layer uses it).

A file can hold more than one video stream. An MP4, M4A or MP3 with cover art holds the picture as a one-frame
video stream marked *attached picture*: a song with cover art has no video. Cameras and some phone and editor
exports put an ordinary one-frame thumbnail track (MJPEG) or a short low-resolution proxy beside the video, often
first. FFmpeg's own choice (``av_find_best_stream``, which torchcodec reads unless told a stream) is then an MP4's or
MOV's first video track, marked the default one, and decord's older FFmpeg has a rule of its own.
:func:`main_video_stream` is the stream every reader of ours reads: of the streams that are no cover picture
(:func:`video_tracks`), the one the container declares the most frames of, then the most seconds, then the most
pixels a frame; FFmpeg's choice on a tie (a Matroska file declares no frame counts, only seconds). A file with one
video stream is not looked at further.

An MP4 trimmed by stream copy (``ffmpeg -ss 1 -i in.mp4 -c copy out.mp4``) keeps the frames from the keyframe
before the cut and an edit list that hides those before it: the container declares more frames than a player
shows. :func:`shown_frame_count` takes the hidden ones off.

An anamorphic encode stores frames of non-square pixels (a sample aspect ratio other than 1:1, in the container
or the bitstream) that a player stretches: :func:`square_pixel_width` is the width it shows them at.
"""

from __future__ import annotations

from typing import Any

__all__ = ["main_video_stream", "shown_frame_count", "square_pixel_width", "video_stream_duration", "video_tracks"]


_ATTACHED_PICTURE = 0x0400  # FFmpeg's AV_DISPOSITION_ATTACHED_PIC (PyAV's Disposition.attached_pic)


def _is_cover_picture(stream: Any) -> bool:
    return bool(int(getattr(stream, "disposition", 0)) & _ATTACHED_PICTURE)


def video_tracks(container: Any) -> list[Any]:
    """The video streams of ``container`` (an open ``av`` container) that are no cover picture, in file order."""
    return [stream for stream in container.streams.video if not _is_cover_picture(stream)]


def main_video_stream(container: Any) -> Any | None:
    """The video stream of ``container`` (an open ``av`` container) to read; None when it has none but cover
    pictures. Of several, the longest as the header declares it (frames, then seconds, then pixels a frame), not a
    thumbnail or proxy track FFmpeg would pick; reads headers only."""
    videos = video_tracks(container)
    if len(videos) <= 1:
        return videos[0] if videos else None
    best = container.streams.best("video")

    def length(stream: Any) -> tuple:
        context = stream.codec_context
        pixels = context.width * context.height if context is not None else 0
        return int(stream.frames or 0), _declared_seconds(stream), pixels, stream is best

    return max(videos, key=length)


def square_pixel_width(stream: Any) -> int:
    """The width a player shows ``stream``'s frames at: the stored width times the sample aspect ratio (the
    container's, else the bitstream's, as FFmpeg's ``av_guess_sample_aspect_ratio``), rounded."""
    width = stream.codec_context.width
    for aspect in (stream.sample_aspect_ratio, stream.codec_context.sample_aspect_ratio):
        if aspect is not None and aspect > 0:
            return max(1, round(width * float(aspect))) if aspect != 1 else width
    return width


def video_stream_duration(container: Any, stream: Any) -> float:
    """Seconds of ``stream`` as the file declares them: its own duration, else Matroska's per-stream ``DURATION``
    tag, else the container's duration (which may be the audio's); 0 when none is declared."""
    return _declared_seconds(stream) or (container.duration or 0) / 1_000_000


def _declared_seconds(stream: Any) -> float:
    """``stream``'s own duration, else its Matroska ``DURATION`` tag; 0 when it declares neither."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    if tag:
        try:
            hours, minutes, seconds = tag.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        except ValueError:
            pass
    return 0.0


def shown_frame_count(stream: Any, duration: float) -> int:
    """The frames ``stream`` declares (0 when it does not), less those an edit list hides: never more than
    ``duration`` seconds (:func:`video_stream_duration`) hold at its frame rate."""
    declared = int(stream.frames or 0)
    rate = stream.average_rate or stream.guessed_rate or 0
    if declared and duration > 0 and rate:
        declared = min(declared, round(duration * float(rate)))
    return declared
