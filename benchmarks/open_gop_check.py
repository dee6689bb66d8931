"""What the open-GOP check costs a fine-tuning pass: ``open_video`` demuxes a file's first GOPs (packets only) to
decide whether decord misreads it (``decoding._how_to_read``); each answer is kept per file.

    python benchmarks/make_videos.py /tmp/vids --height 448 --width 256 --count 12
    python benchmarks/open_gop_check.py --videos '/tmp/vids/*.mp4' --epochs 3 [--backend decord]

Reads the files for ``--epochs`` epochs through ``FinetuneVideoDataset`` (16 frames, 112 px, no workers), then
once through ``MultiViewVideoDataset`` (2 x 3 views). Prints one JSON line per pass: ``seconds`` (wall clock),
``opens`` (``open_video`` calls), ``checks`` and ``check_seconds`` (the open-GOP checks that ran, and their time).
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hf_tiktokactions.data import decoding
from hf_tiktokactions.data.finetune_dataset import FinetuneVideoDataset, MultiViewVideoDataset
from hf_tiktokactions.data.transforms import FinetuneTrainTransform
from hf_tiktokactions.option_help import ArgumentParser


class _Counted:
    """Counts the calls of ``module.name`` and the seconds spent in them."""

    def __init__(self, module, name: str):
        self.function, self.calls, self.seconds = getattr(module, name), 0, 0.0
        setattr(module, name, self)

    def __call__(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.calls += 1
            self.seconds += time.perf_counter() - started

    def reset(self) -> None:
        self.calls, self.seconds = 0, 0.0


def main() -> None:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", required=True, help="a glob of video files")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--backend", default="decord")
    args = parser.parse_args()
    files = sorted(glob.glob(args.videos))
    if not files:
        raise SystemExit(f"--videos {args.videos}: no files match")
    torch.set_num_threads(1)
    # the check that demuxes the file (named so since its answers are kept), and every open (it loads the source)
    checks = _Counted(decoding, "_read_container" if hasattr(decoding, "_read_container") else "_only_pyav_reads_right")
    opens = _Counted(decoding, "_load_source")
    labels = [0] * len(files)
    train = FinetuneVideoDataset(
        files, labels, FinetuneTrainTransform(112, rand_augment=None, erase_prob=0.0), backend=args.backend
    )
    views = MultiViewVideoDataset(files, labels, num_segments=2, num_crops=3, input_size=112, backend=args.backend)
    for name, dataset, epochs in (("finetune", train, args.epochs), ("multi_view", views, 1)):
        checks.reset()
        opens.reset()
        started = time.perf_counter()
        for epoch in range(epochs):
            for index in range(len(dataset)):
                dataset[(epoch, index)] if name == "finetune" else dataset[index]
        seconds = time.perf_counter() - started
        record = {"pass": name, "videos": len(files), "epochs": epochs, "backend": args.backend}
        record |= {"seconds": round(seconds, 3), "opens": opens.calls, "checks": checks.calls}
        record["check_seconds"] = round(checks.seconds, 3)
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
