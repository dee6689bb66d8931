"""Dataset statistics as in the paper's appendix, and the dataset card, from a curated index.

    python dataset_scripts/stats.py --index data/curated --output data/curated/stats
    python dataset_scripts/stats.py --index data/curated --output stats --collection data/tiktok --top-n 200

Writes to --output: videos_per_hashtag.png, hashtag_ranges.png, durations.png, categories.png,
stats.md, stats.json and README.md (the dataset card; --no-card to skip it). The numbers are
explained in hf_tiktokactions/curation/governance/stats.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hf_tiktokactions.cli_errors import run_cli
from hf_tiktokactions.collection.hashtags import load_catalogue
from hf_tiktokactions.curation.governance.stats import statistics_of_index, write_statistics
from hf_tiktokactions.errors import ConfigError

CATALOGUE = Path(__file__).resolve().parent / "hashtags.csv"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--index", required=True, type=Path, help="curate.py's --output folder (or its index/ folder)")
    p.add_argument(
        "--output", required=True, type=Path, help="folder for the figures, stats.md, stats.json and README.md"
    )
    p.add_argument(
        "--hashtags", type=Path, default=CATALOGUE, help="hashtag catalogue CSV (category and principle per hashtag)"
    )
    p.add_argument(
        "--count-status",
        nargs="+",
        choices=("pass", "review", "rejected"),
        default=["pass"],
        help="statuses counted for the hashtag ranges",
    )
    p.add_argument(
        "--top-n", type=int, default=0, help="show only the N hashtags with most videos in the bar chart (0: all)"
    )
    p.add_argument(
        "--collection",
        type=Path,
        default=None,
        help="collect_tiktok.py's --output folder, for the card's collection section",
    )
    p.add_argument("--no-card", action="store_true", help="do not write the dataset card README.md")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.top_n < 0:
        raise ConfigError(f"--top-n must be 0 (all) or positive, got {args.top_n}")
    catalogue = load_catalogue(args.hashtags) if args.hashtags else []
    stats = statistics_of_index(args.index, catalogue, tuple(args.count_status))
    paths = write_statistics(stats, args.output, top_n=args.top_n or None)
    if not args.no_card:
        from hf_tiktokactions.hub.dataset_card import card_for_curated_folder

        card_for_curated_folder(args.index, stats, args.collection).save(args.output / "README.md")
        paths["card"] = args.output / "README.md"
    totals = stats["totals"]
    print(
        f"{totals['videos']} videos ({totals['pass']} pass, {totals['review']} review, {totals['rejected']} rejected), "
        f"{len(stats['hashtags'])} hashtags, {totals['clip_hours']:.2f} clip hours"
    )
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
