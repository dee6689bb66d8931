"""The files a fine-tuning run reports its test results in, next to its outputs.

* ``results.json``: the one results format, read by model cards and the model-index; every field is documented in
  ``results_file.py`` (``dataset``, ``split``, ``views`` (``"5x3"``), ``top1``, ``top5``, ``mean_class_accuracy``
  (percentages), ``checkpoint``, ``seed``, ``num_videos``, ..., ``recipe``, ``versions``);
* ``results.md``: the same as a one-row markdown table;
* ``predictions.jsonl``: one line per video: id, path, label, prediction, top-5 classes and probabilities;
* ``confusion_matrix.png`` (and the counts inside ``confusion_matrix.json``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic_files import write_text_atomic
from ..errors import CheckpointError
from .divergence import finite_or_none
from .evaluation import MultiViewPredictions
from .results_file import RESULTS_FILE, parse_results

RESULT_KEYS = ("dataset", "split", "views", "top1", "top5", "mean_class_accuracy", "checkpoint", "seed")
TABLE_COLUMNS = (
    ("dataset", "dataset"),
    ("split", "split"),
    ("views", "views"),
    ("top-1", "top1"),
    ("top-5", "top5"),
    ("mean class acc.", "mean_class_accuracy"),
    ("checkpoint", "checkpoint"),
    ("seed", "seed"),
)


def _split_label(row: dict[str, Any]) -> str:
    """``test (split 1)`` where the dataset has numbered splits (``dataset_config``), else the split name."""
    return f"{row['split']} (split {row['dataset_config']})" if row.get("dataset_config") else str(row["split"])


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Results dicts -> a markdown table: dataset, split, views, top-1, top-5, mean class accuracy, checkpoint, seed."""
    lines = ["| " + " | ".join(title for title, _ in TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    for row in rows:
        row = {**row, "split": _split_label(row)}
        cells = [f"{row[key]:.2f}" if isinstance(row[key], float) else str(row[key]) for _, key in TABLE_COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_confusion_matrix(counts: np.ndarray, class_names: list[str], path: Path, title: str) -> None:
    """Row-normalised confusion matrix as a PNG (rows = true class); names on the axes when there are few."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, rows, out=np.zeros(counts.shape, dtype=float), where=rows > 0)
    side = min(4 + 0.35 * len(class_names), 30)
    figure, axes = plt.subplots(figsize=(side, side))
    image = axes.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axes, fraction=0.046)
    if len(class_names) <= 60:
        ticks = np.arange(len(class_names))
        axes.set_xticks(ticks, class_names, rotation=90, fontsize=7)
        axes.set_yticks(ticks, class_names, fontsize=7)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_test_results(
    output_dir: str | os.PathLike,
    predictions: MultiViewPredictions,
    metrics: dict[str, Any],
    *,
    class_names: list[str],
    videos: list[str],
    video_ids: list[str],
    dataset: str,
    split: str,
    views: str,
    checkpoint: str,
    seed: int,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write results.json, results.md, predictions.jsonl, confusion_matrix.{json,png}; returns the results dict.

    Scores that are not finite (a diverged model) are refused: nothing is written. Other non-finite values are
    written as null, so every file is valid JSON. ``extra`` holds the optional fields of ``results_file.py``;
    results that do not match that format raise ``ConfigError`` before anything is written."""
    broken = ~np.isfinite(predictions.probabilities).all(axis=1)
    if broken.any():
        raise CheckpointError(
            f"{checkpoint}: the model's scores are not finite (NaN or infinite) for {int(broken.sum())} of "
            f"{len(broken)} videos, so its weights are broken; no results were written to {output_dir}"
        )
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    results = {
        "task": "video-classification",
        "dataset": dataset,
        "split": split,
        "views": views,
        "top1": round(metrics["top1"], 4),
        "top5": round(metrics["top5"], 4),
        "mean_class_accuracy": round(metrics["mean_class_accuracy"], 4),
        "checkpoint": checkpoint,
        "seed": seed,
        "num_videos": int(len(predictions.labels)),
        "seconds": round(predictions.seconds, 3),
        "clips_per_second": round(predictions.clips_per_second, 3),
        **(extra or {}),
    }
    results = finite_or_none(results)
    parse_results(results, output_dir / RESULTS_FILE)  # the format the cards read; refuse before writing
    write_text_atomic(output_dir / RESULTS_FILE, json.dumps(results, indent=2, allow_nan=False) + "\n")
    write_text_atomic(output_dir / "results.md", markdown_table([results]))
    lines = []
    for probabilities, label, index in zip(predictions.probabilities, predictions.labels, predictions.indices):
        top = np.argsort(-probabilities, kind="stable")[:5]
        lines.append(
            json.dumps(
                {
                    "video_id": video_ids[index],
                    "video": videos[index],
                    "label": int(label),
                    "label_name": class_names[label],
                    "prediction": int(top[0]),
                    "prediction_name": class_names[top[0]],
                    "correct": bool(top[0] == label),
                    "top5": [int(c) for c in top],
                    "top5_probabilities": [round(float(probabilities[c]), 6) for c in top],
                }
            )
        )
    write_text_atomic(output_dir / "predictions.jsonl", "\n".join(lines) + "\n")
    counts = np.asarray(metrics["confusion_matrix"], dtype=np.int64)
    write_text_atomic(
        output_dir / "confusion_matrix.json", json.dumps({"class_names": class_names, "counts": counts.tolist()}) + "\n"
    )
    plot_confusion_matrix(
        counts,
        class_names,
        output_dir / "confusion_matrix.png",
        f"{dataset} {_split_label(results)}, {views} views: top-1 {results['top1']:.2f}%",
    )
    return results
