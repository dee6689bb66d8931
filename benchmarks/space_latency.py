"""Latency of the Space's answer: decode + preprocess + ViT-B forward + gallery, per mode and dtype.

Builds a random-weight ViT-B/16 classifier (16x224, 400 classes; weights do not change the cost),
writes a test video (default: 10 s of 720x1280 portrait H.264 at 30 fps, like a phone clip), and times
``VideoClassifier.classify`` from ``hf_tiktokactions/inference.py`` (what ``/classify`` of ``spaces/app.py`` runs)
after one warm-up call. Prints one JSON line per (dtype, mode): median and min wall time of the repeats, and the
process CPU seconds divided by the thread count (what an otherwise idle machine would take at best).
The request time limit is lifted here (a loaded machine would hit it); the other upload limits are the
defaults. ``--hostile`` also times the refusal of a 10000x10000 H.264 upload (32 flat frames, about 300 KB)
and the resident memory the refusal adds (Linux: the VmHWM high-water mark, reset before the call).

    python benchmarks/space_latency.py --threads 2 [--repeats 5] [--modes fast accurate] [--server] [--hostile]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from hf_tiktokactions.option_help import ArgumentParser

REPO_ROOT = Path(__file__).resolve().parents[1]


def write_video(path: Path, seconds: float, height: int, width: int, fps: int) -> None:
    """A drifting textured pattern with noise (costs about what camera footage costs to decode)."""
    import av
    import numpy as np

    rng = np.random.default_rng(0)
    y = np.arange(height, dtype=np.float32)[:, None]
    x = np.arange(width, dtype=np.float32)[None, :]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.height, stream.width, stream.pix_fmt = height, width, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for index in range(int(seconds * fps)):
            shift = 3.0 * index
            r = 128 + 100 * np.sin((x + shift) / 37.0) * np.cos(y / 53.0)
            g = np.broadcast_to(128 + 100 * np.sin((y - shift) / 29.0), (height, width))
            b = 128 + 100 * np.cos((x + y + 2 * shift) / 41.0)
            frame = np.stack([r, g, b], axis=-1) + rng.normal(0, 6, (height, width, 1)).astype(np.float32)
            image = av.VideoFrame.from_ndarray(np.clip(frame, 0, 255).astype(np.uint8), format="rgb24")
            container.mux(stream.encode(image))
        container.mux(stream.encode(None))


def main() -> None:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model-preset", "--preset", dest="preset", default="vit-b", help="model size")
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--modes", nargs="+", default=["fast"], choices=["fast", "accurate"])
    parser.add_argument("--accurate-views", default="2x3")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--height", type=int, default=1280)
    parser.add_argument("--width", type=int, default=720)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument(
        "--server", action="store_true", help="also time /classify through a launched app and gradio_client"
    )
    parser.add_argument("--server-dtype", default="auto", help="INFERENCE_DTYPE of the launched app")
    parser.add_argument("--hostile", action="store_true", help="also time refusing a 10000x10000 upload")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    from hf_tiktokactions.data.video_budget import VideoBudget
    from hf_tiktokactions.hub.export import load_classifier
    from hf_tiktokactions.hub.processor_config import read_preprocessing, write_processor_configs
    from hf_tiktokactions.inference import PreprocessingSpec, VideoClassifier
    from hf_tiktokactions.modeling import VideoMAEv2Config, VideoMAEv2ForVideoClassification

    with tempfile.TemporaryDirectory() as tmp:
        model_dir, video = Path(tmp) / "model", Path(tmp) / "clip.mp4"
        config = VideoMAEv2Config.from_preset(args.preset, num_labels=400)
        VideoMAEv2ForVideoClassification(config).save_pretrained(model_dir)
        write_processor_configs(model_dir, PreprocessingSpec.for_model_config(config))
        write_video(video, args.seconds, args.height, args.width, args.fps)
        views = parse_views(args.accurate_views)
        budget = VideoBudget(request_seconds=24 * 3600.0)
        spec = read_preprocessing(model_dir, config)
        classifiers = {
            name: VideoClassifier(load_classifier(model_dir), spec, dtype=getattr(torch, name)) for name in args.dtypes
        }
        for mode_name in args.modes:
            mode = None if mode_name == "fast" else views
            runs: dict[str, list[dict]] = {name: [] for name in args.dtypes}
            for classifier in classifiers.values():
                classifier.classify(str(video), mode, budget)  # warm-up
            # rounds alternate the dtypes, so load from other processes hits each alike
            for _ in range(args.repeats):
                for name, classifier in classifiers.items():
                    cpu_started = time.process_time()  # all threads of this process
                    started = time.perf_counter()
                    seconds = classifier.classify(str(video), mode, budget).seconds
                    seconds["total"] = time.perf_counter() - started
                    runs[name].append({**seconds, "cpu": time.process_time() - cpu_started})
            for name in args.dtypes:
                print(json.dumps(summarise(runs[name], args, mode_name, name, views)), flush=True)
        if args.hostile:
            print(json.dumps(hostile_refusal(next(iter(classifiers.values())), Path(tmp) / "huge.mp4")), flush=True)
        del classifiers
        if args.server:
            print(json.dumps(server_latency(model_dir, video, args)), flush=True)


def parse_views(text: str) -> tuple[int, int]:
    """ "2x3" -> (2, 3)."""
    temporal, spatial = (int(part) for part in text.lower().split("x"))
    return temporal, spatial


def summarise(
    runs: list[dict], args: argparse.Namespace, mode_name: str, dtype_name: str, views: tuple[int, int]
) -> dict:
    import torch

    from hf_tiktokactions.machine import cpu_model

    return {
        "benchmark": "space_latency",
        "preset": args.preset,
        "mode": mode_name,
        "views": 1 if mode_name == "fast" else views[0] * views[1],
        "dtype": dtype_name,
        "threads": torch.get_num_threads(),
        "video": f"{args.seconds:g} s {args.width}x{args.height} {args.fps} fps H.264",
        **{
            f"{key}_s_median": round(statistics.median(r[key] for r in runs), 3)
            for key in ("decode", "preprocess", "model", "total")
        },
        "total_s_min": round(min(r["total"] for r in runs), 3),
        # on a busy machine wall time overstates; CPU seconds / threads is what an idle one would take
        "cpu_s_per_thread_median": round(statistics.median(r["cpu"] for r in runs) / torch.get_num_threads(), 3),
        "repeats": len(runs),
        "machine": f"{cpu_model()}, {os.cpu_count()} cores",
        "load_average_1min": round(os.getloadavg()[0], 2),
        "torch": torch.__version__,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_flat_video(path: Path, side: int, num_frames: int) -> None:
    """Grey ``side`` x ``side`` H.264 frames: x264 spends almost no bits on them, so the file stays small."""
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(30))
        stream.width = stream.height = side
        stream.pix_fmt, stream.options = "yuv420p", {"preset": "ultrafast", "crf": "30"}
        frame = av.VideoFrame.from_ndarray(np.full((side * 3 // 2, side), 128, np.uint8), format="yuv420p")
        for index in range(num_frames):
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def peak_rss_bytes() -> int:
    """This process's resident-memory high-water mark (Linux /proc)."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) * 1024


def hostile_refusal(classifier, path: Path) -> dict:
    """Seconds and resident memory ``classify`` spends refusing a 10000x10000 file (the default budget)."""
    from hf_tiktokactions.errors import BudgetExceeded

    write_flat_video(path, 10_000, 32)
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = peak_rss_bytes()
    started = time.perf_counter()
    try:
        classifier.classify(str(path))
        message = "(classified, not refused)"
    except BudgetExceeded as error:
        message = str(error)
    return {
        "benchmark": "space_latency",
        "case": f"refuse 10000x10000 H.264, 32 frames, {path.stat().st_size // 1024} KB",
        "refusal_s": round(time.perf_counter() - started, 3),
        "peak_rss_added_mb": round((peak_rss_bytes() - before) / 2**20, 1),
        "message": message,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def server_latency(model_dir: Path, video: Path, args: argparse.Namespace) -> dict:
    """Launch ``spaces/app.py`` and time ``/classify`` (fast mode) through gradio_client: upload included."""
    import socket
    import subprocess
    import urllib.request

    from gradio_client import Client, handle_file

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "MODEL_ID": str(model_dir),
        "TORCH_THREADS": str(args.threads),
        "INFERENCE_DTYPE": args.server_dtype,
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "EXAMPLES_DIR": str(model_dir.parent / "examples"),
    }
    server = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "spaces" / "app.py")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError as exc:
                if server.poll() is not None:
                    raise SystemExit("the Space exited during start-up; run spaces/app.py by hand to see why") from exc
                time.sleep(0.5)
        client = Client(url, verbose=False, download_files=False)
        client.predict(handle_file(str(video)), "fast (1 view)", api_name="/classify")  # warm-up
        walls = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            client.predict(handle_file(str(video)), "fast (1 view)", api_name="/classify")
            walls.append(time.perf_counter() - started)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "benchmark": "space_latency",
        "via": "gradio_client -> spaces/app.py on 127.0.0.1 (upload included)",
        "preset": args.preset,
        "mode": "fast",
        "dtype": args.server_dtype,
        "threads": args.threads,
        "total_s_median": round(statistics.median(walls), 3),
        "total_s_min": round(min(walls), 3),
        "repeats": args.repeats,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


if __name__ == "__main__":
    sys.exit(main())
