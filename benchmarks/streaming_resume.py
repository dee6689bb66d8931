"""What a resume within a streamed epoch (``--streaming``) costs before its first step: the tiny recipe on a
published folder of small clips, run to a checkpoint one step before the end of the first epoch, then resumed for
two more steps (the rest of that epoch, the first of the next).

    python benchmarks/streaming_resume.py --out /tmp/streaming-resume [--num-videos 64] [--workers 0] [--shards 1] \\
        [--clips '/tmp/vids/*.mp4'] [--no-datasets-sleep]

``--clips`` names existing files to cycle through (``benchmarks/make_videos.py`` writes some) instead of writing
16-frame 64x64 ones. Each full pass over the stream, and the preview, also wait 5 s in ``datasets`` (it sleeps when
its parquet reader threads shut down, a guard against a pyarrow crash), in both runs alike; ``--no-datasets-sleep``
sets that wait to 0 to show the rest.

Prints one JSON line: ``resume_seconds`` (wall clock of the resumed call), ``first_step_seconds`` (its first step,
the batches passed over included), ``straight_seconds`` (the uninterrupted call up to the checkpoint), the batches
of the epoch the checkpoint had consumed, and whether the resumed run's losses after the checkpoint equal those of
an uninterrupted run.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from video_files import write_test_video

from hf_tiktokactions.layout import CLIPS_DIR, METRICS_FILE
from hf_tiktokactions.option_help import ArgumentParser, retire
from hf_tiktokactions.training.arguments import PretrainArguments, recipe_options
from hf_tiktokactions.training.pretraining import pretrain

RECIPE = Path(__file__).resolve().parent.parent / "training" / "configs" / "pretrain_tiny_synthetic.yaml"


def published_folder(folder: Path, videos: int, clips: list[str], num_shards: int = 1) -> Path:
    """``videos`` clips under ``folder/clips`` (links to ``clips``, cycled, or 16-frame 64x64 ones written) and the
    parquet shards and card naming them."""
    import datasets

    from hf_tiktokactions.curation.publish import card_metadata, write_shards

    (folder / CLIPS_DIR).mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(videos):
        if clips:
            os.link(clips[i % len(clips)], folder / CLIPS_DIR / f"v{i}.mp4")
        else:
            write_test_video(folder / CLIPS_DIR / f"v{i}.mp4", 16, 64, 64, pattern="motion", seed=i)
        names.append(f"v{i}")
    table = datasets.Dataset.from_dict({"clip_path": [f"{CLIPS_DIR}/{n}.mp4" for n in names], "video_id": names})
    write_shards(table, folder, embed_clips=False, num_shards=num_shards)
    (folder / "README.md").write_text(card_metadata("---\n---\n", table), encoding="utf-8")
    return folder


def _run(data: Path, output: Path, steps: int, save_steps: int, workers: int, resume: str | None = None) -> float:
    args = recipe_options(
        PretrainArguments,
        RECIPE,
        data=str(data),
        streaming=True,
        output_dir=str(output),
        max_steps=steps,
        per_device_train_batch_size=4,
        save_steps=save_steps,
        logging_steps=1,
        reconstruction_steps=0,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=workers,
        decode_backend="pyav",
        resume=resume,
    )
    started = time.perf_counter()
    pretrain(args)
    return time.perf_counter() - started


def _metrics(output: Path) -> dict[int, dict]:
    return {r["step"]: r for r in map(json.loads, (output / METRICS_FILE).read_text().splitlines())}


def main() -> None:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--num-videos", type=int, default=64, help="videos of the published index")
    retire(parser, "--videos", "--num-videos", "names where the videos are on the other commands")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--shards", type=int, default=1, help="parquet shards (DataLoader workers read whole ones)")
    parser.add_argument("--clips", default=None, help="a glob of existing video files to cycle through")
    parser.add_argument("--no-datasets-sleep", action="store_true", help="no 5 s wait at each stream's end")
    args = parser.parse_args()
    if args.no_datasets_sleep:
        import datasets.config

        datasets.config.SLEEP_TIME_ON_THREADS_SHUTDOWN = 0
    shutil.rmtree(args.out, ignore_errors=True)
    data = published_folder(
        args.out / "published", args.num_videos, sorted(glob.glob(args.clips)) if args.clips else [], args.shards
    )
    steps_per_epoch = args.num_videos // 4
    saved_at = steps_per_epoch - 1
    straight = _run(data, args.out / "run", saved_at, saved_at, args.workers)
    shutil.copytree(args.out / "run", args.out / "resumed")
    resumed = _run(data, args.out / "resumed", saved_at + 2, 100, args.workers, resume="latest")
    _run(data, args.out / "straight", saved_at + 2, 100, args.workers)
    record = {"videos": args.num_videos, "workers": args.workers, "datasets_sleep": not args.no_datasets_sleep}
    record["batches_consumed_at_checkpoint"] = saved_at
    record |= {"straight_seconds": round(straight, 3), "resume_seconds": round(resumed, 3)}
    resumed_steps, straight_steps = _metrics(args.out / "resumed"), _metrics(args.out / "straight")
    after = [saved_at + 1, saved_at + 2]
    record["same_losses_after_resume"] = all(resumed_steps[s]["loss"] == straight_steps[s]["loss"] for s in after)
    # the loop's clock for its first step starts before the loader: the batches passed over, then one step
    record["first_step_seconds"] = round(4 * 2 / resumed_steps[saved_at + 1]["clips_per_s"], 3)
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
