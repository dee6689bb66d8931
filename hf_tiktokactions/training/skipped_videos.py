"""The training videos a run could not decode, named with the reason, for its run records.

Datasets replace an undecodable training video by another one and go on; each item carries
``skipped``: ``[{"video": name, "reason": why}]`` for the videos it passed over, and the collators hand them on
in the batch (``skipped_videos``). The training loop adds each batch's to a :class:`SkippedVideos`; at the end
every rank's are gathered (a collective: every rank calls :meth:`SkippedVideos.gathered`). A resumed run names
those of the steps it trained (the counts are not kept in checkpoints).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

KEPT = 1000
"""At most this many distinct videos are named (a broken index would otherwise fill the record); all are counted."""


class SkippedVideos:
    """Undecodable training videos seen by this process: how many times, and each one's reason."""

    def __init__(self) -> None:
        self.count = 0
        self.reasons: dict[str, str] = {}

    def add(self, entries: Iterable[dict[str, str]]) -> None:
        for entry in entries:
            self.count += 1
            if len(self.reasons) < KEPT:
                self.reasons.setdefault(entry["video"], entry["reason"])

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
