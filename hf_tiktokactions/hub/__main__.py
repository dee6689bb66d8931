"""``python -m hf_tiktokactions.hub card|dataset-card|export|push``: cards and publishing.

card          --model DIR --results R.json [--results ...] --output DIR   write DIR/README.md
dataset-card  --stats STATS.json --output DIR                              write DIR/README.md
export        --model DIR --output OUT [--results ...] [--space DIR]       the Hub folder (see export.py), a Space
push          --model DIR --repo-id ORG/NAME [--private] [--results ...]   export + upload (HF_TOKEN or hf auth login)

--model is a fine-tuned classifier or a pre-training run's final/ folder (its card reads the run folder around it,
or --run). export and push are ``hf-tiktokactions export|push`` (the same options and function, steps/hub.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hf_tiktokactions.cli_errors import run_cli

PUBLISHING_STEPS = {
    "export": "write the Hub folder: safetensors, remote code, processor configs, card (= hf-tiktokactions export)",
    "push": "export and upload to the Hub (token: HF_TOKEN or `hf auth login`; = hf-tiktokactions push)",
}


def _add_card_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results",
        action="append",
        default=[],
        metavar="JSON",
        help="a fine-tuning run's results.json (repeatable; format in hf_tiktokactions/training/results_file.py)",
    )
    parser.add_argument("--license", default="apache-2.0", help="license id for the card's YAML (default: apache-2.0)")
    parser.add_argument(
        "--base-model", default=None, help="Hub id of the pre-trained checkpoint this model was fine-tuned from"
    )
    parser.add_argument("--pretraining-dataset", default=None, help="dataset id of the (private) pre-training index")
    parser.add_argument(
        "--pretraining-data",
        default=None,
        help="where pre-training's videos came from, as the card should say it, when they are not TikTok videos "
        "curated by this package",
    )
    parser.add_argument("--model-name", default=None, help="title of the card (default: repo id or folder name)")
    parser.add_argument("--tag", action="append", default=[], dest="tags", help="extra tag (repeatable)")
    parser.add_argument(
        "--template-dir", default=None, help="folder holding model_card_template.md (default: model_cards/)"
    )


def _card_options(args: argparse.Namespace) -> dict:
    return dict(
        license=args.license,
        base_model=args.base_model,
        pretraining_dataset=args.pretraining_dataset,
        pretraining_data=args.pretraining_data,
        model_name=args.model_name,
        extra_tags=args.tags,
        template_dir=args.template_dir,
    )


def _results(paths: list[str]):
    from hf_tiktokactions.training.results_file import read_results

    return [read_results(path) for path in paths]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hf_tiktokactions.hub", description="Model cards and publishing to the Hub."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    card = commands.add_parser("card", help="write a model card (README.md) from a model folder and results files")
    card.add_argument("--model", required=True, help="saved model folder")
    card.add_argument("--output", required=True, help="folder to write README.md into")
    card.add_argument("--repo-id", default=None, help="Hub id shown in the usage example")
    _add_card_options(card)

    dataset = commands.add_parser(
        "dataset-card", help="write the pre-training index's dataset card from a statistics JSON"
    )
    dataset.add_argument(
        "--stats", required=True, help="the stats.json that dataset_scripts/stats.py wrote for the index"
    )
    dataset.add_argument("--output", required=True, help="folder to write README.md into")
    dataset.add_argument("--pretty-name", default="TikTokActions pre-training index (private)")
    dataset.add_argument("--template-dir", default=None)

    # export and push are the steps of ``hf-tiktokactions`` (one parser, one function each): listed here for --help
    for name, help_text in PUBLISHING_STEPS.items():
        commands.add_parser(name, help=help_text, add_help=False, prefix_chars="\0")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in PUBLISHING_STEPS:
        from hf_tiktokactions.cli import run_step

        return run_step(argv[0], argv[1:], prog=f"python -m hf_tiktokactions.hub {argv[0]}")
    args = build_parser().parse_args(argv)
    if args.command == "card":
        from hf_tiktokactions.hub.cards import model_card

        card = model_card(args.model, _results(args.results), repo_id=args.repo_id, **_card_options(args))
        path = Path(args.output) / "README.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        card.save(path)
        print(f"model card: {path} ({len(args.results)} results files)")
    elif args.command == "dataset-card":
        from hf_tiktokactions.hub.dataset_card import index_dataset_card, read_statistics

        stats = read_statistics(args.stats)
        path = Path(args.output) / "README.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        index_dataset_card(stats, pretty_name=args.pretty_name, template_dir=args.template_dir).save(path)
        print(f"dataset card: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
