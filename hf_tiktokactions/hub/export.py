"""Export a fine-tuned classifier or a pre-trained model as a Hub-ready folder that loads without this package.

``export_model(model_dir, output)`` writes::

    output/model.safetensors                 the weights
    output/config.json                       with auto_map -> the shipped code (trust_remote_code=True)
    output/modeling_videomaev2.py            copied by transformers' save_pretrained, with the files it
    output/configuration_videomaev2.py       imports relatively; they import only torch and transformers
    output/masking.py
    output/video_processing_videomaev2.py    the video processor pipeline() uses: the model's clip from a file
    output/video_preprocessor_config.json    AutoVideoProcessor (see processor_config.py)
    output/preprocessor_config.json          AutoImageProcessor
    output/README.md                         the model card (see cards.py)

A user then loads it with ``AutoModelForVideoClassification.from_pretrained(path_or_repo,
trust_remote_code=True)``. A pre-training folder (``final/`` of ``training/pretrain.py``, architecture
``VideoMAEv2ForPreTraining``) exports the same way with ``AutoModel`` (the encoder, with its final norm: the
pre-training encoder's output), ``AutoModelForPreTraining`` (the masked autoencoder) and
``AutoModelForVideoClassification`` (to fine-tune: a new head on the encoder) in its ``auto_map``; its card is
built from the run folder around it (``pretraining_run.py``) and the folder adds ``loss_curve.png`` and
``reconstructions.png``. ``push`` uploads exactly this folder. Weights holding NaN or inf are refused.
"""

from __future__ import annotations

import ast
import contextlib
import filecmp
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
    recorded_at_conversion,
    write_processor_configs,
)
from hf_tiktokactions.modeling.hub_source import looks_local, only_local
from hf_tiktokactions.output_guard import refuse_a_folder_holding
from hf_tiktokactions.training.results_file import RunResults, as_results

__all__ = [
    "export_model",
    "load_classifier",
    "load_pretraining_model",
    "is_pretraining_model",
    "check_finite_weights",
    "shipped_code_problems",
    "AUTO_CLASSES",
    "PRETRAINING_AUTO_CLASSES",
]

# Auto class -> the class in the shipped modeling file that it loads
AUTO_CLASSES = {
    "AutoConfig": "configuration_videomaev2.VideoMAEv2Config",
    "AutoModel": "modeling_videomaev2.VideoMAEv2Model",
    "AutoModelForVideoClassification": "modeling_videomaev2.VideoMAEv2ForVideoClassification",
}
PRETRAINING_AUTO_CLASSES = {
    "AutoConfig": "configuration_videomaev2.VideoMAEv2Config",
    "AutoModel": "modeling_videomaev2.VideoMAEv2Model",
    "AutoModelForPreTraining": "modeling_videomaev2.VideoMAEv2ForPreTraining",
    # fine-tuning with transformers alone: the encoder is loaded, fc_norm and the head start new
    "AutoModelForVideoClassification": "modeling_videomaev2.VideoMAEv2ForVideoClassification",
}
PRETRAINING_ARCHITECTURE = "VideoMAEv2ForPreTraining"
FORBIDDEN_PACKAGE = "hf_tiktokactions"


_WHAT_TO_PASS = "pass a folder written by save_pretrained or a Hub id"


def _check_location(model_dir: str | os.PathLike) -> None:
    local = Path(model_dir)
    if not local.exists() and ("/" not in str(model_dir) or only_local(model_dir)):
        raise CheckpointError(f"{model_dir}: no such model folder; {_WHAT_TO_PASS}")
    if local.is_dir() and not (local / "config.json").is_file():  # transformers would build a default ViT-B config
        raise CheckpointError(
            f"{model_dir}: no config.json, so not a saved model folder (a training checkpoint folder holds training "
            "state); pass the run's final/ folder, or a folder written by save_pretrained"
        )


def _not_loaded(model_dir: str | os.PathLike, what: str, error: Exception) -> CheckpointError:
    """The error for a model that did not load; ``runs/typo`` (``runs/`` exists) that the Hub has not either is
    named as the missing folder it most likely is."""
    reason = (str(error).splitlines() or [type(error).__name__])[0]
    if not Path(model_dir).exists() and looks_local(model_dir):
        return CheckpointError(
            f"{model_dir}: no such model folder, and as a Hub id it did not load ({reason}); {_WHAT_TO_PASS}"
        )
    return CheckpointError(f"{model_dir}: cannot load a VideoMAE V2 {what} ({reason})")


def _architectures(model_dir: str | os.PathLike) -> list[str]:
    """``architectures`` of the saved config (empty when it cannot be read: the loader then says why)."""
    from hf_tiktokactions.modeling import VideoMAEv2Config

    _check_location(model_dir)
    try:
        return list(VideoMAEv2Config.from_pretrained(model_dir).architectures or [])
    except (OSError, ValueError, KeyError):
        return []


def is_pretraining_model(model_dir: str | os.PathLike) -> bool:
    """Whether ``model_dir`` (a folder or Hub id) holds a ``VideoMAEv2ForPreTraining`` (no classification head)."""
    return PRETRAINING_ARCHITECTURE in _architectures(model_dir)


def load_pretraining_model(model_dir: str | os.PathLike):
    """Our ``VideoMAEv2ForPreTraining`` from a saved folder (or Hub id), in eval mode.

    Raises ``CheckpointError`` when any weight of the encoder or decoder is missing from the folder.
    """
    from hf_tiktokactions.modeling import VideoMAEv2Config, VideoMAEv2ForPreTraining

    _check_location(model_dir)
    try:
        config = VideoMAEv2Config.from_pretrained(model_dir)
        model, info = VideoMAEv2ForPreTraining.from_pretrained(model_dir, config=config, output_loading_info=True)
    except (OSError, ValueError, KeyError) as error:
        raise _not_loaded(model_dir, "pre-training model", error) from None
    if info["missing_keys"]:
        raise CheckpointError(
            f"{model_dir}: not a complete pre-training model, these weights are missing: "
            f"{sorted(info['missing_keys'])[:6]}; export the final/ folder of a pre-training run"
        )
    return model.eval()


def _weights_file(model_dir: str | os.PathLike, tensor_name: str) -> str:
    """The local weights file that holds ``tensor_name`` (the folder or Hub id when it cannot be told)."""
    from safetensors import safe_open

    folder = Path(model_dir)
    if folder.is_dir():
        for path in sorted(folder.glob("*.safetensors")):
            with safe_open(path, framework="pt") as weights:
                if tensor_name in weights.keys():
                    return str(path)
    return str(model_dir)


def check_finite_weights(model, model_dir: str | os.PathLike) -> None:
    """Raise ``CheckpointError`` naming the weights file when any tensor of ``model`` holds NaN or inf.

    A diverged run saves such weights; publishing them would give every user NaN outputs.
    """
    import torch

    bad = [
        (name, int((~torch.isfinite(tensor)).sum()), tensor.numel())
        for name, tensor in model.state_dict().items()
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
    ]
    if bad:
        name, count, total = bad[0]
        raise CheckpointError(
            f"{_weights_file(model_dir, name)}: non-finite weights (NaN or inf) in {len(bad)} tensor(s), first "
            f"{name} ({count} of {total} values); the run diverged: export an earlier checkpoint, or retrain with "
            "a lower learning rate"
        )


def load_classifier(model_dir: str | os.PathLike):
    """Our ``VideoMAEv2ForVideoClassification`` from a saved folder (or Hub id), in eval mode.

    Raises ``CheckpointError`` when the folder is missing, is not a VideoMAE V2 model, or lacks trained
    classifier weights (a pre-training folder would get a randomly initialised head).
    """
    from hf_tiktokactions.modeling import VideoMAEv2Config, VideoMAEv2ForVideoClassification

    _check_location(model_dir)
    try:
        config = VideoMAEv2Config.from_pretrained(model_dir)
        model, info = VideoMAEv2ForVideoClassification.from_pretrained(
            model_dir, config=config, output_loading_info=True
        )
    except (OSError, ValueError, KeyError) as error:
        raise _not_loaded(model_dir, "classifier", error) from None
    if config.model_type != VideoMAEv2Config.model_type:
        raise CheckpointError(f"{model_dir}: model_type is {config.model_type!r}, not {VideoMAEv2Config.model_type!r}")
    if info["missing_keys"]:
        raise CheckpointError(
            f"{model_dir}: not a fine-tuned classifier, these weights are missing: {sorted(info['missing_keys'])[:6]}; "
            "export the output of fine-tuning"
        )
    return model.eval()


@contextlib.contextmanager
def registered_for_auto_classes(model, auto_class: str = "AutoModelForVideoClassification") -> Iterator[None]:
    """Mark the model and config classes as custom code for ``save_pretrained`` (and undo it after).

    ``register_for_auto_class`` sets a class attribute; restoring it keeps later ``save_pretrained``
    calls in this process from shipping code they were not asked to.
    """
    model_class, config_class = type(model), type(model.config)
    saved = model_class._auto_class, config_class._auto_class
    model_class.register_for_auto_class(auto_class)
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


def _prepare_output(output: Path, overwrite: bool, model_dir: str | os.PathLike) -> None:
    if output.exists() and not output.is_dir():
        raise ConfigError(f"{output} is a file; --output-dir must be a folder")
    refuse_a_folder_holding(output, model_dir, "--output-dir")
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
    model_dir, model_config, results: list[RunResults], overrides: dict[str, Any]
) -> PreprocessingSpec:
    """Defaults for the model < what a converted checkpoint's official args recorded < the first results file's
    fine-tuning recipe < a stored processor config < ``overrides``."""
    values = PreprocessingSpec.for_model_config(model_config).__dict__.copy()
    values.update(recorded_at_conversion(Path(model_dir)))
    recipe = results[0].recipe if results else {}
    values.update({field: recipe[key] for key, field in _RECIPE_KEYS.items() if isinstance(recipe.get(key), int)})
    if recipe.get("sampling") in ("dense", "segment"):
        values["segment_based"] = recipe["sampling"] == "segment"
    folder = Path(model_dir)
    if folder.is_dir() and any((folder / name).is_file() for name in (VIDEO_PROCESSOR_FILE, IMAGE_PROCESSOR_FILE)):
        values.update(read_preprocessing(folder, model_config).__dict__)
    values.update({key: value for key, value in overrides.items() if value is not None})
    return PreprocessingSpec(**values)


def _save_with_code(model, output: Path, auto_map: dict[str, str], auto_class: str) -> None:
    """``save_pretrained`` with the shipped code and ``auto_map``; refuses an incomplete result."""
    model.config.auto_map = dict(auto_map)  # save_pretrained writes its model and config classes' entries again
    with registered_for_auto_classes(model, auto_class):
        model.save_pretrained(output)
    missing = [
        name for name in ("config.json", "model.safetensors", "modeling_videomaev2.py") if not (output / name).is_file()
    ]
    problems = shipped_code_problems(output)
    if missing or problems:
        raise CheckpointError(f"export to {output} is incomplete: missing {missing}, code problems {problems}")


def _ship_video_processor(output: Path, spec: PreprocessingSpec) -> None:
    """The processor configs, and the video processor's code next to them (``AutoVideoProcessor`` with
    ``trust_remote_code=True``, what ``pipeline("video-classification")`` loads)."""
    from hf_tiktokactions.modeling import video_processing_videomaev2

    shutil.copyfile(video_processing_videomaev2.__file__, output / Path(video_processing_videomaev2.__file__).name)
    write_processor_configs(output, spec, remote_code=True)
    problems = shipped_code_problems(output)
    if problems:
        raise CheckpointError(f"export to {output} is incomplete: code problems {problems}")


def export_model(
    model_dir: str | os.PathLike,
    output: str | os.PathLike,
    results: Iterable[RunResults | str | os.PathLike] = (),
    *,
    preprocessing: dict[str, Any] | None = None,
    overwrite: bool = False,
    run_dir: str | os.PathLike | None = None,
    show_training_frames: bool = False,
    **card_options: Any,
) -> Path:
    """Write the Hub folder of the classifier (or pre-trained model) in ``model_dir`` to ``output``; returns ``output``.

    The processor config comes from the model's geometry, then the first results file's fine-tuning
    recipe (sampling rate, short side, test views, dense/segment sampling), then a processor config
    already in ``model_dir``; ``preprocessing`` overrides any field, e.g. ``{"sampling_rate": 2}``.
    ``card_options`` go to ``cards.model_card`` (``repo_id``, ``license``, ``base_model``,
    ``pretraining_dataset``, ...). A pre-training model (``VideoMAEv2ForPreTraining``) takes no
    ``results``; its card reads the run folder ``run_dir`` (default: the folder around ``model_dir``), and its
    run's ``reconstructions.png`` (frames of one training clip) is published only with ``show_training_frames`` or
    for videos that ``pretraining_data`` describes: TikTok creators' videos are not to be redistributed.
    """
    output = Path(output)
    if is_pretraining_model(model_dir):
        frames = show_training_frames or card_options.get("pretraining_data") is not None
        return _export_pretraining(
            model_dir, output, results, preprocessing or {}, overwrite, run_dir, card_options, frames
        )
    results = as_results(results)  # read (and check) results files before anything is written
    _check_results_are_of(model_dir, results)
    model = load_classifier(model_dir)
    check_finite_weights(model, model_dir)
    spec = _preprocessing_spec(model_dir, model.config, results, preprocessing or {})
    if (spec.num_frames, spec.crop_size) != (model.config.num_frames, model.config.image_size):
        raise ConfigError(
            f"preprocessing gives {spec.num_frames} frames of {spec.crop_size} pixels but the model takes "
            f"{model.config.num_frames} of {model.config.image_size}"
        )
    _prepare_output(output, overwrite, model_dir)
    _save_with_code(model, output, AUTO_CLASSES, "AutoModelForVideoClassification")
    _ship_video_processor(output, spec)
    model_card(output, results, **card_options).save(output / "README.md")
    return output


def _check_results_are_of(model_dir, results: list[RunResults]) -> None:
    """Refuse a results file whose tested weights are provably another model's (its ``checkpoint`` folder is found
    and its weights differ from ``model_dir``'s; a moved or copied model still passes), and two results of one test
    (the model-index would hold two entries no reader can tell apart)."""
    ours = Path(model_dir) / "model.safetensors"
    for result in results:
        theirs = _tested_weights(result)
        if not ours.is_file() or theirs is None or theirs.resolve() == ours.resolve():
            continue
        if not filecmp.cmp(ours, theirs, shallow=False):
            raise ConfigError(
                f"--results {result.read_from or result.dataset} tested {theirs.parent}, whose weights are not "
                f"{model_dir}'s: the card would report another model's numbers; pass the results file of this "
                "model's own test"
            )
    tests = [(r.dataset_type, r.dataset_config, r.split, r.views) for r in results]
    repeated = sorted({test for test in tests if tests.count(test) > 1}, key=str)
    if repeated:
        dataset, config, split, views = repeated[0]
        raise ConfigError(
            f"--results holds {tests.count(repeated[0])} results of one test ({dataset}"
            f"{f' split {config}' if config else ''}, {split}, {views} views): pass one results file per test"
        )


def _tested_weights(result: RunResults) -> Path | None:
    """The ``model.safetensors`` a results file tested, if it can be found. ``checkpoint`` is written as fine-tuning
    was given it, so a relative one is relative to where fine-tuning ran: it is looked up from each folder above
    the results file (fine-tuning writes ``OUT/results.json`` beside ``OUT/final``), then from here."""
    above = list(Path(result.read_from).resolve().parents) if result.read_from is not None else []
    for base in [*above, Path.cwd()]:
        weights = base / result.checkpoint / "model.safetensors"  # an absolute checkpoint ignores the base
        if weights.is_file():
            return weights
    return None


def _describe_the_pretrained_encoder(config) -> None:
    """The exported config of a pre-training model: ``AutoModel`` keeps the encoder's final norm, so its
    ``last_hidden_state`` (B, N, D) is the pre-training encoder's output; a classifier made from the folder
    pools the tokens' mean through a new ``fc_norm``, without that norm, as official fine-tuning does."""
    config.add_final_norm = True
    config.use_mean_pooling = True


def _export_pretraining(
    model_dir,
    output: Path,
    results,
    preprocessing: dict[str, Any],
    overwrite: bool,
    run_dir,
    card_options: dict,
    training_frames: bool,
) -> Path:
    """The pre-trained model's Hub folder: encoder + decoder weights, code, processor configs, run figures (the
    reconstructions, frames of a training clip, only with ``training_frames``), card."""
    from hf_tiktokactions.hub.cards import pretrained_model_card
    from hf_tiktokactions.hub.pretraining_run import read_pretraining_run

    if list(results):
        raise ConfigError(
            f"{model_dir} is a pre-training model: --results (evaluation of a fine-tuned classifier) does not apply"
        )
    run = read_pretraining_run(run_dir if run_dir is not None else Path(model_dir).parent, required=run_dir is not None)
    model = load_pretraining_model(model_dir)
    check_finite_weights(model, model_dir)
    _describe_the_pretrained_encoder(model.config)
    recorded = {"sampling_rate": run.args.get("sampling_rate")} if run.args else {}
    spec = _preprocessing_spec(model_dir, model.config, [], {**recorded, **preprocessing})
    _prepare_output(output, overwrite, model_dir)
    _save_with_code(model, output, PRETRAINING_AUTO_CLASSES, "AutoModelForPreTraining")
    _ship_video_processor(output, spec)
    figures = run.write_figures(output, reconstructions=training_frames)
    pretrained_model_card(output, run, figures, **card_options).save(output / "README.md")
    return output
