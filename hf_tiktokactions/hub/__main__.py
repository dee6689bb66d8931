"""``python -m hf_tiktokactions.hub card|dataset-card|export|push``: cards and publishing.

card          --model DIR --results R.json [--results ...] --output-dir DIR write DIR/README.md
dataset-card  --stats STATS.json --output-dir DIR                           write DIR/README.md
export        --model DIR --output-dir OUT [--results ...] [--space DIR]    the Hub folder (see export.py), a Space
push          --model DIR --repo-id ORG/NAME [--private] [--results ...]    export + upload (HF_TOKEN or hf auth login)

Options are accepted in both spellings (``--repo-id`` and ``--repo_id``), as in every ``hf-tiktokactions`` step;
their dataclasses are in steps/hub.py.

card's --model is a fine-tuned classifier; export's and push's is that or a pre-training run's final/ folder (its
card reads the run folder around it, or --run). export and push are ``hf-tiktokactions export|push`` (the same
options and function, steps/hub.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hf_tiktokactions.cli_errors import USER_ERROR_EXIT_CODE, run_cli

PUBLISHING_STEPS = {
    "export": "write the Hub folder: safetensors, remote code, processor configs, card (= hf-tiktokactions export)",
    "push": "export and upload to the Hub (token: HF_TOKEN or `hf auth login`; = hf-tiktokactions push)",
}
CARD_COMMANDS = {
    "card": ("ModelCardOptions", "write a model card (README.md) from a model folder and results files"),
    "dataset-card": ("DatasetCardOptions", "write the pre-training index's dataset card from a statistics JSON"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hf_tiktokactions.hub", description="Model cards and publishing to the Hub."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    # each command parses its own options, as a step does (``python -m hf_tiktokactions.hub COMMAND --help``)
    for name, help_text in {**{name: text for name, (_, text) in CARD_COMMANDS.items()}, **PUBLISHING_STEPS}.items():
        commands.add_parser(name, help=help_text, add_help=False, prefix_chars="\0")
    return parser


def write_model_card(options) -> Path:
    """``card``: the model card of ``options.model`` (a ``ModelCardOptions``) written to OUTPUT_DIR/README.md."""
    from hf_tiktokactions.hub.cards import model_card

    card = model_card(options.model, options.loaded_results(), repo_id=options.repo_id, **options.card_options())
    path = Path(options.output_dir) / "README.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    card.save(path)
    print(f"model card: {path} ({len(options.results)} results files)")
    return path


def write_dataset_card(options) -> Path:
    """``dataset-card``: the index's card from ``options.stats`` (a ``DatasetCardOptions``) in OUTPUT_DIR/README.md."""
    from hf_tiktokactions.hub.dataset_card import index_dataset_card, read_statistics

    card = index_dataset_card(
        read_statistics(options.stats), pretty_name=options.pretty_name, template_dir=options.template_dir
    )
    path = Path(options.output_dir) / "README.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    card.save(path)
    print(f"dataset card: {path}")
    return path


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in PUBLISHING_STEPS:
        from hf_tiktokactions.cli import run_step

        return run_step(argv[0], argv[1:], prog=f"python -m hf_tiktokactions.hub {argv[0]}")
    if not argv or argv[0] not in CARD_COMMANDS:
        build_parser().parse_args(argv)  # --help, or an unknown command: argparse lists the commands and exits
        return USER_ERROR_EXIT_CODE
    from hf_tiktokactions.steps import hub as options_module
    from hf_tiktokactions.steps.options import parse_options

    options_class = getattr(options_module, CARD_COMMANDS[argv[0]][0])
    prog = f"python -m hf_tiktokactions.hub {argv[0]}"
    options = parse_options(options_class, argv[1:], prog=prog, description=options_class.__doc__)
    (write_model_card if argv[0] == "card" else write_dataset_card)(options)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
