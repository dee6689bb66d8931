"""Every file and folder name of the data side's output folders, and the shared ones of a training run's, in one place.

A collection folder (``collect``)::

    DIR/videos.jsonl          one Research API record per line (``VIDEOS_FILE``)
    DIR/state.json            what is done, for resuming (``COLLECTION_STATE_FILE``)
    DIR/summary.json          the run's summary (``COLLECTION_SUMMARY_FILE``)
    DIR/invalid_videos.jsonl  records whose id the API sent malformed, with the reason (``INVALID_VIDEOS_FILE``)
    DIR/collect.log           the run's log, appended to by every run (``COLLECTION_LOG_FILE``)
    DIR/.collect.lock         held while a run writes the folder (``COLLECTION_LOCK_FILE``)

A download folder (``download``)::

    DIR/videos/<id>.mp4       the downloaded videos (``VIDEOS_DIR``)
    DIR/.partial/<id>/        scratch space of a download in flight (``PARTIAL_DIR``)
    DIR/manifest.jsonl        one line per attempted video: path or reason (``MANIFEST_FILE``)
    DIR/download_summary.json the run's summary (``DOWNLOAD_SUMMARY_FILE``)
    DIR/.download.lock        held while a run writes the folder (``DOWNLOAD_LOCK_FILE``)

A curation folder (``curate``)::

    DIR/clips/                the curated clips (``CLIPS_DIR``)
    DIR/metadata/<id>.json    one record per input video, written atomically (``METADATA_DIR``)
    DIR/index/                the ``datasets`` index rebuilt from metadata/ (``INDEX_DIR``); ``datasets`` writes
                              its ``state.json`` (``INDEX_STATE_FILE``), by which a folder is known as an index
    DIR/curation_config.json  the options of the run (``CURATION_CONFIG_FILE``)
    DIR/curation_summary.json the run's summary (``CURATION_SUMMARY_FILE``)
    DIR/review_list.txt       videos a person should look at (``REVIEW_LIST_FILE``)
    DIR/.curation.lock        held while a run writes the folder (``CURATION_LOCK_FILE``)
    DIR/stats.json, stats.md  dataset statistics (``STATS_JSON``, ``STATS_MD``)
    DIR/purge_logs/           records of what retention deleted (``PURGE_LOG_DIR``)
    DIR/refresh_checks.json   when each held video was last looked up by ``purge --refresh`` (``REFRESH_CHECKS_FILE``)

A pre-training run folder (``pretrain``; a fine-tuning run writes ``run_config.json`` too, and ``results.json``,
whose format is ``training/results_file.py``)::

    DIR/run_config.json       options, machine, versions, earlier segments of a resumed run (``RUN_RECORD_FILE``)
    DIR/metrics.jsonl         one line per logged step (``METRICS_FILE``)
    DIR/summary.json          the finished run's summary (``RUN_SUMMARY_FILE``; the quickstart's is named the same)
    DIR/final/                the finished run's model (``FINAL_MODEL_DIR``; a fine-tuning run's too)
    DIR/checkpoints/step-N/   pre-training checkpoints (``CHECKPOINTS_DIR``; fine-tuning's are Trainer's checkpoint-N)
    DIR/reconstructions/      reconstruction figures, step-N.png (``RECONSTRUCTIONS_DIR``)

A quickstart folder (``quickstart``; its stages write their own folders, their names in ``quickstart.py``)::

    DIR/stages/<stage>.json   the record of each finished stage, reused by a rerun (``QUICKSTART_STAGES_DIR``)
    DIR/stages/mode.json      the --pretrain mode the folder was made with (``QUICKSTART_MODE_FILE``)

The embedded synthetic action set (``python -m hf_tiktokactions.data.synthetic``; its clips are drawn in
``hf_tiktokactions/data/synthetic/__init__.py``)::

    DIR/metadata.jsonl        one row a clip (``SYNTHETIC_METADATA_FILE``)
    DIR/synthetic_config.json the options the set was made with (``SYNTHETIC_CONFIG_FILE``)
    DIR/summary.json          counts and timing of the last run (``SYNTHETIC_SUMMARY_FILE``)

Paths inside a curation folder's records and index (``clip_path``, ``source_path``, ``metadata_path``) are
stored relative to the folder (:func:`stored_path`) and read back with :func:`resolved_path`.
"""

from __future__ import annotations

import os
from pathlib import Path

# collection folder
VIDEOS_FILE = "videos.jsonl"
COLLECTION_STATE_FILE = "state.json"
COLLECTION_SUMMARY_FILE = "summary.json"
INVALID_VIDEOS_FILE = "invalid_videos.jsonl"
COLLECTION_LOCK_FILE = ".collect.lock"
COLLECTION_LOG_FILE = "collect.log"

# download folder
VIDEOS_DIR = "videos"
PARTIAL_DIR = ".partial"
MANIFEST_FILE = "manifest.jsonl"
DOWNLOAD_SUMMARY_FILE = "download_summary.json"
DOWNLOAD_LOCK_FILE = ".download.lock"

# curation folder
CLIPS_DIR = "clips"
METADATA_DIR = "metadata"
INDEX_DIR = "index"
INDEX_STATE_FILE = "state.json"  # written by datasets' save_to_disk
CURATION_CONFIG_FILE = "curation_config.json"
CURATION_SUMMARY_FILE = "curation_summary.json"
REVIEW_LIST_FILE = "review_list.txt"
CURATION_LOCK_FILE = ".curation.lock"
STATS_JSON, STATS_MD = "stats.json", "stats.md"
PURGE_LOG_DIR = "purge_logs"
REFRESH_CHECKS_FILE = "refresh_checks.json"

# training run folder
RUN_RECORD_FILE = "run_config.json"  # a pre-training or fine-tuning run's record (its "job" says which)
METRICS_FILE = "metrics.jsonl"
RUN_SUMMARY_FILE = "summary.json"
FINAL_MODEL_DIR = "final"
CHECKPOINTS_DIR = "checkpoints"  # a pre-training run's
RECONSTRUCTIONS_DIR = "reconstructions"

# quickstart folder
QUICKSTART_STAGES_DIR = "stages"
QUICKSTART_MODE_FILE = "mode.json"  # inside QUICKSTART_STAGES_DIR

# synthetic action set folder
SYNTHETIC_METADATA_FILE = "metadata.jsonl"
SYNTHETIC_CONFIG_FILE = "synthetic_config.json"
SYNTHETIC_SUMMARY_FILE = "summary.json"


def stored_path(path: str | os.PathLike | None, folder: str | os.PathLike) -> str | None:
    """How a path is written into ``folder``'s records and index: relative to ``folder`` (POSIX ``/``), so a moved
    or copied folder still finds its files and no absolute local path leaves the machine with the index.

    A path that cannot be made relative (another drive on Windows) stays absolute; ``None`` stays ``None``.
    """
    if path is None or path == "":
        return None
    absolute = os.path.abspath(os.path.join(folder, path))
    try:
        return Path(os.path.relpath(absolute, os.path.abspath(folder))).as_posix()
    except ValueError:
        return absolute


def resolved_path(stored: str | os.PathLike | None, folder: str | os.PathLike) -> str | None:
    """The local path of a path read from ``folder``'s records or index: a relative one is taken from ``folder``;
    an absolute one (indexes written before paths were stored relative) or a URL is returned as it is."""
    if stored is None or stored == "":
        return None
    text = os.fspath(stored)
    if "://" in text or os.path.isabs(text):
        return text
    return os.path.normpath(os.path.join(os.path.abspath(folder), text))


def lies_under(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """Whether ``path`` names something inside ``folder``, judged by its name alone (``..`` resolved, links not
    followed: a link inside is inside, and deleting it deletes the link, not its target)."""
    inside = os.path.normpath(os.path.abspath(folder))
    return os.path.normpath(os.path.abspath(path)).startswith(inside.rstrip(os.sep) + os.sep)
