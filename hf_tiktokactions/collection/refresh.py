"""Which held videos are still available: the id look-up the Research API terms ask for every 15 days.

The query endpoint takes a ``video_id`` condition with operation ``IN``, but still needs a creation-date
window of at most 30 days. So the held ids are sorted by ``create_time`` (from the collection's
``videos.jsonl``) and cut into batches of at most :data:`MAX_IDS_PER_QUERY` ids spanning at most 30 days;
each batch is one query (paged while ``has_more``). An id the API does not return is no longer
available: deleted, made private, or its creator's account closed.

Ids without a known ``create_time`` are never declared unavailable: they are reported as unchecked.
When the daily quota runs out, the batches not yet asked about are unchecked too, and what was
confirmed so far stands. Batches are asked in the order of their ids' last look-up (``checked_at``), never
looked up first: a refresh that the quota stops goes on, the next day, where it stopped instead of asking the
same first batches again (the daily quota, 1000 requests and 100,000 records, is smaller than a large index).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hf_tiktokactions.atomic_files import read_jsonl
from hf_tiktokactions.collection.collect import MAX_WINDOW_DAYS
from hf_tiktokactions.collection.tiktok_api import MAX_COUNT, ResearchApiClient
from hf_tiktokactions.errors import ConfigError, QuotaExhausted

logger = logging.getLogger(__name__)

MAX_IDS_PER_QUERY = MAX_COUNT
"""Ids per ``IN`` condition: one page can return them all."""


@dataclass(frozen=True)
class IdBatch:
    """Ids created between ``start_date`` and ``end_date`` (``YYYYMMDD``, at most 30 days apart)."""

    ids: tuple[str, ...]
    start_date: str
    end_date: str


@dataclass
class Availability:
    """The outcome of a refresh look-up. ``stopped`` is the quota message when it ran out."""

    available: set[str] = field(default_factory=set)
    unavailable: set[str] = field(default_factory=set)
    unchecked: set[str] = field(default_factory=set)
    requests: int = 0
    stopped: str | None = None
    checked_now: set[str] = field(default_factory=set)  # looked up in this run (available or not)

    def as_json(self) -> dict[str, Any]:
        return {
            "checked": len(self.available) + len(self.unavailable),
            "available": len(self.available),
            "unavailable": len(self.unavailable),
            "unchecked": len(self.unchecked),
            "requests": self.requests,
            "stopped": self.stopped,
            "unavailable_ids": sorted(self.unavailable),
        }


def creation_times(metadata_file: str | Path) -> dict[str, int]:
    """``id -> create_time`` (Unix seconds) from a collection's ``videos.jsonl``."""
    path = Path(metadata_file)
    if not path.is_file():
        raise ConfigError(f"--metadata {path}: no such file; pass the videos.jsonl written by collect_tiktok.py")
    try:
        records = read_jsonl(path)
    except ValueError as error:
        raise ConfigError(f"--metadata {path} is not JSON lines ({error})") from None
    return {
        str(r["id"]): int(r["create_time"])
        for r in records
        if isinstance(r, dict) and "id" in r and r.get("create_time") is not None
    }


def _day(timestamp: int) -> dt.date:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).date()


def id_batches(
    created: dict[str, int], max_ids: int = MAX_IDS_PER_QUERY, max_days: int = MAX_WINDOW_DAYS
) -> list[IdBatch]:
    """Ids in creation order, cut into batches of at most ``max_ids`` ids within ``max_days`` days."""
    batches: list[IdBatch] = []
    ids: list[str] = []
    first: dt.date | None = None
    last: dt.date | None = None
    for video_id, created_at in sorted(created.items(), key=lambda kv: (kv[1], kv[0])):
        day = _day(created_at)
        if ids and (len(ids) >= max_ids or (day - first).days > max_days - 1):
            batches.append(IdBatch(tuple(ids), f"{first:%Y%m%d}", f"{last:%Y%m%d}"))
            ids = []
        if not ids:
            first = day
        ids.append(video_id)
        last = day
    if ids:
        batches.append(IdBatch(tuple(ids), f"{first:%Y%m%d}", f"{last:%Y%m%d}"))
    return batches


def _returned_ids(client: ResearchApiClient, batch: IdBatch) -> tuple[set[str], int]:
    found: set[str] = set()
    cursor, search_id, requests = None, None, 0
    while True:
        page = client.query_video_ids(
            list(batch.ids), batch.start_date, batch.end_date, cursor=cursor, search_id=search_id
        )
        requests += 1
        found.update(str(video.get("id")) for video in page.videos)
        if not page.has_more or page.cursor == (cursor or 0):  # a cursor that does not move: the page repeats
            return found, requests
        cursor, search_id = page.cursor, page.search_id


def check_availability(
    client: ResearchApiClient,
    video_ids: Iterable[str],
    created: dict[str, int],
    checked_at: dict[str, float] | None = None,
) -> Availability:
    """Ask the API which of ``video_ids`` it still serves, the batches whose ids were looked up longest ago first
    (``checked_at``: id -> Unix time of its last look-up); see the module docstring for what is unchecked."""
    result = Availability()
    video_ids = set(video_ids)
    dated = {i: created[i] for i in video_ids if i in created}
    result.unchecked = video_ids - set(dated)
    checked_at = checked_at or {}
    batches = sorted(id_batches(dated), key=lambda batch: max(checked_at.get(i, 0.0) for i in batch.ids))
    for number, batch in enumerate(batches):
        try:
            found, requests = _returned_ids(client, batch)
        except QuotaExhausted as error:
            result.stopped = str(error)
            for rest in batches[number:]:
                result.unchecked.update(rest.ids)
            logger.warning("quota exhausted after %d of %d batches; the rest stays unchecked", number, len(batches))
            break
        result.requests += requests
        result.checked_now.update(batch.ids)
        result.available.update(i for i in batch.ids if i in found)
        result.unavailable.update(i for i in batch.ids if i not in found)
    return result
