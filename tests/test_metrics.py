"""The package's own evaluate metric modules: loaded by local path, values checked by hand."""

import numpy as np
import pytest

from hf_tiktokactions.training.metrics import METRIC_NAMES, load_metric, metric_path


def test_top_k_accuracy():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.4, 0.4, 0.2]])
    labels = [1, 2, 0, 1]  # row 3 ties classes 0 and 1: the lower id wins top-1, both are in top-2
    metric = load_metric("top_k_accuracy")
    assert metric.compute(predictions=scores, references=labels, k=1)["top_k_accuracy"] == pytest.approx(0.25)
    assert metric.compute(predictions=scores, references=labels, k=2)["top_k_accuracy"] == pytest.approx(0.5)
    assert metric.compute(predictions=scores, references=labels, k=5)["top_k_accuracy"] == 1.0  # k larger than K


def test_mean_class_accuracy_weights_classes_not_videos():
    # class 0: 3 of 4 right, class 1: 0 of 1 right -> video accuracy 0.6, mean class accuracy 0.375
    predicted, labels = [0, 0, 0, 1, 0], [0, 0, 0, 0, 1]
    assert load_metric("mean_class_accuracy").compute(predictions=predicted, references=labels)[
        "mean_class_accuracy"
    ] == pytest.approx(0.375)


def test_confusion_matrix_rows_are_the_truth():
    counts = load_metric("confusion_matrix").compute(predictions=[0, 0, 2, 1], references=[0, 1, 2, 1], num_classes=4)[
        "confusion_matrix"
    ]
    assert counts == [[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]


def test_metrics_are_files_inside_the_package():
    for name in METRIC_NAMES:
        assert metric_path(name).endswith(f"hf_tiktokactions/training/metrics/{name}.py")
    with pytest.raises(ValueError, match="accuracy"):
        metric_path("accuracy")
