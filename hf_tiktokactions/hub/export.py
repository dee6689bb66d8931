"""Export a fine-tuned classifier as a Hub-ready folder that loads without this package.

``export_model(model_dir, output)`` writes::

    output/model.safetensors                 the weights
    output/config.json                       with auto_map -> the shipped code (trust_remote_code=True)
    output/modeling_videomaev2.py            copied by transformers' save_pretrained, with the files it
    output/configuration_videomaev2.py       imports relatively; they import only torch and transformers
    output/masking.py
    output/video_preprocessor_config.json    AutoVideoProcessor (see processor_config.py)
    output/preprocessor_config.json          AutoImageProcessor
    output/README.md                         the model card (see cards.py)

A user then loads it with ``AutoModelForVideoClassification.from_pretrained(path_or_repo,
trust_remote_code=True)``. ``push`` uploads exactly this folder.
"""

from __future__ import annotations

import ast
import contextlib
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from hf_tiktokactions.errors import CheckpointError, ConfigError
from hf_tiktokactions.hub.cards import model_card
from hf_tiktokactions.hub.processor_config import (
    IMAGE_PROCESSOR_FILE,
    VIDEO_PROCESSOR_FILE,
    PreprocessingSpec,
    read_preprocessing,
    write_processor_configs,
)
from hf_tiktokactions.hub.results import EvalResults, as_results

__all__ = ["export_model", "load_classifier", "shipped_code_problems", "AUTO_CLASSES"]

# Auto class -> the class in the shipped modeling file that it loads
AUTO_CLASSES = {
    "AutoConfig": "configuration_videomaev2.VideoMAEv2Config",
    "AutoModel": "modeling_videomaev2.VideoMAEv2Model",
    "AutoModelForVideoClassification": "modeling_videomaev2.VideoMAEv2ForVideoClassification",
}
FORBIDDEN_PACKAGE = "hf_tiktokactions"


def load_classifier(model_dir: str | os.PathLike):
    """Our ``VideoMAEv2ForVideoClassification`` from a saved folder (or Hub id), in eval mode.

    Raises ``CheckpointError`` when the folder is missing, is not a VideoMAE V2 model, or lacks trained
    classifier weights (a pre-training folder would get a randomly initialised head).
    """
    from hf_tiktokactions.modeling import VideoMAEv2Config, VideoMAEv2ForVideoClassification

    local = Path(model_dir)
    if not local.exists() and ("/" not in str(model_dir) or str(model_dir).startswith((".", "/"))):
        raise CheckpointError(
            f"{model_dir}: no such model folder; pass a folder written by save_pretrained or a Hub id"
        )
    try:
        config = VideoMAEv2Config.from_pretrained(model_dir)
        model, info = VideoMAEv2ForVideoClassification.from_pretrained(
            model_dir, config=config, output_loading_info=True
        )
    except (OSError, ValueError, KeyError) as error:
        raise CheckpointError(
            f"{model_dir}: cannot load a VideoMAE V2 classifier ({str(error).splitlines()[0]})"
        ) from None
    if config.model_type != VideoMAEv2Config.model_type:
        raise CheckpointError(f"{model_dir}: model_type is {config.model_type!r}, not {VideoMAEv2Config.model_type!r}")
    if info["missing_keys"]:
        raise CheckpointError(
            f"{model_dir}: not a fine-tuned classifier, these weights are missing: {sorted(info['missing_keys'])[:6]}; "
            "export the output of fine-tuning"
        )
    return model.eval()


@contextlib.contextmanager
def registered_for_auto_classes(model) -> Iterator[None]:
    """Mark the model and config classes as custom code for ``save_pretrained`` (and undo it after).

    ``register_for_auto_class`` sets a class attribute; restoring it keeps later ``save_pretrained``
    calls in this process from shipping code they were not asked to.
    """
    model_class, config_class = type(model), type(model.config)
    saved = model_class._auto_class, config_class._auto_class
    model_class.register_for_auto_class("AutoModelForVideoClassification")
    config_class.register_for_auto_class("AutoConfig")
    try:
        yield
    finally:
        model_class._auto_class, config_class._auto_class = saved


def shipped_code_problems(folder: str | os.PathLike) -> list[str]:
    """Every import in ``folder``'s Python files that a user without our package could not satisfy.

    Flags imports of ``hf_tiktokactions`` and relative imports of modules not shipped in the folder.
    """
    folder = Path(folder)
    shipped = {path.stem for path in folder.glob("*.py")}
    problems = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    if node.module is None or node.module.split(".")[0] not in shipped:
                        problems.append(f"{path.name}:{node.lineno} imports .{node.module or ''}, which is not shipped")
                    continue
                names = [node.module or ""]
            else:
                continue
            problems += [
                f"{path.name}:{node.lineno} imports {name}" for name in names if name.split(".")[0] == FORBIDDEN_PACKAGE
            ]
    return problems


def _prepare_output(output: Path, overwrite: bool) -> None:
    if output.exists() and not output.is_dir():
        raise ConfigError(f"{output} is a file; --output must be a folder")
    if output.is_dir() and any(output.iterdir()):
        if not overwrite:
            raise ConfigError(f"{output} is not empty; choose a new folder or pass --overwrite")
        shutil.rmtree(output)
    output.mkdir(parents=True, exist_ok=True)


# fine-tuning recipe option (training/arguments.py) -> PreprocessingSpec field
_RECIPE_KEYS = {
    "sampling_rate": "sampling_rate",
    "short_side_size": "short_side",
    "test_num_segment": "num_views",
    "test_num_crop": "num_crops",
}


def _preprocessing_spec(
    model_dir, model_config, results: list[EvalResults], overrides: dict[str, Any]
) -> PreprocessingSpec:
    """Defaults for the model < the first results file's fine-tuning recipe < a stored processor config < ``overrides``."""
    values = PreprocessingSpec.for_model_config(model_config).__dict__.copy()
    recipe = results[0].recipe if results else {}
    values.update({field: recipe[key] for key, field in _RECIPE_KEYS.items() if isinstance(recipe.get(key), int)})
    if recipe.get("sampling") in ("dense", "segment"):
        values["segment_based"] = recipe["sampling"] == "segment"
    folder = Path(model_dir)
    if folder.is_dir() and any((folder / name).is_file() for name in (VIDEO_PROCESSOR_FILE, IMAGE_PROCESSOR_FILE)):
        values.update(read_preprocessing(folder, model_config).__dict__)
    values.update({key: value for key, value in overrides.items() if value is not None})
    return PreprocessingSpec(**values)


def export_model(
    model_dir: str | os.PathLike,
    output: str | os.PathLike,
    results: Iterable[EvalResults | str | os.PathLike] = (),
    *,
    preprocessing: dict[str, Any] | None = None,
    overwrite: bool = False,
    **card_options: Any,
) -> Path:
    """Write the Hub folder of the classifier in ``model_dir`` to ``output``; returns ``output``.

    The processor config comes from the model's geometry, then the first results file's fine-tuning
    recipe (sampling rate, short side, test views, dense/segment sampling), then a processor config
    already in ``model_dir``; ``preprocessing`` overrides any field, e.g. ``{"sampling_rate": 2}``. ``card_options`` go to ``cards.model_card`` (``repo_id``, ``license``,
    ``base_model``, ``pretraining_dataset``, ...).
    """
    output = Path(output)
    results = as_results(results)  # read (and check) results files before anything is written
    model = load_classifier(model_dir)
    spec = _preprocessing_spec(model_dir, model.config, results, preprocessing or {})
    if (spec.num_frames, spec.crop_size) != (model.config.num_frames, model.config.image_size):
        raise ConfigError(
            f"preprocessing gives {spec.num_frames} frames of {spec.crop_size} pixels but the model takes "
            f"{model.config.num_frames} of {model.config.image_size}"
        )
    _prepare_output(output, overwrite)

    model.config.auto_map = {"AutoModel": AUTO_CLASSES["AutoModel"]}  # save_pretrained adds the other two
    with registered_for_auto_classes(model):
        model.save_pretrained(output)
    missing = [
        name for name in ("config.json", "model.safetensors", "modeling_videomaev2.py") if not (output / name).is_file()
    ]
    problems = shipped_code_problems(output)
    if missing or problems:
        raise CheckpointError(f"export to {output} is incomplete: missing {missing}, code problems {problems}")

    write_processor_configs(output, spec)
    model_card(output, results, **card_options).save(output / "README.md")
    return output
