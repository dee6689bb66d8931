"""Model cards (of classifiers and of pre-trained models), rendered from the Jinja templates in ``model_cards/``.

``model_card(model_dir, results, ...)`` builds a ``huggingface_hub.ModelCard`` whose YAML holds
``library_name``, ``pipeline_tag: video-classification``, license, tags, datasets, base_model and a
``model-index`` made from fine-tuning runs' ``results.json`` files (format: ``training/results_file.py``; one entry
per metric (top-1, top-5, mean class accuracy), with task, dataset, split and the number of test views).
``pretrained_model_card(model_dir, run, figures, ...)`` builds the card of a pre-trained (not fine-tuned) model
from its run records (``pretraining_run.py``). Both validate their YAML when built. Dataset cards:
``dataset_card.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from hf_tiktokactions.errors import ConfigError
from hf_tiktokactions.hub.pretraining_run import LOSS_CURVE_FILE, RECONSTRUCTIONS_FILE, PretrainingRun
from hf_tiktokactions.hub.processor_config import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    MIN_AV_VERSION,
    MIN_TRANSFORMERS_VERSION,
    PreprocessingSpec,
    read_preprocessing,
)
from hf_tiktokactions.resources import shipped_dir
from hf_tiktokactions.training.results_file import RunResults, as_results

__all__ = ["TEMPLATES_DIR", "card_template", "model_card", "pretrained_model_card", "results_table", "size_name"]

TEMPLATES_DIR = shipped_dir("card_templates")
MODEL_TEMPLATE = "model_card_template.md"
PRETRAINED_TEMPLATE = "pretrained_model_card_template.md"
PRETRAINED_TAGS = ["videomae", "videomaev2", "self-supervised", "masked-autoencoder", "tiktokactions", "custom_code"]
PAPER = "Advancing Human Action Recognition with Foundation Models trained on Unlabeled Public Videos"
DEFAULT_TAGS = ["video-classification", "action-recognition", "videomae", "videomaev2", "tiktokactions", "custom_code"]
_SIZES = {384: "ViT-S", 768: "ViT-B", 1024: "ViT-L", 1280: "ViT-H", 1408: "ViT-g"}


def card_template(name: str, template_dir: str | os.PathLike | None) -> Path:
    """The template ``name`` in ``template_dir`` (default: the shipped ``model_cards/``); ``ConfigError`` if absent."""
    path = Path(template_dir or TEMPLATES_DIR) / name
    if not path.is_file():
        raise ConfigError(
            f"card template {path} not found; pass --template-dir (a folder holding {name}), or reinstall "
            "hf-tiktokactions (the templates ship with it; in a checkout they live in model_cards/)"
        )
    return path


def _model_config(model_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(model_dir) / "config.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no config.json; --model must be a saved model folder (save_pretrained)") from None
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the model config ({error})") from None


def size_name(hidden_size: int) -> str:
    """``ViT-B`` etc. from the encoder width; custom widths as ``ViT (width N)``."""
    return _SIZES.get(hidden_size, f"ViT (width {hidden_size})")


def _eval_results(results: Iterable[RunResults]) -> list[EvalResult]:
    """One model-index entry per metric of each run: an ``accuracy`` named with the test views."""
    return [
        EvalResult(
            task_type=result.task,
            task_name="Video Classification",
            dataset_type=result.dataset_type,
            dataset_name=result.dataset,
            dataset_config=result.dataset_config,
            dataset_split=result.split,
            metric_type="accuracy",
            metric_name=f"{name} ({result.views} views)",
            metric_value=value,
            metric_args={"views": result.views},
        )
        for result in results
        for name, value in result.metrics()
    ]


def results_table(results: Iterable[RunResults]) -> str:
    """A markdown table: dataset, split, metric, views, value."""
    rows = [
        f"| {r.dataset} | {r.split_label} | accuracy {name} | {r.views} | {value:.2f} |"
        for r in results
        for name, value in r.metrics()
    ]
    if not rows:
        return "No evaluation results were given for this card."
    return "| dataset | split | metric | views | value (%) |\n|---|---|---|---|---|\n" + "\n".join(rows)


# Recipe options that name places on the training machine: meaningless to a reader of the card, and private.
LOCAL_PATH_OPTIONS = ("data_root", "annotation_dir", "init_from", "output_dir", "resume", "logging_dir")


def _is_local_path(key: str, value: Any) -> bool:
    if key in LOCAL_PATH_OPTIONS:
        return True
    return isinstance(value, str) and (os.path.isabs(value) or value.startswith(("~", "./", "../")))


def _recipe_lines(recipe: Mapping[str, Any]) -> str:
    """The recorded fine-tuning options, one per line; options holding local paths are left out."""
    return "\n".join(
        f"  - `{key}`: {json.dumps(value) if not isinstance(value, str) else value}"
        for key, value in recipe.items()
        if not _is_local_path(key, value)
    )


def _procedure(results: list[RunResults], pretraining: str) -> str:
    lines = [pretraining, ""]
    for result in results:
        lines.append(
            f"- Fine-tuning for {result.dataset} on {result.hardware or 'unrecorded hardware'}"
            + (f", seed {result.seed}" if result.seed is not None else "")
            + ":"
        )
        lines.append(_recipe_lines(result.recipe) or "  - (no options recorded)")
    return "\n".join(lines).strip()


def _clip_sampling(spec: PreprocessingSpec) -> str:
    """How the processor samples the model's clip from a video, in words."""
    if spec.segment_based:
        return (
            f"{spec.num_frames} frames, the middle one of each of {spec.num_frames} equal segments of the video (TSN "
            "segments, the official validation clip of Something-Something V2)"
        )
    return (
        f"{spec.num_frames} frames spread over the {spec.num_frames} x {spec.sampling_rate} frames in the middle of "
        "the video (the official validation clip)"
    )


def _protocol(results: list[RunResults], spec: PreprocessingSpec) -> str:
    views = sorted({r.views for r in results})
    clip = (
        f"{spec.num_frames} frames, one from each of {spec.num_frames} equal segments of the video (TSN segments; "
        "each temporal view takes other frames within the segments)"
        if spec.segment_based
        else f"{spec.num_frames} frames {spec.sampling_rate} apart"
    )
    return (
        "Multi-view testing: each test video is read as several temporal clips x spatial crops (the *views* "
        f"column, temporal x spatial{': ' + ', '.join(views) if views else ''}), each clip {clip}, "
        f"short side {spec.short_side}, "
        f"{spec.crop_size}x{spec.crop_size} crops spread along the long side. The softmax scores of the views are "
        "averaged and the top-1 / top-5 accuracy of the averaged scores is reported. The processor config's "
        f"default protocol is {spec.num_views}x{spec.num_crops}."
    )


def _classifier_card_data(
    name: str,
    results: list[RunResults],
    license: str,
    extra_tags: Iterable[str],
    pretraining_dataset: str | None,
    base_model: str | None,
) -> ModelCardData:
    """The YAML header of a classifier's card: tags, datasets (the index first, then the fine-tuning sets) and the
    model-index made from ``results``."""
    datasets = list(
        dict.fromkeys(([pretraining_dataset] if pretraining_dataset else []) + [r.dataset_type for r in results])
    )
    return ModelCardData(
        model_name=name,
        library_name="transformers",
        pipeline_tag="video-classification",
        license=license,
        tags=list(dict.fromkeys([*DEFAULT_TAGS, *extra_tags])),
        datasets=datasets or None,
        base_model=base_model,
        metrics=["accuracy"] if results else None,
        eval_results=_eval_results(results) or None,
    )


def _pretraining_sentence(
    config: dict[str, Any], origin: str, pretraining_dataset: str | None, base_model: str | None
) -> str:
    """The card's one line on pre-training: none, or the masking, on which data, from which model."""
    if origin == "none":
        return "Pre-training: none, the model was fine-tuned from random weights."
    return (
        f"Pre-training: {_masking(config)}"
        + (f" on `{pretraining_dataset}`" if pretraining_dataset else "")
        + (f", starting from `{base_model}`" if base_model else "")
        + "."
    )


def model_card(
    model_dir: str | os.PathLike,
    results: Iterable[RunResults | str | os.PathLike] = (),
    *,
    repo_id: str | None = None,
    model_name: str | None = None,
    license: str = "apache-2.0",
    base_model: str | None = None,
    pretraining_dataset: str | None = None,
    extra_tags: Iterable[str] = (),
    summary: str = "",
    training_data: str = "",
    template_dir: str | os.PathLike | None = None,
    synthetic_pretraining: bool = False,
    pretraining_data: str | None = None,
) -> ModelCard:
    """The model card of the saved classifier in ``model_dir``, with ``results`` (``results.json`` paths or
    ``RunResults``) as its model-index.

    ``pretraining_dataset`` is the (private) index's dataset id, listed under ``datasets`` with the
    fine-tuning datasets. Where pre-training's videos came from: TikTok videos curated by the package unless
    ``synthetic_pretraining`` (the package's synthetic videos, the quickstart) or ``pretraining_data`` (a
    description, e.g. "Kinetics-710, by OpenGVLab") says otherwise, or the results show none (fine-tuned from
    random weights) or a converted checkpoint (its data is not known here); only TikTok pre-training gets the
    section on social video and its ethics. Raises ``ConfigError`` for an unreadable model folder, a bad results
    file or a missing template.
    """
    results = as_results(results)
    config = _model_config(model_dir)
    geometry = SimpleNamespace(num_frames=config.get("num_frames", 16), image_size=config.get("image_size", 224))
    spec = read_preprocessing(model_dir, geometry)  # the stored processor config, else the model's geometry
    name = model_name or repo_id or Path(model_dir).resolve().name
    size = size_name(int(config.get("hidden_size", 768)))
    origin = _pretraining_origin(results, pretraining_data, synthetic_pretraining)
    pretraining = _pretraining_sentence(config, origin, pretraining_dataset, base_model)
    card = ModelCard.from_template(
        _classifier_card_data(name, results, license, extra_tags, pretraining_dataset, base_model),
        template_path=str(card_template(MODEL_TEMPLATE, template_dir)),
        model_name=name,
        repo_id=repo_id or "ORG/NAME",
        summary=summary or f"A {size} video classifier for human action recognition from the hf-tiktokactions project.",
        size_name=size,
        num_frames=spec.num_frames,
        image_size=config.get("image_size", spec.crop_size),
        tubelet_size=config.get("tubelet_size", 2),
        patch_size=config.get("patch_size", 16),
        num_labels=len(config.get("id2label", {})) or config.get("num_labels", "?"),
        sampling_rate=spec.sampling_rate,
        clip_sampling=_clip_sampling(spec),
        sampling_note=(
            "`segment_based`: the middle frame of each of `num_frames` equal segments"
            if spec.segment_based
            else f"`sampling_rate`, the frame stride of a clip: {spec.sampling_rate}"
        ),
        short_side=spec.short_side,
        min_transformers=MIN_TRANSFORMERS_VERSION,
        min_av=MIN_AV_VERSION,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        synthetic_pretraining=origin == "synthetic",
        tiktok_pretraining=origin == "tiktok",
        method=_METHOD[origin],
        training_data=training_data or _training_data(results, pretraining_dataset, origin, pretraining_data),
        procedure=_procedure(results, pretraining),
        evaluation_protocol=_protocol(results, spec),
        results_table=results_table(results),
    )
    # parse the YAML header again: raises on malformed metadata (card.validate() would post to the Hub)
    ModelCard(str(card))
    return card


_PAPER = (
    "*Advancing Human Action Recognition with Foundation Models trained on Unlabeled Public Videos* (TikTokActions)"
)
# The card's sentence on the method, by where pre-training's videos came from (``_pretraining_origin``).
_METHOD = {
    "tiktok": f"It follows {_PAPER}: self-supervised pre-training with dual masking on curated short public videos, "
    "then supervised fine-tuning.",
    "synthetic": f"It follows the recipe of {_PAPER} on the package's synthetic videos: self-supervised pre-training "
    "with dual masking, then supervised fine-tuning.",
    "described": f"It was fine-tuned with the hf-tiktokactions package, which follows {_PAPER}, from an encoder "
    "pre-trained on the videos named under Training data.",
    "converted": f"It was fine-tuned with the hf-tiktokactions package, which follows {_PAPER}, from a converted "
    "pre-trained checkpoint.",
    "unknown": f"It was evaluated with the hf-tiktokactions package, which follows {_PAPER}.",
    "none": f"It was trained with the hf-tiktokactions package, which follows {_PAPER}, from random weights: "
    "supervised training only, without the paper's self-supervised pre-training.",
}


def _pretraining_origin(results: list[RunResults], described: str | None, synthetic: bool) -> str:
    """Where the classifier's pre-training videos came from: "none" (every fine-tuning result started from random
    weights), "described" (``described`` given), "synthetic", "unknown" (only evaluations of the finished model,
    whose ``init_from`` is that model), "converted" (started from a converted checkpoint), else "tiktok"."""
    trained = [r for r in results if not r.recipe.get("eval_only")]
    starts = [str(r.init_from or "") for r in trained]
    if starts and all(start.startswith("scratch") for start in starts):
        return "none"
    if described:
        return "described"
    if synthetic:
        return "synthetic"
    if results and not trained:
        return "unknown"
    return "converted" if any(start.startswith("converted ") for start in starts) else "tiktok"


def _masking(config: dict[str, Any]) -> str:
    """The pre-training masking a config records, in words (a decoder mask ratio of 0 is VideoMAE V1's)."""
    mask, decoder = config.get("mask_ratio", 0.9), config.get("decoder_mask_ratio", 0.5)
    if not decoder:
        return f"VideoMAE tube masking (mask ratio {mask}; the decoder reconstructs every masked token)"
    return f"VideoMAE V2 dual masking (tube mask ratio {mask}, running-cell decoder mask ratio {decoder})"


def _training_data(
    results: list[RunResults], pretraining_dataset: str | None, origin: str, described: str | None
) -> str:
    """The card's "Training data" paragraph: where pre-training's videos came from, and the fine-tuning sets."""
    finetuning = ", ".join(f"{r.dataset} ({r.split_label})" for r in results) or "see the results below"
    if origin == "none":
        return f"No pre-training: the model was fine-tuned from random weights on {finetuning}."
    sources = {
        "described": described,
        "synthetic": (
            "synthetic videos generated by the package (no recordings of people), cut and filtered by curation"
        ),
        "converted": "the videos of the converted checkpoint fine-tuning started from (not recorded here)",
        "unknown": "videos these results do not record (they evaluate the finished model)",
        "tiktok": (
            "public short social videos collected with the TikTok Research API, cut into 3.5-10 s single-scene clips "
            "that show people"
            + (f" (the private index `{pretraining_dataset}`, see its dataset card)" if pretraining_dataset else "")
        ),
    }
    return f"Pre-training used {sources[origin]}. Fine-tuning used: {finetuning}."


def _pretraining_data(run: PretrainingRun, pretraining_dataset: str | None, described: str | None) -> str:
    """Where the pre-trained model's videos came from (TikTok videos curated by the package unless ``described``)
    and how the run read them."""
    source = pretraining_dataset or run.data_source()
    videos = run.record.get("videos")
    selection = [
        text
        for key, text in (
            ("only_passed", "only clips that passed curation"),
            ("hashtags", f"hashtags {run.args.get('hashtags')}"),
            (
                "max_videos",
                f"at most {run.args.get('max_videos')} videos (subset seed {run.args.get('subset_seed', 0)})",
            ),
        )
        if run.args.get(key)
    ]
    videos_used = described or (
        "public short social videos collected with the TikTok Research API, cut into single-scene clips that show "
        "people"
    )
    return (
        f"Pre-training used {videos_used}, without labels"
        + (f": {videos:,} videos" if isinstance(videos, int) else "")
        + (f" from `{source}`" if source else "")
        + (f" ({'; '.join(selection)})" if selection else "")
        + (" (a private index, see its dataset card)" if pretraining_dataset else "")
        + ". Each step reads one clip per video and takes "
        + f"{run.args.get('num_sample', '?')} augmented crops of it."
        if run.found
        else "Not recorded: this model was exported without its pre-training run folder (run_config.json)."
    )


def _steps_line(run: PretrainingRun) -> str:
    if not run.found:
        return "The run's records were not available, so steps, recipe and loss are not reported here."
    record = run.record
    parts = [f"Trained for {run.steps if run.steps is not None else '?'} optimiser steps"]
    if isinstance(record.get("total_steps"), int) and record.get("total_steps") != run.steps:
        parts.append(f"of {record['total_steps']} planned (the run stopped early)")
    if isinstance(record.get("epochs_completed"), int):
        parts.append(f"({record['epochs_completed']} full passes over the videos)")
    if isinstance(record.get("num_processes"), int):
        parts.append(f"on {record['num_processes']} process(es)")
    if isinstance(record.get("seconds"), (int, float)):
        parts.append(
            f"in {record['seconds'] / 3600:.2f} h" if record["seconds"] >= 3600 else f"in {record['seconds']:.0f} s"
        )
    versions = record.get("versions") or {}
    tail = ", ".join(f"{name} {version}" for name, version in versions.items() if name in ("torch", "transformers"))
    return " ".join(parts) + (f", with {tail}" if tail else "") + "."


def _recipe_table(run: PretrainingRun) -> str:
    recipe = run.recipe()
    if not recipe:
        return ""
    rows = "\n".join(
        f"| `{key}` | {json.dumps(value) if not isinstance(value, str) else value} |" for key, value in recipe.items()
    )
    return (
        "The recipe (`training/pretrain.py` options as recorded by the run):\n\n| option | value |\n|---|---|\n" + rows
    )


def _loss_section(run: PretrainingRun, figures: Iterable[str]) -> str:
    if LOSS_CURVE_FILE not in figures:
        return ""
    first, last = run.losses[0], run.losses[-1]
    preview = ""
    start, end = run.record.get("preview_loss_start"), run.record.get("preview_loss_end")
    if isinstance(start, (int, float)) and isinstance(end, (int, float)):
        preview = (
            " On a fixed preview batch (the same clips and masks before and after) it went from "
            f"{start:.4f} to {end:.4f}."
        )
    return (
        "### Loss curve\n\n"
        f"![Pre-training loss against the optimiser step]({LOSS_CURVE_FILE})\n\n"
        f"The logged training loss went from {first[1]:.4f} (step {first[0]}) to {last[1]:.4f} (step {last[0]}) "
        f"over {len(run.losses)} logged steps.{preview}"
    )


def _reconstructions_section(run: PretrainingRun, figures: Iterable[str]) -> str:
    if RECONSTRUCTIONS_FILE not in figures:
        return ""
    return (
        "### Reconstructions\n\n"
        f"![Original, masked and reconstructed frames]({RECONSTRUCTIONS_FILE})\n\n"
        f"One clip of the run's fixed preview batch at step {run.reconstruction_step}, one column per frame. Rows: the "
        "original frames; what the encoder sees (hidden patches grey); the visible patches with the model's "
        "prediction where a patch was hidden and decoded (patches neither visible nor decoded stay grey)."
    )


def pretrained_model_card(
    model_dir: str | os.PathLike,
    run: PretrainingRun,
    figures: Iterable[str] = (),
    *,
    repo_id: str | None = None,
    model_name: str | None = None,
    license: str = "apache-2.0",
    base_model: str | None = None,
    pretraining_dataset: str | None = None,
    extra_tags: Iterable[str] = (),
    summary: str = "",
    template_dir: str | os.PathLike | None = None,
    pretraining_data: str | None = None,
) -> ModelCard:
    """The card of the pre-trained model in ``model_dir``: data, recipe, steps, and the ``figures`` written
    next to it (``loss_curve.png``, ``reconstructions.png``). ``pretraining_data`` describes videos that are not
    TikTok videos curated by the package (no section on social video and its ethics then). Raises ``ConfigError``
    like ``model_card``."""
    figures = list(figures)
    config = _model_config(model_dir)
    geometry = SimpleNamespace(num_frames=config.get("num_frames", 16), image_size=config.get("image_size", 224))
    spec = read_preprocessing(model_dir, geometry)
    name = model_name or repo_id or Path(model_dir).resolve().name
    size = size_name(int(config.get("hidden_size", 768)))
    patch, tubelet, image = config.get("patch_size", 16), config.get("tubelet_size", 2), config.get("image_size", 224)
    num_tokens = (config.get("num_frames", 16) // tubelet) * (image // patch) ** 2
    mask_ratio = config.get("mask_ratio", 0.9)
    card_data = ModelCardData(
        model_name=name,
        library_name="transformers",
        license=license,
        tags=list(dict.fromkeys([*PRETRAINED_TAGS, *extra_tags])),
        datasets=[pretraining_dataset] if pretraining_dataset else None,
        base_model=base_model,
    )
    card = ModelCard.from_template(
        card_data,
        template_path=str(card_template(PRETRAINED_TEMPLATE, template_dir)),
        model_name=name,
        repo_id=repo_id or "ORG/NAME",
        summary=summary or f"A {size} video encoder pre-trained without labels, from the hf-tiktokactions project.",
        size_name=size,
        num_frames=spec.num_frames,
        image_size=image,
        tubelet_size=tubelet,
        patch_size=patch,
        num_tokens=num_tokens,
        hidden_size=config.get("hidden_size", 768),
        patch_dim=tubelet * patch * patch * config.get("num_channels", 3),
        sampling_rate=spec.sampling_rate,
        short_side=spec.short_side,
        min_av=MIN_AV_VERSION,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        mask_ratio=mask_ratio,
        visible_percent=round(100 * (1 - mask_ratio)),
        decoder_mask_ratio=config.get("decoder_mask_ratio", 0.5),
        training_data=_pretraining_data(run, pretraining_dataset, pretraining_data)
        + (f" Pre-training started from `{base_model}`." if base_model else ""),
        tiktok_pretraining=not pretraining_data,
        steps_line=_steps_line(run),
        recipe_table=_recipe_table(run),
        loss_section=_loss_section(run, figures),
        reconstructions_section=_reconstructions_section(run, figures),
        frames_note=(
            f"One exception: `{RECONSTRUCTIONS_FILE}` shows the frames of one training clip at "
            f"{image}x{image} pixels, as pre-training saw it."
            if RECONSTRUCTIONS_FILE in figures
            else "The card shows no frames of the training videos."
        ),
    )
    ModelCard(str(card))
    return card
