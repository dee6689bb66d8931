"""Curate videos into clips and a private `datasets` video index (scenes, 3.5-10 s clips, person filter).

    pip install 'hf-tiktokactions[curation]'            # PySceneDetect, ultralytics (AGPL-3.0)
    python dataset_scripts/curate.py --videos data/tiktok_videos --output data/curated \
        --detector /models/yolov8n.pt --workers 8
    python dataset_scripts/curate.py --videos my_videos/ --output curated --detector none

--videos is a folder of videos, a text file with one path a line, or the download step's folder
(or its manifest.jsonl). Writes DIR/clips/<id>.mp4, DIR/metadata/<id>.json, DIR/index (a datasets
dataset, one row a video), DIR/review_list.txt and DIR/curation_summary.json. Killed runs resume:
rerun the same command. The clip rule and the stages: hf_tiktokactions/curation/pipeline.py.

Exit status: 0 done; 2 error, also when the machine failed (disk full, I/O error): nothing is recorded
for the video at hand, free the space and rerun; 3 done, but videos whose worker was killed from
outside (out of memory, a signal) were left for the rerun.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from hf_tiktokactions.cli_errors import run_cli
from hf_tiktokactions.curation.engines import ENGINES, curate, format_summary
from hf_tiktokactions.curation.inputs import load_video_inputs
from hf_tiktokactions.curation.pipeline import CurationOptions

DEFAULTS = CurationOptions()
EXIT_LEFT_FOR_RERUN = 3


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument(
        "--videos",
        required=True,
        type=Path,
        help="folder of videos, list file (one path a line), or download folder / manifest.jsonl",
    )
    p.add_argument("--output", required=True, type=Path, help="output folder (clips/, metadata/, index/)")
    p.add_argument(
        "--detector",
        default=DEFAULTS.detector,
        help="person detector weights (path, or a file name in . or ultralytics' weights_dir), a model .yaml (untrained), or 'none'",
    )
    p.add_argument(
        "--person-classes",
        nargs="+",
        default=list(DEFAULTS.person_classes),
        help="detector class names that count as a person",
    )
    p.add_argument(
        "--min-person-frames",
        type=int,
        default=DEFAULTS.min_person_frames,
        help="sampled frames with a person needed to pass (else: review)",
    )
    p.add_argument(
        "--num-frames",
        type=int,
        default=DEFAULTS.num_frames,
        help="frames sampled evenly from each clip for the person filter",
    )
    p.add_argument(
        "--person-confidence",
        type=float,
        default=DEFAULTS.person_confidence,
        help="minimum detector confidence of a person box",
    )
    p.add_argument("--detector-image-size", type=int, default=DEFAULTS.detector_image_size, help="detector input size")
    p.add_argument(
        "--min-seconds",
        type=float,
        default=DEFAULTS.min_seconds,
        help="shortest clip; a shorter longest scene rejects the video",
    )
    p.add_argument(
        "--max-seconds",
        type=float,
        default=DEFAULTS.max_seconds,
        help="longest clip (the centre of a longer scene is kept)",
    )
    p.add_argument(
        "--short-side", type=int, default=DEFAULTS.short_side, help="clip short side in pixels (never upscaled)"
    )
    p.add_argument("--preset", default=DEFAULTS.preset, help="x264 preset of the clips")
    p.add_argument("--crf", type=int, default=DEFAULTS.crf, help="x264 constant rate factor of the clips")
    p.add_argument("--gop", type=int, default=DEFAULTS.gop, help="keyframe interval of the clips, in frames")
    p.add_argument(
        "--scene-threshold",
        type=float,
        default=DEFAULTS.scene_threshold,
        help="PySceneDetect ContentDetector threshold",
    )
    p.add_argument(
        "--min-scene-len",
        type=int,
        default=DEFAULTS.min_scene_len,
        help="PySceneDetect minimum scene length, in frames",
    )
    p.add_argument("--max-pixels", type=int, default=DEFAULTS.max_pixels, help="reject videos with more pixels a frame")
    p.add_argument(
        "--max-aspect-ratio",
        type=float,
        default=DEFAULTS.max_aspect_ratio,
        help="reject videos more elongated than this",
    )
    p.add_argument(
        "--max-buffer-seconds",
        type=float,
        default=DEFAULTS.max_buffer_seconds,
        help="memory cap of the one-pass clip buffer; longer scenes decode their window twice",
    )
    p.add_argument("--engine", choices=ENGINES, default="local", help="local process pool or Ray")
    p.add_argument(
        "--workers", type=int, default=None, help="processes (local; default: all cores) or CPUs of a local Ray"
    )
    p.add_argument("--ray-address", default=None, help="address of a running Ray cluster (--engine ray)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, warnings only")
    return p.parse_args(argv)


def options_from(args: argparse.Namespace) -> CurationOptions:
    return CurationOptions(
        detector=args.detector,
        person_classes=tuple(args.person_classes),
        min_person_frames=args.min_person_frames,
        num_frames=args.num_frames,
        person_confidence=args.person_confidence,
        detector_image_size=args.detector_image_size,
        min_seconds=args.min_seconds,
        max_seconds=args.max_seconds,
        short_side=args.short_side,
        preset=args.preset,
        crf=args.crf,
        gop=args.gop,
        scene_threshold=args.scene_threshold,
        min_scene_len=args.min_scene_len,
        max_pixels=args.max_pixels,
        max_aspect_ratio=args.max_aspect_ratio,
        max_buffer_seconds=args.max_buffer_seconds,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    options = options_from(args)
    options.validate()
    videos = load_video_inputs(args.videos)
    try:
        result = curate(
            videos, args.output, options, args.engine, args.workers, args.ray_address, progress=not args.quiet
        )
    except KeyboardInterrupt:
        print("interrupted; finished videos are saved, rerun the same command to resume", file=sys.stderr)
        return 130
    print(format_summary(result))
    return EXIT_LEFT_FOR_RERUN if result.left_for_rerun else 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
