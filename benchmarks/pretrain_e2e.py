"""End-to-end pre-training throughput: DataLoader workers decoding real MP4 files + model + AdamW, one device.

    python benchmarks/make_videos.py /tmp/b320 --height 568 --width 320 --count 64
    python benchmarks/pretrain_e2e.py --videos '/tmp/b320/*.mp4' --model-preset vit-b --batch 16 --num-sample 4 \
        --workers 16

``--batch`` counts videos per step; each gives ``--num-sample`` clips (64 clips a step above). Prints one
JSON line: end-to-end clips/s, the model-only rate on a batch held on the device (what the GPU could
take), the share of wall time the host spent blocked on the loader, and which side is the bottleneck (data
loading when the end-to-end rate is under 90% of the model-only rate).
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import time

import torch
from torch.utils.data import DataLoader

from hf_tiktokactions.data.collate import PretrainCollator
from hf_tiktokactions.data.epoch_keys import EpochKeySampler
from hf_tiktokactions.data.pretrain_dataset import PretrainVideoDataset
from hf_tiktokactions.data.transforms import normalize_video
from hf_tiktokactions.machine import cpu_model
from hf_tiktokactions.modeling import VideoMAEv2Config, VideoMAEv2ForPreTraining
from hf_tiktokactions.option_help import ArgumentParser
from hf_tiktokactions.training.optim import weight_decay_groups


def parse_args() -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", required=True, help="glob of MP4 files")
    parser.add_argument("--model-preset", "--preset", dest="preset", default="vit-b", help="model size")
    parser.add_argument("--batch", type=int, default=16, help="videos per step")
    parser.add_argument("--num-sample", type=int, default=4)
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--sampling-rate", type=int, default=4)
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--backend", default="decord")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--normalize-in-workers",
        action="store_true",
        help="normalise to float32 in the workers and ship that (4x the bytes); by default uint8 clips are "
        "shipped and normalised on the device, as training does on a GPU",
    )
    parser.add_argument("--compile", action="store_true")
    return parser.parse_args()


def make_loader(args: argparse.Namespace, files: list[str], patch_size: int, device: torch.device) -> DataLoader:
    """The training data path: enough videos for every step, decoded and masked in ``args.workers`` workers."""
    needed = args.batch * (args.steps + args.warmup)
    videos = (files * (needed // len(files) + 1))[:needed]
    dataset = PretrainVideoDataset(
        videos,
        num_frames=args.num_frames,
        sampling_rate=args.sampling_rate,
        input_size=args.input_size,
        num_sample=args.num_sample,
        backend=args.backend,
    )
    collator = PretrainCollator(
        num_frames=args.num_frames,
        input_size=args.input_size,
        patch_size=patch_size,
        normalize=args.normalize_in_workers,
    )
    return DataLoader(
        dataset,
        batch_size=args.batch,
        sampler=EpochKeySampler(len(dataset), 0),
        collate_fn=collator,
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
        drop_last=True,
        persistent_workers=args.workers > 0,
        prefetch_factor=4 if args.workers else None,
    )


def report(
    args: argparse.Namespace,
    files: list[str],
    device: torch.device,
    clips_per_s: float,
    model_only: float,
    waiting: float,
) -> dict:
    """The printed result: end-to-end vs model-only clips/s and the share of time spent waiting on the loader."""
    return {
        "benchmark": "pretrain_e2e",
        "preset": args.preset,
        "videos_per_step": args.batch,
        "num_sample": args.num_sample,
        "clips_per_step": args.batch * args.num_sample,
        "workers": args.workers,
        "backend": args.backend,
        "normalize_on_device": not args.normalize_in_workers,
        "device": torch.cuda.get_device_name() if device.type == "cuda" else cpu_model(),
        "cpu_cores": os.cpu_count(),
        "files": len(files),
        "clips_per_s": round(clips_per_s, 2),
        "model_only_clips_per_s": round(model_only, 2),
        "end_to_end_vs_model_only": round(clips_per_s / model_only, 3),
        "data_wait_share": round(waiting, 3),
        "bottleneck": "data loading" if clips_per_s < 0.9 * model_only else "model",
        "torch": torch.__version__,
    }


def main() -> None:
    args = parse_args()
    files = sorted(glob.glob(args.videos))
    if not files:
        raise SystemExit(f"no files match {args.videos}")
    device = torch.device(args.device)
    config = VideoMAEv2Config.from_preset(args.preset, num_frames=args.num_frames, image_size=args.input_size)
    model = VideoMAEv2ForPreTraining(config).to(device).train()
    step_model = torch.compile(model, fullgraph=True) if args.compile else model
    optimizer = torch.optim.AdamW(
        weight_decay_groups(model, 0.05), lr=1e-4, betas=(0.9, 0.95), fused=device.type == "cuda"
    )
    loader = make_loader(args, files, config.patch_size, device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def to_device(batch: dict) -> dict:
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items() if isinstance(v, torch.Tensor)}
        if not args.normalize_in_workers:
            batch["pixel_values"] = normalize_video(batch["pixel_values"])
        return batch

    def train_step(batch: dict) -> None:
        with autocast:
            loss = step_model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    # No synchronisation inside the loop, as in training: the host queues step i on the GPU and goes on to
    # fetch batch i + 1 while the GPU works. `wait` is the time the host spent blocked on the loader.
    iterator = iter(loader)
    wait = 0.0
    last = None
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            sync()
            wait = 0.0
            started = time.perf_counter()
        t0 = time.perf_counter()
        batch = to_device(next(iterator))
        wait += time.perf_counter() - t0
        train_step(batch)
        last = batch
    sync()
    elapsed = time.perf_counter() - started
    clips = args.batch * args.num_sample * args.steps

    sync()
    model_started = time.perf_counter()
    for _ in range(args.steps):
        train_step(last)
    sync()
    model_only = clips / (time.perf_counter() - model_started)
    print(json.dumps(report(args, files, device, clips / elapsed, model_only, wait / elapsed)))


if __name__ == "__main__":
    main()
