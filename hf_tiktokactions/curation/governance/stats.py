"""Dataset statistics in the form of the paper's appendix, computed from a curated index.

:func:`compute_statistics` turns the index (``DIR/index``) plus the per-video metadata files it points
to into one JSON-able dict:

* ``totals``: videos, pass / review / rejected, clips and their hours;
* ``status``: per status, the count and the reasons grouped by kind (numbers in a reason are
  replaced by ``N``, so "a person in 3 of 10 sampled frames" and "... 4 of 10 ..." count together);
* ``hashtags``: videos per hashtag (by status, with category and principle from the catalogue);
* ``hashtag_ranges``: the share of hashtags with 200-400, 400-600, 600-800 and 800+ counted videos
  (``count_statuses``, default ``pass``: the videos that are in the pre-training set), plus the
  hashtags below 200 and the catalogue hashtags with no video at all;
* ``durations``: videos by the length of the scene the clip was cut from, *before* clipping
  (< 3.5 s: rejected as too short; 3.5-5 s; 5-10 s; 10+ s: clipped to its central 10 s); where no
  scene was found the source duration stands in, and videos with neither are ``unknown``;
* ``categories`` / ``principles``: hashtags and videos per catalogue category and selection principle.

:func:`write_statistics` adds the figures (:mod:`stats_figures`), ``stats.md`` and ``stats.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hf_tiktokactions import __version__
from hf_tiktokactions.atomic_files import write_json_atomic
from hf_tiktokactions.collection.hashtags import Hashtag
from hf_tiktokactions.curation.index import curation_folder, load_index
from hf_tiktokactions.curation.pipeline import PASS, REJECTED, REVIEW
from hf_tiktokactions.errors import OutputStateError
from hf_tiktokactions.layout import STATS_JSON, STATS_MD, resolved_path

STATUSES = (PASS, REVIEW, REJECTED)
HASHTAG_RANGE_EDGES = (200, 400, 600, 800)
"""Videos per hashtag: [200, 400), [400, 600), [600, 800) and 800 or more (the paper's pie chart)."""
DURATION_RANGES = (("< 3.5 s", 0.0, 3.5), ("3.5-5 s", 3.5, 5.0), ("5-10 s", 5.0, 10.0), ("10+ s", 10.0, None))
"""Scene length before clipping, in seconds: [low, high)."""
NO_HASHTAG = "(no hashtag)"
UNCATALOGUED = "(not in the catalogue)"

_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def reason_kind(reason: str | None) -> str:
    """A reason with its numbers replaced by ``N``, so reasons that differ only in numbers group together."""
    return _NUMBER.sub("N", reason or "(no reason recorded)")


@dataclass(frozen=True)
class VideoFacts:
    """What the statistics need of one index row."""

    video_id: str
    hashtag: str | None
    status: str
    reason: str | None
    scene_seconds: float | None
    clip_seconds: float | None


def scene_seconds(record: dict[str, Any]) -> float | None:
    """Length of the scene the clip was (or would have been) cut from: the chosen scene, else the longest."""
    scenes = record.get("scenes") or []
    lengths = {
        s["start_frame"]: s["end"] - s["start"]
        for s in scenes
        if s.get("start") is not None and s.get("end") is not None
    }
    chosen = (record.get("chosen_scene") or {}).get("start_frame")
    if chosen in lengths:
        return float(lengths[chosen])
    return float(max(lengths.values())) if lengths else None


def _read_record(path: str | None) -> dict[str, Any]:
    if not path or not Path(path).is_file():
        return {}
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError:
        raise OutputStateError(f"{path} is not valid JSON; delete it and rerun curate.py to redo that video") from None


def video_facts(index: Any, folder: str | Path = ".") -> list[VideoFacts]:
    """One :class:`VideoFacts` per index row; scene lengths come from the row's metadata file (its path relative
    to the curation folder ``folder``)."""
    facts = []
    for row in index:
        record = _read_record(resolved_path(row.get("metadata_path"), folder))
        length = scene_seconds(record)
        if length is None:
            length = row.get("duration")
        clip = row["clip_end"] - row["clip_start"] if row.get("clip_path") and row.get("clip_end") is not None else None
        facts.append(
            VideoFacts(row["video_id"], row.get("hashtag") or None, row["status"], row.get("reason"), length, clip)
        )
    return facts


def _status_counts(facts: Iterable[VideoFacts]) -> dict[str, int]:
    counts = Counter(f.status for f in facts)
    return {status: counts.get(status, 0) for status in STATUSES}


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def hashtag_range_name(count: int, edges: Sequence[int] = HASHTAG_RANGE_EDGES) -> str:
    """``"200-400"`` ... ``"800+"`` for a count, ``"<200"`` below the first edge."""
    if count < edges[0]:
        return f"<{edges[0]}"
    for low, high in zip(edges, edges[1:]):
        if low <= count < high:
            return f"{low}-{high}"
    return f"{edges[-1]}+"


def _hashtag_ranges(counted: dict[str, int], catalogue_names: list[str], edges: Sequence[int]) -> dict[str, Any]:
    total = len(counted)
    by_range: dict[str, list[str]] = defaultdict(list)
    for tag, count in counted.items():
        by_range[hashtag_range_name(count, edges)].append(tag)
    ranges = []
    for low, high in list(zip(edges, edges[1:])) + [(edges[-1], None)]:
        name = f"{low}-{high}" if high is not None else f"{low}+"
        ranges.append(
            {
                "range": name,
                "low": low,
                "high": high,
                "hashtags": len(by_range[name]),
                "share": _share(len(by_range[name]), total),
            }
        )
    below = sorted(by_range[f"<{edges[0]}"], key=lambda t: (counted[t], t))
    return {
        "counted_hashtags": total,
        "ranges": ranges,
        "below": {"range": f"<{edges[0]}", "hashtags": len(below), "share": _share(len(below), total), "names": below},
        "catalogue_without_videos": sorted(set(catalogue_names) - set(counted)),
    }


def _durations(facts: list[VideoFacts]) -> list[dict[str, Any]]:
    rows = []
    for name, low, high in DURATION_RANGES:
        inside = [
            f
            for f in facts
            if f.scene_seconds is not None and low <= f.scene_seconds and (high is None or f.scene_seconds < high)
        ]
        rows.append({"range": name, "low": low, "high": high, "videos": len(inside), **_status_counts(inside)})
    unknown = [f for f in facts if f.scene_seconds is None]
    rows.append({"range": "unknown", "low": None, "high": None, "videos": len(unknown), **_status_counts(unknown)})
    return rows


def _reasons(facts: list[VideoFacts]) -> dict[str, Any]:
    out = {}
    for status in STATUSES:
        of_status = [f for f in facts if f.status == status]
        kinds = Counter(reason_kind(f.reason) for f in of_status)
        examples = {}
        for f in of_status:
            examples.setdefault(reason_kind(f.reason), f.reason)
        out[status] = {
            "videos": len(of_status),
            "reasons": [
                {"reason": kind, "videos": n, "example": examples[kind]}
                for kind, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
        }
    return out


def _group_by(per_hashtag: dict[str, dict[str, Any]], key: str) -> dict[str, dict[str, int]]:
    groups: dict[str, dict[str, int]] = {}
    for row in per_hashtag.values():
        name = row.get(key) or UNCATALOGUED
        group = groups.setdefault(name, {"hashtags": 0, "videos": 0, **{s: 0 for s in STATUSES}})
        group["hashtags"] += 1
        group["videos"] += row["videos"]
        for status in STATUSES:
            group[status] += row[status]
    return dict(sorted(groups.items(), key=lambda kv: (-kv[1]["videos"], kv[0])))


def compute_statistics(
    facts: list[VideoFacts],
    catalogue: Sequence[Hashtag] = (),
    count_statuses: Sequence[str] = (PASS,),
    range_edges: Sequence[int] = HASHTAG_RANGE_EDGES,
) -> dict[str, Any]:
    """The statistics dict (see the module docstring) of ``facts``; ``catalogue`` adds category and principle."""
    by_name = {h.name: h for h in catalogue}
    totals = _status_counts(facts)
    clips = [f.clip_seconds for f in facts if f.status == PASS and f.clip_seconds is not None]
    by_hashtag: dict[str, list[VideoFacts]] = defaultdict(list)
    for f in facts:
        if f.hashtag:
            by_hashtag[f.hashtag].append(f)
    per_hashtag: dict[str, dict[str, Any]] = {}
    for tag, of_tag in by_hashtag.items():
        entry = by_name.get(tag)
        per_hashtag[tag] = {
            "videos": len(of_tag),
            **_status_counts(of_tag),
            "counted": sum(1 for f in of_tag if f.status in count_statuses),
            "category": entry.category if entry else None,
            "principle": entry.principle if entry else None,
        }
    per_hashtag = dict(sorted(per_hashtag.items(), key=lambda kv: (-kv[1]["counted"], -kv[1]["videos"], kv[0])))
    return {
        "totals": {
            "videos": len(facts),
            **totals,
            "clips": len(clips),
            "clip_hours": round(sum(clips) / 3600, 6),
            "mean_clip_seconds": round(sum(clips) / len(clips), 6) if clips else None,
            "videos_without_hashtag": sum(1 for f in facts if not f.hashtag),
        },
        "status": _reasons(facts),
        "count_statuses": list(count_statuses),
        "range_edges": list(range_edges),
        "hashtags": per_hashtag,
        "hashtag_ranges": _hashtag_ranges(
            {t: r["counted"] for t, r in per_hashtag.items()}, [h.name for h in catalogue], range_edges
        ),
        "durations": _durations(facts),
        "categories": _group_by(per_hashtag, "category"),
        "principles": _group_by(per_hashtag, "principle"),
    }


def statistics_of_index(
    index_path: str | Path, catalogue: Sequence[Hashtag] = (), count_statuses: Sequence[str] = (PASS,)
) -> dict[str, Any]:
    """:func:`compute_statistics` of the index at ``index_path`` (``DIR`` or ``DIR/index``), with provenance."""
    index = load_index(index_path)
    stats = compute_statistics(video_facts(index, curation_folder(index_path)), catalogue, count_statuses)
    stats["source"] = {
        "index": str(Path(index_path).resolve()),
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "hf_tiktokactions_version": __version__,
        "catalogue_hashtags": len(catalogue),
    }
    return stats


# -- markdown -----------------------------------------------------------------------------------


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def status_table(stats: dict[str, Any]) -> str:
    totals = stats["totals"]
    return _table(
        ("status", "videos", "share"),
        [(s, f"{totals[s]:,}", _pct(_share(totals[s], totals["videos"]))) for s in STATUSES],
    )


def reasons_table(stats: dict[str, Any], limit: int = 15) -> str:
    rows = [
        (status, reason["reason"].replace("|", "/"), f"{reason['videos']:,}")
        for status in STATUSES
        for reason in stats["status"][status]["reasons"][:limit]
    ]
    return _table(("status", "reason (numbers shown as N)", "videos"), rows)


def duration_table(stats: dict[str, Any]) -> str:
    rows = [
        (d["range"], f"{d['videos']:,}", f"{d[PASS]:,}", f"{d[REVIEW]:,}", f"{d[REJECTED]:,}")
        for d in stats["durations"]
        if d["range"] != "unknown" or d["videos"]
    ]
    return _table(("scene length before clipping", "videos", PASS, REVIEW, REJECTED), rows)


def hashtag_range_table(stats: dict[str, Any]) -> str:
    ranges = stats["hashtag_ranges"]
    rows = [(r["range"], r["hashtags"], _pct(r["share"])) for r in ranges["ranges"]]
    below = ranges["below"]
    rows.append((below["range"], below["hashtags"], _pct(below["share"])))
    return _table(("videos per hashtag", "hashtags", "share"), rows)


def group_table(groups: dict[str, dict[str, int]], name: str) -> str:
    return _table(
        (name, "hashtags", "videos", PASS, REVIEW, REJECTED),
        [
            (k, g["hashtags"], f"{g['videos']:,}", f"{g[PASS]:,}", f"{g[REVIEW]:,}", f"{g[REJECTED]:,}")
            for k, g in groups.items()
        ],
    )


def hashtag_table(stats: dict[str, Any]) -> str:
    rows = [
        (t, r["category"] or "", f"{r['videos']:,}", f"{r[PASS]:,}", f"{r[REVIEW]:,}", f"{r[REJECTED]:,}")
        for t, r in stats["hashtags"].items()
    ]
    return _table(("hashtag", "category", "videos", PASS, REVIEW, REJECTED), rows)


def statistics_markdown(stats: dict[str, Any], figures: dict[str, str] | None = None) -> str:
    """``stats.md``: every table of the statistics, with the figures linked by file name."""
    totals, ranges = stats["totals"], stats["hashtag_ranges"]
    figures = figures or {}
    counted = " + ".join(stats["count_statuses"])
    mean = f"{totals['mean_clip_seconds']:.2f} s" if totals["mean_clip_seconds"] is not None else "-"
    parts = [
        "# Dataset statistics",
        f"{totals['videos']:,} curated videos from {len(stats['hashtags']):,} hashtags; {totals['clips']:,} clips "
        f"({totals['clip_hours']:.2f} hours, mean {mean}) passed the person filter."
        + (
            f" {totals['videos_without_hashtag']:,} videos carry no hashtag."
            if totals["videos_without_hashtag"]
            else ""
        ),
        "## Pass / review / reject",
        status_table(stats),
        "### Reasons",
        reasons_table(stats),
        "## Scene length before clipping",
        "The length of the scene each clip was cut from (scenes over 10 s are clipped to their central 10 s; "
        "under 3.5 s the video is rejected). Where no scene was found, the source duration is used.",
        duration_table(stats),
        f"## Hashtags by number of videos ({counted})",
        hashtag_range_table(stats),
    ]
    if ranges["below"]["names"]:
        parts.append(f"Below {HASHTAG_RANGE_EDGES[0]}: " + ", ".join(ranges["below"]["names"]) + ".")
    if ranges["catalogue_without_videos"]:
        parts.append(
            f"In the catalogue but without any video ({len(ranges['catalogue_without_videos'])}): "
            + ", ".join(ranges["catalogue_without_videos"])
            + "."
        )
    parts += [
        "## Categories",
        group_table(stats["categories"], "category"),
        "## Selection principles",
        group_table(stats["principles"], "principle"),
    ]
    if figures:
        parts += ["## Figures", "\n".join(f"![{name}]({path})" for name, path in figures.items())]
    parts += ["## Videos per hashtag", hashtag_table(stats)]
    return "\n\n".join(parts) + "\n"


def write_statistics(stats: dict[str, Any], output: str | Path, top_n: int | None = None) -> dict[str, Path]:
    """Write the figures, ``stats.md`` and ``stats.json`` into ``output``; returns the paths by name."""
    from hf_tiktokactions.curation.governance.stats_figures import write_figures

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    figures = write_figures(stats, output, top_n=top_n)
    stats = {**stats, "figures": {name: path.name for name, path in figures.items()}}
    write_json_atomic(output / STATS_JSON, stats)
    (output / STATS_MD).write_text(statistics_markdown(stats, stats["figures"]), encoding="utf-8")
    return {**figures, "json": output / STATS_JSON, "markdown": output / STATS_MD}
