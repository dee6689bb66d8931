"""Curation throughput on one pinned core, and person-detector frames/s on CPU; one JSON line each.

    python benchmarks/curation.py                    # 4 videos, core 1
    python benchmarks/curation.py --num-videos 8 --core 0

Inputs: 10 s, 720x1280, 30 fps H.264 MP4s (the drifting-texture pattern of benchmarks/make_videos.py,
same defaults), generated once into /tmp/curation_bench. The process pins itself to one core with
``os.sched_setaffinity`` and runs the local engine with one worker, the detector off: probe, one
decode pass, PySceneDetect content detection, clip choice, 320-short-side x264 re-encode, clip probe,
10-frame sampling, metadata, index. For scale, the same run times FFmpeg (one thread, same core) on
the same files: decode only, and decode + scale to 320 + x264 ultrafast / veryfast (the figures the
reference measurements of docs/BENCHMARKS.md give). The detector figure uses the untrained YOLOv8n
built from ultralytics' ``yolov8n.yaml`` (speed only; no weights are downloaded), batches of 10
frames of 320x568, at 640 input size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hf_tiktokactions.layout import CLIPS_DIR
from hf_tiktokactions.option_help import ArgumentParser, retire

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def make_inputs(folder: Path, count: int, noise: float) -> list[Path]:
    from video_files import write_test_video

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"bench_720x1280_{i}_noise{noise:g}.mp4"
        if not path.is_file():
            tmp = path.with_suffix(".tmp.mp4")
            write_test_video(tmp, 300, 1280, 720, 30, pattern="motion", crf=23, seed=i, noise=noise)
            tmp.rename(path)
        paths.append(path)
    return paths


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def ffmpeg_seconds(paths: list[Path], args: list[str]) -> float | None:
    """Mean wall seconds per file of one-thread FFmpeg with ``args`` (None without an ffmpeg binary)."""
    binary = shutil.which("ffmpeg")
    if binary is None:
        return None
    started = time.perf_counter()
    for path in paths:
        subprocess.run([binary, "-v", "error", "-threads", "1", "-i", str(path), *args], check=True)
    return (time.perf_counter() - started) / len(paths)


def bench_pipeline(paths: list[Path], preset: str) -> dict:
    from hf_tiktokactions.curation.engines import curate
    from hf_tiktokactions.curation.inputs import VideoInput
    from hf_tiktokactions.curation.pipeline import CurationOptions

    options = CurationOptions(detector="none", preset=preset)
    videos = [VideoInput(p.stem, str(p)) for p in paths]
    with tempfile.TemporaryDirectory(prefix="curation_bench_") as scratch:
        curate(videos[:1], Path(scratch) / "warmup", options, workers=1, progress=False)  # imports, caches
        started = time.perf_counter()
        result = curate(videos, Path(scratch) / "out", options, workers=1, progress=False)
        seconds = time.perf_counter() - started
        clip_bytes = sum(p.stat().st_size for p in (Path(scratch) / "out" / CLIPS_DIR).iterdir())
    assert result.by_status.get("pass") == len(paths), result.by_status
    return {
        "seconds_per_video": round(seconds / len(paths), 3),
        "videos_per_second_per_core": round(len(paths) / seconds, 3),
        "clip_kbytes_mean": round(clip_bytes / len(paths) / 1024, 1),
    }


def bench_detector(threads: int, batches: int) -> dict:
    import numpy as np
    import torch

    from hf_tiktokactions.curation.stages.person_detection import UltralyticsDetector

    torch.set_num_threads(threads)
    detector = UltralyticsDetector("yolov8n.yaml", image_size=640, device="cpu")
    frames = [np.random.default_rng(i).integers(0, 255, (568, 320, 3), dtype=np.uint8) for i in range(10)]
    detector.detect(frames)  # warm-up
    started = time.perf_counter()
    for _ in range(batches):
        detector.detect(frames)
    seconds = time.perf_counter() - started
    return {"frames_per_second": round(batches * len(frames) / seconds, 2), "torch_threads": threads}


def main() -> None:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-videos", type=int, default=4, help="videos to write and curate")
    retire(parser, "--videos", "--num-videos", "names where the videos are on the other commands")
    parser.add_argument("--core", type=int, default=1, help="the core to pin to")
    parser.add_argument("--noise", type=float, default=0.0, help="per-pixel noise of the inputs (more = more bits)")
    parser.add_argument("--x264-preset", dest="preset", default="superfast", help="x264 preset of the clips")
    retire(parser, "--preset", "--x264-preset", "names a model size on the other commands")
    parser.add_argument("--inputs", type=Path, default=Path("/tmp/curation_bench"))
    parser.add_argument("--detector-batches", type=int, default=3)
    args = parser.parse_args()
    all_cores = os.sched_getaffinity(0)
    paths = make_inputs(args.inputs, args.num_videos, args.noise)
    os.sched_setaffinity(0, {args.core})
    import cv2

    cv2.setNumThreads(1)
    common = {
        "machine": platform.node(),
        "cpus": os.cpu_count(),
        "pinned_core": args.core,
        "input": "720x1280 30fps 10s h264",
        "input_kbytes_mean": round(sum(p.stat().st_size for p in paths) / len(paths) / 1024, 1),
        "videos": len(paths),
    }
    decode = ffmpeg_seconds(paths, ["-f", "null", "-"])
    ultrafast = ffmpeg_seconds(
        paths, ["-vf", "scale=320:-2", "-c:v", "libx264", "-preset", "ultrafast", "-threads", "1", "-f", "null", "-"]
    )
    veryfast = ffmpeg_seconds(
        paths, ["-vf", "scale=320:-2", "-c:v", "libx264", "-preset", "veryfast", "-threads", "1", "-f", "null", "-"]
    )
    emit(
        measure="ffmpeg_one_thread_seconds_per_video",
        decode=decode and round(decode, 3),
        decode_scale320_x264_ultrafast=ultrafast and round(ultrafast, 3),
        decode_scale320_x264_veryfast=veryfast and round(veryfast, 3),
        **common,
    )
    pipeline = bench_pipeline(paths, args.preset)
    emit(
        measure="curation_local_engine_detector_off",
        preset=args.preset,
        **pipeline,
        relative_to_ffmpeg_decode=decode and round(pipeline["seconds_per_video"] / decode, 2),
        **common,
    )
    emit(
        measure="person_detector_cpu_yolov8n_untrained",
        pinned=True,
        **bench_detector(1, args.detector_batches),
        **common,
    )
    os.sched_setaffinity(0, all_cores)
    emit(
        measure="person_detector_cpu_yolov8n_untrained",
        pinned=False,
        **bench_detector(len(all_cores), args.detector_batches),
        **{**common, "pinned_core": None},
    )


if __name__ == "__main__":
    main()
