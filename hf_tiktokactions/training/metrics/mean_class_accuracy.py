"""Mean class accuracy as an ``evaluate`` metric: the average over classes of each class's recall."""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = "Mean over the classes present in the references of the fraction of that class predicted correctly."
_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted class ids, (N,) ints.
    references: true class ids, (N,) ints.
Returns:
    mean_class_accuracy: fraction in [0, 1]; classes absent from the references are left out of the mean.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MeanClassAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references):
        predicted = np.asarray(predictions, dtype=np.int64)
        labels = np.asarray(references, dtype=np.int64)
        recalls = [float((predicted[labels == c] == c).mean()) for c in np.unique(labels)]
        return {"mean_class_accuracy": float(np.mean(recalls)) if recalls else 0.0}
