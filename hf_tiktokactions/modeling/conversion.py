"""Convert official VideoMAE V2 checkpoints, OpenGVLab Hub folders and transformers VideoMAE folders into our
model folders (and check our own folders the same way, for ``--init_from``).

Official checkpoints (OpenGVLab/VideoMAEv2) are pickles ``{'model' | 'module': state_dict, 'args': Namespace}``
whose keys already use our names (``encoder.blocks.{i}.attn.qkv.weight`` for pre-training, ``blocks.*`` for
fine-tuned or distilled models), sometimes under ``module.``, ``_orig_mod.`` or ``backbone.`` (in any nesting).
DeepSpeed runs save their weights in fp16; every converted tensor is float32, as the official code's fp32 model
holds them once loaded. transformers VideoMAE folders
use separate query/key/value linears that are fused here. OpenGVLab's Hub folders hold the official fine-tuning
model under ``model.`` with its sizes in ``config.json``'s ``model_config``. Files are read without running
anything from them (``checkpoint_files``). Every key is accounted for: anything missing, left over or
mis-shaped that is not expected for the task is an error, never a silently initialised weight.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import CheckpointError
from .checkpoint_files import load_safetensors, load_torch_pickle
from .configuration_videomaev2 import _PRESETS, VideoMAEv2Config
from .modeling_videomaev2 import (
    VideoMAEv2ForPreTraining,
    VideoMAEv2ForVideoClassification,
    VideoMAEv2Model,
    sinusoid_position_table,
)

TASKS = ("pretraining", "classification", "encoder")
_PREFIXES = ("_orig_mod.", "module.", "model.", "backbone.")
_DECODER_KEYS = re.compile(r"^(decoder\.|encoder_to_decoder\.|mask_token$)")
_HEAD_KEYS = re.compile(r"^(fc_norm|head)\.")
# Fixed sinusoid tables: official fine-tuned checkpoints may carry them; ours are recomputed buffers.
_POSITION_KEYS = re.compile(r"(^|\.)pos_embed$")


@dataclass
class ConvertedCheckpoint:
    """A state dict in our naming plus what was learnt about its source."""

    state_dict: dict[str, torch.Tensor]
    source_format: str  # "official" or "transformers"
    config_overrides: dict = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    source_dtypes: list[str] = field(default_factory=list)  # of the tensors loaded, before the cast to float32
    preprocessing: dict = field(default_factory=dict)  # the test-time sampling an official run's args record


def load_official_state_dict(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read an official ``.pth`` (or a plain state-dict ``.safetensors``) without running code from it
    (``checkpoint_files``).

    Returns the state dict with ``module.`` / ``_orig_mod.`` / ``model.`` / ``backbone.`` prefixes removed in any
    order and nesting (``module._orig_mod.blocks...``; the official fine-tuning strips ``backbone.`` too), the
    tensors not copied (a memory-mapped file stays mapped), and the training args that some checkpoints carry (as
    a dict; empty when absent). Everything else in the file (optimizer state, scaler) is dropped at once.
    """
    if path.suffix == ".safetensors":
        raw, args = load_safetensors(path), {}
    else:
        raw, args = _unwrap(load_torch_pickle(path), path)
    state = {}
    for key in list(raw):
        value = raw.pop(key)
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{path}: {key!r} is a {type(value).__name__}, not a tensor")
        state[_without_wrapper_prefixes(key)] = value
    return state, args


def _without_wrapper_prefixes(key: str) -> str:
    while prefix := next((p for p in _PREFIXES if key.startswith(p)), None):
        key = key[len(prefix) :]
    return key


def _unwrap(checkpoint, path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path}: expected a dict checkpoint, got {type(checkpoint).__name__}")
    args = checkpoint.get("args")
    args = vars(args) if isinstance(args, argparse.Namespace) else (args if isinstance(args, dict) else {})
    for key in ("model", "module", "state_dict", "model_state"):
        if isinstance(checkpoint.get(key), dict):
            return checkpoint.pop(key), args
    if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return checkpoint, args
    raise CheckpointError(
        f"{path}: no state dict under 'model', 'module' or 'state_dict' (keys: {sorted(map(str, checkpoint))[:8]}); "
        "pass a training checkpoint or a state dict"
    )


def official_to_ours(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Official names -> ours: fine-tuned encoder keys get the ``encoder.`` prefix; position tables are dropped
    after checking that they are the fixed sinusoid tables ours recompute (a learnt table cannot be kept)."""
    converted, dropped = {}, []
    for key, value in state.items():
        if _POSITION_KEYS.search(key):
            _check_sinusoid_table(key, value)
            dropped.append(key)
            continue
        if not (key.startswith("encoder.") or _DECODER_KEYS.match(key) or _HEAD_KEYS.match(key)):
            key = "encoder." + key
        converted[key] = value
    return converted, dropped


def _check_sinusoid_table(key: str, table: torch.Tensor) -> None:
    """Raise unless ``table`` ((1, N, D) or (N, D)) is the fixed sin/cos table of its size."""
    if table.dim() not in (2, 3) or (table.dim() == 3 and table.shape[0] != 1):
        raise CheckpointError(f"{key} has shape {tuple(table.shape)}; expected a (1, tokens, dim) position table")
    expected = sinusoid_position_table(*table.shape[-2:])[0]
    difference = (table.reshape(expected.shape).float() - expected).abs().max().item()
    if difference > 1e-3:  # fp16 checkpoints round the table by up to 5e-4
        raise CheckpointError(
            f"{key} is a learnt position table (it differs from the fixed sin/cos table by up to {difference:.3g}); "
            "VideoMAE V2 uses the fixed table, and a learnt one cannot be converted"
        )


_TRANSFORMERS_BLOCK = {
    "layernorm_before": "norm1",
    "layernorm_after": "norm2",
    "attention.output.dense": "attn.proj",
    "intermediate.dense": "mlp.fc1",
    "output.dense": "mlp.fc2",
}


def transformers_to_ours(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers ``VideoMAE*`` names -> ours, fusing query/key/value into ``attn.qkv``.

    q/v biases are read from ``query.bias`` / ``value.bias`` (transformers >= 5) or ``q_bias`` / ``v_bias``
    (older releases); a key bias, if any, must be zero since the architecture has none.
    """
    if not any(key.startswith("videomae.") for key in state):  # a bare VideoMAEModel folder
        state = {"videomae." + key: value for key, value in state.items()}
    out: dict[str, torch.Tensor] = {}
    blocks: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        match = re.match(r"^(videomae\.encoder\.layer|decoder\.decoder_layers)\.(\d+)\.(.+)$", key)
        if match:
            stack = "encoder.blocks" if match.group(1).startswith("videomae") else "decoder.blocks"
            blocks.setdefault(f"{stack}.{match.group(2)}", {})[match.group(3)] = value
            continue
        renamed = (
            key.replace("videomae.embeddings.patch_embeddings.projection.", "encoder.patch_embed.proj.")
            .replace("videomae.layernorm.", "encoder.norm.")
            .replace("classifier.", "head.")
        )
        if renamed.startswith("videomae."):
            renamed = "encoder." + renamed[len("videomae.") :]
        out[renamed] = value
    for prefix, params in blocks.items():
        attention = "attention.attention."
        q = params.pop(attention + "query.weight")
        k = params.pop(attention + "key.weight")
        v = params.pop(attention + "value.weight")
        out[f"{prefix}.attn.qkv.weight"] = torch.cat([q, k, v])
        q_bias = params.pop(attention + "query.bias", params.pop(attention + "q_bias", None))
        v_bias = params.pop(attention + "value.bias", params.pop(attention + "v_bias", None))
        k_bias = params.pop(attention + "key.bias", None)
        if k_bias is not None and k_bias.abs().max() > 0:
            raise CheckpointError(f"{prefix}: non-zero key bias cannot be represented (VideoMAE has none)")
        if q_bias is not None:
            out[f"{prefix}.attn.q_bias"] = q_bias
            out[f"{prefix}.attn.v_bias"] = v_bias
        for name, value in params.items():
            for theirs, ours in _TRANSFORMERS_BLOCK.items():
                if name.startswith(theirs + "."):
                    name = ours + name[len(theirs) :]
                    break
            out[f"{prefix}.{name}"] = value
    return out


def _folder_weights(folder: Path) -> dict[str, torch.Tensor]:
    weights = sorted(folder.glob("*.safetensors"))
    if weights:
        return {k: v for file in weights for k, v in load_safetensors(file).items()}
    if (folder / "pytorch_model.bin").exists():
        state = load_torch_pickle(folder / "pytorch_model.bin")
        if not isinstance(state, dict):
            raise CheckpointError(f"{folder}/pytorch_model.bin holds a {type(state).__name__}, not a state dict")
        return state
    raise CheckpointError(f"no *.safetensors or pytorch_model.bin in {folder}")


def is_opengvlab_config(config: dict) -> bool:
    """OpenGVLab's Hub folders (``OpenGVLab/VideoMAEv2-Base`` ...): remote code, sizes nested in ``model_config``."""
    return isinstance(config.get("model_config"), dict) and str(config.get("model_type", "")).startswith("VideoMAEv2")


def load_opengvlab_folder(folder: Path, config: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """An OpenGVLab Hub folder -> (state dict in official names, our config overrides from ``model_config``).

    The wrapper holds the official ``VisionTransformer`` as ``self.model``, so its weights are the official
    fine-tuning names under ``model.`` (``model.blocks.N.attn.qkv.weight``, ``model.fc_norm.*``), without a head.
    """
    sizes = config["model_config"]
    overrides = {}
    for theirs, ours in [
        ("img_size", "image_size"),
        ("patch_size", "patch_size"),
        ("in_chans", "num_channels"),
        ("num_frames", "num_frames"),
        ("tubelet_size", "tubelet_size"),
        ("embed_dim", "hidden_size"),
        ("depth", "num_hidden_layers"),
        ("num_heads", "num_attention_heads"),
        ("qkv_bias", "qkv_bias"),
        ("use_mean_pooling", "use_mean_pooling"),
        ("init_values", "layer_scale_init_value"),
    ]:
        if sizes.get(theirs) is not None:
            overrides[ours] = sizes[theirs]
    if "embed_dim" in sizes and "mlp_ratio" in sizes:
        overrides["intermediate_size"] = int(sizes["embed_dim"] * sizes["mlp_ratio"])
    state = {}
    for key, value in _folder_weights(folder).items():
        state[key.removeprefix("model.")] = value
    return state, overrides


def load_transformers_folder(folder: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """A transformers VideoMAE folder -> (state dict in its own names, our config overrides from config.json)."""
    config = json.loads((folder / "config.json").read_text())
    if config.get("model_type") != "videomae":
        raise CheckpointError(
            f"{folder}/config.json has model_type {config.get('model_type')!r}; expected a transformers VideoMAE "
            "('videomae') or an OpenGVLab VideoMAE V2 ('VideoMAEv2_*' with model_config) folder"
        )
    state = _folder_weights(folder)
    names = [
        "image_size",
        "patch_size",
        "num_channels",
        "num_frames",
        "tubelet_size",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "hidden_act",
        "layer_norm_eps",
        "decoder_hidden_size",
        "decoder_num_hidden_layers",
        "decoder_num_attention_heads",
        "decoder_intermediate_size",
        "use_mean_pooling",
        "norm_pix_loss",
        "id2label",
        "label2id",
    ]
    overrides = {name: config[name] for name in names if name in config}
    overrides["qkv_bias"] = bool(config.get("qv_bias", config.get("qkv_bias", True)))
    overrides["decoder_mask_ratio"] = 0.0  # transformers' VideoMAE is V1: its decoder reconstructs every masked token
    if "id2label" in overrides:
        overrides["id2label"] = {int(k): v for k, v in overrides["id2label"].items()}
    return state, overrides


def read_checkpoint(source: str | Path) -> ConvertedCheckpoint:
    """Read any supported source into our naming."""
    path = Path(source)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.is_dir():
        if not (path / "config.json").exists():
            raise CheckpointError(
                f"{path} is a folder without config.json; pass a .pth file, or a VideoMAE V2, OpenGVLab or "
                "transformers VideoMAE folder"
            )
        try:
            config = json.loads((path / "config.json").read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise CheckpointError(f"cannot read {path}/config.json ({error})") from None
        if config.get("model_type") == VideoMAEv2Config.model_type:  # a folder of ours: checked like any other
            converted, dropped = official_to_ours(_folder_weights(path))
            meta = {"model_type", "architectures", "transformers_version", "auto_map", "dtype", "torch_dtype"}
            overrides = {k: v for k, v in config.items() if k not in meta and not k.startswith("_")}
            if "id2label" in overrides:
                overrides["id2label"] = {int(k): v for k, v in overrides["id2label"].items()}
            return ConvertedCheckpoint(converted, "ours", overrides, dropped)
        if is_opengvlab_config(config):
            state, overrides = load_opengvlab_folder(path, config)
            converted, dropped = official_to_ours(state)
            return ConvertedCheckpoint(converted, "opengvlab", overrides, dropped)
        state, overrides = load_transformers_folder(path)
        return ConvertedCheckpoint(transformers_to_ours(state), "transformers", overrides)
    state, args = load_official_state_dict(path)
    converted, dropped = official_to_ours(state)
    del state
    overrides = {}
    if "num_frames" in args:
        overrides["num_frames"] = int(args["num_frames"])
    if "input_size" in args:
        overrides["image_size"] = int(args["input_size"])
    if "tubelet_size" in args:
        overrides["tubelet_size"] = int(args["tubelet_size"])
    if "mask_ratio" in args:  # pre-training args; VideoMAE V1's have no decoder mask (it decodes every masked token)
        overrides["mask_ratio"] = float(args["mask_ratio"])
        overrides["decoder_mask_ratio"] = float(args.get("decoder_mask_ratio", 0.0))
    if "normlize_target" in args:  # the official spelling
        overrides["norm_pix_loss"] = bool(args["normlize_target"])
    converted_checkpoint = ConvertedCheckpoint(converted, "official", overrides, dropped)
    converted_checkpoint.preprocessing = preprocessing_from_args(args)
    return converted_checkpoint


CONVERSION_REPORT = "conversion.json"  # what convert() wrote, beside the converted weights
# official argument -> the processor config's name for it (``inference.PreprocessingSpec``)
_PREPROCESSING_ARGS = {
    "sampling_rate": "sampling_rate",
    "short_side_size": "short_side",
    "test_num_segment": "num_views",
    "test_num_crop": "num_crops",
}


_SPARSE_SAMPLE_DATASETS = ("Kinetics-400", "MIT")  # upstream's build.py samples segments there with --sparse_sample


def preprocessing_from_args(args: dict) -> dict:
    """How the official run that saved the checkpoint read its videos, from its args: the clip stride, the short
    side, the test views, and whether clips are TSN segments (upstream's SSV2 dataset, and Kinetics-400 or MIT with
    ``--sparse_sample``) or dense. ``convert``
    records it in ``conversion.json``, where the processor config of an export takes it from; {} without args
    (DeepSpeed's files carry none)."""
    found = {}
    for theirs, ours in _PREPROCESSING_ARGS.items():
        try:
            found[ours] = int(args[theirs])
        except (KeyError, TypeError, ValueError):
            pass
    if "data_set" in args:
        data_set = str(args["data_set"])
        sparse = data_set in _SPARSE_SAMPLE_DATASETS and bool(args.get("sparse_sample", False))
        found["segment_based"] = data_set == "SSV2" or sparse
    return found


def infer_config(state: dict[str, torch.Tensor], preset: str | None = None, **overrides) -> VideoMAEv2Config:
    """Build the config from the weight shapes (and a preset, when given or recognised)."""
    try:
        patch = state["encoder.patch_embed.proj.weight"]  # (D, C, t, p, p)
    except KeyError:
        raise CheckpointError("no encoder.patch_embed.proj.weight: this is not a VideoMAE checkpoint") from None
    hidden, channels, tubelet, patch_size = patch.shape[0], patch.shape[1], patch.shape[2], patch.shape[3]
    depth = 1 + max(int(m.group(1)) for k in state if (m := re.match(r"^encoder\.blocks\.(\d+)\.", k)))
    shapes = dict(
        hidden_size=hidden,
        num_channels=channels,
        tubelet_size=tubelet,
        patch_size=patch_size,
        num_hidden_layers=depth,
        intermediate_size=state["encoder.blocks.0.mlp.fc1.weight"].shape[0],
        qkv_bias="encoder.blocks.0.attn.q_bias" in state,
    )
    if "decoder.head.weight" in state:
        decoder_depth = 1 + max(int(m.group(1)) for k in state if (m := re.match(r"^decoder\.blocks\.(\d+)\.", k)))
        shapes.update(
            decoder_hidden_size=state["decoder.head.weight"].shape[1],
            decoder_num_hidden_layers=decoder_depth,
            decoder_intermediate_size=state["decoder.blocks.0.mlp.fc1.weight"].shape[0],
        )
    if "head.weight" in state:
        shapes["num_labels"] = state["head.weight"].shape[0]
    # Only a classifier that kept the final norm and has no fc_norm was trained without mean pooling.
    shapes["use_mean_pooling"] = not ("head.weight" in state and "fc_norm.weight" not in state)
    given_preset = preset
    if preset is None:
        preset = next(
            (
                name
                for name, p in _PRESETS.items()
                if p["hidden_size"] == hidden
                and p["num_hidden_layers"] == depth
                and p.get("patch_size", 16) == patch_size
            ),
            None,
        )
    base = VideoMAEv2Config.from_preset(preset).to_dict() if preset else {}
    if given_preset is not None:  # a recognised one fits by construction (a model may have its own MLP size)
        _refuse_a_preset_the_weights_contradict(given_preset, base, shapes)
    if preset is None and "num_attention_heads" not in overrides:
        heads = {384: 6, 768: 12, 1024: 16, 1280: 16, 1408: 16}.get(hidden)
        if heads is None:
            raise CheckpointError(f"cannot infer the number of heads for hidden size {hidden}; pass --model-preset")
        shapes["num_attention_heads"] = heads
    merged = {**base, **shapes, **overrides}
    if "num_labels" in merged and len(merged.get("id2label") or {}) != merged["num_labels"]:
        # transformers warns when num_labels and a default id2label disagree: give the labels instead
        merged["id2label"] = {i: f"LABEL_{i}" for i in range(merged.pop("num_labels"))}
        merged.pop("label2id", None)
    for name in ("model_type", "transformers_version", "architectures"):
        merged.pop(name, None)
    return VideoMAEv2Config(**merged)


def _refuse_a_preset_the_weights_contradict(preset: str | None, base: dict, shapes: dict) -> None:
    """The weights' shapes win over a preset's sizes, but not its head count, which no shape shows: a preset of
    another width or depth would give the weights the wrong heads and wrong numbers, without an error. (The patch
    size may differ: ViT-g's 14 comes from the weights, with a preset for the heads.)"""
    differing = [
        f"{name} {base[name]} (the weights: {shapes[name]})"
        for name in ("hidden_size", "num_hidden_layers", "intermediate_size")
        if name in base and base[name] != shapes[name]
    ]
    if differing:
        raise CheckpointError(
            f"--model-preset {preset} does not fit these weights: {', '.join(differing)}; leave it out (the sizes "
            "are read from the weights) or give the preset they were trained with"
        )


def build_model(
    checkpoint: ConvertedCheckpoint, config: VideoMAEv2Config, task: str, new_decoder: bool = False
) -> tuple[VideoMAEv2Model | VideoMAEv2ForPreTraining | VideoMAEv2ForVideoClassification, list[str]]:
    """Build the model for ``task`` around the checkpoint's own tensors and account for every key.

    The model is made on the meta device and the checkpoint's tensors are assigned into it (no second copy of
    the weights). Only what the task explains may be new: a head (and ``fc_norm``) for a classifier made from a
    checkpoint without one, and, with ``new_decoder``, the decoder of a pre-training model started from an
    encoder. Anything else missing, left over, mis-shaped or not floating point is one error. Tensors in another
    floating type (fp16 from DeepSpeed, bf16) become float32, as loading into the official fp32 model makes them.
    Returns the model and the keys that were initialised rather than loaded.
    """
    if task not in TASKS:
        raise CheckpointError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    state = dict(checkpoint.state_dict)
    has_decoder = any(_DECODER_KEYS.match(k) for k in state)
    unused = []
    if task == "pretraining":
        if not has_decoder and not new_decoder:
            raise CheckpointError("the checkpoint has no decoder (a fine-tuned model); use --task classification")
        unused = [k for k in state if _HEAD_KEYS.match(k)] if new_decoder else []
    else:
        unused = [k for k in state if _DECODER_KEYS.match(k)]
        final_norm = config.encoder_final_norm if task == "encoder" else not config.use_mean_pooling
        if not final_norm:
            unused += [k for k in ("encoder.norm.weight", "encoder.norm.bias") if k in state]
        if task == "encoder":
            unused += [k for k in state if k.startswith("head.")]
            if not config.add_pooling_layer:
                unused += [k for k in state if k.startswith("fc_norm.")]
    for key in unused:
        del state[key]
    checkpoint.dropped += unused
    if task == "encoder":
        state = {k.removeprefix("encoder."): v for k, v in state.items()}
    model_class = {
        "pretraining": VideoMAEv2ForPreTraining,
        "classification": VideoMAEv2ForVideoClassification,
        "encoder": VideoMAEv2Model,
    }[task]
    with torch.device("meta"):
        model = model_class(config)
    expected = model.state_dict()
    may_be_new = re.compile(r"^(fc_norm|head)\.") if task == "classification" and "head.weight" not in state else None
    if task == "pretraining" and new_decoder and not has_decoder:  # with its input norm (absent in classifiers)
        may_be_new = re.compile(_DECODER_KEYS.pattern + r"|^encoder\.norm\.")
    missing = sorted(k for k in expected if k not in state and not (may_be_new and may_be_new.match(k)))
    unexpected = sorted(k for k in state if k not in expected)
    misshaped = [
        f"{k} {tuple(state[k].shape)} (model: {tuple(expected[k].shape)})"
        for k in sorted(state)
        if k in expected and state[k].shape != expected[k].shape
    ]
    not_float = [f"{k} ({state[k].dtype})" for k in sorted(state) if not state[k].is_floating_point()]
    problems = [
        f"{name} {_first(items)}"
        for name, items in [
            ("missing", missing),
            ("unexpected", unexpected),
            ("mis-shaped", misshaped),
            ("not floating point", not_float),
        ]
        if items
    ]
    if problems:
        raise CheckpointError("checkpoint does not match the model: " + "; ".join(problems))
    checkpoint.source_dtypes = sorted({str(value.dtype).removeprefix("torch.") for value in state.values()})
    state = {key: value.float() for key, value in state.items()}  # no copy of a float32 tensor
    model.load_state_dict(state, strict=False, assign=True)
    initialised = sorted(k for k in expected if k not in state)
    _materialise(model, initialised)
    return model, initialised


def _first(items: list[str], shown: int = 10) -> str:
    return f"{items[:shown]}{' ...' if len(items) > shown else ''}"


def _materialise(model: torch.nn.Module, initialised: list[str]) -> None:
    """Give the parameters the checkpoint did not hold their official init, and recompute the position tables."""
    for owner in sorted({key.rpartition(".")[0] for key in initialised}):
        module = model.get_submodule(owner)
        with torch.no_grad():
            for name, param in list(module.named_parameters(recurse=False)):
                if param.is_meta:
                    module._parameters[name] = torch.nn.Parameter(torch.empty_like(param, device="cpu"))
        model._init_weights(module)
    if "head.weight" in initialised:  # the official head init: truncated normal scaled by init_scale
        config = model.config
        torch.nn.init.trunc_normal_(model.head.weight, std=config.initializer_range * config.head_init_scale)
        torch.nn.init.zeros_(model.head.bias)
    for module in model.modules():
        for name, buffer in list(module.named_buffers(recurse=False)):
            if buffer.is_meta:  # the only buffers are the fixed sinusoid tables (not in any state dict)
                module._buffers[name] = sinusoid_position_table(*buffer.shape[1:])


def _save_on_this_process(model, output_dir: Path) -> None:
    """``save_pretrained`` that writes on the calling process whatever its rank. Once torch.distributed is
    initialised, transformers writes a model's files on rank 0 only (``should_save_on_this_rank``); a conversion's
    folder belongs to its caller (each rank of a launched run converts ``--init_from`` into a private one), so every
    other rank would find its folder without weights. transformers has no public way to ask for it:
    ``save_pretrained(is_main_process=True)`` is and-ed with rank 0 there. Were the hook renamed, every other rank
    would stop at loading its folder ("no file named model.safetensors"), as
    ``tests/test_training_init_from.py`` shows by playing rank 1."""
    model.should_save_on_this_rank = lambda is_main_process: is_main_process
    try:
        model.save_pretrained(output_dir)
    finally:
        del model.should_save_on_this_rank


def convert(
    source: str | Path,
    output_dir: str | Path,
    preset: str | None = None,
    task: str | None = None,
    num_labels: int | None = None,
    new_decoder: bool = False,
    config_overrides: dict | None = None,
) -> dict:
    """Convert ``source`` into a ``from_pretrained`` folder at ``output_dir``; returns (and writes as
    ``conversion.json``) a report: source format, task, preset, dropped keys, the keys that were initialised
    (a new head; with ``new_decoder``, the decoder of a pre-training model made from an encoder), how many
    tensors were loaded, and the preprocessing an official checkpoint's args record (``preprocessing_from_args``).
    ``config_overrides`` are config values (e.g. the decoder depth) the caller decides."""
    checkpoint = read_checkpoint(source)
    has_decoder = any(_DECODER_KEYS.match(k) for k in checkpoint.state_dict)
    task = task or (
        "pretraining" if has_decoder else "encoder" if checkpoint.source_format == "opengvlab" else "classification"
    )
    if task == "pretraining" and "encoder.norm.weight" not in checkpoint.state_dict and has_decoder:
        raise CheckpointError(
            f"{source}: the encoder has no final LayerNorm (a transformers VideoMAEForPreTraining saved with "
            "use_mean_pooling=True, its default), which VideoMAE V2 pre-training applies before the decoder: it "
            "cannot become a pre-training model; convert it with --task encoder or --task classification"
        )
    overrides = {**checkpoint.config_overrides, **(config_overrides or {})}
    if task == "classification" and has_decoder:
        overrides.pop("use_mean_pooling", None)  # fine-tuning from pre-training: official mean pooling
    if num_labels is not None:
        overrides["num_labels"] = num_labels
        if "head.weight" in checkpoint.state_dict and checkpoint.state_dict["head.weight"].shape[0] != num_labels:
            checkpoint.dropped += [
                k for k in ("head.weight", "head.bias") if checkpoint.state_dict.pop(k, None) is not None
            ]
            overrides.pop("id2label", None)
            overrides.pop("label2id", None)
    if task == "encoder" and "fc_norm.weight" in checkpoint.state_dict:
        overrides["add_pooling_layer"] = True
    try:  # the sizes a config.json from elsewhere holds are refused by the config
        config = infer_config(checkpoint.state_dict, preset, **overrides)
    except ValueError as error:
        raise CheckpointError(f"{source}: {error}") from None
    try:
        model, initialised = build_model(checkpoint, config, task, new_decoder=new_decoder)
    except CheckpointError as error:
        raise CheckpointError(f"{source}: {error}") from None
    output_dir = Path(output_dir)
    _save_on_this_process(model, output_dir)
    report = {
        "source": str(source),
        "source_format": checkpoint.source_format,
        "task": task,
        "preset": preset,
        "architecture": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "source_dtypes": checkpoint.source_dtypes,
        "dropped_keys": sorted(checkpoint.dropped),
        "initialised_keys": initialised,
        "loaded_tensors": len(model.state_dict()) - len(initialised),
        "preprocessing": checkpoint.preprocessing,
    }
    (output_dir / CONVERSION_REPORT).write_text(json.dumps(report, indent=2) + "\n")
    return report
