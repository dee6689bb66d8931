"""The project's own ``evaluate`` metric modules, loaded by local path so nothing is fetched from the Hub.

Loading the Hub's ``accuracy`` metric through ``evaluate.load`` downloads the metric script from the Hub and fails
offline; these modules are the same kind of ``evaluate.Metric`` scripts, shipped inside the package:

* ``top_k_accuracy``: scores (N, K) + labels (N,) -> ``{"top_k_accuracy": fraction}`` (``k`` at compute);
* ``mean_class_accuracy``: predicted + true class ids -> the mean over classes of per-class recall;
* ``confusion_matrix``: predicted + true class ids -> ``{"confusion_matrix": (K, K) list}``, rows = truth.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

METRICS_DIR = Path(__file__).resolve().parent
METRIC_NAMES = ("top_k_accuracy", "mean_class_accuracy", "confusion_matrix")


def metric_path(name: str) -> str:
    """Absolute path of the metric script ``name`` (what ``evaluate.load`` is given)."""
    if name not in METRIC_NAMES:
        raise ValueError(f"unknown metric {name!r}; the package ships {', '.join(METRIC_NAMES)}")
    return str(METRICS_DIR / f"{name}.py")


@cache
def load_metric(name: str):
    """``evaluate.load`` of the shipped metric ``name``, by local path (works offline); loaded once per process."""
    import evaluate

    return evaluate.load(metric_path(name))
