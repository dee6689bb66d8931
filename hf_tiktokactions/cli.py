"""The ``hf-tiktokactions`` command (also ``python -m hf_tiktokactions``).

Subcommands:
    quickstart  the whole system on the embedded synthetic set: generate, curate, pre-train, fine-tune (pre-trained
                and from scratch), multi-view test, model card and a Space-ready folder; see
                ``hf_tiktokactions.quickstart``.
    convert     same as ``python -m hf_tiktokactions.convert``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli_errors import run_cli


def add_quickstart_parser(sub) -> None:
    from .quickstart import QuickstartOptions

    defaults = QuickstartOptions()
    quick = sub.add_parser("quickstart", help="run the whole loop on the embedded synthetic set (minutes on a CPU)")
    quick.add_argument(
        "--output", type=Path, default=defaults.output, help="where everything goes (a rerun reuses finished stages)"
    )
    quick.add_argument("--device", choices=["cpu", "cuda"], default=defaults.device)
    quick.add_argument("--seed", type=int, default=defaults.seed)
    quick.add_argument("--pretrain-steps", type=int, default=defaults.pretrain_steps)
    quick.add_argument("--finetune-epochs", type=int, default=defaults.finetune_epochs, help="default: the recipe's")
    quick.add_argument("--labeled-clips-per-class", type=int, default=defaults.labeled_clips_per_class)
    quick.add_argument("--pool-clips-per-class", type=int, default=defaults.pool_clips_per_class)
    quick.add_argument(
        "--pretrain",
        choices=["reference", "full", "quick"],
        default=defaults.pretrain,
        help="reference: continue the encoder the package ships (hf_tiktokactions/reference/); full: make that "
        "encoder from nothing (20k steps, hours on 2 CPU cores); quick: the tiny plumbing check. "
        "Default: reference when shipped, else quick",
    )
    quick.add_argument("--finetune-steps", type=int, default=defaults.finetune_steps, help="reference/full: 150")
    quick.add_argument("--finetune-seeds", default=defaults.finetune_seeds, help="reference/full: a comma list")
    quick.add_argument("--reference", type=Path, default=defaults.reference, help="the reference encoder's folder")
    quick.add_argument("--no-progress", action="store_true", help="no progress bars (logs, CI)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hf-tiktokactions", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_quickstart_parser(sub)
    sub.add_parser(
        "convert", help="convert an official or transformers checkpoint (see --help of the subcommand)", add_help=False
    )
    args, rest = parser.parse_known_args(argv)
    if args.command == "convert":
        from .convert import main as convert_main

        return convert_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    from .quickstart import QuickstartOptions, quickstart

    quickstart(
        QuickstartOptions(
            output=args.output,
            device=args.device,
            seed=args.seed,
            pretrain_steps=args.pretrain_steps,
            finetune_epochs=args.finetune_epochs,
            labeled_clips_per_class=args.labeled_clips_per_class,
            pool_clips_per_class=args.pool_clips_per_class,
            pretrain=args.pretrain,
            finetune_steps=args.finetune_steps,
            finetune_seeds=args.finetune_seeds,
            reference=args.reference,
            progress=not args.no_progress,
        )
    )
    return 0


def entry_point() -> None:
    sys.exit(run_cli(main))
