"""The PNG figures of :mod:`stats`, drawn with matplotlib's Agg backend (no display needed).

* ``videos_per_hashtag.png``: horizontal bars, one per hashtag, sorted, stacked by status, with the
  200/400/600/800 range edges marked. The figure grows with the number of hashtags (about 0.14 inch a
  bar), so hundreds of tags stay readable; ``top_n`` keeps the largest and names how many were left out.
* ``hashtag_ranges.png``: the pie of hashtags per range of videos (the tags below 200 get a slice too).
* ``durations.png``: videos per scene-length range, stacked by status.
* ``categories.png``: videos per catalogue category, stacked by status.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hf_tiktokactions.curation.pipeline import PASS, REJECTED, REVIEW

STATUS_COLOURS = {PASS: "#2a9d8f", REVIEW: "#e9c46a", REJECTED: "#e76f51"}
BAR_INCHES = 0.14
DPI = 100


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _stacked_barh(ax: Any, labels: list[str], rows: list[dict[str, int]]) -> None:
    """One horizontal bar per label, the first label at the top, stacked pass / review / rejected."""
    positions = list(range(len(labels)))[::-1]
    left = [0] * len(labels)
    for status in (PASS, REVIEW, REJECTED):
        values = [row[status] for row in rows]
        ax.barh(positions, values, left=left, color=STATUS_COLOURS[status], label=status, height=0.8)
        left = [a + b for a, b in zip(left, values)]
    ax.set_yticks(positions, labels)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.legend(loc="lower right", fontsize=8)


def hashtag_bars(stats: dict[str, Any], path: Path, top_n: int | None = None) -> Path:
    plt = _pyplot()
    tags = list(stats["hashtags"].items())
    shown = tags[:top_n] if top_n else tags
    height = max(3.0, BAR_INCHES * len(shown) + 1.6)
    fig, ax = plt.subplots(figsize=(8, height))
    _stacked_barh(ax, [t for t, _ in shown] or ["(none)"], [r for _, r in shown] or [{s: 0 for s in STATUS_COLOURS}])
    ax.tick_params(axis="y", labelsize=7)
    longest = max((row["videos"] for _, row in shown), default=0)
    for edge in stats.get("range_edges", (200, 400, 600, 800)):
        if edge <= longest:  # mark the range edges the bars reach, without stretching the axis
            ax.axvline(edge, color="grey", linewidth=0.6, linestyle=":")
    left_out = len(tags) - len(shown)
    title = (
        f"Videos per hashtag ({len(tags)} hashtags"
        + (f", the {len(shown)} largest shown, {left_out} left out" if left_out else "")
        + ")"
    )
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("videos")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def range_pie(stats: dict[str, Any], path: Path) -> Path:
    plt = _pyplot()
    ranges = stats["hashtag_ranges"]
    slices = [(r["range"], r["hashtags"]) for r in ranges["ranges"]]
    if ranges["below"]["hashtags"]:
        slices.insert(0, (ranges["below"]["range"], ranges["below"]["hashtags"]))
    slices = [(name, n) for name, n in slices if n]
    fig, ax = plt.subplots(figsize=(6, 6))
    if slices:
        ax.pie(
            [n for _, n in slices],
            labels=[f"{name} ({n})" for name, n in slices],
            autopct="%1.1f%%",
            startangle=90,
            counterclock=False,
        )
    else:
        ax.text(0.5, 0.5, "no hashtags", ha="center", va="center")
        ax.axis("off")
    ax.set_title(
        f"Hashtags by videos ({' + '.join(stats['count_statuses'])}), {ranges['counted_hashtags']} hashtags",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def duration_bars(stats: dict[str, Any], path: Path) -> Path:
    plt = _pyplot()
    rows = [d for d in stats["durations"] if d["range"] != "unknown" or d["videos"]]
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.5 * len(rows)))
    _stacked_barh(ax, [d["range"] for d in rows], rows)
    ax.set_title("Scene length before clipping", fontsize=10)
    ax.set_xlabel("videos")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def category_bars(stats: dict[str, Any], path: Path) -> Path:
    plt = _pyplot()
    groups = list(stats["categories"].items()) or [("(none)", {s: 0 for s in STATUS_COLOURS})]
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.5 * len(groups)))
    _stacked_barh(ax, [name for name, _ in groups], [g for _, g in groups])
    ax.set_title("Videos per hashtag category", fontsize=10)
    ax.set_xlabel("videos")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def write_figures(stats: dict[str, Any], output: Path, top_n: int | None = None) -> dict[str, Path]:
    """All four figures into ``output``; returns their paths by name."""
    return {
        "videos_per_hashtag": hashtag_bars(stats, output / "videos_per_hashtag.png", top_n),
        "hashtag_ranges": range_pie(stats, output / "hashtag_ranges.png"),
        "durations": duration_bars(stats, output / "durations.png"),
        "categories": category_bars(stats, output / "categories.png"),
    }
