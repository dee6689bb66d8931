"""``python -m hf_tiktokactions.hub card|dataset-card|export|push``: cards and publishing.

card          --model DIR --results R.json [--results ...] --output DIR   write DIR/README.md
dataset-card  --stats STATS.json --output DIR                              write DIR/README.md
export        --model DIR --output OUT [--results ...] [--space DIR]       the Hub folder (see export.py), a Space
push          --model DIR --repo-id ORG/NAME [--private] [--results ...]   export + upload (HF_TOKEN or hf auth login)

--model is a fine-tuned classifier or a pre-training run's final/ folder (its card reads the run folder around it,
or --run).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hf_tiktokactions.cli_errors import run_cli


def _add_card_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results",
        action="append",
        default=[],
        metavar="JSON",
        help="a fine-tuning run's results.json (repeatable; format in training/results_file.py)",
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


def _add_preprocessing_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sampling-rate", type=int, default=None, help="frame stride of a clip (default: stored, else 4)"
    )
    parser.add_argument("--num-views", type=int, default=None, help="temporal test views (default: stored, else 5)")
    parser.add_argument("--num-crops", type=int, default=None, help="spatial test crops (default: stored, else 3)")
    parser.add_argument("--segment-based", action="store_true", default=None, help="TSN segment sampling (SSv2)")


def _add_run_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run",
        default=None,
        help="pre-trained models: the training/pretrain.py --output_dir whose records go on the card "
        "(default: the folder around --model)",
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


def _preprocessing(args: argparse.Namespace) -> dict:
    return dict(
        sampling_rate=args.sampling_rate,
        num_views=args.num_views,
        num_crops=args.num_crops,
        segment_based=args.segment_based,
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

    export = commands.add_parser(
        "export", help="write the Hub folder: safetensors, remote code, processor configs, card"
    )
    export.add_argument("--model", required=True, help="fine-tuned or pre-trained model folder (or Hub id)")
    export.add_argument("--output", required=True, help="new or empty folder")
    export.add_argument("--repo-id", default=None, help="Hub id shown in the card's usage example")
    export.add_argument("--overwrite", action="store_true", help="replace a non-empty --output")
    export.add_argument(
        "--space",
        default=None,
        metavar="DIR",
        help="also write a Gradio Space folder serving the exported classifier (see hub/space.py)",
    )
    _add_run_option(export)
    _add_card_options(export)
    _add_preprocessing_options(export)

    push = commands.add_parser("push", help="export and upload to the Hub (token: HF_TOKEN or `hf auth login`)")
    push.add_argument("--model", required=True, help="fine-tuned or pre-trained model folder (or Hub id)")
    push.add_argument("--repo-id", required=True, help="ORG/NAME")
    push.add_argument("--private", action="store_true", help="create the repository as private")
    _add_run_option(push)
    _add_card_options(push)
    _add_preprocessing_options(push)
    return parser


def main(argv: list[str] | None = None) -> int:
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
    elif args.command == "export":
        from hf_tiktokactions.hub.export import export_model
        from hf_tiktokactions.hub.space import refuse_a_pretrained_model

        if args.space:
            refuse_a_pretrained_model(args.model)
        out = export_model(
            args.model,
            args.output,
            _results(args.results),
            preprocessing=_preprocessing(args),
            overwrite=args.overwrite,
            run_dir=args.run,
            repo_id=args.repo_id,
            **_card_options(args),
        )
        files = sorted(p.name for p in out.iterdir())
        print(f"exported {args.model} -> {out}: {', '.join(files)}")
        auto_map = json.loads((out / "config.json").read_text(encoding="utf-8")).get("auto_map", {})
        for auto_class in sorted(name for name in auto_map if name != "AutoConfig"):
            print(f"load with {auto_class}.from_pretrained({str(out)!r}, trust_remote_code=True)")
        if args.space:
            from hf_tiktokactions.hub.space import write_space

            space = write_space(out, args.space, repo_id=args.repo_id, overwrite=args.overwrite)
            print(f"Space folder: {space} (upload it as a Gradio Space; run locally: cd {space} && python app.py)")
    elif args.command == "push":
        from hf_tiktokactions.hub.push import push_model

        url = push_model(
            args.model,
            args.repo_id,
            _results(args.results),
            private=args.private or None,  # without --private: the namespace's default, not a forced public
            preprocessing=_preprocessing(args),
            run_dir=args.run,
            **_card_options(args),
        )
        print(f"pushed {args.model} to {args.repo_id}: {url}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
