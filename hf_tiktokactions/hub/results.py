"""The evaluation results file: what fine-tuning writes and what model cards are built from.

One JSON file per (model, dataset, split) evaluation. Fine-tuning writes it with ``write_results``; the
card command reads it with ``load_results``, which rejects anything that does not match this format::

    {
      "task": "video-classification",
      "dataset": {"name": "Kinetics-400", "type": "kinetics400", "split": "validation", "config": null},
      "metrics": [
        {"type": "accuracy", "name": "top-1", "value": 81.1, "views": "5x3"},
        {"type": "accuracy", "name": "top-5", "value": 94.9, "views": "5x3"}
      ],
      "recipe": {"epochs": 90, "batch_size": 512, "lr": 0.001, "layer_decay": 0.75, "...": "..."},
      "hardware": "8x H200, bf16",
      "seed": 0,
      "num_eval_videos": 19877,
      "versions": {"torch": "2.14.1", "transformers": "5.24.0", "hf_tiktokactions": "0.1.0"}
    }

Fields:

* ``task``: always ``"video-classification"`` for now.
* ``dataset.name``: display name; ``dataset.type``: Hub dataset id or a short id (``kinetics400``,
  ``something_something_v2``, ``ucf101``, ``hmdb51``); ``dataset.split``: the evaluated split;
  ``dataset.config``: the dataset configuration (e.g. the UCF101 split ``"1"``) or null.
* ``metrics``: at least one; ``type`` is an ``evaluate`` metric id (``accuracy``), ``name`` its display
  name (``top-1``), ``value`` a percentage in [0, 100], ``views`` the test views as
  ``"<temporal>x<spatial>"`` (``"1x1"`` for a single centred clip).
* ``recipe``: the fine-tuning options that produced the model (a dict, as recorded by the run).
* ``hardware``: free text, e.g. ``"1x H200, bf16"``.
* optional: ``seed`` (int), ``num_eval_videos`` (int), ``versions`` (dict of package -> version),
  ``notes`` (str). Any other key is an error, so a typo does not silently drop a field from the card.

``load_results`` also reads the flat ``results.json`` that the fine-tuning runner writes today
(``hf_tiktokactions/training/results.py``: ``dataset``, ``split``, ``views``, ``top1``, ``top5``,
``mean_class_accuracy``, ``dataset_id``, ``dataset_config``, ``hardware``, ``recipe``, ``seed``,
``num_videos``, ``versions``, ...) and converts it to this format: top-1, top-5 and mean class accuracy
become three metrics with the file's ``views``.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from hf_tiktokactions.errors import ConfigError

__all__ = [
    "DatasetRef",
    "Metric",
    "EvalResults",
    "load_results",
    "write_results",
    "as_results",
    "from_runner_results",
    "TASK",
    "VIEWS_PATTERN",
]

TASK = "video-classification"
VIEWS_PATTERN = re.compile(r"^[1-9][0-9]*x[1-9][0-9]*$")


@dataclass(frozen=True)
class DatasetRef:
    """Which data an evaluation ran on."""

    name: str
    type: str
    split: str
    config: str | None = None


@dataclass(frozen=True)
class Metric:
    """One reported number: ``value`` in percent, measured with ``views`` test views."""

    type: str
    name: str
    value: float
    views: str


@dataclass(frozen=True)
class EvalResults:
    """One evaluation of one model on one dataset split (the whole results file)."""

    dataset: DatasetRef
    metrics: list[Metric]
    recipe: dict[str, Any]
    hardware: str
    task: str = TASK
    seed: int | None = None
    num_eval_videos: int | None = None
    versions: dict[str, str] = field(default_factory=dict)
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict, in the documented format (unset optional fields left out)."""
        data = asdict(self)
        unset = [key for key in ("seed", "num_eval_videos", "versions", "notes") if data[key] in (None, "", {})]
        return {key: value for key, value in data.items() if key not in unset}

    @classmethod
    def from_dict(cls, data: Any, source: str = "results") -> EvalResults:
        """Parse and validate a results dict; raises ``ConfigError`` naming ``source`` and the field."""
        problems = _problems(data)
        if problems:
            raise ConfigError(
                f"{source}: not a valid results file: "
                + "; ".join(problems)
                + " (see the format in hf_tiktokactions/hub/results.py)"
            )
        dataset = DatasetRef(**{key: data["dataset"].get(key) for key in ("name", "type", "split", "config")})
        metrics = [Metric(m["type"], m["name"], float(m["value"]), m["views"]) for m in data["metrics"]]
        optional = {key: data[key] for key in ("seed", "num_eval_videos", "versions", "notes") if key in data}
        return cls(
            dataset=dataset,
            metrics=metrics,
            recipe=data["recipe"],
            hardware=data["hardware"],
            task=data["task"],
            **optional,
        )


_TOP_LEVEL = {f.name for f in fields(EvalResults)}
_REQUIRED = {"task", "dataset", "metrics", "recipe", "hardware"}


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _problems(data: Any) -> list[str]:
    """Every way ``data`` differs from the format, so one run of the loader reports them all."""
    if not isinstance(data, dict):
        return [f"expected a JSON object, got {type(data).__name__}"]
    problems = [f"missing field {key!r}" for key in sorted(_REQUIRED - data.keys())]
    problems += [f"unknown field {key!r}" for key in sorted(data.keys() - _TOP_LEVEL)]
    if "task" in data and data["task"] != TASK:
        problems.append(f"task must be {TASK!r}, got {data['task']!r}")
    dataset = data.get("dataset")
    if "dataset" in data:
        if not isinstance(dataset, dict):
            problems.append("dataset must be an object with name, type, split (and optionally config)")
        else:
            problems += [
                f"dataset.{key} must be a non-empty string"
                for key in ("name", "type", "split")
                if not _is_text(dataset.get(key))
            ]
            if dataset.get("config") is not None and not _is_text(dataset["config"]):
                problems.append("dataset.config must be a non-empty string or null")
            problems += [
                f"unknown field dataset.{key!r}" for key in sorted(dataset.keys() - {"name", "type", "split", "config"})
            ]
    metrics = data.get("metrics")
    if "metrics" in data:
        if not isinstance(metrics, list) or not metrics:
            problems.append("metrics must be a non-empty list")
        else:
            for i, metric in enumerate(metrics):
                problems += [f"metrics[{i}]: {p}" for p in _metric_problems(metric)]
    if "recipe" in data and not isinstance(data["recipe"], dict):
        problems.append("recipe must be an object (the fine-tuning options)")
    if "hardware" in data and not _is_text(data["hardware"]):
        problems.append("hardware must be a non-empty string, e.g. '1x H200, bf16'")
    for key in ("seed", "num_eval_videos"):
        if data.get(key) is not None and (not isinstance(data[key], int) or isinstance(data[key], bool)):
            problems.append(f"{key} must be an integer")
    if "versions" in data and not (
        isinstance(data["versions"], dict) and all(isinstance(v, str) for v in data["versions"].values())
    ):
        problems.append("versions must map package names to version strings")
    if "notes" in data and not isinstance(data["notes"], str):
        problems.append("notes must be a string")
    return problems


def _metric_problems(metric: Any) -> list[str]:
    if not isinstance(metric, dict):
        return ["must be an object with type, name, value, views"]
    problems = [f"missing {key!r}" for key in ("type", "name", "value", "views") if key not in metric]
    problems += [f"unknown field {key!r}" for key in sorted(metric.keys() - {"type", "name", "value", "views"})]
    problems += [
        f"{key} must be a non-empty string" for key in ("type", "name") if key in metric and not _is_text(metric[key])
    ]
    value = metric.get("value")
    if "value" in metric and (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value <= 100
    ):
        problems.append(f"value must be a percentage in [0, 100], got {value!r}")
    if "views" in metric and not (isinstance(metric["views"], str) and VIEWS_PATTERN.match(metric["views"])):
        problems.append(f"views must look like '5x3' (temporal x spatial), got {metric['views']!r}")
    return problems


_RUNNER_METRICS = (("top1", "top-1"), ("top5", "top-5"), ("mean_class_accuracy", "mean class accuracy"))


def _is_runner_file(data: Any) -> bool:
    return isinstance(data, dict) and "top1" in data and "metrics" not in data


def from_runner_results(data: dict[str, Any]) -> dict[str, Any]:
    """The fine-tuning runner's flat results dict -> this module's format (validated by the caller)."""
    split = data.get("split")
    config = data.get("dataset_config")
    if isinstance(split, str) and config is not None:
        split = re.sub(r"\s*\(split [^)]*\)$", "", split)  # the runner appends "(split N)" to the split name
    converted: dict[str, Any] = {
        "task": data.get("task", TASK),
        "dataset": {
            "name": data.get("dataset"),
            "type": data.get("dataset_id") or data.get("dataset"),
            "split": split,
            "config": None if config is None else str(config),
        },
        "metrics": [
            {"type": "accuracy", "name": name, "value": data[key], "views": data.get("views")}
            for key, name in _RUNNER_METRICS
            if key in data
        ],
        "recipe": data.get("recipe", {}),
        "hardware": data.get("hardware"),
    }
    if data.get("seed") is not None:
        converted["seed"] = data["seed"]
    if data.get("num_videos") is not None:
        converted["num_eval_videos"] = data["num_videos"]
    if isinstance(data.get("versions"), dict):
        converted["versions"] = {str(k): str(v) for k, v in data["versions"].items()}
    return converted


def load_results(path: str | os.PathLike) -> EvalResults:
    """Read and validate one results file (this format or the runner's); ``ConfigError`` names every problem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such results file; check the path") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the results file ({error})") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: not valid JSON ({error})") from None
    if _is_runner_file(data):
        data = from_runner_results(data)
    return EvalResults.from_dict(data, source=str(path))


def as_results(items: Iterable[EvalResults | str | os.PathLike]) -> list[EvalResults]:
    """``EvalResults`` as they are; paths are read with ``load_results``."""
    return [item if isinstance(item, EvalResults) else load_results(item) for item in items]


def write_results(results: EvalResults, path: str | os.PathLike) -> Path:
    """Validate ``results`` (by round-tripping it) and write it as indented JSON; returns the path."""
    data = results.to_dict()
    EvalResults.from_dict(data, source=str(path))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)
    return path
