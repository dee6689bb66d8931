"""Write benchmark videos: H.264 MP4, 30 fps, 10 s, a drifting textured pattern (PyAV, x264 defaults).

    python benchmarks/make_videos.py /tmp/bench720 --height 1280 --width 720 --count 4

Never commit the output; generate it into /tmp. Uses ``tests/video_files.py`` so tests and benchmarks
share one writer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from video_files import write_test_video

from hf_tiktokactions.option_help import ArgumentParser


def main() -> None:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--height", type=int, default=1280)
    parser.add_argument("--width", type=int, default=720)
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--crf", type=int, default=23)
    parser.add_argument("--noise", type=float, default=0.0, help="per-pixel noise std (more = more bits)")
    args = parser.parse_args()
    for i in range(args.count):
        path = args.out_dir / f"bench_{args.width}x{args.height}_{i}.mp4"
        write_test_video(
            path,
            int(args.seconds * args.fps),
            args.height,
            args.width,
            args.fps,
            pattern="motion",
            crf=args.crf,
            seed=i,
            noise=args.noise,
        )
        print(path, path.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
