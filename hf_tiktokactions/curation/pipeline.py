"""The curation of one video as three stages, each a plain function the engines place where they like:

1. :func:`video_stage` (CPU): probe the container; one decode pass shared by the PySceneDetect
   content detector and the clip buffer; choose the clip (:mod:`clip_selection`); re-encode it
   (H.264, short side 320, short GOP) atomically into ``DIR/clips/<video_id>.mp4``; count the
   written clip's frames from its container; sample ``num_frames`` frames evenly from the clip.
   Returns the metadata so far and the sampled frames (BGR uint8 (H, W, 3)) for the detector.
2. :func:`detector_stage` (GPU when there is one): person boxes on those frames. A detector that raises says
   nothing about the video (a GPU out of memory, a driver error): :class:`DetectorFailed`, nothing is recorded,
   and the rerun curates the video again.
3. :func:`decision_stage`: frames with a person >= ``min_person_frames`` -> ``pass``, else
   ``review`` (as in the paper: kept for a human look); then :func:`write_metadata` writes
   ``DIR/metadata/<video_id>.json`` atomically. That file is the video's commit point: a video
   with a metadata file is done, everything else is redone by a rerun.

No stage raises for a bad video: every failure becomes ``status="rejected"`` with its ``reason``.
A failure of the machine is not a verdict on the video: an ``OSError`` such as a full disk, an I/O
error or too many open files (:data:`MACHINE_FAULTS`) raises :class:`RunStopped` instead, nothing is
recorded for the video, and the rerun curates it. The originals are only ever read.
"""

from __future__ import annotations

import datetime as dt
import errno
import logging
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hf_tiktokactions import __version__
from hf_tiktokactions.atomic_files import write_json_atomic
from hf_tiktokactions.curation.inputs import VideoInput
from hf_tiktokactions.curation.stages.clip_selection import CandidateFrames, ClipRule, choose_clip
from hf_tiktokactions.curation.stages.clip_writer import ClipEncoding, clip_size, write_clip
from hf_tiktokactions.curation.stages.person_detection import PersonDetector
from hf_tiktokactions.curation.stages.probe import check_source, count_frames, probe_source
from hf_tiktokactions.curation.stages.sampling import evenly_spaced_indices
from hf_tiktokactions.errors import ConfigError, RunStopped, VideoRejected
from hf_tiktokactions.layout import CLIPS_DIR, METADATA_DIR, stored_path

logger = logging.getLogger(__name__)

PASS, REVIEW, REJECTED = "pass", "review", "rejected"
TRUNCATION_TOLERANCE = 0.02  # containers may declare a frame or two more than decode
MACHINE_FAULTS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EROFS}
)
"""errno values that say the machine failed (disk, file table, memory), whatever the video."""


def machine_fault(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is an ``OSError`` of :data:`MACHINE_FAULTS`."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in MACHINE_FAULTS:
            return True
        error = error.__cause__ or error.__context__
    return False


class DetectorFailed(Exception):
    """The person detector raised on a video's frames; the video is left for the rerun (no metadata file)."""


def run_stopped(source_path: str, error: BaseException) -> RunStopped:
    """The error that stops a run on a machine fault met while curating the video at ``source_path``."""
    return RunStopped(
        f"stopped while curating {source_path}: {type(error).__name__}: {error}. This is the machine, not the "
        "video: nothing was recorded for it. Fix the cause (free disk space, raise the open-file limit), then rerun "
        "the same command: finished videos are kept and the rest are curated"
    )


# x264's presets, fastest first: a name outside them failed every clip (recorded as rejected, and the folder then
# refused the corrected name as "other settings")
X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
)


@dataclass(frozen=True)
class CurationOptions:
    """Every setting that changes what a video's outputs are (the CLI's options carry the same names)."""

    detector: str = "yolov8n.pt"
    person_classes: tuple[str, ...] = ("person",)
    min_person_frames: int = 5
    num_frames: int = 10
    person_confidence: float = 0.25
    detector_image_size: int = 640
    min_seconds: float = 3.5
    max_seconds: float = 10.0
    short_side: int = 320
    preset: str = "superfast"
    crf: int = 23
    gop: int = 16
    scene_threshold: float = 27.0
    min_scene_len: int = 15
    max_pixels: int = 3840 * 2160
    max_aspect_ratio: float = 4.0
    max_buffer_seconds: float = 30.0
    threads: int = 1

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first option that cannot work."""
        checks = [
            (
                0 < self.min_seconds <= self.max_seconds,
                f"--min-seconds {self.min_seconds} must be > 0 and <= --max-seconds {self.max_seconds}",
            ),
            (self.num_frames >= 1, f"--num-frames must be at least 1, got {self.num_frames}"),
            (
                0 <= self.min_person_frames <= self.num_frames,
                f"--min-person-frames must be in 0..--num-frames ({self.num_frames}), got {self.min_person_frames}",
            ),
            (self.short_side >= 16, f"--short-side must be at least 16, got {self.short_side}"),
            (
                self.preset in X264_PRESETS,
                f"--x264-preset {self.preset!r} is not an x264 preset; choose one of {', '.join(X264_PRESETS)}",
            ),
            (self.gop >= 1 and self.min_scene_len >= 1, "--gop and --min-scene-len must be at least 1"),
            (
                self.max_pixels > 0 and self.max_aspect_ratio >= 1,
                "--max-pixels must be > 0 and --max-aspect-ratio >= 1",
            ),
            (bool(self.person_classes), "--person-classes needs at least one class name"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["person_classes"] = list(self.person_classes)
        return data

    @property
    def uses_detector(self) -> bool:
        return self.detector.lower() != "none"


@dataclass
class StageOutput:
    """What :func:`video_stage` hands on: the metadata record and the sampled frames (BGR, clip size)."""

    record: dict[str, Any]
    frames: list[Any] = field(default_factory=list)


def metadata_path(output: Path, video_id: str) -> Path:
    return output / METADATA_DIR / f"{video_id}.json"


def _base_record(video: VideoInput, options: CurationOptions) -> dict[str, Any]:
    return {
        "video_id": video.video_id,
        "source_path": video.source_path,
        "description": video.description,
        "hashtag": video.hashtag,
        "status": None,
        "reason": None,
        "reasons": [],
        "duration": None,
        "fps": None,
        "width": None,
        "height": None,
        "num_frames": None,
        "decoded_frames": None,
        "scenes": [],
        "clip_path": None,
        "clip_start": None,
        "clip_end": None,
        "clip_num_frames": None,
        "clip_width": None,
        "clip_height": None,
        "sampled_frames": [],
        "person_frames": None,
        "person_boxes": None,
        "detector": options.detector if options.uses_detector else None,
        "hf_tiktokactions_version": __version__,
    }


def _reject(record: dict[str, Any], reason: str) -> StageOutput:
    record.update(status=REJECTED, reason=reason, clip_path=None)
    record["reasons"].append(reason)
    return StageOutput(record)


def rejected_record(video: VideoInput, options: CurationOptions, reason: str) -> dict[str, Any]:
    """The record of a video that failed outside the stages (its worker process died, say)."""
    return _reject(_base_record(video, options), reason).record


def video_stage(video: VideoInput, output: Path, options: CurationOptions) -> StageOutput:
    """Probe, decode once, cut scenes, choose, write and check the clip, sample frames. Never raises."""
    record = _base_record(video, options)
    try:
        return _video_stage(video, Path(output), options, record)
    except VideoRejected as rejected:
        return _reject(record, rejected.reason)
    except Exception as error:
        if machine_fault(error):
            raise run_stopped(video.source_path, error) from None
        last = traceback.extract_tb(error.__traceback__)[-1]
        return _reject(
            record, f"internal error: {type(error).__name__}: {error} ({Path(last.filename).name}:{last.lineno})"
        )


def _video_stage(video: VideoInput, output: Path, options: CurationOptions, record: dict[str, Any]) -> StageOutput:
    from hf_tiktokactions.curation.stages.decode_pass import decode_pass, read_frame_range
    from hf_tiktokactions.curation.stages.scenes import SceneCutter

    probe = probe_source(video.source_path)
    record.update(
        width=probe.width,
        height=probe.height,
        fps=round(probe.fps, 6),
        num_frames=probe.num_frames,
        duration=round(probe.duration, 6),
    )
    check_source(probe, options.max_pixels, options.max_aspect_ratio, options.min_seconds)
    fps = probe.fps if probe.fps > 0 else 30.0
    stored_width, stored_height = clip_size(probe.width, probe.height, options.short_side)
    candidates = CandidateFrames(
        max_clip_frames=int(options.max_seconds * fps + 1e-6),
        max_buffered_frames=int(options.max_buffer_seconds * fps),
        cut_lag_frames=2 * options.min_scene_len + 8,
    )
    cutter = SceneCutter(fps, options.scene_threshold, options.min_scene_len)
    decoded = decode_pass(video.source_path, fps, stored_width, stored_height, cutter, candidates, options.threads)
    record["decoded_frames"] = decoded.num_frames
    # a phone video's frames are turned upright: the index records the size a viewer sees
    record["width"], record["height"] = decoded.upright_size(probe.width, probe.height)
    width, height = decoded.upright_size(stored_width, stored_height)
    if decoded.num_frames:
        record["duration"] = round(decoded.times[-1] + 1.0 / fps, 6)
        record["scenes"] = [
            {
                "start_frame": s.start,
                "end_frame": s.end,
                "start": round(decoded.times[s.start], 6),
                "end": round(decoded.times[s.end] if s.end < decoded.num_frames else record["duration"], 6),
            }
            for s in decoded.scenes
        ]
    if decoded.error:
        raise VideoRejected(decoded.error)
    if probe.num_frames and decoded.num_frames < probe.num_frames * (1 - TRUNCATION_TOLERANCE) - 1:
        raise VideoRejected(
            f"truncated: decoded {decoded.num_frames} of the {probe.num_frames} frames the container declares"
        )
    span = choose_clip(
        candidates.best, candidates.window, decoded.times, fps, ClipRule(options.min_seconds, options.max_seconds)
    )
    frames = candidates.window_frames
    if frames is None:  # the scene outgrew max_buffer_seconds; decode its window again
        frames = read_frame_range(
            video.source_path, span.start_frame, span.end_frame, stored_width, stored_height, options.threads
        )
        record["reasons"].append("clip window decoded a second time (scene longer than --max-buffer-seconds)")
    frames = frames[: span.num_frames]
    clip_relative = f"{CLIPS_DIR}/{video.video_id}.mp4"
    encoding = ClipEncoding(options.short_side, options.preset, options.crf, options.gop, options.threads)
    write_clip(frames, decoded.times[span.start_frame : span.end_frame], fps, output / clip_relative, encoding)
    clip_frames = count_frames(output / clip_relative)
    if clip_frames != len(frames):
        (output / clip_relative).unlink(missing_ok=True)
        raise VideoRejected(f"clip check failed: wrote {len(frames)} frames, the clip container holds {clip_frames}")
    sampled = evenly_spaced_indices(clip_frames, options.num_frames)
    record.update(
        clip_path=clip_relative,
        clip_start=span.start,
        clip_end=span.end,
        clip_num_frames=clip_frames,
        clip_width=width,
        clip_height=height,
        chosen_scene={"start_frame": candidates.best.start, "end_frame": candidates.best.end},
        clip_start_frame=span.start_frame,
        sampled_frames=sampled,
    )
    return StageOutput(record, [frames[i].to_ndarray(format="bgr24") for i in sampled])


def detector_stage(stage: StageOutput, detector: PersonDetector | None) -> list[list[dict[str, Any]]] | None:
    """Person boxes per sampled frame, or ``None`` (no detector, or a rejected video). A detector error raises
    :class:`DetectorFailed` (it was recorded as ``review`` once, and the rerun then never asked the detector again)."""
    if detector is None or stage.record["status"] == REJECTED:
        return None
    try:
        return detector.detect(stage.frames)
    except Exception as error:
        if machine_fault(error):
            raise run_stopped(stage.record["source_path"], error) from None
        raise DetectorFailed(
            f"the person detector failed on {stage.record['source_path']} ({type(error).__name__}: {error}); "
            "nothing was recorded for it, the rerun curates it again"
        ) from error


def decision_stage(
    record: dict[str, Any], detections: list[list[dict[str, Any]]] | None, options: CurationOptions
) -> dict[str, Any]:
    """Set ``status`` / ``reason`` / ``person_frames`` from the detections; rejected records pass through."""
    if record["status"] == REJECTED:
        return record
    if not options.uses_detector:
        record.update(status=PASS, reason="person filter off (--detector none)")
    elif detections is None:
        record.update(status=REVIEW, reason=record["reasons"][-1] if record["reasons"] else "no detections")
    else:
        person_frames = sum(1 for boxes in detections if boxes)
        record.update(person_frames=person_frames, person_boxes=detections)
        enough = person_frames >= options.min_person_frames
        record.update(
            status=PASS if enough else REVIEW,
            reason=f"a person in {person_frames} of {len(detections)} sampled frames"
            + ("" if enough else f" (< --min-person-frames {options.min_person_frames})"),
        )
    record["reasons"].append(record["reason"])
    return record


def write_metadata(output: Path, record: dict[str, Any]) -> Path:
    """Commit one video: ``DIR/metadata/<video_id>.json``, written atomically, its paths relative to ``DIR``."""
    path = metadata_path(Path(output), record["video_id"])
    paths = {key: stored_path(record.get(key), output) for key in ("source_path", "clip_path")}
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    write_json_atomic(path, {**record, **paths, "processed_at": now})
    return path


def curate_video(
    video: VideoInput, output: Path, options: CurationOptions, detector: PersonDetector | None
) -> dict[str, Any] | None:
    """All stages for one video in this process, metadata written; returns the record, or ``None`` when the
    detector failed (logged; left for the rerun)."""
    stage = video_stage(video, output, options)
    try:
        detections = detector_stage(stage, detector)
    except DetectorFailed as failed:
        logger.warning("%s", failed)
        return None
    record = decision_stage(stage.record, detections, options)
    try:
        write_metadata(output, record)
    except OSError as error:
        if machine_fault(error):
            raise run_stopped(video.source_path, error) from None
        raise
    return record
