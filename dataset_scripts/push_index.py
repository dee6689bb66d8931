"""Push a curated video index to the Hugging Face Hub as a private dataset, or write what would be pushed to a folder.

    hf auth login                                   # or HF_TOKEN
    python dataset_scripts/push_index.py --index data/curated --repo-id my-lab/tiktok-actions-index
    python dataset_scripts/push_index.py --index data/curated --repo-id my-lab/clips --embed-clips --status pass
    python dataset_scripts/push_index.py --index data/curated --to-folder /mnt/share/index --embed-clips

Without --embed-clips only the rows go up (clip paths relative to the curation folder, clip times, statuses,
reasons); the videos stay local. Local paths, the videos' descriptions and user names stay out unless asked for.
An existing public repository is refused unless --allow-public. The dataset card (README.md) states what went up:
--card PATH, or by default the card stats.py writes for the index.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hf_tiktokactions.cli_errors import run_cli
from hf_tiktokactions.curation.publish import PublishOptions, check_repo_id, push_index, write_folder
from hf_tiktokactions.errors import TikTokActionsError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--index", required=True, type=Path, help="curate.py's --output folder, or its index/ folder")
    p.add_argument("--repo-id", default=None, help="ORG/NAME of the dataset repository (created private)")
    p.add_argument(
        "--to-folder",
        type=Path,
        default=None,
        help="write what would be uploaded (data/*.parquet + README.md) into this folder; with --repo-id, upload it",
    )
    p.add_argument(
        "--embed-clips",
        action="store_true",
        help="upload the clip files too (a `clip` video column); never the originals",
    )
    p.add_argument(
        "--num-shards",
        type=int,
        default=None,
        help="parquet shards to write (default: up to 500 MB each); a multiple of the processes that will stream it",
    )
    p.add_argument("--allow-public", action="store_true", help="push even when --repo-id exists and is public")
    p.add_argument("--include-descriptions", action="store_true", help="publish the videos' free-text descriptions too")
    p.add_argument("--include-usernames", action="store_true", help="publish user name columns too")
    p.add_argument(
        "--include-local-paths",
        action="store_true",
        help="publish source_path and metadata_path too (relative to the curation folder)",
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


def card_maker(args: argparse.Namespace):
    """The README.md to publish, given what goes up: --card (with a paragraph on the contents added), else the
    card stats.py would write for this index, stating the contents; with --no-card only the data YAML."""
    from hf_tiktokactions.hub.dataset_card import published_contents_text

    if args.no_card:
        return None
    if args.card is not None:
        try:
            own = args.card.read_text(encoding="utf-8")
        except OSError as error:
            raise TikTokActionsError(f"--card {args.card}: cannot read it ({error.strerror})") from None
        return lambda contents: own.rstrip() + "\n\n## Contents\n\n" + published_contents_text(contents) + "\n"
    from hf_tiktokactions.collection.hashtags import load_catalogue
    from hf_tiktokactions.curation.governance.stats import statistics_of_index
    from hf_tiktokactions.hub.dataset_card import card_for_curated_folder

    catalogue = load_catalogue(Path(__file__).resolve().parent / "hashtags.csv")
    stats = statistics_of_index(args.index, catalogue)
    return lambda contents: str(card_for_curated_folder(args.index, stats, contents=contents))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.repo_id is None and args.to_folder is None:
        raise TikTokActionsError("give --repo-id ORG/NAME to push, or --to-folder DIR to write what would be pushed")
    if args.repo_id is not None:
        check_repo_id(args.repo_id)
    options = PublishOptions(
        embed_clips=args.embed_clips,
        statuses=tuple(args.status) if args.status else None,
        include_descriptions=args.include_descriptions,
        include_usernames=args.include_usernames,
        include_local_paths=args.include_local_paths,
    )
    if args.repo_id is None:
        contents = write_folder(args.index, args.to_folder, options, card_maker(args), num_shards=args.num_shards)
        print(f"wrote {contents.num_rows} rows of {args.index} to {args.to_folder} (data/*.parquet, README.md)")
        return 0
    try:
        contents, info = push_index(
            args.index,
            args.repo_id,
            options,
            card_maker(args),
            args.token,
            args.allow_public,
            args.to_folder,
            args.num_shards,
        )
    except OSError as error:  # offline, refused, unwritable cache
        raise TikTokActionsError(f"pushing to {args.repo_id} failed: {error}") from None
    commit = getattr(info, "commit_url", None) or ""
    visibility = "private" if contents.private else "PUBLIC"
    print(f"pushed {args.index} to https://huggingface.co/datasets/{args.repo_id} ({visibility}) {commit}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
