"""Top-k accuracy as an ``evaluate`` metric: a sample counts when its label is among its k highest scores."""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = "Fraction of samples whose true label is among the k highest-scoring classes."
_KWARGS_DESCRIPTION = """
Args:
    predictions: per-sample class scores, (N, K) floats (logits or probabilities).
    references: true class ids, (N,) ints.
    k: how many of the highest scores count (default 1).
Returns:
    top_k_accuracy: fraction in [0, 1].
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class TopKAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Sequence(datasets.Value("float32")), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references, k: int = 1):
        scores = np.asarray(predictions, dtype=np.float64)
        labels = np.asarray(references, dtype=np.int64)
        k = min(k, scores.shape[1])
        # stable sort of the negated scores: ties go to the lower class id, as torch.topk does on CPU
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return {"top_k_accuracy": float((top == labels[:, None]).any(axis=1).mean())}
