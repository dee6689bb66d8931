"""Person detectors behind one small interface, so the decision logic does not care which model runs.

A :class:`PersonDetector` takes a batch of BGR uint8 frames (H, W, 3) and returns, per frame, the
boxes of the classes that count as a person: ``{"box": [x1, y1, x2, y2] (pixels), "confidence",
"label"}``.

* :class:`UltralyticsDetector`: YOLOv8 (or any ultralytics detection model) through ultralytics,
  one batched ``predict`` per clip, on the GPU when there is one. Ultralytics is AGPL-3.0 and its
  weights are not shipped: pass them by path (``--detector /models/yolov8n.pt``) or by a file name
  found in the working directory or ultralytics' ``weights_dir`` (``--detector yolov8n.pt``); a
  model config such as ``yolov8n.yaml`` builds an untrained model (tests: plumbing only). Nothing is
  ever downloaded: ultralytics is imported with ``YOLO_OFFLINE`` and without auto-install.

:func:`load_detector` turns the ``--detector`` value into one of them (``none`` -> ``None``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from hf_tiktokactions.errors import ConfigError, DetectorError

Detection = dict[str, Any]
NO_DETECTOR = "none"


@runtime_checkable
class PersonDetector(Protocol):
    """Finds persons in a batch of frames."""

    name: str

    def detect(self, frames_bgr: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Per frame (BGR uint8 (H, W, 3)), the person boxes found in it."""
        ...


def _import_ultralytics_offline():
    """Import ultralytics so that it neither probes the network at import nor installs packages."""
    os.environ.setdefault("YOLO_OFFLINE", "1")  # else `import ultralytics` resolves DNS names to test connectivity
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.setdefault("YOLO_VERBOSE", "false")
    try:
        import ultralytics
    except ImportError:
        raise DetectorError(
            "the YOLO person detector needs the optional package ultralytics (AGPL-3.0): "
            "pip install 'hf-tiktokactions[curation]', or pass --detector none"
        ) from None
    return ultralytics


def _coco_names() -> dict[int, str]:
    """COCO's 80 class names as ultralytics ships them (``cfg/datasets/coco.yaml``)."""
    import yaml
    from ultralytics.utils import ROOT

    with open(ROOT / "cfg" / "datasets" / "coco.yaml", encoding="utf-8") as handle:
        return {int(k): str(v) for k, v in yaml.safe_load(handle)["names"].items()}


def resolve_weights(spec: str) -> str:
    """A local weights file (or a bundled model config ``*.yaml``) for ``spec``; never a download."""
    if spec.endswith((".yaml", ".yml")):
        return spec
    path = Path(spec).expanduser()
    if path.is_file():
        return str(path.resolve())
    candidates = [path]
    if not path.is_absolute() and len(path.parts) == 1:
        ultralytics = _import_ultralytics_offline()
        weights_dir = Path(ultralytics.settings["weights_dir"])
        if (weights_dir / spec).is_file():
            return str(weights_dir / spec)
        candidates.append(weights_dir / spec)
    raise DetectorError(
        f"--detector {spec}: weights not found (looked at {', '.join(str(c) for c in candidates)}). Nothing is "
        "downloaded: get the weights (ultralytics YOLOv8, AGPL-3.0) and pass their path, or pass --detector none "
        "to skip the person filter"
    )


class UltralyticsDetector:
    """An ultralytics detection model; ``classes`` are the class names that count as a person.

    Args:
        weights: path or file name of the weights, or a model config (``yolov8n.yaml``: untrained).
        classes: class names counted as persons (``--person-classes``).
        confidence: minimum box confidence.
        image_size: the model's input size (frames are letterboxed to it).
        device: ``"cuda:0"``, ``"cpu"``, ...; default the first GPU when there is one.
    """

    def __init__(
        self,
        weights: str,
        classes: Sequence[str] = ("person",),
        confidence: float = 0.25,
        image_size: int = 640,
        device: str | None = None,
    ) -> None:
        resolved = resolve_weights(weights)
        _import_ultralytics_offline()
        import torch
        from ultralytics import YOLO

        self.name = f"ultralytics:{Path(weights).name}"
        if resolved.endswith((".yaml", ".yml")):
            with torch.random.fork_rng():  # an untrained model: the same weights in every process and engine
                torch.manual_seed(0)
                self.model = YOLO(resolved, task="detect")
        else:
            self.model = YOLO(resolved, task="detect")
        names = self.model.names  # {class id: name}
        if all(str(n).isdigit() for n in names.values()) and len(names) == 80:
            names = _coco_names()  # a model built from a config has no class names; its 80 classes are COCO's
        by_name = {str(n).lower(): int(i) for i, n in names.items()}
        missing = [c for c in classes if c.lower() not in by_name]
        if missing:
            raise ConfigError(
                f"--person-classes {missing} are not classes of {weights}; it knows {sorted(by_name)[:20]}..."
            )
        self.class_ids = sorted(by_name[c.lower()] for c in classes)
        self.labels = {i: str(names[i]) for i in self.class_ids}
        self.confidence = confidence
        self.image_size = image_size
        self.device = device or ("cuda:0" if torch.cuda.is_available() else "cpu")

    def detect(self, frames_bgr: Sequence[np.ndarray]) -> list[list[Detection]]:
        if not frames_bgr:
            return []
        results = self.model.predict(
            list(frames_bgr),  # a list of BGR arrays is one batch in ultralytics
            classes=self.class_ids,
            conf=self.confidence,
            imgsz=self.image_size,
            device=self.device,
            half=self.device.startswith("cuda"),
            verbose=False,
        )
        detections = []
        for result in results:
            boxes = result.boxes
            xyxy = boxes.xyxy.cpu().numpy().round(1).tolist()
            scores = boxes.conf.cpu().numpy().round(4).tolist()
            labels = [self.labels.get(int(c), str(int(c))) for c in boxes.cls.cpu().numpy()]
            detections.append([{"box": b, "confidence": s, "label": name} for b, s, name in zip(xyxy, scores, labels)])
        return detections


def load_detector(
    spec: str,
    classes: Sequence[str] = ("person",),
    confidence: float = 0.25,
    image_size: int = 640,
    device: str | None = None,
) -> PersonDetector | None:
    """The detector ``--detector`` names: ``none`` -> ``None``, else an :class:`UltralyticsDetector`."""
    if spec.lower() == NO_DETECTOR:
        return None
    return UltralyticsDetector(spec, classes, confidence, image_size, device)
