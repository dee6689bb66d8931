"""What each benchmark's official protocol fixes, whatever a recipe says (OpenGVLab/VideoMAEv2 ``dataset/build.py``
and ``dataset/datasets.py``).

* Which split is scored: the official code tests Kinetics-400 and Something-Something V2 on the validation list
  (``val.csv``; every published number is a validation number), UCF101 and HMDB51 on the split's test list (the
  only held-out list they have). ``--test_split auto`` / ``--eval_split auto`` follow this; naming a split picks it.
* SSv2: segment (TSN) sampling and no horizontal flip (its classes tell "left to right" from "right to left").
  These follow from ``--dataset ssv2`` itself; a recipe or option that says otherwise is overridden, with a warning.

Any other dataset (a videofolder, a saved or Hub ``datasets`` set) scores its labelled ``test`` split, else its
``validation`` split, and takes ``--sampling`` and ``--flip`` as given (default: dense clips, flip on).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchmarkProtocol:
    """The rules of one dataset.

    Attributes:
        test_splits: splits ``--test_split auto`` may score (the final multi-view test), first labelled one wins.
        eval_splits: the same for ``--eval_split auto`` (single-view validation during training).
        sampling: ``"segment"`` / ``"dense"`` when the dataset fixes the frame sampling, else None (the option's).
        flip: False when the dataset forbids the horizontal flip, else None (the option's).
        splits_why, augmentation_why: the reasons shown when a split is missing / an option is overridden.
    """

    test_splits: tuple[str, ...]
    eval_splits: tuple[str, ...]
    sampling: str | None = None
    flip: bool | None = None
    splits_why: str = ""
    augmentation_why: str = ""


_VALIDATION_LIST = "the official code tests on val.csv; published numbers are validation numbers"
_TEST_LIST = "scored on the split's test list, as the official code"
PROTOCOLS = {
    "kinetics400": BenchmarkProtocol(("validation",), ("validation",), splits_why=_VALIDATION_LIST),
    "ssv2": BenchmarkProtocol(
        ("validation",),
        ("validation",),
        sampling="segment",
        flip=False,
        splits_why=_VALIDATION_LIST,
        augmentation_why="SSv2 takes one frame per segment and never flips: left/right tell its classes apart",
    ),
    "ucf101": BenchmarkProtocol(("test",), ("test",), splits_why=_TEST_LIST),
    "hmdb51": BenchmarkProtocol(("test",), ("test",), splits_why=_TEST_LIST),
}
GENERIC_PROTOCOL = BenchmarkProtocol(("test", "validation"), ("validation", "test"))
DEFAULT_SAMPLING, DEFAULT_FLIP = "dense", True


def protocol_of(dataset: str) -> BenchmarkProtocol:
    """The protocol of ``--dataset`` (a benchmark name; anything else gets ``GENERIC_PROTOCOL``)."""
    return PROTOCOLS.get(dataset, GENERIC_PROTOCOL)


def resolve_augmentation(dataset: str, sampling: str | None, flip: bool | None) -> tuple[str, bool]:
    """The ``(sampling, flip)`` a run uses: the dataset's where it fixes them, else the given values (None: default).

    A given value the dataset contradicts (``--flip true`` for SSv2) is overridden with a warning.
    """
    protocol = protocol_of(dataset)
    resolved = []
    for option, given, fixed, default in (
        ("sampling", sampling, protocol.sampling, DEFAULT_SAMPLING),
        ("flip", flip, protocol.flip, DEFAULT_FLIP),
    ):
        if fixed is None:
            resolved.append(default if given is None else given)
            continue
        if given is not None and given != fixed:
            logger.warning(
                "--dataset %s: --%s %s is overridden by %s (%s)",
                dataset,
                option,
                str(given).lower(),
                str(fixed).lower(),
                protocol.augmentation_why,
            )
        resolved.append(fixed)
    return resolved[0], resolved[1]
