"""Push a curated video index to the Hugging Face Hub as a private dataset.

    hf auth login                                   # or HF_TOKEN
    python dataset_scripts/push_index.py --index data/curated --repo-id my-lab/tiktok-actions-index
    python dataset_scripts/push_index.py --index data/curated --repo-id my-lab/clips --embed-clips --status pass

Without --embed-clips only the rows go up (paths, clip times, statuses, reasons); the videos stay local.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hf_tiktokactions.cli_errors import run_cli
from hf_tiktokactions.curation.publish import push_index
from hf_tiktokactions.errors import TikTokActionsError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--index", required=True, type=Path, help="curate.py's --output folder, or its index/ folder")
    p.add_argument("--repo-id", required=True, help="ORG/NAME of the dataset repository (created private)")
    p.add_argument("--embed-clips", action="store_true", help="upload the clip files too (a `clip` video column); never the originals")
    p.add_argument("--status", nargs="+", choices=("pass", "review", "rejected"), default=None, help="push only rows with these statuses")
    p.add_argument("--token", default=None, help="Hub token (default: the logged-in one / HF_TOKEN)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        info = push_index(args.index, args.repo_id, args.embed_clips, tuple(args.status) if args.status else None, args.token)
    except OSError as error:  # offline, refused, unwritable cache
        raise TikTokActionsError(f"pushing to {args.repo_id} failed: {error}") from None
    commit = getattr(info, "commit_url", None) or ""
    print(f"pushed {args.index} to https://huggingface.co/datasets/{args.repo_id} (private) {commit}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
