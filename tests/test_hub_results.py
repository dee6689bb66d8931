"""The one results format: the results.json fine-tuning writes is what the cards and the model-index read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hf_tiktokactions.errors import ConfigError
from hf_tiktokactions.training.evaluation import MultiViewPredictions, multiview_metrics
from hf_tiktokactions.training.results import write_test_results
from hf_tiktokactions.training.results_file import RunResults, read_results

# What hf_tiktokactions/training/finetuning.py writes (abridged from a run of the tiny recipe).
RUNNER = {
    "task": "video-classification",
    "dataset": "UCF101",
    "split": "test",
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


def _write(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_the_runners_file_is_read_as_it_is(tmp_path: Path) -> None:
    results = read_results(_write(tmp_path / "results.json", RUNNER))
    assert results == RunResults(**RUNNER)
    assert (results.dataset_type, results.split_label) == ("ucf101", "test (split 1)")
    assert results.metrics() == [("top-1", 21.4286), ("top-5", 64.2857), ("mean class accuracy", 20.5)]

    minimal = {key: RUNNER[key] for key in list(RUNNER)[:12]}  # write_test_results without `extra`
    results = read_results(_write(tmp_path / "minimal.json", minimal))
    assert (results.dataset_type, results.split_label, results.recipe, results.hardware) == ("UCF101", "test", {}, None)


def test_files_written_before_the_split_number_moved_to_dataset_config_are_read(tmp_path: Path) -> None:
    results = read_results(_write(tmp_path / "old.json", {**RUNNER, "split": "test (split 1)"}))
    assert (results.split, results.dataset_config) == ("test", "1")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("views"), "missing field 'views'"),
        (lambda d: d.update(accuracy=3), "unknown field 'accuracy'"),
        (lambda d: d.update(task="image-classification"), "field 'task' must be 'video-classification'"),
        (lambda d: d.update(views="five"), r"field 'views' must be '<temporal>x<spatial>'"),
        (lambda d: d.update(top1=140.0), r"field 'top1' must be a percentage in \[0, 100\], got 140.0"),
        (lambda d: d.update(top5="94"), r"field 'top5' must be a percentage"),
        (lambda d: d.update(dataset_config=1), "field 'dataset_config' must be a non-empty string or null"),
        (lambda d: d.update(recipe="see paper"), "field 'recipe' must be an object"),
        (lambda d: d.update(seed=True), "field 'seed' must be an integer"),
    ],
)
def test_every_bad_field_is_named_with_the_file(tmp_path: Path, change, message: str) -> None:
    data = json.loads(json.dumps(RUNNER))
    change(data)
    path = _write(tmp_path / "bad.json", data)
    with pytest.raises(ConfigError, match=message) as error:
        read_results(path)
    assert str(error.value).startswith(f"{path}: not a valid results.json")


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.json", {**RUNNER, "top1": 140.0, "hardware": ""})
    with pytest.raises(ConfigError, match=r"'top1' must be a percentage.*'hardware' must be a non-empty string"):
        read_results(path)


def test_the_older_card_format_is_refused_with_what_to_pass_instead(tmp_path: Path) -> None:
    older = {
        "task": "video-classification",
        "dataset": {"name": "Kinetics-400", "type": "kinetics400", "split": "validation"},
        "metrics": [{"type": "accuracy", "name": "top-1", "value": 81.1, "views": "5x3"}],
        "recipe": {},
        "hardware": "8x H200, bf16",
    }
    path = _write(tmp_path / "k400.json", older)
    with pytest.raises(ConfigError, match=r"older model-card results format.*--output_dir OUT writes OUT/results.json"):
        read_results(path)


def test_unreadable_files_give_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such results file"):
        read_results(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_results(tmp_path / "broken.json")
    with pytest.raises(ConfigError, match="expected a JSON object"):
        read_results(_write(tmp_path / "list.json", []))


def _predictions() -> tuple[MultiViewPredictions, dict]:
    predictions = MultiViewPredictions(np.array([[0.9, 0.1], [0.6, 0.4]]), np.array([0, 1]), np.arange(2), 6, 0.5)
    return predictions, multiview_metrics(predictions, 2)


OPTIONS = dict(class_names=["a", "b"], videos=["a.mp4", "b.mp4"], video_ids=["a", "b"], dataset="UCF101")


def test_what_the_writer_writes_the_reader_reads(tmp_path: Path) -> None:
    predictions, metrics = _predictions()
    extra = {key: RUNNER[key] for key in list(RUNNER)[12:]}
    written = write_test_results(
        tmp_path, predictions, metrics, **OPTIONS, split="test", views="2x3", checkpoint="ckpt", seed=1, extra=extra
    )
    results = read_results(tmp_path / "results.json")
    assert (results.top1, results.top5, results.num_videos, results.seed) == (50.0, 100.0, 2, 1)
    assert results == RunResults(**written)
    assert "| UCF101 | test (split 1) | 2x3 | 50.00 |" in (tmp_path / "results.md").read_text()


def test_the_writer_refuses_results_the_cards_could_not_read(tmp_path: Path) -> None:
    predictions, metrics = _predictions()
    with pytest.raises(ConfigError, match=r"unknown field 'notes'.*field 'views' must be"):
        write_test_results(
            tmp_path / "run", predictions, metrics, **OPTIONS, split="test", views="2-3", checkpoint="c", seed=0,
            extra={"notes": "typo'd field"},
        )  # fmt: skip
    assert not (tmp_path / "run" / "results.json").exists()
