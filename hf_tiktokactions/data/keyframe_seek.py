"""Seek in a video stream so that decoding from there passes a wanted frame, whatever the container's seek index.

With B-frames a keyframe is decoded before the frames shown just ahead of it: in an AVI (UCF101, HMDB51) the
keyframe shown 13th is decoded 10th, so a backward seek to the wanted frame's own timestamp (frame 10, decoded 7th)
lands on that keyframe, after frame 10 went by, and frame 10 never comes out. So a read seeks to the last keyframe
*shown* at or before the wanted frame (:func:`keyframe_before`) and :func:`demux_from_keyframe` checks where the
seek landed: AVI's idx1, MP4's sample table and Matroska's cues put a seek to a keyframe's pts on that keyframe;
MPEG-TS, which has no index, bisects the file by decode time and needs the keyframe's dts. MPEG-PS (``.mpg``) has
no index either, and where one of its packets holds several frames a seek shifts the timestamps FFmpeg gives the
frames after it by one: :func:`timestamps_shift_after_a_seek` says when a reader must decode from the start.

AVI files written by Video for Windows tools (DivX, XviD: how UCF101 and HMDB51 are stored) may pack a B-frame
into the packet of the P-frame after it; their packets carry no usable timestamps and the decoder's frames come
out with made-up ones. :func:`frames_counted_in_display_order` says when a reader must count the decoder's output
frames from the start of the stream instead of matching timestamps.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

__all__ = [
    "Keyframe",
    "PacketTimeline",
    "demux_from_keyframe",
    "frames_counted_in_display_order",
    "keyframe_before",
    "keyframe_of",
    "timestamps_shift_after_a_seek",
    "untimed_frames_problem",
]

Keyframe = tuple[int, int]  # (pts, dts) of a keyframe packet


@dataclass
class PacketTimeline:
    """What a reader learns from a stream's packets, nothing decoded: the timestamps of the frames shown and the
    keyframes to seek to. Fill it with :meth:`add` while demuxing."""

    shown_pts: list[int] = field(default_factory=list)  # in packet order; sorted, frame i has the i-th
    keyframes: list[Keyframe] = field(default_factory=list)  # in packet order
    untimed: int = 0  # packets holding data but no timestamp

    def add(self, packet) -> None:
        """Record a PyAV packet. Packets an edit list cuts (a trim by stream copy) are decoded for their
        references but never shown: they are no frame, yet a keyframe among them still starts decoding."""
        if packet.pts is None:
            self.untimed += packet.size > 0  # the demuxer's empty end marker is no frame
            return
        keyframe = keyframe_of(packet)
        if keyframe is not None:
            self.keyframes.append(keyframe)
        if not packet.is_discard:
            self.shown_pts.append(packet.pts)

    def sorted_keyframes(self) -> list[Keyframe]:
        """The keyframes by pts, as :func:`keyframe_before` takes them."""
        return sorted(self.keyframes)


def untimed_frames_problem(timeline: PacketTimeline, container) -> str | None:
    """Why a reader cannot tell ``container``'s frames apart, or None. H.264 in MPEG-PS: frames without a timestamp
    of their own, where a reader that decodes from the start matches frames by timestamp (counting the timed
    packets would take 40 frames for 1)."""
    if timeline.untimed and timestamps_shift_after_a_seek(container) and not frames_counted_in_display_order(container):
        total = timeline.untimed + len(timeline.shown_pts)
        return f"{timeline.untimed} of its {total} frames carry no timestamp"
    return None


def keyframe_of(packet) -> Keyframe | None:
    """(pts, dts) of ``packet`` (a PyAV packet) when it is a keyframe with a timestamp, else None."""
    if not packet.is_keyframe or packet.pts is None:
        return None
    return packet.pts, packet.dts if packet.dts is not None else packet.pts


def keyframe_before(keyframes: Sequence[Keyframe], target_pts: int) -> Keyframe | None:
    """The last keyframe shown at or before ``target_pts`` (the first keyframe for an earlier target).

    ``keyframes`` are sorted by pts; None when there are none (a container that flags no keyframe).
    """
    if not keyframes:
        return None
    slot = bisect.bisect_right([pts for pts, _ in keyframes], target_pts) - 1
    return keyframes[max(slot, 0)]


def demux_from_keyframe(container, stream, keyframe: Keyframe | None, target_pts: int) -> Iterator | None:
    """The packets of ``stream`` from ``keyframe`` (or an earlier keyframe) on, or None when no seek lands there.

    Seeks backward to the keyframe's pts, then to its dts, and keeps the first seek whose first packet is a
    keyframe shown no later than ``keyframe``. Without a keyframe on record it seeks to ``target_pts`` unchecked.
    """
    if keyframe is None:
        container.seek(target_pts, backward=True, any_frame=False, stream=stream)
        return container.demux(stream)
    pts, dts = keyframe
    for seek_to in dict.fromkeys((pts, min(pts, dts))):
        container.seek(seek_to, backward=True, any_frame=False, stream=stream)
        packets = container.demux(stream)
        first = next(packets, None)
        if first is not None and first.is_keyframe and first.pts is not None and first.pts <= pts:
            return itertools.chain([first], packets)
    return None


def frames_counted_in_display_order(container) -> bool:
    """True for AVI: frame ``i`` is the ``i``-th frame the decoder returns from the start, whatever its timestamp."""
    return container.format.name == "avi"


def timestamps_shift_after_a_seek(container) -> bool:
    """True for MPEG-PS: a reader decodes from the first keyframe, matching frames by the timestamps a read from the
    start gives (after a seek FFmpeg may give a frame its neighbour's timestamp, and the keyframe flag with it)."""
    return container.format.name == "mpeg"
