"""``python -m hf_tiktokactions.convert SRC OUTPUT_DIR``: official VideoMAE V2, OpenGVLab Hub or transformers VideoMAE
checkpoints (local or a Hub repo id) -> our folder."""

from __future__ import annotations

import argparse
import json
import sys

from .cli_errors import run_cli


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from .modeling.configuration_videomaev2 import _PRESETS
    from .modeling.conversion import TASKS

    parser = argparse.ArgumentParser(
        prog="python -m hf_tiktokactions.convert",
        description=(
            "Convert an official VideoMAE V2 checkpoint (.pth: pre-training, fine-tuned or distilled) or a "
            "transformers VideoMAE folder into a folder that VideoMAEv2*.from_pretrained loads."
        ),
    )
    parser.add_argument(
        "source",
        help=(
            "official .pth / .safetensors file, a transformers VideoMAE or OpenGVLab VideoMAE V2 folder, or a Hub "
            "repo id (OpenGVLab/VideoMAEv2-Base; DrQY/VideoMAEv2_TikTok:path/in/repo.pth for one file of a repo)"
        ),
    )
    parser.add_argument("output_dir", help="folder to write (config.json, model.safetensors, conversion.json)")
    parser.add_argument(
        "--preset", choices=list(_PRESETS), help="model size; inferred from the weight shapes when omitted"
    )
    parser.add_argument("--filename", help="the checkpoint file inside a Hub repository that holds several")
    parser.add_argument(
        "--task",
        choices=TASKS,
        help="default: pretraining with a decoder, encoder for an OpenGVLab folder, else classification",
    )
    parser.add_argument(
        "--num-labels", type=int, help="classes of a new classification head (replaces a head of another size)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from .modeling.conversion import convert
    from .modeling.hub_source import resolve_source

    source = resolve_source(args.source, args.filename)
    report = convert(source, args.output_dir, preset=args.preset, task=args.task, num_labels=args.num_labels)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
