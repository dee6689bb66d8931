"""Push a curated video index to the Hugging Face Hub as a private dataset.

    hf auth login                                   # or HF_TOKEN
    python dataset_scripts/push_index.py --index data/curated --repo-id my-lab/tiktok-actions-index
    python dataset_scripts/push_index.py --index data/curated --repo-id my-lab/clips --embed-clips --status pass

Without --embed-clips only the rows go up (paths, clip times, statuses, reasons); the videos stay local.
The dataset card (README.md) goes up first: --card PATH, or by default the card stats.py writes for the index.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hf_tiktokactions.cli_errors import run_cli
from hf_tiktokactions.curation.publish import check_repo_id, push_index
from hf_tiktokactions.errors import TikTokActionsError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--index", required=True, type=Path, help="curate.py's --output folder, or its index/ folder")
    p.add_argument("--repo-id", required=True, help="ORG/NAME of the dataset repository (created private)")
    p.add_argument(
        "--embed-clips",
        action="store_true",
        help="upload the clip files too (a `clip` video column); never the originals",
    )
    p.add_argument(
        "--status",
        nargs="+",
        choices=("pass", "review", "rejected"),
        default=None,
        help="push only rows with these statuses",
    )
    p.add_argument("--token", default=None, help="Hub token (default: the logged-in one / HF_TOKEN)")
    p.add_argument(
        "--card",
        type=Path,
        default=None,
        help="dataset card README.md to push (default: generated from the index, as stats.py does)",
    )
    p.add_argument("--no-card", action="store_true", help="push no dataset card")
    return p.parse_args(argv)


def card_text(args: argparse.Namespace) -> str | None:
    """The README.md to push: --card, else the card stats.py would write for this index, else none."""
    if args.no_card:
        return None
    if args.card is not None:
        try:
            return args.card.read_text(encoding="utf-8")
        except OSError as error:
            raise TikTokActionsError(f"--card {args.card}: cannot read it ({error.strerror})") from None
    from hf_tiktokactions.collection.hashtags import load_catalogue
    from hf_tiktokactions.curation.governance.stats import statistics_of_index
    from hf_tiktokactions.hub.dataset_card import card_for_curated_folder

    catalogue = load_catalogue(Path(__file__).resolve().parent / "hashtags.csv")
    return str(card_for_curated_folder(args.index, statistics_of_index(args.index, catalogue)))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_repo_id(args.repo_id)
    try:
        info = push_index(
            args.index,
            args.repo_id,
            args.embed_clips,
            tuple(args.status) if args.status else None,
            args.token,
            card_text(args),
        )
    except OSError as error:  # offline, refused, unwritable cache
        raise TikTokActionsError(f"pushing to {args.repo_id} failed: {error}") from None
    commit = getattr(info, "commit_url", None) or ""
    print(f"pushed {args.index} to https://huggingface.co/datasets/{args.repo_id} (private) {commit}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
