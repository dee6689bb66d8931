"""A constructed curation output for the statistics, card and retention tests, written with the project's
own writers (``pipeline.write_metadata`` per video, then ``index.save_index``), so its schema is the real one.

``build_output(path, spec)`` takes rows of ``(hashtag, status, count, kind)``; ``kind`` picks the scene
layout and the reason: ``"4s"``, ``"7s"``, ``"12s"`` (scene length before clipping; clips of 4, 7 and
10 s), ``"short_scene"`` (longest scene 2.1 s, rejected), ``"short_file"`` (2 s source, no scene,
rejected at probe), ``"missing"`` (file not found: no duration, no scene).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from hf_tiktokactions.curation.index import save_index
from hf_tiktokactions.curation.pipeline import write_metadata

FPS = 30.0
CATALOGUE_CSV = """hashtag,category,principle,notes
salsa,dance,specification,test
tango,dance,specification,test
waltz,dance,specification,test
piano,kinetics,generalization,test
sax,kinetics,noun_substitution,test
chacha,dance,specification,no videos in the test index
"""


def _scene(start: float, seconds: float) -> dict[str, Any]:
    return {
        "start_frame": int(start * FPS),
        "end_frame": int((start + seconds) * FPS),
        "start": start,
        "end": start + seconds,
    }


def make_record(
    video_id: str, hashtag: str | None, status: str, kind: str, source_path: str | None = None, person_frames: int = 7
) -> dict[str, Any]:
    """One metadata record as the pipeline writes it (the fields the index and the statistics read)."""
    record: dict[str, Any] = {
        "video_id": video_id, "source_path": source_path or f"/data/videos/{video_id}.mp4",
        "description": f"#{hashtag}", "hashtag": hashtag, "status": status, "reason": None, "reasons": [],
        "duration": None, "fps": FPS,
        "width": 576, "height": 1024, "num_frames": None, "scenes": [], "clip_path": None, "clip_start": None,
        "clip_end": None, "clip_num_frames": None, "sampled_frames": [], "person_frames": None,
    }  # fmt: skip
    if kind in ("4s", "7s", "12s"):
        seconds = float(kind[:-1])
        # a 1 s scene first, so the statistics must pick the chosen scene, not the first one
        scenes = [_scene(0.0, 1.0), _scene(1.0, seconds)]
        clip = min(seconds, 10.0)
        start = 1.0 + (seconds - clip) / 2
        record.update(
            duration=1.0 + seconds, scenes=scenes,
            chosen_scene={"start_frame": scenes[1]["start_frame"], "end_frame": scenes[1]["end_frame"]},
            clip_path=f"clips/{video_id}.mp4", clip_start=start, clip_end=start + clip, clip_num_frames=int(clip * FPS),
            sampled_frames=list(range(0, int(clip * FPS), int(clip * FPS) // 10))[:10],
        )  # fmt: skip
        if status == "pass":
            record.update(person_frames=person_frames, reason=f"a person in {person_frames} of 10 sampled frames")
        else:
            record.update(
                person_frames=person_frames % 5,
                reason=f"a person in {person_frames % 5} of 10 sampled frames (< --min-person-frames 5)",
            )
    elif kind == "short_scene":
        record.update(
            duration=4.2,
            scenes=[_scene(0.0, 2.1), _scene(2.1, 2.1)],
            reason="too short: the longest scene lasts 2.10 s < 3.5 s",
        )
    elif kind == "short_file":
        record.update(duration=2.0, reason="too short: 2.00 s < 3.5 s")
    elif kind == "missing":
        record.update(reason="file not found")
    else:
        raise ValueError(kind)
    record["reasons"] = [record["reason"]]
    return record


def build_output(output: Path, spec: Iterable[tuple[str | None, str, int, str]]) -> list[dict[str, Any]]:
    """Write one metadata file per video of ``spec`` and the index; returns the records."""
    records = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", lambda fd: None)  # thousands of tiny files: durability is not under test here
        for hashtag, status, count, kind in spec:
            for i in range(count):
                record = make_record(
                    f"{hashtag or 'none'}-{status}-{kind}-{i:04d}", hashtag, status, kind, person_frames=5 + i % 6
                )
                write_metadata(output, record)
                records.append(record)
        save_index(output)
    return records


# The appendix-sized index the statistics and card tests share: pass counts 805 / 610 / 420 / 230 / 199 / 10
# put one hashtag in each of 800+, 600-800, 400-600, 200-400 and two below 200.
APPENDIX_SPEC = [
    ("salsa", "pass", 805, "12s"),
    ("tango", "pass", 610, "7s"),
    ("tango", "review", 6, "7s"),
    ("waltz", "pass", 420, "4s"),
    ("waltz", "rejected", 3, "short_scene"),
    ("piano", "pass", 230, "7s"),
    ("piano", "rejected", 2, "short_file"),
    ("sax", "pass", 199, "4s"),
    ("mystery", "pass", 10, "12s"),
    (None, "rejected", 1, "missing"),
]
