"""Multi-view testing throughput: clips/s and videos/s with all views of a video in one batch.

Measurements, one JSON line each (the model ones for ours and, in the same run, transformers' VideoMAE):

* ``model``: the classifier alone on pre-built batches of ``--videos-per-batch`` x views clips (what the GPU or
  CPU can do; views batched together, softmax averaged per video);
* ``end_to_end``: ``predict_multiview`` over real H.264 files (decode every view's frames in one read, resize
  the distinct frames once, crop in ``--workers`` DataLoader workers; uint8 to the device, normalised there, then
  the model), as the final test of a fine-tuning run. ``--normalize-in-workers`` ships float32 instead.

    python benchmarks/eval_throughput.py --model-preset vit-b --views 5x3 --videos-per-batch 4         # GPU, bf16
    python benchmarks/eval_throughput.py --model-preset vit-s --views 5x3 --videos-per-batch 1 --batches 2 \
        --num-videos 2 --device cpu
    python benchmarks/eval_throughput.py --views 5x3 --num-videos 32 --data-only               # the data side, one core

``--files`` distinct videos are generated into ``--video-dir`` (default /tmp/eval_throughput_videos) with
benchmarks/make_videos.py's writer (10 s of 320x568 at 30 fps unless given; existing ones are reused) and cycled
to ``--num-videos`` test items, so worker start-up is a small part of the time. Every item decodes its file anew.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from transformers_baseline import videomae_config

from hf_tiktokactions.data.finetune_dataset import MultiViewVideoDataset
from hf_tiktokactions.machine import cpu_model
from hf_tiktokactions.modeling import VideoMAEv2Config, VideoMAEv2ForVideoClassification
from hf_tiktokactions.option_help import ArgumentParser, retire
from hf_tiktokactions.training.evaluation import average_view_probabilities, predict_multiview

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}


def parse_args() -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-preset", "--preset", dest="preset", default="vit-b", help="model size")
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--num-labels", type=int, default=400)
    parser.add_argument("--views", default="5x3", help="temporal x spatial views per video")
    parser.add_argument("--videos-per-batch", type=int, default=4)
    parser.add_argument("--batches", type=int, default=10, help="timed model-only batches")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--num-videos", type=int, default=64, help="test items of the end-to-end measurement (0 = skip it)"
    )
    retire(parser, "--videos", "--num-videos", "names where the videos are on the other commands")
    parser.add_argument("--files", type=int, default=16, help="distinct video files the items cycle through")
    parser.add_argument(
        "--normalize-in-workers",
        action="store_true",
        help="float32 clips normalised in the workers (instead of uint8 normalised on the device)",
    )
    parser.add_argument(
        "--data-only", action="store_true", help="only the items (decode, resize, crop) on one CPU thread"
    )
    parser.add_argument("--profile", action="store_true", help="also print the operators that take the model's time")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="model-only measurements per model, the models alternating (first one first, then the other), so the "
        "load of a shared machine hits both alike; the summary compares the medians",
    )
    parser.add_argument(
        "--models", default="ours,transformers", help="comma list of: ours, transformers (model-only baseline)"
    )
    parser.add_argument("--video-dir", type=Path, default=Path("/tmp/eval_throughput_videos"))
    parser.add_argument("--height", type=int, default=568)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=DTYPES, help="autocast dtype (default bf16 on GPU, fp32 on CPU)")
    parser.add_argument(
        "--cast-weights", action="store_true", help="model-only: cast both models' weights to --dtype (no autocast)"
    )
    parser.add_argument(
        "--compile",
        choices=("default", "reduce-overhead", "max-autotune"),
        help="model-only: torch.compile both models with this mode (reduce-overhead: CUDA graphs)",
    )
    return parser.parse_args()


def machine(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(0)
    return f"CPU {cpu_model()}, {torch.get_num_threads()} threads"


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def transformers_classifier(config: VideoMAEv2Config):
    """transformers' VideoMAEForVideoClassification of the same size (mean pooling, SDPA): the baseline."""
    import transformers

    theirs = videomae_config(config, use_mean_pooling=True, num_labels=config.num_labels, attn_implementation="sdpa")
    return transformers.VideoMAEForVideoClassification(theirs)


def random_batch(args, views: int) -> torch.Tensor:
    """(videos_per_batch * views, T, 3, S, S) random clips on the device: one batch of the model measurements."""
    shape = (args.videos_per_batch * views, args.num_frames, 3, args.image_size, args.image_size)
    dtype = DTYPES[args.dtype] if args.cast_weights and args.dtype else None
    return torch.randn(shape, device=args.device, dtype=dtype)


def benchmark_model(model, args, views: int, dtype) -> dict:
    clips = args.videos_per_batch * views
    dtype = None if args.cast_weights else dtype  # cast weights run as they are
    pixel_values = random_batch(args, views)
    device_type = torch.device(args.device).type
    with torch.no_grad(), torch.autocast(device_type, dtype=dtype, enabled=dtype is not None):
        for _ in range(args.warmup):
            average_view_probabilities(model(pixel_values=pixel_values).logits, views)
        sync(args.device)
        started, cpu_started = time.perf_counter(), time.process_time()
        for _ in range(args.batches):
            average_view_probabilities(model(pixel_values=pixel_values).logits, views)
        sync(args.device)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    record = {
        "measurement": "model",
        "clips_per_s": round(clips * args.batches / seconds, 3),
        # clips per CPU second of this process (all threads): on a shared machine less swayed by other processes
        "clips_per_cpu_s": round(clips * args.batches / max(cpu_seconds, 1e-9), 3),
        "videos_per_s": round(args.videos_per_batch * args.batches / seconds, 3),
        "clips_per_batch": clips,
    }
    if args.device.startswith("cuda"):
        record["peak_memory_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return record


def profile_model(model, args, views: int, dtype, top: int = 12) -> list[dict]:
    """torch.profiler over 3 model batches: the ``top`` operators by self device time (CPU time on the CPU)."""
    from torch.profiler import ProfilerActivity, profile

    pixel_values = random_batch(args, views)
    device_type = torch.device(args.device).type
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device_type == "cuda" else [])
    with torch.no_grad(), torch.autocast(device_type, dtype=dtype, enabled=dtype is not None):
        model(pixel_values=pixel_values)
        sync(args.device)
        with profile(activities=activities) as profiler:
            for _ in range(3):
                model(pixel_values=pixel_values)
            sync(args.device)
    key = "self_device_time_total" if device_type == "cuda" else "self_cpu_time_total"
    events = sorted(profiler.key_averages(), key=lambda event: getattr(event, key), reverse=True)[:top]
    total = sum(getattr(event, key) for event in profiler.key_averages()) or 1.0
    return [
        {
            "measurement": "profile",
            "op": event.key,
            "ms_per_batch": round(getattr(event, key) / 3e3, 3),
            "share": round(getattr(event, key) / total, 3),
            "calls_per_batch": event.count // 3,
        }
        for event in events
    ]


def test_set(args, segments: int, crops: int) -> tuple[MultiViewVideoDataset, int]:
    """``--num-videos`` items cycling through ``--files`` distinct files (written when missing); the file count."""
    from video_files import write_test_video

    args.video_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(min(args.files, args.num_videos)):
        path = args.video_dir / f"bench_{args.width}x{args.height}_{i}.mp4"
        if not path.exists():
            write_test_video(path, num_frames=300, height=args.height, width=args.width, fps=30, pattern="motion")
        files.append(str(path))
    videos = [files[i % len(files)] for i in range(args.num_videos)]
    dataset = MultiViewVideoDataset(
        videos,
        [0] * len(videos),
        num_frames=args.num_frames,
        num_segments=segments,
        num_crops=crops,
        input_size=args.image_size,
        short_side_size=args.image_size,
        normalize=args.normalize_in_workers,
    )
    return dataset, len(files)


def benchmark_end_to_end(model, args, segments: int, crops: int, dtype) -> dict:
    dataset, files = test_set(args, segments, crops)
    predictions = predict_multiview(
        model,
        dataset,
        videos_per_batch=args.videos_per_batch,
        num_workers=args.workers,
        autocast_dtype=dtype,
        progress=False,
    )
    return {
        "measurement": "end_to_end",
        "clips_per_s": round(predictions.clips_per_second, 2),
        "videos_per_s": round(len(dataset) / predictions.seconds, 3),
        "videos": len(dataset),
        "files": files,
        "normalize_on_device": not args.normalize_in_workers,
        "workers": args.workers,
        "video_size": f"{args.width}x{args.height}",
    }


def benchmark_data_one_core(args, segments: int, crops: int) -> dict:
    """The workers' side alone, on one thread: every item of the test set built in this process (CPU time)."""
    dataset, files = test_set(args, segments, crops)
    torch.set_num_threads(1)
    dataset[0]  # warm-up: imports, decoder libraries
    started = time.process_time()
    for index in range(len(dataset)):
        dataset[index]
    seconds = time.process_time() - started
    return {
        "measurement": "data_one_core",
        "clips_per_cpu_s": round(len(dataset) * dataset.num_views / seconds, 2),
        "videos_per_cpu_s": round(len(dataset) / seconds, 3),
        "videos": len(dataset),
        "files": files,
        "normalize_on_device": not args.normalize_in_workers,
        "video_size": f"{args.width}x{args.height}",
    }


def main() -> None:
    args = parse_args()
    segments, crops = (int(part) for part in args.views.split("x"))
    views = segments * crops
    common = {
        "benchmark": "eval_throughput",
        "preset": args.preset,
        "views": args.views,
        "frames": args.num_frames,
        "image_size": args.image_size,
        "videos_per_batch": args.videos_per_batch,
        "torch": torch.__version__,
    }
    if args.data_only:
        print(
            json.dumps({**common, "device": "CPU, one thread", **benchmark_data_one_core(args, segments, crops)}),
            flush=True,
        )
        return
    config = VideoMAEv2Config.from_preset(
        args.preset, num_frames=args.num_frames, image_size=args.image_size, num_labels=args.num_labels
    )
    dtype = DTYPES[args.dtype] if args.dtype else (torch.bfloat16 if args.device.startswith("cuda") else None)
    common.update(
        {
            "device": machine(args.device),
            "dtype": args.dtype or ("bf16" if dtype is torch.bfloat16 else "fp32"),
            "attention": "sdpa",
            "weights": args.dtype if args.cast_weights and args.dtype else "fp32",
            "compile": args.compile,
        }
    )
    names = args.models.split(",")
    for name in names:
        if name not in ("ours", "transformers"):
            raise SystemExit(f"--models: unknown {name!r}; use ours, transformers")
    if args.rounds > 1:
        compare_in_rounds(names, config, args, views, dtype, common)
        return
    rates = {}
    for name in names:
        model = build_model(name, config, args)
        record = {**common, "model": name, **benchmark_model(model, args, views, dtype)}
        rates[name] = record["clips_per_s"]
        print(json.dumps(record), flush=True)
        if args.profile:
            for row in profile_model(model, args, views, dtype):
                print(json.dumps({**common, "model": name, **row}), flush=True)
        if name == "ours" and args.num_videos > 0:
            print(
                json.dumps({**common, "model": name, **benchmark_end_to_end(model, args, segments, crops, dtype)}),
                flush=True,
            )
        del model
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()
    if len(rates) == 2:
        print(
            json.dumps(
                {
                    "benchmark": "eval_throughput",
                    "comparison": "ours / transformers, model only",
                    "speedup": round(rates["ours"] / rates["transformers"], 3),
                }
            )
        )


def build_model(name: str, config: VideoMAEv2Config, args) -> torch.nn.Module:
    model = VideoMAEv2ForVideoClassification(config) if name == "ours" else transformers_classifier(config)
    model = model.to(args.device).eval()
    if args.cast_weights and args.dtype:
        model = model.to(DTYPES[args.dtype])
    return torch.compile(model, mode=args.compile) if args.compile else model


def compare_in_rounds(names: list[str], config, args, views: int, dtype, common: dict) -> None:
    """``--rounds`` model-only measurements of each model, alternating which goes first; medians compared."""
    models = {name: build_model(name, config, args) for name in names}
    rates: dict[str, list[float]] = {name: [] for name in names}
    cpu_rates: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(args.rounds):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            record = {
                **common,
                "model": name,
                "round": round_index,
                **benchmark_model(models[name], args, views, dtype),
            }
            rates[name].append(record["clips_per_s"])
            cpu_rates[name].append(record["clips_per_cpu_s"])
            print(json.dumps(record), flush=True)
    summary = {
        **common,
        "comparison": "median clips/s over alternating rounds, model only",
        "rounds": args.rounds,
        "load_average_1min": round(os.getloadavg()[0], 2),
        **{f"{name}_clips_per_s_median": round(statistics.median(rates[name]), 3) for name in names},
        **{f"{name}_clips_per_cpu_s_median": round(statistics.median(cpu_rates[name]), 3) for name in names},
    }
    if len(names) == 2 and set(names) == {"ours", "transformers"}:
        summary["speedup"] = round(statistics.median(rates["ours"]) / statistics.median(rates["transformers"]), 3)
        summary["speedup_cpu_time"] = round(
            statistics.median(cpu_rates["ours"]) / statistics.median(cpu_rates["transformers"]), 3
        )
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
