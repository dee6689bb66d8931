"""Command line: ``python -m hf_tiktokactions.data.synthetic OUT_DIR [--clips-per-class N] [--seed S] ...``."""

from __future__ import annotations

import sys

from hf_tiktokactions.data.synthetic.generate import SyntheticActionsConfig, make_synthetic_actions
from hf_tiktokactions.data.synthetic.poses import ACTIONS
from hf_tiktokactions.errors import ConfigError
from hf_tiktokactions.option_help import ArgumentParser


def main(argv: list[str] | None = None) -> int:
    defaults = SyntheticActionsConfig()
    parser = ArgumentParser(
        prog="python -m hf_tiktokactions.data.synthetic",
        description="Render the synthetic action set (H.264 MP4 videofolder + metadata.jsonl).",
    )
    parser.add_argument("out_dir", help="output folder (created; an incomplete set there is completed)")
    parser.add_argument("--clips-per-class", type=int, default=defaults.clips_per_class)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--size", type=int, default=defaults.size, help="frame height and width (even)")
    parser.add_argument("--num-frames", type=int, default=defaults.num_frames)
    parser.add_argument("--fps", type=int, default=defaults.fps)
    parser.add_argument("--val-fraction", type=float, default=defaults.val_fraction)
    parser.add_argument("--test-fraction", type=float, default=defaults.test_fraction)
    parser.add_argument("--actions", nargs="+", default=defaults.actions, choices=list(ACTIONS))
    parser.add_argument("--crf", type=int, default=defaults.crf, help="x264 quality (lower is better)")
    parser.add_argument("--workers", type=int, default=None, help="parallel threads (default: CPU cores)")
    args = vars(parser.parse_args(argv))
    try:
        make_synthetic_actions(**args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
