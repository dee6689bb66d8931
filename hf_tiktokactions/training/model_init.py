"""Where a model starts from (``--init_from``), with the converter's strict accounting of every key.

Fine-tuning (``build_classifier``):

* nothing: a randomly initialised ``--model_preset`` (training from scratch);
* a folder of ours (``model_type`` videomaev2): a pre-training folder or an encoder (a new head is made; the
  decoder is not used) or a classification folder (its head is kept when the number of classes matches,
  else replaced);
* an official ``.pth`` checkpoint, an OpenGVLab Hub folder or a transformers VideoMAE folder.

Pre-training (``build_pretraining_model``): a pre-training folder continues as it is; an encoder or a
classifier (any of the formats above) gets a new decoder.

Every source is read by ``modeling.conversion`` (``build_model``): only a new head (fine-tuning) or a new decoder
(pre-training from an encoder) may be initialised, and the log names those keys; any other missing, left-over,
mis-shaped or non-float tensor is one :class:`CheckpointError`. Geometry (frames, input size) comes from the run:
the position table is not a weight, so a model pre-trained on other clip sizes loads as long as the tubelet and
patch sizes agree.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import torch

from ..errors import CheckpointError, ConfigError
from ..modeling import VideoMAEv2Config, VideoMAEv2ForPreTraining, VideoMAEv2ForVideoClassification
from ..modeling.conversion import convert
from .arguments import FinetuneArguments

logger = logging.getLogger(__name__)


def preset_config(preset: str, **overrides) -> VideoMAEv2Config:
    """``VideoMAEv2Config.from_preset``, an unknown name a one-line error naming ``--model_preset``."""
    try:
        return VideoMAEv2Config.from_preset(preset, **overrides)
    except ValueError as error:
        raise ConfigError(f"--model_preset: {error}") from None


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
            preset_config(args.model_preset, **overrides)
        ), f"scratch ({args.model_preset})"
    head_classes = checkpoint_class_names(args.init_from)
    model, report = load_accounted(
        VideoMAEv2ForVideoClassification,
        args.init_from,
        work_dir,
        dict(task="classification", num_labels=len(class_names)),
        overrides,
    )
    if head_classes is not None and "head.weight" not in report["initialised_keys"]:
        match_head_to_classes(model, head_classes, class_names, args)
    return model, (str(args.init_from) if report["source_format"] == "ours" else f"converted {args.init_from}")


def checkpoint_class_names(init_from: str) -> list[str] | None:
    """The class names of a classifier folder's head (its config's ``id2label``, in head order); None without
    a folder, a label map, or with transformers' placeholder names (``LABEL_0`` ...)."""
    config_file = Path(init_from) / "config.json"
    if not config_file.is_file():
        return None
    try:
        id2label = json.loads(config_file.read_text()).get("id2label") or {}
        names = [id2label[key] for key in sorted(id2label, key=int)]
    except (ValueError, KeyError, TypeError):
        return None
    if not names or all(name == f"LABEL_{i}" for i, name in enumerate(names)):
        return None
    return names


def match_head_to_classes(model, head_classes: list[str], class_names: list[str], args: FinetuneArguments) -> None:
    """A kept head answers in its own class order: put its rows in the dataset's order when both name the same
    classes (letter case aside: UCF101's lists and folders differ there), and refuse to test a head of other
    classes (its answers would be read under the dataset's names)."""
    ours = [name.casefold() for name in class_names]
    theirs = [name.casefold() for name in head_classes]
    if ours == theirs:
        return
    if sorted(ours) == sorted(theirs):
        order = torch.tensor([theirs.index(name) for name in ours])
        with torch.no_grad():
            model.head.weight.copy_(model.head.weight[order])
            model.head.bias.copy_(model.head.bias[order])
        logger.info("--init_from %s: the head's rows were put in the dataset's class order", args.init_from)
        return
    differ = sorted(set(theirs) ^ set(ours))[:5]
    if args.eval_only:
        raise ConfigError(
            f"--init_from {args.init_from} classifies other classes than --dataset {args.dataset} (e.g. "
            f"{', '.join(differ)}): its answers would be scored under the wrong names"
        )
    logger.warning(
        "--init_from %s: its head was trained on other classes (e.g. %s); it is kept as the new head's start",
        args.init_from,
        ", ".join(differ),
    )


def build_pretraining_model(init_from: str, overrides: dict, work_dir: Path) -> VideoMAEv2ForPreTraining:
    """A pre-training model from ``init_from``: a pre-training folder as it is, an encoder or classifier with
    a new decoder (the run's decoder sizes)."""
    model, _ = load_accounted(
        VideoMAEv2ForPreTraining, init_from, work_dir, dict(task="pretraining", new_decoder=True), overrides
    )
    return model


def load_accounted(model_class, init_from: str, work_dir: Path, conversion: dict, overrides: dict) -> tuple:
    """Convert ``init_from`` with strict accounting into a private temporary folder (every process its own,
    inside ``work_dir`` when it exists), log the keys that were initialised, and load the result with the
    run's ``overrides``. Returns the model and the conversion report."""
    source = Path(init_from)
    if not source.exists():
        raise ConfigError(
            f"--init_from {source}: no such file or folder; pass a pre-training run's final/ folder, a classification "
            "folder, an official .pth checkpoint, or leave it out to train from scratch"
        )
    scratch = work_dir if work_dir.is_dir() else None
    with tempfile.TemporaryDirectory(dir=scratch, prefix=".init-from-") as folder:
        try:
            report = convert(source, folder, config_overrides=_shape_overrides(overrides), **conversion)
        except CheckpointError as error:
            raise CheckpointError(f"--init_from {error}") from None
        if report["initialised_keys"]:
            logger.warning(
                "--init_from %s: %d tensors loaded; newly initialised: %s",
                source,
                report["loaded_tensors"],
                ", ".join(report["initialised_keys"]),
            )
        else:
            logger.info("--init_from %s: all %d tensors loaded", source, report["loaded_tensors"])
        model, info = model_class.from_pretrained(folder, output_loading_info=True, **overrides)
    leftovers = {name: keys for name, keys in info.items() if keys and name != "error_msgs"}
    if leftovers:  # the converted folder was made for this model: nothing may differ
        raise CheckpointError(f"--init_from {source}: the converted weights do not fit the run's model ({leftovers})")
    return model, report


def _shape_overrides(overrides: dict) -> dict:
    """The run's values that decide tensor shapes of parts the checkpoint may lack (the decoder)."""
    names = (
        "decoder_num_hidden_layers",
        "decoder_hidden_size",
        "decoder_num_attention_heads",
        "decoder_intermediate_size",
    )
    return {name: overrides[name] for name in names if name in overrides}
