"""Pre-training loader throughput: clips per second through the real dataset, transform and collator.

    python benchmarks/loader.py --videos '/tmp/b320/*.mp4' --num-frames 16 --sampling-rate 4 \\
        --input-size 224 --num-sample 4 --workers 0 [--loader both] [--rounds 3]

Every item decodes its file anew (no caching of decoded frames), as training does; the file list is
cycled to ``--num-videos`` items. With ``--workers 0`` everything runs on one core (torch and the decoder
use one thread). ``--loader official`` runs a re-implementation of the official VideoMAE V2 loader path
(``benchmarks/official_videomae_v2_loader.py``); ``both`` alternates the two in rounds, so load from
other processes hits both alike. Prints one JSON line per loader: ``clips_per_s`` (wall clock, first
batch excluded) and ``clips_per_cpu_s`` (clips per CPU-second of the main process and its DataLoader
workers, whole pass): on a box shared with other jobs the wall clock drifts, CPU time does not, and with
workers it shows what the hand-over between processes costs.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import itertools
import json
import os
import resource
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hf_tiktokactions.data import PretrainCollator, PretrainVideoDataset, probe_video
from hf_tiktokactions.machine import cpu_model
from hf_tiktokactions.option_help import ArgumentParser


def _ours(files, args) -> DataLoader:
    dataset = PretrainVideoDataset(
        files,
        num_frames=args.num_frames,
        sampling_rate=args.sampling_rate,
        input_size=args.input_size,
        num_sample=args.num_sample,
        backend=args.backend,
        seed=0,
    )
    collator = PretrainCollator(num_frames=args.num_frames, input_size=args.input_size, normalize=not args.uint8)
    return DataLoader(dataset, batch_size=args.batch_size, num_workers=args.workers, collate_fn=collator)


def _official(files, args) -> DataLoader:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from official_videomae_v2_loader import OfficialPretrainDataset, official_collate

    dataset = OfficialPretrainDataset(files, args.num_frames, args.sampling_rate, args.input_size, args.num_sample)
    return DataLoader(dataset, batch_size=args.batch_size, num_workers=args.workers, collate_fn=official_collate)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(loader: DataLoader, rows_of) -> tuple[int, float, int, float]:
    """One pass: (clips, wall seconds) with the first batch (start-up) excluded, and (clips, CPU seconds)
    of the main process plus its finished DataLoader workers over the whole pass."""
    cpu_start, children_start = time.process_time(), _children_cpu()
    iterator = iter(loader)
    first = rows_of(next(iterator))
    clips, wall = 0, time.perf_counter()
    for batch in iterator:
        clips += rows_of(batch)
    wall = time.perf_counter() - wall
    del iterator  # joins the workers, so their CPU time is counted
    cpu = time.process_time() - cpu_start + _children_cpu() - children_start
    return clips, wall, clips + first, cpu


def main() -> None:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", required=True, help="glob of video files")
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--sampling-rate", type=int, default=4)
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--num-sample", type=int, default=4)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=2, help="videos per batch")
    parser.add_argument("--num-videos", type=int, default=26, help="items per round (files are cycled)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--backend", default="decord", choices=["decord", "torchcodec", "pyav"])
    parser.add_argument("--loader", default="ours", choices=["ours", "official", "both"])
    parser.add_argument("--uint8", action="store_true", help="collate uint8 pixel_values (normalise on the GPU)")
    args = parser.parse_args()

    files = sorted(glob.glob(args.videos))
    if not files:
        raise SystemExit(f"no files match {args.videos!r}; generate some with benchmarks/make_videos.py")
    items = list(itertools.islice(itertools.cycle(files), args.num_videos))
    if args.workers == 0:
        torch.set_num_threads(1)
    info = probe_video(files[0])
    builders = {"ours": _ours, "official": _official}
    names = list(builders) if args.loader == "both" else [args.loader]
    loaders = {name: builders[name](items, args) for name in names}
    rows_of = {"ours": lambda b: b["pixel_values"].shape[0], "official": lambda b: b[0].shape[0]}
    totals = {name: [0, 0.0, 0, 0.0] for name in names}
    for _ in range(args.rounds):
        for name in names:
            measured = _time(loaders[name], rows_of[name])
            totals[name] = [total + value for total, value in zip(totals[name], measured)]
    for name in names:
        clips, wall, cpu_clips, cpu = totals[name]
        print(
            json.dumps(
                {
                    "benchmark": "pretrain_loader",
                    "loader": "hf_tiktokactions" if name == "ours" else "official_videomae_v2_reimpl",
                    "backend": args.backend if name == "ours" else "decord",
                    "pixel_values": ("uint8" if args.uint8 else "float32") if name == "ours" else "float32",
                    "video": f"{info.width}x{info.height} {info.fps:g} fps {info.duration:g} s",
                    "files": len(files),
                    "workers": args.workers,
                    "num_sample": args.num_sample,
                    "num_frames": args.num_frames,
                    "sampling_rate": args.sampling_rate,
                    "input_size": args.input_size,
                    "batch_videos": args.batch_size,
                    "clips": clips,
                    "seconds": round(wall, 3),
                    "clips_per_s": round(clips / wall, 2),
                    "clips_per_cpu_s": round(cpu_clips / cpu, 2),
                    "machine": f"{cpu_model()}, {os.cpu_count()} cores",
                    "load_avg_1min": round(os.getloadavg()[0], 2),  # other processes on the box skew wall clock
                    "torch": torch.__version__,
                    "date": datetime.date.today().isoformat(),
                }
            )
        )


if __name__ == "__main__":
    main()
