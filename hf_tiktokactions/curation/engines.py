"""Where the stages of :mod:`pipeline` run: one machine (a process pool) or a Ray cluster.

:func:`curate` is the entry point: it locks ``DIR``, clears what a killed run left half-written,
skips videos whose ``DIR/metadata/<video_id>.json`` exists (the commit point), runs the rest on an
engine, then rebuilds ``DIR/index`` from the metadata files and writes ``curation_summary.json`` and
``review_list.txt``. Rerunning the same command after a kill (even SIGKILL) therefore finishes the
job with every input in the index exactly once.

* ``local``: ``workers`` processes (``spawn``), each running all stages for one video at a time
  with one decoder/encoder thread; the detector is loaded once per process. ``workers=1`` runs in
  this process.
* ``ray``: the video stage is a Ray task (``num_cpus=1``); the detector runs in Ray actors that ask
  for one GPU each when the cluster has GPUs (else one CPU); the decision and the metadata file
  are written by the driver. ``DIR`` must be on storage every node sees (checked first: :mod:`ray_storage`).
Both keep a bounded number of videos in flight, so a 300k-video list does not flood memory.
"""

from __future__ import annotations

import contextlib
import filecmp
import hashlib
import itertools
import logging
import os
import shutil
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from hf_tiktokactions import __version__
from hf_tiktokactions.atomic_files import read_json, write_json_atomic
from hf_tiktokactions.curation.inputs import VideoInput
from hf_tiktokactions.curation.pipeline import (
    CLIPS_DIR,
    METADATA_DIR,
    REVIEW,
    CurationOptions,
    DetectorFailed,
    curate_video,
    decision_stage,
    detector_stage,
    machine_fault,
    metadata_path,
    rejected_record,
    video_stage,
    write_metadata,
)
from hf_tiktokactions.errors import ConfigError, OutputStateError, RunStopped
from hf_tiktokactions.layout import CURATION_CONFIG_FILE as CONFIG_FILE
from hf_tiktokactions.layout import CURATION_LOCK_FILE as LOCK_FILE
from hf_tiktokactions.layout import CURATION_SUMMARY_FILE as SUMMARY_FILE
from hf_tiktokactions.layout import INDEX_DIR, REVIEW_LIST_FILE, resolved_path
from hf_tiktokactions.output_guard import (
    OutsideFolder,
    lock_output,
    output_folder,
    path_under,
    refuse_another_jobs_folder,
)

logger = logging.getLogger(__name__)

ENGINES = ("local", "ray")
_RUN_INDEPENDENT = ("threads",)  # options that do not change a video's outputs
CRASH_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGABRT})
"""Signals by which a worker dies of the input it decodes (a SIGKILL comes from outside: OOM killer, a person)."""


@dataclass
class CurationResult:
    """Counts of one run. ``by_status`` covers every video in ``DIR`` (this run and earlier ones)."""

    output: Path
    inputs: int = 0
    already_done: int = 0
    processed: int = 0
    left_for_rerun: int = 0
    seconds: float = 0.0
    by_status: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)


def build_detector(options: CurationOptions):
    """The detector ``options`` ask for (``None`` for ``--detector none``)."""
    from hf_tiktokactions.curation.stages.person_detection import load_detector

    return load_detector(
        options.detector, options.person_classes, options.person_confidence, options.detector_image_size
    )


# --- local engine -------------------------------------------------------------------------------

_WORKER_DETECTOR: Any = None


def _init_local_worker(options: CurationOptions) -> None:
    global _WORKER_DETECTOR
    import cv2

    cv2.setNumThreads(1)  # the pool is the parallelism
    _WORKER_DETECTOR = build_detector(options)
    if _WORKER_DETECTOR is not None:
        import torch

        torch.set_num_threads(options.threads)


def _exit_when_orphaned(parent: int) -> None:
    """Poll the parent: a worker whose curation process died (SIGKILL, a crash) exits instead of curating on,
    unseen, racing the rerun for the same files and holding its memory."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


# The local engine's workers are started with "spawn": each imports the caller's main script first, so a script that
# calls curate() at its top level, without the usual guard, calls it again in every worker.
SCRIPT_GUARD_HINT = (
    'a script that calls curate() must call it under `if __name__ == "__main__":`: the worker processes import the '
    "script, and an unguarded call starts the curation again in each of them"
)


def _refuse_a_worker_importing_the_script() -> None:
    """Stop a worker process that is importing the caller's script (``multiprocessing``'s own flag for that) from
    curating: it would wait on the caller's lock and die, and the caller would blame each video's worker."""
    import multiprocessing

    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise ConfigError(f"curate() was called while a curation worker process was starting: {SCRIPT_GUARD_HINT}")


def _require_curation_packages() -> None:
    """Scene detection (PySceneDetect) and OpenCV come with the ``curation`` extra; without them every video failed
    as an "internal error" and was recorded as rejected, so the rerun after installing them passed it over."""
    import importlib.util

    missing = [
        package
        for package, module in (("scenedetect", "scenedetect"), ("opencv-python", "cv2"))
        if importlib.util.find_spec(module) is None
    ]
    if missing:
        raise ConfigError(
            f"curate needs the optional package(s) {', '.join(missing)} (scene detection and video frames): "
            "pip install 'hf-tiktokactions[curation]'"
        )


def _init_pool_worker(options: CurationOptions) -> None:
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    _init_local_worker(options)


def _local_worker(video: VideoInput, output: Path, options: CurationOptions) -> dict[str, Any] | None:
    return curate_video(video, output, options, _WORKER_DETECTOR)


def _pool(workers: int, options: CurationOptions):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")  # no forked torch / OpenMP state in the workers
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_init_pool_worker, initargs=(options,))


def _isolated_main(video: VideoInput, output: Path, options: CurationOptions, connection) -> None:
    _init_pool_worker(options)
    try:
        connection.send(("record", _local_worker(video, output, options)))
    except RunStopped as stopped:
        connection.send(("stopped", str(stopped)))


def _run_isolated(video: VideoInput, output: Path, options: CurationOptions) -> dict[str, Any] | None:
    """One video in a fresh process, so a crash is pinned on it and recorded, not repeated forever.

    Only a crash (:data:`CRASH_SIGNALS`: the decoder faulted on this input) is a verdict. A process
    killed otherwise (SIGKILL from the OOM killer or a person, SIGTERM) says nothing about the video:
    nothing is recorded and ``None`` is returned, so the rerun tries it again.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_isolated_main, args=(video, output, options, sender), daemon=True)
    process.start()
    sender.close()
    try:
        kind, payload = receiver.recv()
    except EOFError:  # the process died before it could answer
        kind, payload = None, None
    process.join()
    if kind == "record":
        return payload
    if kind == "stopped":
        raise RunStopped(payload)
    if process.exitcode and process.exitcode > 0:  # a Python error in the worker (printed above), not a signal
        raise RunStopped(
            f"the worker process curating {video.source_path} failed before it finished (exit status "
            f"{process.exitcode}; its error is printed above): that is the setup, not the video, and nothing was "
            f"recorded for it. Fix the cause and rerun; for instance, {SCRIPT_GUARD_HINT}"
        )
    signal_number = -process.exitcode if process.exitcode and process.exitcode < 0 else None
    if signal_number in CRASH_SIGNALS:
        record = rejected_record(
            video, options, f"the worker process crashed on this video ({signal.Signals(signal_number).name})"
        )
        write_metadata(output, record)
        return record
    how = signal.Signals(signal_number).name if signal_number else f"exit status {process.exitcode}"
    logger.warning(
        "the worker curating %s was killed (%s: out of memory or a signal from outside); left for the rerun",
        video.source_path,
        how,
    )
    return None


@contextlib.contextmanager
def _queued_never_start_when_stopped(pool) -> Iterator[None]:
    """On Ctrl-C / SIGTERM (or the generator closed), the videos under way finish and are committed by their
    workers; the queued ones are cancelled (leaving the pool would otherwise curate them all first)."""
    try:
        yield
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise


def run_local(
    videos: Sequence[VideoInput], output: Path, options: CurationOptions, workers: int
) -> Iterator[dict[str, Any] | None]:
    """Yield each video's record as it is committed (order of completion), ``None`` for one left for the rerun.

    A worker that dies (segfault in a decoder, the OOM killer) breaks the pool: the videos that were in
    flight are then rerun one by one in fresh processes (:func:`_run_isolated`): one that crashes its
    process again is recorded as rejected, one whose process is killed is left for the rerun; the rest
    of the list goes on in a new pool.
    """
    if workers <= 1:
        _init_local_worker(options)
        for video in videos:
            yield _local_worker(video, output, options)
        return
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    pending_videos: Iterator[VideoInput] = iter(videos)
    suspects: list[VideoInput] = []
    broken = False  # the pool broke while videos were being submitted to it
    with _pool(workers, options) as pool, _queued_never_start_when_stopped(pool):
        in_flight: dict = {}
        while not suspects and not broken:
            for video in pending_videos:
                try:
                    in_flight[pool.submit(_local_worker, video, output, options)] = video
                except BrokenProcessPool:  # a worker died since the pool started or the last wait
                    broken = True
                    if in_flight:  # this video never ran: it goes to the next pool
                        pending_videos = itertools.chain([video], pending_videos)
                    else:  # nothing ran at all: run it alone, so every new pool makes progress
                        suspects.append(video)
                    break
                if len(in_flight) >= 2 * workers:
                    break
            if not in_flight:
                if broken:
                    break
                return
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                video = in_flight.pop(future)
                try:
                    record = future.result()
                except BrokenProcessPool:
                    suspects.append(video)
                    continue
                yield record
        suspects += in_flight.values()
    logger.warning("a worker process died; rerunning the %d videos it may have been on one by one", len(suspects))
    for video in suspects:
        yield _run_isolated(video, output, options)
    yield from run_local(list(pending_videos), output, options, workers)


# --- Ray engine ---------------------------------------------------------------------------------


def _where() -> dict[str, Any]:
    """This Ray process: kept in each video's metadata file (not an index column), so a bad node shows up there."""
    import socket

    import ray

    return {"node_id": ray.get_runtime_context().get_node_id(), "hostname": socket.gethostname(), "pid": os.getpid()}


def _ray_video_stage(video: VideoInput, output: Path, options: CurationOptions):
    import cv2

    cv2.setNumThreads(1)
    stage = video_stage(video, output, options)
    stage.record["ray_worker"] = _where()
    return stage


class _RayDetector:
    """Holds one loaded detector in a Ray actor."""

    def __init__(self, options: CurationOptions) -> None:
        self.detector = build_detector(options)

    def detect(self, stage):
        detections = detector_stage(stage, self.detector)
        stage.record["ray_detector"] = _where()
        stage.frames = []  # the driver needs the record and the boxes, not the pixels back
        return stage, detections


def detector_actor_plan(cluster_resources: dict[str, float]) -> tuple[int, dict[str, float]]:
    """How many detector actors to start and what each asks Ray for: one GPU each when there are GPUs, else one CPU
    (none on a one-CPU cluster: an actor keeps what it asks for while it lives, and the video tasks that feed it
    would wait for that CPU forever)."""
    gpus = int(cluster_resources.get("GPU", 0))
    if gpus:
        return gpus, {"num_gpus": 1, "num_cpus": 0}
    return 1, {"num_cpus": 1 if cluster_resources.get("CPU", 0) > 1 else 0}


def run_ray(
    videos: Sequence[VideoInput], output: Path, options: CurationOptions, workers: int | None, address: str | None
) -> Iterator[dict[str, Any] | None]:
    """Yield each video's record as it is committed; starts (and later stops) a local Ray unless one is running."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--engine ray needs the optional package ray: pip install 'hf-tiktokactions[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        init: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
        if address:
            init["address"] = address
        elif workers:
            init["num_cpus"] = workers
        ray.init(**init)
    try:
        if address:  # other machines: they must see the inputs and DIR
            from hf_tiktokactions.curation.ray_storage import check_nodes_see

            check_nodes_see(ray, output, videos[0].source_path if videos else None)
        resources = ray.cluster_resources()
        cpus = max(1, int(resources.get("CPU", 1)))
        video_task = ray.remote(num_cpus=1)(_ray_video_stage)
        actors = []
        if options.uses_detector:
            actor_class = ray.remote(max_restarts=3, max_task_retries=1)(_RayDetector)
            count, wanted = detector_actor_plan(resources)
            actors = [actor_class.options(**wanted).remote(options) for _ in range(count)]
        max_in_flight = 2 * (workers or cpus)
        pending_videos = iter(videos)
        stage_refs: dict = {}  # ref -> video
        detect_refs: dict = {}  # ref -> video
        turn = 0
        while True:
            for video in pending_videos:
                stage_refs[video_task.remote(video, output, options)] = video
                if len(stage_refs) + len(detect_refs) >= max_in_flight:
                    break
            if not stage_refs and not detect_refs:
                return
            ready, _ = ray.wait([*stage_refs, *detect_refs], num_returns=1)
            ref = ready[0]
            is_stage = ref in stage_refs
            video = stage_refs.pop(ref) if is_stage else detect_refs.pop(ref)
            try:
                if is_stage:
                    stage, detections = ray.get(ref), None
                    if actors and stage.record["status"] is None:
                        detect_refs[actors[turn % len(actors)].detect.remote(stage)] = video
                        turn += 1
                        continue
                else:
                    stage, detections = ray.get(ref)
            except ray.exceptions.RayError as error:  # a dead worker or actor (crash, OOM), after Ray's retries
                if isinstance(getattr(error, "cause", None), RunStopped):
                    raise error.cause from None  # a full disk or the like on a node: not a verdict on the video
                if isinstance(getattr(error, "cause", None), DetectorFailed):
                    logger.warning("%s", error.cause)
                    yield None
                    continue
                if isinstance(error, ray.exceptions.NodeDiedError):
                    # the machine went away, not the video: left for the rerun, as the local engine does for a
                    # worker killed from outside (a crashed worker stays a verdict: Ray cannot tell kill from crash)
                    logger.warning("the Ray node curating %s died; left for the rerun", video.source_path)
                    yield None
                    continue
                record = rejected_record(
                    video, options, f"the Ray {'task' if is_stage else 'detector'} failed: {type(error).__name__}"
                )
                write_metadata(output, record)
                yield record
                continue
            record = decision_stage(stage.record, detections, options)
            write_metadata(output, record)
            yield record
    finally:
        if started_here:
            ray.shutdown()


# --- the run ------------------------------------------------------------------------------------


def _lock_output(output: Path):
    return lock_output(output, LOCK_FILE, "curate")


def _under_earlier_ids(output: Path, videos: Sequence[VideoInput]) -> list[VideoInput]:
    """``videos``, each file an earlier run into ``output`` curated under the id that run gave it.

    An input's id can depend on the others: ``clip.mp4`` is ``clip`` alone and ``clip.mp4`` once a ``clip.mov`` is
    beside it, and a list's second ``same.mp4`` is named by its path. A rerun with more inputs curated such a done
    video again under its new id, and the index held it twice. Only the earlier records are read, once, and only
    when some input has no record under its own id.
    """
    if all(metadata_path(output, video.video_id).is_file() for video in videos):
        return list(videos)
    earlier: dict[str, str] = {}  # source file -> the id it was curated under
    for meta in sorted((output / METADATA_DIR).glob("*.json")):
        try:
            source = resolved_path(read_json(meta).get("source_path"), output)
        except (OSError, ValueError, AttributeError):
            continue
        if source:
            earlier.setdefault(os.path.abspath(source), meta.stem)
    renamed = []
    for video in videos:
        known = earlier.get(os.path.abspath(video.source_path))
        if known and known != video.video_id and not metadata_path(output, video.video_id).is_file():
            video = replace(video, video_id=known)
        renamed.append(video)
    return renamed


def _distinct_from_earlier(output: Path, video: VideoInput) -> VideoInput:
    """``video``, renamed ``<id>-<hash of its path>`` when ``DIR`` holds another video under its id.

    Another video: the earlier record's source is a different file that still exists and differs in
    content (an input folder with the same relative names). A source that is gone is taken as moved.
    """
    for part in (f"{video.video_id}.json", f"{video.video_id}.mp4"):
        for folder in (METADATA_DIR, CLIPS_DIR):
            try:
                path_under(output / folder, part)
            except OutsideFolder as error:
                raise ConfigError(f"video id {video.video_id!r} of {video.source_path}: {error}") from None
    meta = metadata_path(output, video.video_id)
    if not meta.is_file():
        return video
    try:
        earlier = resolved_path(read_json(meta).get("source_path"), output) or ""  # stored relative to DIR
    except (OSError, ValueError):
        return video
    same = os.path.abspath(earlier) == os.path.abspath(video.source_path)
    if same or not _is_another_file(Path(earlier), Path(video.source_path)):
        return video
    digest = hashlib.sha256(video.source_path.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    renamed = replace(video, video_id=f"{video.video_id}-{digest}")
    logger.info(
        "%s holds another video as %s (%s); curating %s as %s",
        output,
        video.video_id,
        earlier,
        video.source_path,
        renamed.video_id,
    )
    return renamed


def _is_another_file(earlier: Path, current: Path) -> bool:
    try:
        if not earlier.is_file() or not current.is_file() or earlier.samefile(current):
            return False
        return not filecmp.cmp(earlier, current, shallow=False)
    except OSError:
        return False


def _check_config(output: Path, options: CurationOptions) -> None:
    """Refuse to mix outputs of different settings in one ``DIR``."""
    path = output / CONFIG_FILE
    current = {k: v for k, v in options.to_json().items() if k not in _RUN_INDEPENDENT}
    if path.is_file():
        previous = {k: v for k, v in read_json(path).items() if k not in _RUN_INDEPENDENT}
        changed = sorted(k for k in set(current) | set(previous) if current.get(k) != previous.get(k))
        if changed:
            differences = ", ".join(f"{k}: {previous.get(k)!r} -> {current.get(k)!r}" for k in changed)
            raise OutputStateError(
                f"{output} was curated with other settings ({differences}); "
                "rerun with the same options or use a new --output-dir"
            )
    else:
        write_json_atomic(path, current)


def clean_partial_files(output: Path) -> int:
    """Remove what a killed run left half-written (temporary clips, metadata and index folders)."""
    removed = 0
    for pattern, folder in (("*.tmp.mp4", CLIPS_DIR), ("*.tmp", METADATA_DIR)):
        for path in (output / folder).glob(f".{pattern}"):
            path.unlink(missing_ok=True)
            removed += 1
    for path in output.glob(".index.*"):
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    return removed


def _write_reports(
    output: Path, result: CurationResult, engine: str, workers: int | None, options: CurationOptions
) -> None:
    from hf_tiktokactions.curation.index import read_records

    records = read_records(output)
    result.by_status = dict(Counter(r["status"] for r in records))
    result.reasons = dict(Counter(r["reason"] for r in records if r["status"] != "pass").most_common(20))
    review = [f"{r['video_id']}\t{output / r['clip_path']}\t{r['reason']}" for r in records if r["status"] == REVIEW]
    tmp = output / f".{REVIEW_LIST_FILE}.tmp"
    tmp.write_text("".join(line + "\n" for line in review), encoding="utf-8")
    os.replace(tmp, output / REVIEW_LIST_FILE)
    write_json_atomic(
        output / SUMMARY_FILE,
        {
            "hf_tiktokactions_version": __version__,
            "engine": engine,
            "workers": workers,
            "inputs": result.inputs,
            "already_done": result.already_done,
            "processed": result.processed,
            "left_for_rerun": result.left_for_rerun,
            "seconds": round(result.seconds, 3),
            "videos_per_second": round(result.processed / result.seconds, 4) if result.seconds > 0 else None,
            "by_status": result.by_status,
            "top_reasons": result.reasons,
            "options": options.to_json(),
            "index": str(output / INDEX_DIR),
            "review_list": str(output / REVIEW_LIST_FILE),
        },
    )


def curate(
    videos: Sequence[VideoInput],
    output: str | Path,
    options: CurationOptions,
    engine: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    progress: bool = True,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> CurationResult:
    """Curate ``videos`` into ``output`` (resumable); see the module docstring."""
    _refuse_a_worker_importing_the_script()
    if engine not in ENGINES:
        raise ConfigError(f"--engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    options.validate()  # before the folder records these settings: a rerun must repeat them
    _require_curation_packages()
    output = Path(output)
    try:
        output_folder(output)
        refuse_another_jobs_folder(output, "curate", "--output-dir")
        for folder in (output / CLIPS_DIR, output / METADATA_DIR):
            output_folder(folder)
        lock = _lock_output(output)
        try:
            return _curate_locked(videos, output, options, engine, workers, ray_address, progress, on_record)
        finally:
            lock.close()
    except OSError as error:  # the folders, the config, the index, the reports: the machine, never a video
        if machine_fault(error):
            raise RunStopped(
                f"{output}: {type(error).__name__}: {error}; free the space (or fix the cause), then rerun the same "
                "command: finished videos are kept and the rest are curated"
            ) from None
        raise


def _curate_locked(
    videos: Sequence[VideoInput],
    output: Path,
    options: CurationOptions,
    engine: str,
    workers: int | None,
    ray_address: str | None,
    progress: bool,
    on_record: Callable[[dict[str, Any]], None] | None,
) -> CurationResult:
    from hf_tiktokactions.curation.index import save_index

    _check_config(output, options)
    clean_partial_files(output)
    if options.uses_detector:
        build_detector(options)  # fail on missing weights or unknown classes before any work
    planned = [_distinct_from_earlier(output, v) for v in _under_earlier_ids(output, videos)]
    todo = [v for v in planned if not metadata_path(output, v.video_id).is_file()]
    result = CurationResult(output=output, inputs=len(videos), already_done=len(videos) - len(todo))
    logger.info("%d videos to curate, %d already done", len(todo), result.already_done)
    started = time.perf_counter()
    if engine == "local":
        records = run_local(todo, output, options, workers or os.cpu_count() or 1)
    else:
        records = run_ray(todo, output, options, workers, ray_address)
    with tqdm(total=len(todo), unit="video", disable=not progress or None) as bar:
        for record in records:
            bar.update()
            if record is None:
                result.left_for_rerun += 1
                continue
            result.processed += 1
            if on_record is not None:
                on_record(record)
    result.seconds = time.perf_counter() - started
    clean_partial_files(output)  # a worker that died mid-write left its temporary clip
    save_index(output)
    _write_reports(output, result, engine, workers, options)
    return result


def format_summary(result: CurationResult) -> str:
    """A few lines for the terminal (the full summary is ``curation_summary.json``)."""
    counts = ", ".join(f"{result.by_status.get(s, 0)} {s}" for s in ("pass", "review", "rejected"))
    lines = [
        f"{result.processed} curated in {result.seconds:.1f} s, {result.already_done} already done; index: {counts}",
        f"index {result.output / INDEX_DIR}, review list {result.output / REVIEW_LIST_FILE}",
    ]
    lines += [f"  {count:>5} x {reason}" for reason, count in list(result.reasons.items())[:5]]
    if result.left_for_rerun:
        lines.append(
            f"{result.left_for_rerun} videos were left for the rerun (their worker was killed from outside, out of "
            "memory or a signal, or the person detector failed on them: see the warnings above); rerun the same "
            "command to curate them"
        )
    return "\n".join(lines)
