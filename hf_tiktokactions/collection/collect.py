"""Collect video metadata for a list of hashtags, resumably, into ``DIR/videos.jsonl``.

The date range is cut into windows of at most 30 days (the API's limit). For each hashtag, each
window is paged with ``cursor`` + ``search_id`` while ``has_more``; videos already collected (by any
hashtag) are skipped, and a hashtag stops once it has ``max_per_hashtag`` videos.

Files in the output directory:

* ``videos.jsonl`` -- one line per video: the requested fields plus ``hashtag`` (the query that
  found it first). Only whole pages are appended, each followed by fsync;
* ``state.json`` -- the request, the exact position of the next request (hashtag, window, cursor,
  search_id) and the committed length of ``videos.jsonl``; replaced atomically after every page.
  On start, anything in ``videos.jsonl`` past the committed length (a page written just before a
  kill, or half a line) is cut off and fetched again, so every video ends up there exactly once;
* ``invalid_videos.jsonl`` -- videos whose id is not a Research API id (digits only), with the
  hashtag and the reason; they are left out of ``videos.jsonl`` (an id becomes a file name later),
  committed with the page like ``videos.jsonl``. The run goes on; the CLI then ends with exit status 4;
* ``summary.json`` -- per-hashtag counts and the run's outcome, rewritten at the end of each run;
* ``.collect.lock`` -- held while a run writes the folder; a second run on it is refused.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from hf_tiktokactions import __version__
from hf_tiktokactions.atomic_files import append_jsonl, read_json, read_jsonl, truncate_to, write_json_atomic
from hf_tiktokactions.collection.hashtags import Hashtag
from hf_tiktokactions.collection.tiktok_api import DEFAULT_FIELDS, MAX_COUNT, VIDEO_FIELDS, ResearchApiClient
from hf_tiktokactions.errors import ApiError, ConfigError, OutputStateError, QuotaExhausted, TikTokActionsError
from hf_tiktokactions.layout import COLLECTION_LOCK_FILE as LOCK_FILE
from hf_tiktokactions.layout import COLLECTION_STATE_FILE as STATE_FILE
from hf_tiktokactions.layout import COLLECTION_SUMMARY_FILE as SUMMARY_FILE
from hf_tiktokactions.layout import INVALID_VIDEOS_FILE as INVALID_FILE
from hf_tiktokactions.layout import VIDEOS_FILE
from hf_tiktokactions.output_guard import EXIT_INVALID_IDS, InvalidVideoId, lock_output, research_video_id

logger = logging.getLogger(__name__)

STATE_FORMAT = 1
MAX_WINDOW_DAYS = 30
"""Days covered by one query window, both ends included (``end - start`` is at most 29 days)."""


EXIT_OK = 0
EXIT_ERROR = 1
EXIT_QUOTA_EXHAUSTED = 3
"""Exit status of ``collect_tiktok.py`` when it stopped on the quota and can be resumed."""


def parse_date(value: str, option: str) -> dt.date:
    """``YYYYMMDD`` -> date, or a clear error naming the option."""
    try:
        return dt.datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise ConfigError(f"{option} {value!r} is not a date in the form YYYYMMDD (e.g. 20230115)") from None


def date_windows(start: dt.date, end: dt.date, max_days: int = MAX_WINDOW_DAYS) -> list[tuple[str, str]]:
    """Split ``start..end`` (inclusive) into consecutive windows of at most ``max_days`` days."""
    if end < start:
        raise ConfigError(f"the end date {end:%Y%m%d} is before the start date {start:%Y%m%d}")
    windows = []
    while start <= end:
        stop = min(end, start + dt.timedelta(days=max_days - 1))
        windows.append((f"{start:%Y%m%d}", f"{stop:%Y%m%d}"))
        start = stop + dt.timedelta(days=1)
    return windows


def parse_fields(spec: str | None) -> tuple[str, ...]:
    """``--fields`` -> a tuple that always starts with ``id`` (needed to de-duplicate)."""
    if not spec:
        return DEFAULT_FIELDS
    fields = [f.strip() for f in spec.split(",") if f.strip()]
    unknown = [f for f in fields if f not in VIDEO_FIELDS]
    if unknown:
        raise ConfigError(
            f"--fields: unknown video field(s) {', '.join(unknown)}; the Research API offers {', '.join(VIDEO_FIELDS)}"
        )
    return ("id", *[f for f in dict.fromkeys(fields) if f != "id"])


@dataclass(frozen=True)
class CollectionRequest:
    """What to collect. Rerunning with the same request resumes; a different one is refused."""

    hashtags: tuple[str, ...]
    start_date: str
    end_date: str
    max_per_hashtag: int
    fields: tuple[str, ...] = DEFAULT_FIELDS

    def __post_init__(self) -> None:
        if self.max_per_hashtag < 1:
            raise ConfigError(f"--max-per-hashtag must be at least 1, got {self.max_per_hashtag}")
        if not self.hashtags:
            raise ConfigError("no hashtags to collect")
        date_windows(parse_date(self.start_date, "--start-date"), parse_date(self.end_date, "--end-date"))

    @property
    def windows(self) -> list[tuple[str, str]]:
        return date_windows(parse_date(self.start_date, "--start-date"), parse_date(self.end_date, "--end-date"))

    def as_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass
class Position:
    """The next request to send: ``hashtag_index == len(hashtags)`` means done."""

    hashtag_index: int = 0
    window_index: int = 0
    cursor: int | None = None
    search_id: str | None = None


@dataclass
class CollectionResult:
    """What a run achieved; ``status`` is ``complete``, ``quota_exhausted`` or ``failed``."""

    status: str
    message: str
    output: Path
    total_videos: int
    new_videos: int
    requests_this_run: int
    per_hashtag: dict[str, dict[str, Any]] = field(default_factory=dict)
    invalid_videos: int = 0


class _Collection:
    """The on-disk state of one output directory."""

    def __init__(self, output: Path, request: CollectionRequest) -> None:
        self.output = output
        self.request = request
        self.videos_path = output / VIDEOS_FILE
        self.state_path = output / STATE_FILE
        self.invalid_path = output / INVALID_FILE
        self.position = Position()
        self.committed_bytes = 0
        self.invalid_committed_bytes = 0
        self.invalid_seen: set[str] = set()
        self.requests_total = 0
        self.runs = 0
        self.seen: set[str] = set()
        self.counts: dict[str, int] = {tag: 0 for tag in request.hashtags}

    def load(self) -> bool:
        """Restore the state of an earlier run; return whether there was one."""
        self.output.mkdir(parents=True, exist_ok=True)
        if not self.state_path.exists():
            if self.videos_path.exists() and self.videos_path.stat().st_size:
                raise OutputStateError(
                    f"{self.videos_path} exists but {self.state_path} does not; "
                    "use an empty --output-dir (or restore state.json)"
                )
            truncate_to(self.videos_path, 0)
            truncate_to(self.invalid_path, 0)
            self.save("running", "")
            return False
        try:
            state = read_json(self.state_path)
            recorded = state["request"]
            position = Position(**state["position"])
            committed = int(state["committed_bytes"])
            invalid_committed = int(state.get("invalid_committed_bytes", 0))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise OutputStateError(f"{self.state_path} cannot be read ({exc}); use a new --output-dir") from None
        if recorded != self.request.as_json():
            changed = sorted(
                k
                for k in recorded.keys() | self.request.as_json().keys()
                if recorded.get(k) != self.request.as_json().get(k)
            )
            raise OutputStateError(
                f"{self.output} holds a collection made with different {', '.join(changed)}; "
                "rerun with the original options to resume it, or choose a new --output-dir"
            )
        try:
            if truncate_to(self.videos_path, committed):
                logger.info("cut an uncommitted tail off %s (it is fetched again)", self.videos_path)
            truncate_to(self.invalid_path, invalid_committed)
        except (OSError, ValueError) as exc:
            raise OutputStateError(f"{self.videos_path} does not match {self.state_path}: {exc}") from None
        self.invalid_seen = {str(record["id"]) for record in read_jsonl(self.invalid_path)}
        self.invalid_committed_bytes = invalid_committed
        for record in read_jsonl(self.videos_path):
            self.seen.add(str(record["id"]))
            self.counts[record["hashtag"]] = self.counts.get(record["hashtag"], 0) + 1
        self.position = position
        self.committed_bytes = committed
        self.requests_total = int(state.get("requests_total", 0))
        self.runs = int(state.get("runs", 0))
        return True

    def save(self, status: str, message: str) -> None:
        tags = self.request.hashtags
        windows = self.request.windows
        i, w = self.position.hashtag_index, self.position.window_index
        write_json_atomic(
            self.state_path,
            {
                "format": STATE_FORMAT,
                "request": self.request.as_json(),
                "status": status,
                "message": message,
                "position": asdict(self.position),
                "next": (
                    {"hashtag": tags[i], "window": list(windows[w]) if w < len(windows) else None}
                    if i < len(tags)
                    else None
                ),
                "committed_bytes": self.committed_bytes,
                "invalid_committed_bytes": self.invalid_committed_bytes,
                "videos": len(self.seen),
                "invalid_videos": len(self.invalid_seen),
                "requests_total": self.requests_total,
                "runs": self.runs,
                "updated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            },
        )

    def commit_page(
        self, records: list[dict[str, Any]], invalid: list[dict[str, Any]], tag: str, next_position: Position
    ) -> None:
        """Append a page's new (and invalid) videos, then move the position past it, in that order."""
        if invalid:
            self.invalid_committed_bytes = append_jsonl(self.invalid_path, invalid)
            self.invalid_seen.update(str(record["id"]) for record in invalid)
        self.committed_bytes = append_jsonl(self.videos_path, records)
        for record in records:
            self.seen.add(str(record["id"]))
        self.counts[tag] += len(records)
        self.position = next_position
        self.save("running", "")


def _tasks(request: CollectionRequest, position: Position) -> Iterator[tuple[int, int]]:
    windows = len(request.windows)
    for i in range(position.hashtag_index, len(request.hashtags)):
        for w in range(position.window_index if i == position.hashtag_index else 0, windows):
            yield i, w


def collect(
    client: ResearchApiClient,
    request: CollectionRequest,
    output: str | Path,
    catalogue: list[Hashtag] | None = None,
    max_requests: int | None = None,
    progress: bool = True,
) -> CollectionResult:
    """Run (or resume) a collection into ``output``; see the module docstring for the files.

    Stops early, with an exact resumable position, when the daily quota is exhausted or
    ``max_requests`` query requests have been sent in this run (status ``quota_exhausted``).
    Errors that retrying cannot fix are raised after the state is saved (status ``failed``).
    """
    output = Path(output)
    lock = lock_output(output, LOCK_FILE, "collection")
    try:
        return _collect_locked(client, request, output, catalogue, max_requests, progress)
    finally:
        lock.close()


def _collect_locked(
    client: ResearchApiClient,
    request: CollectionRequest,
    output: Path,
    catalogue: list[Hashtag] | None,
    max_requests: int | None,
    progress: bool,
) -> CollectionResult:
    state = _Collection(output, request)
    resumed = state.load()
    state.runs += 1
    before = len(state.seen)
    windows = request.windows
    if resumed:
        logger.info("resuming %s: %d videos so far, next %s", output, before, _describe(request, state.position))
    sent_before = client.requests_sent
    status, message = "complete", ""
    bar = tqdm(
        total=len(request.hashtags), initial=state.position.hashtag_index, unit="hashtag", disable=not progress or None
    )
    try:
        for i, w in _tasks(request, state.position):
            tag = request.hashtags[i]
            if bar.n != i:
                bar.update(i - bar.n)
            bar.set_postfix_str(f"#{tag} {windows[w][0]}", refresh=False)
            if state.position.window_index != w or state.position.hashtag_index != i:
                state.position = Position(i, w)
            _collect_window(client, request, state, i, w, max_requests, sent_before)
            state.position = Position(i, w + 1)
        state.position = Position(len(request.hashtags), 0)
        bar.update(len(request.hashtags) - bar.n)
    except QuotaExhausted as exc:
        status = "quota_exhausted"
        message = (
            f"{exc}. Stopped before {_describe(request, state.position)}; "
            "rerun the same command (after the daily reset) to resume there."
        )
    except TikTokActionsError as exc:
        status, message = "failed", str(exc)
        state.requests_total += client.requests_sent - sent_before
        state.save(status, message)
        raise
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM: the requests sent count against the quota all the same
        state.requests_total += client.requests_sent - sent_before
        state.save("running", "interrupted; rerun the same command to resume")
        raise
    finally:
        bar.close()
    state.requests_total += client.requests_sent - sent_before
    state.save(status, message)
    result = CollectionResult(
        status=status,
        message=message,
        output=output,
        total_videos=len(state.seen),
        new_videos=len(state.seen) - before,
        requests_this_run=client.requests_sent - sent_before,
        per_hashtag=_per_hashtag(request, state, catalogue),
        invalid_videos=len(state.invalid_seen),
    )
    _write_summary(result, state)
    return result


def _collect_window(
    client: ResearchApiClient,
    request: CollectionRequest,
    state: _Collection,
    i: int,
    w: int,
    max_requests: int | None,
    sent_before: int,
) -> None:
    """Page through window ``w`` of hashtag ``i`` until it ends or the hashtag has its videos, committing each page.

    ``max_requests``: this run's request budget (None: no limit); ``sent_before``: the client's request count when
    the run started.
    """
    tag = request.hashtags[i]
    windows = request.windows
    asked_again = False
    while state.counts[tag] < request.max_per_hashtag:
        if max_requests is not None and client.requests_sent - sent_before >= max_requests:
            raise QuotaExhausted(f"the request budget of this run (--max-requests {max_requests}) is spent")
        pos = state.position
        room = request.max_per_hashtag - state.counts[tag]
        try:
            page = client.query_videos(
                tag,
                *windows[w],
                fields=request.fields,
                cursor=pos.cursor,
                search_id=pos.search_id,
                max_count=min(MAX_COUNT, room),  # the daily quota counts records too
            )
        except ApiError as error:
            if not (pos.search_id and error.code == "invalid_params"):
                raise
            if asked_again:  # the API refuses this page of a fresh search too ("Invalid count or cursor")
                logger.warning("#%s %s: %s again after asking anew; window ended", tag, windows[w][0], error)
                break
            # A search_id names a *cached* search: a resume the next day may find it expired. The window is
            # asked again from its start, once; the videos already collected are kept once.
            logger.warning("#%s %s: %s; querying this window again from its start", tag, windows[w][0], error)
            state.position = Position(i, w)
            asked_again = True
            continue
        fresh, invalid = _sort_page(page.videos, tag, state, room)
        stuck = pos.cursor is not None and page.cursor == pos.cursor  # a page that does not move on repeats itself
        if stuck and page.has_more:
            logger.warning("#%s %s: the API returned the same cursor again; window ended", tag, windows[w][0])
        more = page.has_more and len(fresh) < room and not stuck
        nxt = Position(i, w, page.cursor, page.search_id or pos.search_id) if more else Position(i, w + 1)
        state.commit_page(fresh, invalid, tag, nxt)
        if not more:
            break


def _sort_page(videos: list[dict], tag: str, state: _Collection, room: int) -> tuple[list[dict], list[dict]]:
    """Split one page's videos into new ones (at most ``room``, tagged with ``tag``) and newly seen invalid ids.

    Videos without an id, already collected, repeated within the page or over ``room`` are dropped.
    """
    fresh: list[dict] = []
    invalid: list[dict] = []
    keys: set[str] = set()
    for video in videos:
        if video.get("id") is None:
            continue
        try:
            key = research_video_id(video["id"])
        except InvalidVideoId as exc:
            if str(video["id"]) not in state.invalid_seen | {str(v["id"]) for v in invalid}:
                logger.warning("#%s: %s", tag, exc)
                invalid.append({"id": video["id"], "hashtag": tag, "reason": str(exc)})
            continue
        if key in state.seen or key in keys or len(fresh) == room:
            continue
        keys.add(key)
        fresh.append({**video, "hashtag": tag})
    return fresh, invalid


def _describe(request: CollectionRequest, position: Position) -> str:
    if position.hashtag_index >= len(request.hashtags):
        return "nothing (the collection is complete)"
    windows = request.windows
    w = min(position.window_index, len(windows) - 1)
    return (
        f"hashtag #{request.hashtags[position.hashtag_index]}, window {windows[w][0]}-{windows[w][1]}, "
        f"cursor {position.cursor or 0}" + (f", search_id {position.search_id}" if position.search_id else "")
    )


def _per_hashtag(
    request: CollectionRequest, state: _Collection, catalogue: list[Hashtag] | None
) -> dict[str, dict[str, Any]]:
    info = {h.name: h for h in catalogue or []}
    done = state.position.hashtag_index
    out = {}
    for i, tag in enumerate(request.hashtags):
        entry: dict[str, Any] = {
            "videos": state.counts.get(tag, 0),
            "reached_max": state.counts.get(tag, 0) >= request.max_per_hashtag,
            "finished": i < done,
        }
        if tag in info:
            entry.update(category=info[tag].category, principle=info[tag].principle)
        out[tag] = entry
    return out


def _write_summary(result: CollectionResult, state: _Collection) -> None:
    summary = {
        "hf_tiktokactions_version": __version__,
        "status": result.status,
        "message": result.message,
        "total_videos": result.total_videos,
        "new_videos": result.new_videos,
        "requests_this_run": result.requests_this_run,
        "requests_total": state.requests_total,
        "invalid_videos": result.invalid_videos,
        "runs": state.runs,
        "request": state.request.as_json(),
        "per_hashtag": result.per_hashtag,
    }
    write_json_atomic(result.output / SUMMARY_FILE, summary)


def format_summary(result: CollectionResult, limit: int = 20) -> str:
    """A short human summary of a run (the full one is ``summary.json``)."""
    lines = [
        f"{result.status}: {result.total_videos} videos in {result.output / VIDEOS_FILE} "
        f"({result.new_videos} new, {result.requests_this_run} requests this run)"
    ]
    items = list(result.per_hashtag.items())
    for tag, entry in items[:limit]:
        lines.append(f"  #{tag:<24} {entry['videos']:>6}" + ("  (max reached)" if entry["reached_max"] else ""))
    if len(items) > limit:
        lines.append(f"  ... {len(items) - limit} more hashtags in {result.output / SUMMARY_FILE}")
    if result.invalid_videos:
        lines.append(
            f"{result.invalid_videos} videos had ids that are not Research API ids (digits only); they are listed, "
            f"with the reason, in {result.output / INVALID_FILE} and left out of {VIDEOS_FILE}"
        )
    if result.message:
        lines.append(result.message)
    return "\n".join(lines)


__all__ = [
    "EXIT_ERROR",
    "EXIT_INVALID_IDS",
    "EXIT_OK",
    "EXIT_QUOTA_EXHAUSTED",
    "CollectionRequest",
    "CollectionResult",
    "collect",
    "date_windows",
    "format_summary",
    "parse_date",
    "parse_fields",
]


def forget_videos(videos_path: str | Path, video_ids: set[str]) -> int:
    """Drop the records of ``video_ids`` (videos no longer available: their user names and descriptions are not
    to be kept) from a collection's ``videos.jsonl``; returns how many went. The collection's ``state.json``, when
    there is one beside it, gets the new committed length, so a later run still resumes (an uncommitted tail is cut
    first, as a resume would cut it)."""
    videos_path = Path(videos_path)
    state_path = videos_path.parent / STATE_FILE
    state = read_json(state_path) if state_path.is_file() and videos_path.name == VIDEOS_FILE else None
    if state is not None:
        truncate_to(videos_path, int(state["committed_bytes"]))
    records = read_jsonl(videos_path)
    kept = [record for record in records if str(record.get("id")) not in video_ids]
    if len(kept) == len(records):
        return 0
    truncate_to(videos_path, 0)
    size = append_jsonl(videos_path, kept)  # the collector's own serialisation, so lengths stay comparable
    if state is not None:
        write_json_atomic(state_path, {**state, "committed_bytes": size, "videos": len(kept)})
    return len(records) - len(kept)
