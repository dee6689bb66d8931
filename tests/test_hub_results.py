"""The results file format that fine-tuning writes and the model card reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hf_tiktokactions.errors import ConfigError
from hf_tiktokactions.hub.results import DatasetRef, EvalResults, Metric, load_results, write_results

VALID = {
    "task": "video-classification",
    "dataset": {"name": "Kinetics-400", "type": "kinetics400", "split": "validation", "config": None},
    "metrics": [
        {"type": "accuracy", "name": "top-1", "value": 81.1, "views": "5x3"},
        {"type": "accuracy", "name": "top-5", "value": 94.9, "views": "5x3"},
    ],
    "recipe": {"epochs": 90, "lr": 0.001, "layer_decay": 0.75},
    "hardware": "8x H200, bf16",
    "seed": 0,
    "versions": {"torch": "2.14.1"},
}


def test_a_valid_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(VALID))
    results = load_results(path)
    assert results.dataset == DatasetRef("Kinetics-400", "kinetics400", "validation", None)
    assert results.metrics[0] == Metric("accuracy", "top-1", 81.1, "5x3")
    assert results.recipe["layer_decay"] == 0.75 and results.seed == 0

    again = write_results(results, tmp_path / "again" / "results.json")
    assert load_results(again) == results
    assert json.loads(again.read_text()) == {key: value for key, value in VALID.items()}


def test_write_results_rejects_an_invalid_object(tmp_path: Path) -> None:
    bad = EvalResults(
        DatasetRef("UCF101", "ucf101", "test", "1"), [Metric("accuracy", "top-1", 101.0, "2x3")], {}, "cpu"
    )
    with pytest.raises(ConfigError, match=r"value must be a percentage"):
        write_results(bad, tmp_path / "r.json")
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("hardware"), "missing field 'hardware'"),
        (lambda d: d.update(accuracy=3), "unknown field 'accuracy'"),
        (lambda d: d.update(task="image-classification"), "task must be 'video-classification'"),
        (lambda d: d["dataset"].pop("split"), "dataset.split must be a non-empty string"),
        (lambda d: d["metrics"][0].update(views="five"), "views must look like '5x3'"),
        (lambda d: d["metrics"][1].update(value="94"), r"metrics\[1\]: value must be a percentage"),
        (lambda d: d.update(metrics=[]), "metrics must be a non-empty list"),
        (lambda d: d.update(recipe="see paper"), "recipe must be an object"),
    ],
)
def test_every_problem_is_named_with_the_file(tmp_path: Path, change, message: str) -> None:
    data = json.loads(json.dumps(VALID))
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=message) as error:
        load_results(path)
    assert str(path) in str(error.value)


def test_unreadable_files_give_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such results file"):
        load_results(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_results(tmp_path / "broken.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ConfigError, match="expected a JSON object"):
        load_results(tmp_path / "list.json")


# What hf_tiktokactions/training/results.py writes (abridged from a real run of the tiny recipe).
RUNNER = {
    "task": "video-classification",
    "dataset": "UCF101",
    "split": "test (split 1)",
    "views": "2x3",
    "top1": 21.4286,
    "top5": 64.2857,
    "mean_class_accuracy": 20.5,
    "checkpoint": "/runs/ft/final",
    "seed": 0,
    "num_videos": 14,
    "seconds": 1.04,
    "clips_per_second": 80.8,
    "dataset_id": "ucf101",
    "dataset_config": "1",
    "init_from": "/runs/pt/final",
    "num_processes": 1,
    "hardware": "1x CPU (x86_64, 2 threads), fp32",
    "recipe": {"layer_decay": 0.75, "num_frames": 4},
    "versions": {"torch": "2.14.1"},
}


def test_the_fine_tuning_runners_results_file_is_read_too(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(RUNNER))
    results = load_results(path)
    assert results.dataset == DatasetRef("UCF101", "ucf101", "test", "1")
    assert results.metrics == [
        Metric("accuracy", "top-1", 21.4286, "2x3"),
        Metric("accuracy", "top-5", 64.2857, "2x3"),
        Metric("accuracy", "mean class accuracy", 20.5, "2x3"),
    ]
    assert (results.hardware, results.seed, results.num_eval_videos) == ("1x CPU (x86_64, 2 threads), fp32", 0, 14)
    assert results.recipe == {"layer_decay": 0.75, "num_frames": 4}

    path.write_text(json.dumps({**RUNNER, "top1": 140.0, "hardware": None}))
    with pytest.raises(ConfigError, match=r"value must be a percentage.*hardware must be a non-empty string"):
        load_results(path)
