"""Dataset cards: the one builder of the curated index's card, from its statistics (``stats.json``) and the runs
that made it. ``dataset_scripts/stats.py``, ``push_index`` and ``hub dataset-card`` all use it.

:func:`card_for_curated_folder` reads what a curation folder holds and calls :func:`index_dataset_card`, which
builds on :func:`dataset_card` (template ``model_cards/dataset_card_template.md``): that
card gets the headline numbers and the per-category table; :func:`index_dataset_card` adds the license note to
the YAML and, before *Intended use*, the sections the paper's appendix and ethics section need:
how the videos were collected, the hashtag selection principles, the processing, the detailed
statistics (status and reasons, scene lengths, hashtag ranges), and after the ethics section the
retention policy with the last purge / refresh.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData

from hf_tiktokactions.curation.governance.stats import (
    duration_table,
    group_table,
    hashtag_range_table,
    reasons_table,
    status_table,
)
from hf_tiktokactions.curation.publish import PublishedContents
from hf_tiktokactions.errors import ConfigError
from hf_tiktokactions.hub.cards import card_template

LICENSE_NAME = "tiktok-research-api-terms"
LICENSE_LINK = "https://www.tiktok.com/legal/page/global/terms-of-service-research-api/en"
LICENSE_NOTE = (
    "Private research index. The videos belong to their creators and are not redistributed; holding and "
    "using them is bound by the TikTok Research API terms and the collecting lab's ethics approval."
)
PRINCIPLES = {
    "generalization": "a broader tag over a specific class (playing piano -> `piano`)",
    "specification": "narrower tags under a broad one (`dance` -> `salsa`, `tango`, `waltz`, `chacha`)",
    "noun_substitution": "the colloquial noun people tag with (saxophone -> `sax`)",
    "noun_verb_order": "the word order people use for an action (`cuttingcakes`, `shoerepair`)",
    "consolidation": "one tag over several related classes",
    "social_cultural": "challenges, festivals and rituals with recognisable motion (`flowerchallenge`)",
}
PUBLIC_LICENSE_NOTE = (
    "Research index without videos (identifiers, clip boundaries, derived statistics). The videos belong to their "
    "creators and are not redistributed; using them is bound by the TikTok Research API terms and the collecting "
    "lab's ethics approval."
)
CLIPS_LICENSE_NOTE = (
    "Research index with clips. The videos belong to their creators; the clips in this dataset may be held and used "
    "only under the TikTok Research API terms and the collecting lab's ethics approval, and are deleted with their "
    "source videos."
)
REFRESH_DAYS = 15
DATASET_TEMPLATE = "dataset_card_template.md"


def _license_note(contents: PublishedContents | None) -> str:
    """The license note of what is published: clips, an index pushed private, or one that is not (a public push, or
    the namespace's default visibility, which may be public)."""
    if contents is not None and contents.embed_clips:
        return CLIPS_LICENSE_NOTE
    return LICENSE_NOTE if contents is None or contents.private is True else PUBLIC_LICENSE_NOTE


def _headline(stats: Mapping[str, Any], collection: Mapping[str, Any] | None) -> dict[str, Any]:
    """The scalar statistics and per-category counts that :func:`dataset_card` renders."""
    totals = stats["totals"]
    headline: dict[str, Any] = {
        "num_videos": totals["videos"],
        "num_clips": totals["clips"],
        "total_hours": round(totals["clip_hours"], 2),
    }
    request = (collection or {}).get("request") or {}
    if request.get("hashtags"):
        headline["num_hashtags"] = len(request["hashtags"])
    headline["hashtags_with_videos"] = len(stats["hashtags"])
    if totals.get("mean_clip_seconds") is not None:
        headline["mean_clip_seconds"] = round(totals["mean_clip_seconds"], 2)
    if request.get("start_date") and request.get("end_date"):
        headline["date_range"] = f"{request['start_date']}..{request['end_date']}"
    headline.update(videos_passed=totals["pass"], videos_in_review=totals["review"], videos_rejected=totals["rejected"])
    headline["per_category"] = {name: group["videos"] for name, group in stats["categories"].items()}
    return headline


def _human(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


_STAT_NAMES = {
    "num_videos": "videos",
    "num_clips": "clips",
    "total_hours": "hours of clips",
    "num_hashtags": "hashtags searched",
    "mean_clip_seconds": "mean clip length (s)",
    "date_range": "video creation dates",
    "resolutions": "frame sizes",
}


def _size_category(num_clips: int | None) -> str | None:
    if not num_clips:
        return None
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ):
        if num_clips < limit:
            return name
    return "10M<n<100M"


DATASET_CONTENTS = (
    "The index is **private** and not distributed: it holds video identifiers, clip boundaries and derived "
    "statistics only, never video files, frames or user names."
)


def dataset_card(
    stats: Mapping[str, Any],
    *,
    pretty_name: str = "TikTokActions pre-training index (private)",
    license: str = "other",
    summary: str = "",
    template_dir: str | os.PathLike | None = None,
    contents: str = DATASET_CONTENTS,
    redistribution: str = "The videos are not redistributed.",
    private: bool = True,
) -> DatasetCard:
    """The card of the private pre-training index, from a statistics dict.

    ``contents`` says what the dataset holds and ``redistribution`` whether videos go with it (the defaults: the
    private index, without video files); ``private`` adds the tag ``private``.

    Known keys (all optional, shown in this order): ``num_videos``, ``num_clips``, ``total_hours``,
    ``num_hashtags``, ``mean_clip_seconds``, ``date_range``, ``resolutions``; any other scalar key is
    shown too. ``per_category`` (a dict category -> number of videos) becomes its own table.
    """
    if not isinstance(stats, Mapping):
        raise ConfigError(f"dataset statistics must be a JSON object, got {type(stats).__name__}")
    per_category = stats.get("per_category") or {}
    if not isinstance(per_category, Mapping):
        raise ConfigError("statistics field per_category must map category names to video counts")
    keys = [key for key in _STAT_NAMES if key in stats] + [
        k for k in stats if k not in _STAT_NAMES and k != "per_category"
    ]
    rows = [f"| {_STAT_NAMES.get(key, key.replace('_', ' '))} | {_human(stats[key])} |" for key in keys]
    statistics_table = ("| statistic | value |\n|---|---|\n" + "\n".join(rows)) if rows else "No statistics were given."
    category_table = (
        "| category | videos |\n|---|---|\n"
        + "\n".join(f"| {name} | {_human(count)} |" for name, count in per_category.items())
        if per_category
        else ""
    )
    card_data = DatasetCardData(
        pretty_name=pretty_name,
        license=license,
        task_categories=["video-classification"],
        size_categories=_size_category(stats.get("num_clips")),
        tags=["video", "action-recognition", "self-supervised", "tiktokactions"] + (["private"] if private else []),
    )
    card = DatasetCard.from_template(
        card_data,
        template_path=str(card_template(DATASET_TEMPLATE, template_dir)),
        pretty_name=pretty_name,
        summary=summary or "Unlabeled clips of people in public short social videos, for self-supervised pre-training.",
        statistics_table=statistics_table,
        category_table=category_table,
        contents=contents,
        redistribution=redistribution,
    )
    DatasetCard(str(card))
    return card


def collection_section(stats: Mapping[str, Any], collection: Mapping[str, Any] | None) -> str:
    request = (collection or {}).get("request") or {}
    lines = [
        "## Collection",
        "",
        "Video metadata was queried through the official TikTok Research API (`POST /v2/research/video/query/`), "
        "one hashtag at a time, in creation-date windows of at most 30 days, paging with `cursor` and `search_id`. "
        "The API returns metadata only; the videos were then fetched from their public pages, only where the "
        "owner allowed downloads. A video found by two hashtags is kept once, under the first.",
        "",
        f"- hashtags with curated videos: {len(stats['hashtags']):,}",
    ]
    if request:
        lines += [
            f"- hashtags queried: {len(request.get('hashtags', [])):,}",
            f"- creation dates: {request.get('start_date', '?')} to {request.get('end_date', '?')} (UTC)",
            f"- at most {request.get('max_per_hashtag', '?')} videos a hashtag",
            f"- metadata fields: {', '.join(f'`{f}`' for f in request.get('fields', []))}",
        ]
    if collection and collection.get("total_videos") is not None:
        lines.append(f"- video records collected: {collection['total_videos']:,}")
    return "\n".join(lines)


def principles_section(stats: Mapping[str, Any]) -> str:
    rows = [
        f"| {name} | {PRINCIPLES.get(name, '')} | {group['hashtags']:,} | {group['videos']:,} |"
        for name, group in stats["principles"].items()
    ]
    return "\n".join(
        [
            "## Hashtag selection principles",
            "",
            "Each hashtag of the catalogue (`dataset_scripts/hashtags.csv`) records the principle that introduced it, "
            "following the paper: tags are chosen for the actions people perform in the videos, in the words people "
            "actually tag them with.",
            "",
            "| principle | how the tag was derived | hashtags | videos |",
            "|---|---|---|---|",
            *rows,
        ]
    )


def processing_section(curation: Mapping[str, Any] | None) -> str:
    options = (curation or {}).get("options") or {}
    low, high = options.get("min_seconds", 3.5), options.get("max_seconds", 10.0)
    detector = options.get("detector")
    lines = [
        "## Processing",
        "",
        "1. Each video is probed and decoded once; PySceneDetect's content detector cuts it into scenes"
        + (
            f" (threshold {options['scene_threshold']}, minimum scene {options['min_scene_len']} frames)"
            if "scene_threshold" in options
            else ""
        )
        + ".",
        f"2. The longest scene is kept: under {low:g} s the video is rejected; "
        f"over {high:g} s its central {high:g} s are kept.",
        "3. The clip is re-encoded as H.264"
        + (
            f" with short side {options['short_side']} px, CRF {options['crf']}, keyframe every {options['gop']} frames"
            if "short_side" in options
            else ""
        )
        + ".",
        (
            f"4. A person detector (`{detector}`) looks at {options.get('num_frames', '?')} evenly spaced frames; "
            f"a clip with a person in at least {options.get('min_person_frames', '?')} of them passes, the others are "
            "kept for review by a person."
            if detector and str(detector).lower() != "none"
            else "4. The person filter: a detector looks at evenly spaced frames; "
            "clips with a person in enough of them pass, the others are kept for review by a person."
        ),
        "5. One metadata file per video and an index (a `datasets` dataset) with the clip, its times and the decision.",
    ]
    return "\n".join(lines)


def statistics_section(stats: Mapping[str, Any]) -> str:
    ranges = stats["hashtag_ranges"]
    parts = [
        "## Detailed statistics",
        "### Pass / review / reject",
        status_table(stats),
        reasons_table(stats, limit=8),
        "### Scene length before clipping",
        duration_table(stats),
        f"### Hashtags by number of videos ({' + '.join(stats['count_statuses'])})",
        hashtag_range_table(stats),
    ]
    if ranges["catalogue_without_videos"]:
        parts.append(f"{len(ranges['catalogue_without_videos'])} catalogue hashtags have no video.")
    parts += ["### Categories", group_table(stats["categories"], "category")]
    parts.append(
        "The full per-hashtag table and the figures (videos per hashtag, the range pie, scene lengths, "
        "categories) are in `stats.md` beside `stats.json`, written by `dataset_scripts/stats.py`."
    )
    return "\n\n".join(parts)


def retention_section(retention: Mapping[str, Any] | None) -> str:
    lines = [
        "## Retention",
        "",
        f"- Every {REFRESH_DAYS} days at the latest, the held video ids are queried again through the Research API and "
        "videos that were deleted or made private are removed with their clips, metadata and index rows: "
        "`python dataset_scripts/purge.py --index DIR --refresh`.",
        "- After training, the downloaded videos and clips are deleted: `python dataset_scripts/purge.py --index DIR` "
        "(`--keep-metadata` keeps the per-video metadata for the statistics). Each run writes a purge log.",
        "- Faces in clips shown in figures or demos are blurred first: `python dataset_scripts/blur_faces.py IN OUT`.",
    ]
    if retention:
        when = retention.get("finished_at") or retention.get("started_at")
        lines.append(
            f"- Last purge / refresh: {when} ({retention.get('mode', '?')}): "
            f"{retention.get('counts', {}).get('videos_removed', 0):,} videos removed"
            + (f", {retention['refresh']['unavailable']:,} no longer available" if retention.get("refresh") else "")
            + "."
        )
    return "\n".join(lines)


def _insert_before(text: str, heading: str, block: str) -> str:
    at = text.find(heading)
    return text.rstrip() + "\n\n" + block + "\n" if at < 0 else text[:at] + block + "\n\n" + text[at:]


def published_contents_text(contents: PublishedContents) -> str:
    """What a published index holds, in the words of its card: rows, columns, clips or not, what was left out,
    and the repository's visibility (only when it is known)."""
    statuses = f" (status: {', '.join(contents.statuses)})" if contents.statuses else ""
    columns = ", ".join(f"`{c}`" for c in contents.columns)
    parts = [f"This dataset holds {contents.num_rows:,} rows of the index{statuses}, with the columns {columns}."]
    if contents.embed_clips:
        parts.append(
            "**It includes video clips**: the `clip` column (`datasets.Video`) holds the bytes of each curated clip "
            "(an H.264 excerpt of 3.5-10 s re-encoded from a public video) and its file name; the original "
            "downloaded videos are not included."
        )
    else:
        parts.append(
            "It holds no video files: `clip_path` names each clip relative to the curation folder it was made in."
        )
    if contents.left_out:
        parts.append("Left out of the upload: " + ", ".join(f"`{c}`" for c in contents.left_out) + ".")
    if contents.private is True:
        parts.append(f"The repository `{contents.repo_id}` is **private**.")
    elif contents.private is False:
        parts.append(f"The repository `{contents.repo_id}` is **public**: anyone can read what is listed here.")
    return " ".join(parts)


def index_dataset_card(
    stats: Mapping[str, Any],
    *,
    curation: Mapping[str, Any] | None = None,
    collection: Mapping[str, Any] | None = None,
    retention: Mapping[str, Any] | None = None,
    pretty_name: str | None = None,
    template_dir: str | os.PathLike | None = None,
    contents: PublishedContents | None = None,
) -> DatasetCard:
    """The card of a curated index.

    ``stats`` is :func:`curation.stats.statistics_of_index`'s dict; ``curation`` is the index folder's
    ``curation_summary.json``, ``collection`` the collection's ``summary.json``, ``retention`` the last
    purge log (all optional). ``contents`` is what ``push_index`` publishes (rows, columns, clips, visibility):
    the card then states exactly that; without it the card describes the private index without video files.
    The result validates offline (``DatasetCard(str(card))`` parses it).
    """
    private = True if contents is None else contents.private
    if pretty_name is None:
        pretty_name = "TikTokActions pre-training index" + (" (private)" if private else "")
    wording: dict[str, Any] = {}
    if contents is not None:
        wording = {"contents": published_contents_text(contents), "private": bool(private)}
        if contents.embed_clips:
            wording["redistribution"] = (
                "Clips cut from the videos are included in this dataset (its `clip` column); the original videos "
                "are not redistributed."
            )
    card = dataset_card(
        _headline(stats, collection), pretty_name=pretty_name, license="other", template_dir=template_dir, **wording
    )
    card.data.license_name = LICENSE_NAME
    card.data.license_link = LICENSE_LINK
    card.data.license_details = _license_note(contents)
    card.data.viewer = False  # the rows are paths on the lab's storage; nothing to preview
    body = "\n\n".join(
        [
            collection_section(stats, collection),
            principles_section(stats),
            processing_section(curation),
            statistics_section(stats),
        ]
    )
    text = _insert_before(card.text, "## Intended use", body)
    text = text.rstrip() + "\n\n" + retention_section(retention) + "\n"
    card.text = text
    return DatasetCard(str(card))


def _optional_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ConfigError(f"{path} is not valid JSON ({error})") from None


STATISTICS_KEYS = (
    "totals",
    "status",
    "count_statuses",
    "hashtags",
    "hashtag_ranges",
    "durations",
    "categories",
    "principles",
)


def read_statistics(path: str | os.PathLike) -> dict[str, Any]:
    """The ``stats.json`` that ``dataset_scripts/stats.py`` wrote, checked for what the card needs.

    Raises ``ConfigError`` naming the file: unreadable, not JSON, or missing one of ``STATISTICS_KEYS``."""
    try:
        stats = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ConfigError(f"{path}: cannot read the statistics JSON ({error})") from None
    missing = [key for key in STATISTICS_KEYS if key not in stats] if isinstance(stats, dict) else list(STATISTICS_KEYS)
    if missing:
        raise ConfigError(
            f"{path}: not the stats.json of a curated index (missing {', '.join(missing)}); write it with "
            "`python dataset_scripts/stats.py --index DIR --output-dir OUT` (or let stats.py write the card itself)"
        )
    return stats


def card_for_curated_folder(
    folder: str | os.PathLike, stats: Mapping[str, Any], collection_dir: str | os.PathLike | None = None, **kwargs: Any
) -> DatasetCard:
    """:func:`index_dataset_card` with what ``folder`` (curate.py's output) holds:
    its curation summary and last purge log.

    ``collection_dir`` is collect_tiktok.py's output folder (its ``summary.json`` gives dates and fields).
    """
    from hf_tiktokactions.collection.collect import SUMMARY_FILE as COLLECTION_SUMMARY
    from hf_tiktokactions.curation.engines import SUMMARY_FILE as CURATION_SUMMARY
    from hf_tiktokactions.curation.governance.retention import latest_purge_log
    from hf_tiktokactions.curation.index import INDEX_DIR

    folder = Path(folder)
    if folder.name == INDEX_DIR:
        folder = folder.parent
    return index_dataset_card(
        stats,
        curation=_optional_json(folder / CURATION_SUMMARY),
        collection=_optional_json(Path(collection_dir) / COLLECTION_SUMMARY) if collection_dir else None,
        retention=latest_purge_log(folder),
        **kwargs,
    )
