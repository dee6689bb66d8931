"""The training videos a run could not decode, named with the reason, for its run records.

Datasets replace an undecodable training video by another one and go on; each item carries
``skipped``: ``[{"video": name, "reason": why}]`` for the videos it passed over, and the collators hand them on
in the batch (``skipped_videos``). The training loop adds each batch's to a :class:`SkippedVideos`; at the end
every rank's are gathered (a collective: every rank calls :meth:`SkippedVideos.gathered`). Checkpoints keep the
gathered record of the steps before them, and a resumed run counts on from it (:meth:`SkippedVideos.carry_on`):
its record covers every step of the run, whichever call trained it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from ..atomic_files import write_json_atomic

KEPT = 1000
"""At most this many distinct videos are named (a broken index would otherwise fill the record); all are counted."""
CHECKPOINT_FILE = "skipped_training_videos.json"
"""Where a fine-tuning checkpoint (Trainer's ``checkpoint-N``) keeps the record of the steps before it."""


class SkippedVideos:
    """Undecodable training videos seen by this process: how many times, and each one's reason."""

    def __init__(self) -> None:
        self.count = 0  # with the carried ones
        self.carried = 0  # of those, from the checkpoint a resumed run started from
        self.reasons: dict[str, str] = {}

    def add(self, entries: Iterable[dict[str, str]]) -> None:
        for entry in entries:
            self.count += 1
            self._name(entry)

    def _name(self, entry: dict[str, str]) -> None:
        """Keep ``entry``'s video with its first reason, up to ``KEPT`` videos."""
        if len(self.reasons) < KEPT:
            self.reasons.setdefault(entry["video"], entry["reason"])

    @property
    def counted_here(self) -> int:
        """This process's count since this call started (without what a checkpoint carried)."""
        return self.count - self.carried

    def carry_on(self, record: dict[str, Any] | None) -> None:
        """Count on from ``record``, a checkpoint's :meth:`gathered` (every rank's, up to its step); None: nothing.
        Call it on one process only: the next gathering sums the ranks, and would hold the record once per rank."""
        if not record:
            return
        self.count += record["count"]
        self.carried += record["count"]
        for entry in record["videos"]:
            self._name(entry)

    def gathered(self) -> dict[str, Any]:
        """Every rank's: ``{"count": times passed over, "videos": [{"video", "reason"}, ...]}``, each video once,
        sorted by name (a collective). ``gather_object``, not ``Accelerator.gather_for_metrics``: the latter cuts
        the list to the last batch's remainder while a training loader still counts as ending, and so dropped the
        other ranks' entries."""
        from accelerate.utils import gather_object

        per_rank = gather_object([(self.count, self.reasons)])  # one process: the list as it is
        merged: dict[str, str] = {}
        for _, reasons in per_rank:
            for video, reason in reasons.items():
                merged.setdefault(video, reason)
        videos = [{"video": video, "reason": merged[video]} for video in sorted(merged)[:KEPT]]
        return {"count": sum(count for count, _ in per_rank), "videos": videos}


class KeepInTrainerCheckpoints(TrainerCallback):
    """Writes every rank's record so far into each checkpoint Trainer saves (``CHECKPOINT_FILE``; on_save runs on
    every rank, so the gathering is collective); :func:`read_from_checkpoint` gives it back to a resumed run. It is
    written just after Trainer's own files: a run killed in between leaves a checkpoint without it, from which a
    resumed run counts afresh."""

    def __init__(self, skipped: SkippedVideos) -> None:
        self.skipped = skipped

    def on_save(self, args, state, control, **kwargs):
        record = self.skipped.gathered()
        if state.is_world_process_zero:
            write_json_atomic(Path(args.output_dir) / f"checkpoint-{state.global_step}" / CHECKPOINT_FILE, record)


def read_from_checkpoint(checkpoint: str | Path) -> dict[str, Any] | None:
    """The record a fine-tuning checkpoint keeps (None when it keeps none: saved before this record existed)."""
    path = Path(checkpoint) / CHECKPOINT_FILE
    return json.loads(path.read_text()) if path.is_file() else None
