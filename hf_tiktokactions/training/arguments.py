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
from transformers import HfArgumentParser

from ..errors import ConfigError

T = TypeVar("T")


@dataclass
class PretrainArguments:
    """VideoMAE V2 pre-training. Defaults follow the official recipe (OpenGVLab/VideoMAEv2 hybrid pre-training)."""

    # Data
    data: str | None = field(default=None, metadata={"help": "a curation index folder (datasets.save_to_disk), a folder of videos, a text file listing videos, or a Hub dataset id"})
    video_column: str | None = field(default=None, metadata={"help": "column with the video paths (default: clip_path for a curation index, else video)"})
    only_passed: bool = field(default=True, metadata={"help": "with a curation index, keep rows whose status is 'pass'"})
    hashtags: str | None = field(default=None, metadata={"help": "comma list: keep only index rows found through these hashtags"})
    max_videos: int | None = field(default=None, metadata={"help": "a random subset of N videos (the paper's scaling study)"})
    subset_seed: int = field(default=0, metadata={"help": "seed of the --max-videos subset"})
    hub_token_env: str = field(default="HF_TOKEN", metadata={"help": "environment variable holding the token for a private Hub dataset"})
    num_frames: int = field(default=16, metadata={"help": "frames per clip"})
    sampling_rate: int = field(default=4, metadata={"help": "stride between sampled frames"})
    input_size: int = field(default=224, metadata={"help": "side of the square crops"})
    num_sample: int = field(default=4, metadata={"help": "augmented clips per decoded video (repeated augmentation)"})
    decode_backend: str = field(default="decord", metadata={"help": "decord, torchcodec or pyav"})
    dataloader_num_workers: int = field(default=8, metadata={"help": "DataLoader worker processes per device"})

    # Model
    model_preset: str = field(default="vit-b", metadata={"help": "vit-tiny, vit-s, vit-b, vit-l, vit-h or vit-g"})
    init_from: str | None = field(default=None, metadata={"help": "continue from a pre-trained model folder (e.g. OUTPUT_DIR/final of an earlier run)"})
    tubelet_size: int = 2
    mask_ratio: float = field(default=0.9, metadata={"help": "tube mask ratio of the encoder"})
    decoder_mask_ratio: float = field(default=0.5, metadata={"help": "running-cell mask ratio of the decoder (0 = VideoMAE V1)"})
    decoder_depth: int = 4
    drop_path_rate: float = 0.0
    gradient_checkpointing: bool = False

    # Optimisation
    output_dir: str = "runs/pretrain"
    seed: int = 0
    per_device_train_batch_size: int = field(default=32, metadata={"help": "videos per device and step (each gives num_sample clips)"})
    gradient_accumulation_steps: int = 1
    num_train_epochs: float = 800
    max_steps: int = field(default=-1, metadata={"help": "stop after this many optimizer steps (overrides epochs when > 0)"})
    base_learning_rate: float = field(default=1e-3, metadata={"help": "lr = base_learning_rate x total batch (videos) / 256"})
    min_learning_rate: float = field(default=1e-5, metadata={"help": "end of the cosine, scaled like the lr"})
    warmup_learning_rate: float = field(default=1e-6, metadata={"help": "start of the warm-up, scaled like the lr"})
    warmup_epochs: float = 30
    warmup_steps: int = field(default=-1, metadata={"help": "warm-up length in steps (overrides warmup_epochs when >= 0)"})
    weight_decay: float = 0.05
    adam_beta1: float = 0.9
    adam_beta2: float = 0.95
    adam_epsilon: float = 1e-8
    max_grad_norm: float = field(default=0.0, metadata={"help": "clip the gradient norm (0 = no clipping)"})
    mixed_precision: str = field(default="auto", metadata={"help": "bf16, fp16, no, or auto (bf16 on GPU, no on CPU)"})

    # Checkpoints and observability
    save_steps: int = 1000
    save_total_limit: int = 2
    resume: str | None = field(default=None, metadata={"help": "a checkpoint folder, or 'latest' in output_dir"})
    logging_steps: int = 10
    report_to: str = field(default="tensorboard", metadata={"help": "comma list of Accelerate trackers (tensorboard, wandb), or none"})
    reconstruction_steps: int = field(default=500, metadata={"help": "log original / masked / reconstructed frames every N steps (0 = never)"})
    disable_tqdm: bool = False

    def __post_init__(self) -> None:
        if self.mixed_precision not in ("auto", "bf16", "fp16", "no"):
            raise ConfigError(f"--mixed_precision must be auto, bf16, fp16 or no, got {self.mixed_precision!r}")
        if self.per_device_train_batch_size < 1 or self.num_sample < 1:
            raise ConfigError("--per_device_train_batch_size and --num_sample must be at least 1")


def parse_with_config(dataclass_type: type[T], argv: list[str] | None, prog: str) -> T:
    """Parse ``--config YAML`` (optional) and ``--key value`` overrides into ``dataclass_type``.

    A YAML key that is not an option, a missing YAML file or a bad value ends in a ``ConfigError`` naming it.
    """
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    known, rest = pre.parse_known_args(argv)
    parser = HfArgumentParser(dataclass_type, prog=prog)
    parser.add_argument("--config", help="YAML recipe whose values are the defaults of this run")
    if known.config:
        defaults = _read_yaml(Path(known.config))
        names = {f.name for f in dataclasses.fields(dataclass_type)}
        unknown = sorted(set(defaults) - names)
        if unknown:
            raise ConfigError(f"{known.config}: unknown option(s) {', '.join(unknown)}; see --help for the names")
        parser.set_defaults(**defaults)
    # The parser also returns a namespace holding --config itself: only the dataclass is wanted.
    return parser.parse_args_into_dataclasses(args=rest)[0]


def _read_yaml(path: Path) -> dict[str, Any]:
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
