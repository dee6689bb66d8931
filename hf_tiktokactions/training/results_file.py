"""``results.json``: the one results format. Fine-tuning writes it; model cards and the model-index read it.

A fine-tuning run (``training/finetune.py --output_dir OUT``) writes ``OUT/results.json`` with
``results.write_test_results``, which checks it against this format before writing; ``hub card|export|push
--results OUT/results.json`` read it with ``read_results``, which checks it again and names the file and every bad
field. One JSON object, e.g.::

    {"task": "video-classification", "dataset": "UCF101", "split": "test", "views": "2x3",
     "top1": 87.5, "top5": 98.1, "mean_class_accuracy": 86.9, "checkpoint": "/runs/ft/final", "seed": 0,
     "num_videos": 3783, "seconds": 412.3, "clips_per_second": 55.0,
     "dataset_id": "ucf101", "dataset_config": "1", "init_from": "/runs/pt/final", "num_processes": 1,
     "hardware": "1x H200, bf16", "recipe": {"num_train_epochs": 50, "...": "..."},
     "versions": {"torch": "2.14.1", "transformers": "5.24.0", "hf_tiktokactions": "0.1.0"}}

Required fields:

* ``task``: ``"video-classification"``.
* ``dataset``: the dataset's display name (``"Kinetics-400"``, ``"UCF101"``).
* ``split``: the scored split (``"validation"``, ``"test"``); the UCF101/HMDB51 split number is ``dataset_config``.
* ``views``: the test views, ``"<temporal>x<spatial>"`` (``"5x3"``; ``"1x3"`` is one temporal view of three crops).
* ``top1``, ``top5``, ``mean_class_accuracy``: percentages in [0, 100]; each is one model-index entry.
* ``checkpoint``: the tested weights (a folder, or ``"scratch"``); ``seed``: the run's seed (an integer).
* ``num_videos``: the number of test videos; ``seconds``, ``clips_per_second``: test time (null if not finite).

Optional fields (fine-tuning writes them all):

* ``dataset_id``: the ``--dataset`` value (a short id such as ``ucf101``, or a Hub id); the model-index's dataset
  type (default: ``dataset``).
* ``dataset_config``: the UCF101/HMDB51 split number as a string, else null; the model-index's dataset config.
* ``init_from``: the weights fine-tuning started from, or null; ``num_processes``: an integer.
* ``hardware``: free text (``"1x H200, bf16"``); ``recipe``: the run's options (an object);
  ``versions``: package -> version string.

Any other key is an error, so a typo cannot silently drop a field from a card. The files ``hub card`` once read
(a ``dataset`` object and a ``metrics`` list) are refused with a message saying which file to pass instead.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = [
    "RESULTS_FILE",
    "TASK",
    "METRICS",
    "RunResults",
    "results_problems",
    "parse_results",
    "read_results",
    "as_results",
]

RESULTS_FILE = "results.json"
TASK = "video-classification"
# results.json key -> the metric's display name on cards and in the model-index
METRICS = (("top1", "top-1"), ("top5", "top-5"), ("mean_class_accuracy", "mean class accuracy"))
_VIEWS = re.compile(r"^[1-9][0-9]*x[1-9][0-9]*$")


@dataclass(frozen=True)
class RunResults:
    """One fine-tuning run's test results: the fields of ``results.json`` (documented above)."""

    task: str
    dataset: str
    split: str
    views: str
    top1: float
    top5: float
    mean_class_accuracy: float
    checkpoint: str
    seed: int
    num_videos: int
    seconds: float | None
    clips_per_second: float | None
    dataset_id: str | None = None
    dataset_config: str | None = None
    init_from: str | None = None
    num_processes: int | None = None
    hardware: str | None = None
    recipe: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    read_from: Path | None = field(default=None, compare=False)  # the file these came from; not a field of it

    @property
    def dataset_type(self) -> str:
        """The model-index's dataset type: ``dataset_id``, else the display name."""
        return self.dataset_id or self.dataset

    @property
    def split_label(self) -> str:
        """``test (split 1)`` where the dataset has numbered splits, else the split name."""
        return f"{self.split} (split {self.dataset_config})" if self.dataset_config else self.split

    def metrics(self) -> list[tuple[str, float]]:
        """``(display name, percentage)`` for top-1, top-5 and mean class accuracy."""
        return [(name, getattr(self, key)) for key, name in METRICS]


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


# field -> (check, what a valid value is)
_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "task": (lambda v: v == TASK, repr(TASK)),
    "dataset": (_text, "a non-empty string"),
    "split": (_text, "a non-empty string"),
    "views": (lambda v: isinstance(v, str) and bool(_VIEWS.match(v)), "'<temporal>x<spatial>', e.g. '5x3'"),
    "top1": (lambda v: _number(v) and 0 <= v <= 100, "a percentage in [0, 100]"),
    "top5": (lambda v: _number(v) and 0 <= v <= 100, "a percentage in [0, 100]"),
    "mean_class_accuracy": (lambda v: _number(v) and 0 <= v <= 100, "a percentage in [0, 100]"),
    "checkpoint": (_text, "a non-empty string"),
    "seed": (_integer, "an integer"),
    "num_videos": (lambda v: _integer(v) and v >= 0, "a count (an integer >= 0)"),
    "seconds": (_optional(lambda v: _number(v) and v >= 0), "a number >= 0 or null"),
    "clips_per_second": (_optional(lambda v: _number(v) and v >= 0), "a number >= 0 or null"),
    "dataset_id": (_optional(_text), "a non-empty string or null"),
    "dataset_config": (_optional(_text), "a non-empty string or null"),
    "init_from": (_optional(_text), "a non-empty string or null"),
    "num_processes": (_optional(lambda v: _integer(v) and v >= 1), "an integer >= 1 or null"),
    "hardware": (_optional(_text), "a non-empty string or null, e.g. '1x H200, bf16'"),
    "recipe": (lambda v: isinstance(v, dict), "an object (the run's options)"),
    "versions": (
        lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
        "an object mapping package names to version strings",
    ),
}
_REQUIRED = [f.name for f in fields(RunResults) if f.name not in {"recipe", "versions"} and f.default is not None]


def results_problems(data: Any) -> list[str]:
    """Every way ``data`` differs from the format, so one error reports them all (empty: valid)."""
    if not isinstance(data, dict):
        return [f"expected a JSON object, got {type(data).__name__}"]
    problems = [f"missing field {key!r}" for key in _REQUIRED if key not in data]
    problems += [f"unknown field {key!r}" for key in data if key not in _CHECKS]
    problems += [
        f"field {key!r} must be {expected}, got {data[key]!r}"
        for key, (check, expected) in _CHECKS.items()
        if key in data and not check(data[key])
    ]
    return problems


def _older_card_format(data: Any) -> bool:
    return isinstance(data, dict) and ("metrics" in data or isinstance(data.get("dataset"), dict))


def parse_results(data: Any, source: str | os.PathLike) -> RunResults:
    """Validate a results dict; ``ConfigError`` names ``source`` and every bad field."""
    if _older_card_format(data):
        raise ConfigError(
            f"{source}: this is the older model-card results format (a 'dataset' object and a 'metrics' list), "
            f"which is no longer read; pass the {RESULTS_FILE} that fine-tuning wrote "
            f"(training/finetune.py --output_dir OUT writes OUT/{RESULTS_FILE})"
        )
    problems = results_problems(data)
    if problems:
        raise ConfigError(
            f"{source}: not a valid {RESULTS_FILE}: "
            + "; ".join(problems)
            + " (format: hf_tiktokactions/training/results_file.py)"
        )
    data = dict(data)
    if data.get("dataset_config") and data["split"].endswith(f" (split {data['dataset_config']})"):
        # files written before the split number moved to dataset_config: "test (split 1)" -> "test"
        data["split"] = data["split"].removesuffix(f" (split {data['dataset_config']})")
    return RunResults(**data)


def read_results(path: str | os.PathLike) -> RunResults:
    """Read and validate one ``results.json``; one ``ConfigError`` naming the file for any problem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such results file; pass the {RESULTS_FILE} a fine-tuning run wrote") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the results file ({error})") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: not valid JSON ({error})") from None
    return replace(parse_results(data, path), read_from=path)


def as_results(items: Iterable[RunResults | str | os.PathLike]) -> list[RunResults]:
    """``RunResults`` as they are; paths are read with ``read_results``."""
    return [item if isinstance(item, RunResults) else read_results(item) for item in items]
