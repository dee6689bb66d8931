"""Confusion matrix as an ``evaluate`` metric: counts[true, predicted]."""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = "Counts of (true class, predicted class) pairs; row = true class, column = predicted class."
_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted class ids, (N,) ints.
    references: true class ids, (N,) ints.
    num_classes: K, the side of the matrix (default: 1 + the largest id seen).
Returns:
    confusion_matrix: (K, K) nested list of ints.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ConfusionMatrix(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references, num_classes: int | None = None):
        predicted = np.asarray(predictions, dtype=np.int64)
        labels = np.asarray(references, dtype=np.int64)
        size = (
            num_classes if num_classes is not None else int(max(predicted.max(initial=-1), labels.max(initial=-1)) + 1)
        )
        counts = np.zeros((size, size), dtype=np.int64)
        np.add.at(counts, (labels, predicted), 1)
        return {"confusion_matrix": counts.tolist()}
