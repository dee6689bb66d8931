"""Multi-view testing throughput: clips/s and videos/s with all views of a video in one batch.

Two measurements, one JSON line each:

* ``model``: the classifier alone on pre-built batches of ``--videos-per-batch`` x views clips (what the GPU or
  CPU can do; views batched together, softmax averaged per video);
* ``end_to_end``: ``predict_multiview`` over real H.264 files (decode every view's frames in one read, resize
  the distinct frames once, crop in ``--workers`` DataLoader workers; uint8 to the device, normalised there, then
  the model), as the final test of a fine-tuning run. ``--normalize-in-workers`` ships float32 instead.

    python benchmarks/eval_throughput.py --preset vit-b --views 5x3 --videos-per-batch 4         # GPU, bf16
    python benchmarks/eval_throughput.py --preset vit-s --views 5x3 --videos-per-batch 1 --batches 2 --videos 2 --device cpu

``--files`` distinct videos are generated into ``--video-dir`` (default /tmp/eval_throughput_videos) with
benchmarks/make_videos.py's writer (10 s of 320x568 at 30 fps unless given; existing ones are reused) and cycled
to ``--videos`` test items, so worker start-up is a small part of the time. Every item decodes its file anew.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hf_tiktokactions.data.finetune_dataset import MultiViewVideoDataset  # noqa: E402
from hf_tiktokactions.modeling import VideoMAEv2Config, VideoMAEv2ForVideoClassification  # noqa: E402
from hf_tiktokactions.training.evaluation import average_view_probabilities, predict_multiview  # noqa: E402

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="vit-b")
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--num-labels", type=int, default=400)
    parser.add_argument("--views", default="5x3", help="temporal x spatial views per video")
    parser.add_argument("--videos-per-batch", type=int, default=4)
    parser.add_argument("--batches", type=int, default=10, help="timed model-only batches")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--videos", type=int, default=64, help="test items of the end-to-end measurement (0 = skip it)")
    parser.add_argument("--files", type=int, default=16, help="distinct video files the items cycle through")
    parser.add_argument("--normalize-in-workers", action="store_true", help="float32 clips from the workers (the old path)")
    parser.add_argument("--video-dir", type=Path, default=Path("/tmp/eval_throughput_videos"))
    parser.add_argument("--height", type=int, default=568)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=DTYPES, help="autocast dtype (default bf16 on GPU, fp32 on CPU)")
    return parser.parse_args()


def machine(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(0)
    return f"CPU {platform.machine()}, {torch.get_num_threads()} threads"


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def benchmark_model(model, args, views: int, dtype) -> dict:
    clips = args.videos_per_batch * views
    pixel_values = torch.randn(clips, args.num_frames, 3, args.image_size, args.image_size, device=args.device)
    device_type = torch.device(args.device).type
    with torch.no_grad(), torch.autocast(device_type, dtype=dtype, enabled=dtype is not None):
        for _ in range(args.warmup):
            average_view_probabilities(model(pixel_values=pixel_values).logits, views)
        sync(args.device)
        started = time.perf_counter()
        for _ in range(args.batches):
            average_view_probabilities(model(pixel_values=pixel_values).logits, views)
        sync(args.device)
    seconds = time.perf_counter() - started
    record = {"measurement": "model", "clips_per_s": round(clips * args.batches / seconds, 2),
              "videos_per_s": round(args.videos_per_batch * args.batches / seconds, 3), "clips_per_batch": clips}
    if args.device.startswith("cuda"):
        record["peak_memory_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return record


def benchmark_end_to_end(model, args, segments: int, crops: int, dtype) -> dict:
    from video_files import write_test_video

    args.video_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(min(args.files, args.videos)):
        path = args.video_dir / f"bench_{args.width}x{args.height}_{i}.mp4"
        if not path.exists():
            write_test_video(path, num_frames=300, height=args.height, width=args.width, fps=30, pattern="motion")
        files.append(str(path))
    videos = [files[i % len(files)] for i in range(args.videos)]
    dataset = MultiViewVideoDataset(videos, [0] * len(videos), num_frames=args.num_frames, num_segments=segments,
                                    num_crops=crops, input_size=args.image_size, short_side_size=args.image_size,
                                    normalize=args.normalize_in_workers)
    predictions = predict_multiview(model, dataset, videos_per_batch=args.videos_per_batch, num_workers=args.workers,
                                    autocast_dtype=dtype, progress=False)
    return {"measurement": "end_to_end", "clips_per_s": round(predictions.clips_per_second, 2),
            "videos_per_s": round(len(videos) / predictions.seconds, 3), "videos": len(videos), "files": len(files),
            "normalize_on_device": not args.normalize_in_workers, "workers": args.workers,
            "video_size": f"{args.width}x{args.height}"}


def main() -> None:
    args = parse_args()
    segments, crops = (int(part) for part in args.views.split("x"))
    views = segments * crops
    config = VideoMAEv2Config.from_preset(args.preset, num_frames=args.num_frames, image_size=args.image_size,
                                          num_labels=args.num_labels)
    model = VideoMAEv2ForVideoClassification(config).to(args.device).eval()
    dtype = DTYPES[args.dtype] if args.dtype else (torch.bfloat16 if args.device.startswith("cuda") else None)
    common = {"benchmark": "eval_throughput", "preset": args.preset, "views": args.views, "frames": args.num_frames,
              "image_size": args.image_size, "videos_per_batch": args.videos_per_batch, "device": machine(args.device),
              "dtype": args.dtype or ("bf16" if dtype is torch.bfloat16 else "fp32"), "attention": "sdpa", "torch": torch.__version__}
    print(json.dumps({**common, **benchmark_model(model, args, views, dtype)}), flush=True)
    if args.videos > 0:
        print(json.dumps({**common, **benchmark_end_to_end(model, args, segments, crops, dtype)}), flush=True)


if __name__ == "__main__":
    main()
