"""Options of the training commands: dataclasses parsed by ``HfArgumentParser`` from a YAML recipe plus CLI overrides.

Every option has one name in code, YAML and ``--help``. ``--config recipe.yaml`` sets the defaults and any
``--key value`` after it wins.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from transformers import HfArgumentParser, TrainingArguments
from transformers.hf_argparser import string_to_bool

from ..errors import ConfigError
from ..option_help import HelpFormatter, description_of
from ..resources import shipped_dir
from .protocol import resolve_augmentation

T = TypeVar("T")


def check_decode_backend(name: str) -> None:
    """A backend name the readers know (a typo failed in the first data-loading worker, with a traceback)."""
    from ..data.decoding import BACKENDS

    if name not in BACKENDS:
        raise ConfigError(f"--decode_backend {name!r}: choose one of {', '.join(BACKENDS)}")


DECODED_CACHE_HELP = (
    "keep up to this many MB of decoded frames in each data-loading process and read them from memory "
    "(0: decode on every read); for small sets read many times"
)


@dataclass
class PretrainArguments:
    """VideoMAE V2 pre-training. Defaults are the official ViT-B script's (``pretrain_vit_b_tiktok.yaml``), but for the
    total batch: 32 videos per device, x processes x ``gradient_accumulation_steps`` (the script's is 1024)."""

    # Data
    data: str | None = field(
        default=None,
        metadata={
            "help": (
                "a curation index folder (datasets.save_to_disk), a folder of videos, a text file listing videos, or "
                "a Hub dataset id"
            )
        },
    )
    video_column: str | None = field(
        default=None,
        metadata={"help": "column with the video paths (default: clip_path for a curation index, else video)"},
    )
    only_passed: bool = field(
        default=True, metadata={"help": "with a curation index, keep rows whose status is 'pass'"}
    )
    hashtags: str | None = field(
        default=None, metadata={"help": "comma list: keep only index rows found through these hashtags"}
    )
    max_videos: int | None = field(
        default=None, metadata={"help": "a random subset of N videos (the paper's scaling study)"}
    )
    subset_seed: int = field(default=0, metadata={"help": "seed of the --max-videos subset"})
    streaming: bool = field(
        default=False,
        metadata={
            "help": "read a published index (push_index.py --to-folder DIR, or its Hub id) as a stream, each process "
            "its own parquet shards, without a local copy"
        },
    )
    hub_token_env: str = field(
        default="HF_TOKEN", metadata={"help": "environment variable holding the token for a private Hub dataset"}
    )
    num_frames: int = field(default=16, metadata={"help": "frames per clip"})
    sampling_rate: int = field(default=4, metadata={"help": "stride between sampled frames"})
    input_size: int = field(default=224, metadata={"help": "side of the square crops"})
    num_sample: int = field(default=4, metadata={"help": "augmented clips per decoded video (repeated augmentation)"})
    decode_backend: str = field(default="decord", metadata={"help": "decord, torchcodec or pyav"})
    decoded_cache_mb: int = field(default=0, metadata={"help": DECODED_CACHE_HELP})
    dataloader_num_workers: int = field(default=8, metadata={"help": "DataLoader worker processes per device"})
    normalize_on_device: bool | None = field(
        default=None,
        metadata={
            "help": (
                "ship uint8 clips and normalise them on the device: 4x less to pin and copy (on an H200 with 16 "
                "workers, ViT-B: 1236 instead of 357 clips/s); default: on when training on a CUDA device"
            )
        },
    )

    # Model
    model_preset: str = field(
        default="vit-b", metadata={"help": "vit-tiny, vit-mini, vit-s, vit-b, vit-l, vit-h or vit-g"}
    )
    init_from: str | None = field(
        default=None,
        metadata={"help": "continue from a pre-trained model folder (e.g. OUTPUT_DIR/final of an earlier run)"},
    )
    tubelet_size: int = field(default=2, metadata={"help": "frames per token (the patch embedding's temporal size)"})
    mask_ratio: float = field(default=0.9, metadata={"help": "tube mask ratio of the encoder"})
    decoder_mask_ratio: float = field(
        default=0.5, metadata={"help": "running-cell mask ratio of the decoder (0 = VideoMAE V1)"}
    )
    decoder_depth: int = field(default=4, metadata={"help": "transformer blocks of the decoder"})
    norm_pix_loss: bool = field(
        default=True,
        metadata={"help": "regress per-patch normalised pixels (official normlize_target); false = raw pixels"},
    )
    drop_path_rate: float = field(
        default=0.0, metadata={"help": "stochastic depth: drop path grows linearly to this over the encoder blocks"}
    )
    gradient_checkpointing: bool = field(
        default=False, metadata={"help": "recompute the blocks in the backward pass (less memory, more compute)"}
    )

    # Optimisation
    output_dir: str = field(
        default="runs/pretrain",
        metadata={"help": "run folder: checkpoints/, final/, metrics.jsonl, summary.json, logs, reconstructions"},
    )
    seed: int = field(
        default=0, metadata={"help": "seed of the model init, the masks, the data order and the augmentations"}
    )
    per_device_train_batch_size: int = field(
        default=32, metadata={"help": "videos per device and step (each gives num_sample clips)"}
    )
    gradient_accumulation_steps: int = field(
        default=1, metadata={"help": "micro-batches per optimizer step (total batch = per-device x processes x this)"}
    )
    num_train_epochs: float = field(
        default=200, metadata={"help": "epochs over the videos, each giving num_sample clips (the zoo's '800e')"}
    )
    max_steps: int = field(
        default=-1, metadata={"help": "stop after this many optimizer steps (overrides epochs when > 0)"}
    )
    base_learning_rate: float = field(
        default=1e-3, metadata={"help": "lr = base_learning_rate x total batch (videos) / 256"}
    )
    min_learning_rate: float = field(default=1e-5, metadata={"help": "end of the cosine, scaled like the lr"})
    warmup_learning_rate: float = field(default=0.0, metadata={"help": "start of the warm-up, scaled like the lr"})
    warmup_epochs: float = field(default=20, metadata={"help": "warm-up length in epochs (see --warmup_steps)"})
    warmup_steps: int = field(
        default=-1, metadata={"help": "warm-up length in steps (overrides warmup_epochs when >= 0)"}
    )
    weight_decay: float = field(
        default=0.05, metadata={"help": "AdamW weight decay (never on biases, norms or tokens)"}
    )
    adam_beta1: float = field(default=0.9, metadata={"help": "AdamW beta1"})
    adam_beta2: float = field(default=0.95, metadata={"help": "AdamW beta2"})
    adam_epsilon: float = field(default=1e-8, metadata={"help": "AdamW epsilon"})
    max_grad_norm: float = field(default=0.0, metadata={"help": "clip the gradient norm (0 = no clipping)"})
    mixed_precision: str = field(default="auto", metadata={"help": "bf16, fp16, no, or auto (bf16 on GPU, no on CPU)"})

    # Checkpoints and observability
    save_steps: int = field(
        default=1000,
        metadata={"help": "save a checkpoint every N optimizer steps (0 = only at the end, with the final model)"},
    )
    save_total_limit: int = field(default=2, metadata={"help": "keep the newest N checkpoints (0 = all)"})
    resume: str | None = field(default=None, metadata={"help": "a checkpoint folder, or 'latest' in output_dir"})
    logging_steps: int = field(
        default=10, metadata={"help": "write loss, lr and speed every N optimizer steps, and at the last one"}
    )
    report_to: str = field(
        default="tensorboard", metadata={"help": "comma list of Accelerate trackers (tensorboard, wandb), or none"}
    )
    reconstruction_steps: int = field(
        default=500, metadata={"help": "log original / masked / reconstructed frames every N steps (0 = never)"}
    )
    disable_tqdm: bool = field(default=False, metadata={"help": "no progress bar (logs and CI)"})

    def __post_init__(self) -> None:
        check_decode_backend(self.decode_backend)
        if self.mixed_precision not in ("auto", "bf16", "fp16", "no"):
            raise ConfigError(f"--mixed_precision must be auto, bf16, fp16 or no, got {self.mixed_precision!r}")
        if self.per_device_train_batch_size < 1 or self.num_sample < 1:
            raise ConfigError("--per_device_train_batch_size and --num_sample must be at least 1")
        self._check_intervals()

    def _check_intervals(self) -> None:
        """Every N steps: 0 means never for reconstructions, only at the end for checkpoints; logging needs N >= 1."""
        for option in ("save_steps", "reconstruction_steps"):
            if getattr(self, option) < 0:
                raise ConfigError(f"--{option} must be 0 or a number of steps, got {getattr(self, option)}")
        if self.logging_steps < 1:
            raise ConfigError(f"--logging_steps must be at least 1 (a number of steps), got {self.logging_steps}")


DATASET_CHOICES = ("ucf101", "hmdb51", "kinetics400", "ssv2", "videofolder")


@dataclass
class FinetuneArguments:
    """Fine-tuning and multi-view testing options that ``transformers.TrainingArguments`` does not have.

    Parsed together with ``TrainingArguments`` (``output_dir``, ``seed``, ``max_steps``, ``num_train_epochs``,
    ``per_device_train_batch_size``, ``weight_decay``, ``label_smoothing_factor``, ``eval_strategy`` ...).
    Defaults follow the official VideoMAE V2 ``run_class_finetuning.py``; on the command line (and through
    ``recipe_options``) so do those of the ``TrainingArguments`` it sets (``OFFICIAL_FINETUNE_DEFAULTS``), where a
    recipe does not set them. A ``TrainingArguments`` made in Python keeps transformers' own defaults.
    """

    # Data
    dataset: str = field(
        default="videofolder",
        metadata={
            "help": (
                "ucf101, hmdb51, kinetics400, ssv2, videofolder, or a datasets folder (save_to_disk, or a local copy of"
                " a Hub dataset repository) / Hub dataset id with video (files, or clips embedded as push_to_hub stores"
                " them) and label columns"
            )
        },
    )
    data_root: str | None = field(
        default=None,
        metadata={
            "help": (
                "the videos: the class folders (ucf101, hmdb51, videofolder) or the folder searched for the videos "
                "(kinetics400, ssv2)"
            )
        },
    )
    annotation_dir: str | None = field(
        default=None,
        metadata={
            "help": (
                "official annotation files: Kinetics CSVs, SSv2 JSONs (required), UCF101 / HMDB51 split lists "
                "(optional)"
            )
        },
    )
    split: int = field(default=1, metadata={"help": "1, 2 or 3: the official train/test split of UCF101 and HMDB51"})
    train_split: str = field(default="train", metadata={"help": "split to train on"})
    eval_split: str = field(
        default="auto",
        metadata={
            "help": "split for single-view validation during training (auto: as --test_split for the benchmarks, "
            "else validation, else test)"
        },
    )
    test_split: str = field(
        default="auto",
        metadata={
            "help": "split for the final multi-view test (auto: validation for kinetics400 and ssv2, as the official "
            "code; the split's test list for ucf101 and hmdb51; else test when it has labels, else validation)"
        },
    )
    missing_videos: str = field(
        default="drop",
        metadata={
            "help": "listed videos that are not on disk (every Kinetics copy lacks some): drop (left out, counted in "
            "a warning) or error"
        },
    )
    max_train_videos: int | None = field(
        default=None, metadata={"help": "a random subset of the training videos (quick runs)"}
    )
    max_eval_videos: int | None = field(
        default=None, metadata={"help": "a random subset of the validation and test videos (quick runs)"}
    )
    decode_backend: str = field(default="decord", metadata={"help": "decord, torchcodec or pyav"})
    decoded_cache_mb: int = field(default=0, metadata={"help": DECODED_CACHE_HELP})
    num_frames: int = field(default=16, metadata={"help": "frames per clip"})
    sampling_rate: int = field(default=4, metadata={"help": "stride between the frames of a dense clip"})
    sampling: str | None = field(
        default=None,
        metadata={
            "help": "dense (Kinetics, UCF101, HMDB51) or segment (TSN segments); default dense; SSv2 is always segment"
        },
    )
    input_size: int = field(default=224, metadata={"help": "side of the square crops"})
    short_side_size: int = field(default=224, metadata={"help": "test clips: resize the short side to this, then crop"})
    num_sample: int = field(default=2, metadata={"help": "repeated augmentation: augmented clips per decoded video"})

    # Model
    init_from: str | None = field(
        default=None,
        metadata={
            "help": (
                "a pre-training or classification folder of ours, a converted or official .pth checkpoint, a "
                "transformers VideoMAE folder, or none (from scratch)"
            )
        },
    )
    model_preset: str = field(default="vit-b", metadata={"help": "architecture when training from scratch"})
    drop_path_rate: float = field(
        default=0.1, metadata={"help": "stochastic depth: drop path grows linearly to this over the encoder blocks"}
    )
    head_dropout: float = field(default=0.0, metadata={"help": "dropout before the head (official fc_drop_rate)"})
    head_init_scale: float = field(
        default=0.001, metadata={"help": "the new head's init std is 0.02 x this (official init_scale)"}
    )
    gradient_checkpointing_blocks: bool = field(
        default=False, metadata={"help": "recompute the encoder blocks in the backward pass (ViT-g)"}
    )

    # Optimisation (lr schedule: linear warm-up from warmup_learning_rate, cosine to min_learning_rate, per step)
    base_learning_rate: float | None = field(
        default=None,
        metadata={
            "help": "when set, learning_rate = this x total batch (videos) / 256, as upstream; "
            "min_learning_rate and warmup_learning_rate are then scaled the same way"
        },
    )
    layer_decay: float = field(
        default=0.75, metadata={"help": "lr of block i is scaled by layer_decay^(depth - i); 1 = no decay"}
    )
    min_learning_rate: float = field(
        default=1e-6, metadata={"help": "end of the cosine (x total batch / 256 when base_learning_rate is set)"}
    )
    warmup_learning_rate: float = field(
        default=0.0, metadata={"help": "start of the warm-up (x total batch / 256 when base_learning_rate is set)"}
    )
    warmup_epochs: float | None = field(
        default=5.0, metadata={"help": "warm-up length in epochs (overrides warmup_steps when set)"}
    )
    mixed_precision: str = field(default="auto", metadata={"help": "bf16, no, or auto (bf16 on GPU, no on CPU)"})

    # Augmentation
    mixup: float = field(default=0.8, metadata={"help": "mixup alpha (0 = off)"})
    cutmix: float = field(default=1.0, metadata={"help": "cutmix alpha (0 = off)"})
    mixup_prob: float = field(default=1.0, metadata={"help": "probability of mixing a batch (mixup or cutmix)"})
    mixup_switch_prob: float = field(
        default=0.5, metadata={"help": "probability of cutmix instead of mixup when both are on"}
    )
    rand_augment: str = field(default="rand-m7-n4-mstd0.5-inc1", metadata={"help": "timm RandAugment config, or none"})
    reprob: float = field(default=0.25, metadata={"help": "random erasing probability"})
    flip: bool | None = field(
        default=None, metadata={"help": "random horizontal flip; default on; SSv2 never flips (left/right are classes)"}
    )
    crop_scale_min: float = field(
        default=0.08, metadata={"help": "smallest area fraction of the random-resized crop (upstream 0.08)"}
    )

    # Testing
    test_num_segment: int = field(default=5, metadata={"help": "temporal views per video in the final test"})
    test_num_crop: int = field(default=3, metadata={"help": "spatial crops per temporal view in the final test"})
    test_videos_per_batch: int = field(
        default=4, metadata={"help": "videos per test batch (all their views go together)"}
    )
    eval_only: bool = field(default=False, metadata={"help": "skip training: test the --init_from classifier"})
    hardware: str | None = field(default=None, metadata={"help": "free text for results.json (default: detected)"})
    resume: str | None = field(
        default=None,
        metadata={
            "help": "a Trainer checkpoint folder (output_dir/checkpoint-N), or 'latest': the newest complete one in "
            "output_dir, if any (--resume_from_checkpoint means the same)"
        },
    )

    def __post_init__(self) -> None:
        check_decode_backend(self.decode_backend)
        if self.sampling not in (None, "dense", "segment"):
            raise ConfigError(f"--sampling must be dense or segment, got {self.sampling!r}")
        self.sampling, self.flip = resolve_augmentation(self.dataset, self.sampling, self.flip)
        if self.mixed_precision not in ("auto", "bf16", "no"):
            raise ConfigError(f"--mixed_precision must be auto, bf16 or no, got {self.mixed_precision!r}")
        if self.missing_videos not in ("drop", "error"):
            raise ConfigError(f"--missing_videos must be drop or error, got {self.missing_videos!r}")
        if self.split not in (1, 2, 3):
            raise ConfigError(f"--split must be 1, 2 or 3, got {self.split}")
        if min(self.num_sample, self.test_num_segment, self.test_num_crop, self.test_videos_per_batch) < 1:
            raise ConfigError(
                "--num_sample, --test_num_segment, --test_num_crop and --test_videos_per_batch must be at least 1"
            )
        if not 0 < self.layer_decay <= 1:
            raise ConfigError(f"--layer_decay must be in (0, 1], got {self.layer_decay}")
        if self.rand_augment.lower() in ("", "none"):
            self.rand_augment = "none"


def parse_with_config(
    dataclass_type: type[T] | tuple[type, ...],
    argv: list[str] | None,
    prog: str,
    config: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> Any:
    """Parse ``--config YAML`` (optional) and ``--key value`` overrides into ``dataclass_type``.

    ``dataclass_type`` may be a tuple of dataclasses (e.g. ``(FinetuneArguments, TrainingArguments)``); the YAML
    then holds the options of all of them and a tuple of instances is returned. ``config`` is the recipe when
    ``argv`` names none; ``overrides`` (option name -> value) win over the recipe and ``argv`` (a Python caller's
    fixed values, e.g. an experiment driver's output folder and seed).
    A YAML key that is not an option, a missing YAML file or a bad value ends in a ``ConfigError`` naming it.
    """
    types = dataclass_type if isinstance(dataclass_type, tuple) else (dataclass_type,)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", default=config)
    known, rest = pre.parse_known_args(argv)
    parser = HfArgumentParser(types, prog=prog, description=description_of(types[0]), formatter_class=HelpFormatter)
    parser.add_argument(
        "--config",
        help="YAML recipe whose values are the defaults of this run (a path, or the file name of a shipped recipe)",
    )
    names = {f.name for t in types for f in dataclasses.fields(t)}
    if "disable_tqdm" in names:  # transformers' name; the other steps' is --quiet
        parser.add_argument(
            "--quiet",
            dest="disable_tqdm",
            type=string_to_bool,
            nargs="?",
            const=True,
            default=argparse.SUPPRESS,
            help="no progress bar (logs and CI): --disable_tqdm, by the name every step gives it",
        )
    recipe = _read_yaml(Path(known.config)) if known.config else {}
    unknown = sorted(set(recipe) - names)
    if unknown:
        raise ConfigError(f"{known.config}: unknown option(s) {', '.join(unknown)}; see --help for the names")
    if TrainingArguments in types:
        parser.set_defaults(**official_finetune_defaults(recipe))
    parser.set_defaults(**_typed_recipe_values(parser, recipe, known.config))
    unknown = sorted(set(overrides or {}) - names)
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}; see --help for the names")
    namespace, remaining = parser.parse_known_args(rest)
    if remaining:
        raise ConfigError(f"unknown option(s) {' '.join(remaining)}; see {prog} --help for the names")
    _command_line_over_recipe(parser, namespace)
    vars(namespace).update(overrides or {})
    try:
        parsed = [t(**{f.name: getattr(namespace, f.name) for f in dataclasses.fields(t) if f.init}) for t in types]
    except ValueError as error:  # a dataclass __post_init__ (e.g. TrainingArguments) rejected a value
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(str(error)) from error
    return parsed[0] if not isinstance(dataclass_type, tuple) else tuple(parsed)


# run_class_finetuning.py's defaults where TrainingArguments has others (transformers': no weight decay, no label
# smoothing, clipping at 1.0, 3 epochs, lr 5e-5, the last partial batch kept); the lr is its base 1e-3, scaled by the
# total batch / 256.
OFFICIAL_FINETUNE_DEFAULTS = {
    "dataloader_drop_last": True,
    "weight_decay": 0.05,
    "label_smoothing_factor": 0.1,
    "max_grad_norm": 0.0,
    "num_train_epochs": 30,
    "base_learning_rate": 1e-3,
}


def official_finetune_defaults(recipe: dict[str, Any]) -> dict[str, Any]:
    """``OFFICIAL_FINETUNE_DEFAULTS``, without the base lr when ``recipe`` gives the lr itself."""
    skip = {"base_learning_rate"} if recipe.get("learning_rate") is not None else set()
    return {name: value for name, value in OFFICIAL_FINETUNE_DEFAULTS.items() if name not in skip}


# TrainingArguments' own lr (5e-5): a learning_rate still at it was not given, and a base lr replaces it.
TRAINER_DEFAULT_LEARNING_RATE = TrainingArguments.__dataclass_fields__["learning_rate"].default

# Fine-tuning options that give one setting in two ways, and the value that leaves each unset.
_RIVAL_OPTIONS = {
    "learning_rate": ("base_learning_rate", None),  # the lr itself, or a base scaled by the total batch / 256
    "base_learning_rate": ("learning_rate", TRAINER_DEFAULT_LEARNING_RATE),
    "warmup_steps": ("warmup_epochs", None),
    "warmup_epochs": ("warmup_steps", 0),
}


def _command_line_over_recipe(parser: argparse.ArgumentParser, namespace: argparse.Namespace) -> None:
    """Where the command line gives a setting one way and the recipe the other (``--learning_rate`` against the
    recipe's ``base_learning_rate``, ``--warmup_steps`` against its ``warmup_epochs``), the command line wins: the
    recipe's rival is unset. Both given the same way is refused by fine-tuning (``check_schedule_options``)."""
    if not all(hasattr(namespace, name) for name in _RIVAL_OPTIONS):  # fine-tuning only
        return
    given = {name for name in _RIVAL_OPTIONS if getattr(namespace, name) != parser.get_default(name)}
    for name in given:
        rival, unset = _RIVAL_OPTIONS[name]
        if rival not in given:
            setattr(namespace, rival, unset)


def _typed_recipe_values(parser: argparse.ArgumentParser, values: dict[str, Any], recipe: str) -> dict[str, Any]:
    """The recipe's values converted by each option's own type, as a command-line value would be: argparse converts
    only string defaults, so a list or a float where an integer belongs would otherwise reach the run."""
    actions = {action.dest: action for action in parser._actions}
    typed = {}
    for name, value in values.items():
        action = actions[name]
        if value is None or isinstance(value, (str, dict)) or action.type is None:
            typed[name] = value
            continue
        many = action.nargs in ("*", "+")
        if isinstance(value, list) != many:
            shape = "a list" if many else "one value"
            raise ConfigError(f"{recipe}: {name} takes {shape}, got {value!r}")
        try:
            typed[name] = [action.type(str(v)) for v in value] if many else action.type(str(value))
        except (TypeError, ValueError, argparse.ArgumentTypeError):
            kind = getattr(action.type, "__name__", "value")
            raise ConfigError(f"{recipe}: {name}: {value!r} is not a valid {kind}") from None
    return typed


def recipe_options(dataclass_type: type[T] | tuple[type, ...], config: str | Path, **overrides: Any) -> Any:
    """The options of a recipe with some values replaced, for Python callers:
    ``recipe_options(PretrainArguments, "pretrain_tiny_synthetic.yaml", data="videos/", max_steps=20)``."""
    return parse_with_config(dataclass_type, [], prog=str(config), config=config, overrides=overrides)


def _read_yaml(path: Path) -> dict[str, Any]:
    """The recipe at ``path``; a bare file name that is not a file here names a shipped recipe."""
    if not path.is_file() and path.parent == Path(".") and path.suffix == ".yaml":
        shipped = shipped_dir("recipes") / path.name
        if shipped.is_file():
            path = shipped
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}") from error
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path} must hold a mapping of option: value")
    return values


def to_json_dict(args: Any) -> dict[str, Any]:
    """The options as a JSON-serialisable dict (for the run record)."""
    return json.loads(json.dumps(dataclasses.asdict(args), default=str))
