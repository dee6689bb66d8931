"""Where a fine-tuned classifier starts from (``--init_from``).

* nothing: a randomly initialised ``--model_preset`` (training from scratch);
* a folder of ours (``model_type`` videomaev2): a pre-training folder (the decoder is ignored, a new head is
  made) or a classification folder (its head is kept when the number of classes matches, else replaced);
* an official ``.pth`` checkpoint or a transformers VideoMAE folder: converted first (``modeling.conversion``)
  into ``OUTPUT_DIR/init_converted``, then loaded like a folder of ours.

Geometry (frames, input size) comes from the run: the position table is not a weight, so a model pre-trained
on other clip sizes loads as long as the tubelet and patch sizes agree.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import CheckpointError, ConfigError
from ..modeling import VideoMAEv2Config, VideoMAEv2ForVideoClassification
from ..modeling.conversion import convert
from .arguments import FinetuneArguments


def _model_type(folder: Path) -> str | None:
    try:
        return json.loads((folder / "config.json").read_text()).get("model_type")
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"--init_from {folder}: cannot read config.json ({error})") from error


def classifier_overrides(args: FinetuneArguments, class_names: list[str]) -> dict:
    """Config values the run decides, whatever the checkpoint says."""
    return dict(
        num_labels=len(class_names),
        id2label=dict(enumerate(class_names)),
        label2id={n: i for i, n in enumerate(class_names)},
        num_frames=args.num_frames,
        image_size=args.input_size,
        drop_path_rate=args.drop_path_rate,
        head_dropout=args.head_dropout,
        head_init_scale=args.head_init_scale,
    )


def build_classifier(
    args: FinetuneArguments, class_names: list[str], work_dir: Path
) -> tuple[VideoMAEv2ForVideoClassification, str]:
    """The classifier to fine-tune and a description of where it came from (for the run record)."""
    overrides = classifier_overrides(args, class_names)
    if not args.init_from:
        return VideoMAEv2ForVideoClassification(
            VideoMAEv2Config.from_preset(args.model_preset, **overrides)
        ), f"scratch ({args.model_preset})"
    source = Path(args.init_from)
    folder = source
    if source.is_file() or (source.is_dir() and _model_type(source) not in ("videomaev2", None)):
        folder = work_dir / "init_converted"
        convert(source, folder, task="classification")
        origin = f"converted {source}"
    elif source.is_dir():
        origin = str(source)
    else:
        raise ConfigError(
            f"--init_from {source}: no such file or folder; pass a pre-training run's final/ folder, a classification "
            "folder, an official .pth checkpoint, or leave it out to train from scratch"
        )
    try:
        model = VideoMAEv2ForVideoClassification.from_pretrained(str(folder), ignore_mismatched_sizes=True, **overrides)
    except (OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"--init_from {source}: cannot load it as a VideoMAE V2 classifier ({error})") from error
    return model, origin
