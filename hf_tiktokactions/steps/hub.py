"""The publishing steps: ``convert`` (official checkpoints -> our folder), ``export`` (the Hub folder), ``push``
(export + upload) and ``space`` (the Gradio demo on a model folder)."""

from __future__ import annotations

import importlib.util
import json
import os
import runpy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..modeling.configuration_videomaev2 import _PRESETS
from ..modeling.conversion import TASKS
from ..modeling.hub_source import is_repo_id, looks_local, only_local
from ..resources import CHECKOUT
from .options import option, positional

MODEL_PRESETS = tuple(_PRESETS)


@dataclass
class ConvertOptions:
    """Convert an official VideoMAE V2 checkpoint (.pth: pre-training, fine-tuned or distilled, the paper's released
    files included), an OpenGVLab VideoMAE V2 Hub folder or a transformers VideoMAE folder, local or a Hub repo id,
    into a folder that VideoMAEv2*.from_pretrained loads."""

    source: str = positional(
        "official .pth / .safetensors file, a transformers VideoMAE or OpenGVLab VideoMAE V2 folder, or a Hub repo id "
        "(OpenGVLab/VideoMAEv2-Base; DrQY/VideoMAEv2_TikTok:path/in/repo.pth for one file of a repo)",
        "SOURCE",
    )
    output_dir: str = positional("folder to write (config.json, model.safetensors, conversion.json)", "OUTPUT_DIR")
    model_preset: str | None = option(
        "model size; inferred from the weight shapes when omitted", None, choices=MODEL_PRESETS, old_names=("--preset",)
    )
    filename: str | None = option("the checkpoint file inside a Hub repository that holds several", None)
    task: str | None = option(
        "default: pretraining with a decoder, encoder for an OpenGVLab folder, else classification",
        None,
        choices=TASKS,
    )
    num_labels: int | None = option("classes of a new classification head (replaces a head of another size)", None)


def convert(options: ConvertOptions) -> dict:
    """Convert and print the report (source format, task, preset, dropped keys); returns it."""
    from ..modeling.conversion import convert as convert_checkpoint
    from ..modeling.hub_source import resolve_source

    report = convert_checkpoint(
        resolve_source(options.source, options.filename),
        options.output_dir,
        preset=options.model_preset,
        task=options.task,
        num_labels=options.num_labels,
    )
    print(json.dumps(report, indent=2))
    return report


@dataclass
class CardTextOptions:
    """What the model card says besides the results (shared by ``export``, ``push`` and ``hub card``)."""

    results: list[str] = option(
        "a fine-tuning run's results.json (repeatable; format in hf_tiktokactions/training/results_file.py)",
        [],
        action="extend",
    )
    license: str = option("license id for the card's YAML", "apache-2.0")
    base_model: str | None = option("Hub id of the pre-trained checkpoint this model was fine-tuned from", None)
    pretraining_dataset: str | None = option("dataset id of the (private) pre-training index", None)
    pretraining_data: str | None = option(
        "where pre-training's videos came from, as the card should say it, when they are not TikTok videos curated "
        'by this package (e.g. "Kinetics-710 videos, pre-trained by OpenGVLab")',
        None,
    )
    model_name: str | None = option("title of the card (default: repo id or folder name)", None)
    tags: list[str] = option("extra tags (repeatable)", [], action="extend", old_names=("--tag",))
    template_dir: str | None = option("folder holding model_card_template.md (default: model_cards/)", None)

    def card_options(self) -> dict[str, Any]:
        return dict(
            license=self.license,
            base_model=self.base_model,
            pretraining_dataset=self.pretraining_dataset,
            pretraining_data=self.pretraining_data,
            model_name=self.model_name,
            extra_tags=list(self.tags),
            template_dir=self.template_dir,
        )

    def loaded_results(self) -> list:
        from ..training.results_file import read_results

        return [read_results(path) for path in self.results]


@dataclass
class CardOptions(CardTextOptions):
    """The card's text and the preprocessing the exported folder records (``export`` and ``push``)."""

    show_training_frames: bool = option(
        "pre-trained models: publish the run's reconstructions.png, frames of one training clip (left out of a model "
        "pre-trained on TikTok videos, which are not to be redistributed; shown for videos --pretraining-data "
        "describes)",
        False,
    )
    sampling_rate: int | None = option("frame stride of a clip (default: stored, else 4)", None)
    num_views: int | None = option("temporal test views (default: stored, else 5)", None)
    num_crops: int | None = option("spatial test crops (default: stored, else 3)", None)
    segment_based: bool | None = option("TSN segment sampling (SSv2)", None, nargs="?", const=True)

    def preprocessing(self) -> dict[str, Any]:
        return dict(
            sampling_rate=self.sampling_rate,
            num_views=self.num_views,
            num_crops=self.num_crops,
            segment_based=self.segment_based,
        )


@dataclass(kw_only=True)
class ModelCardOptions(CardTextOptions):
    """Write a model card (README.md) from a saved model folder and fine-tuning results files."""

    model: str = option("saved model folder")
    output_dir: str = option("folder to write README.md into", old_names=("--output",))
    repo_id: str | None = option("Hub id shown in the usage example", None)


@dataclass
class DatasetCardOptions:
    """Write the pre-training index's dataset card (README.md) from the statistics JSON of the stats step."""

    stats: str = option("the stats.json that dataset_scripts/stats.py wrote for the index")
    output_dir: str = option("folder to write README.md into", old_names=("--output",))
    pretty_name: str = option("title of the card", "TikTokActions pre-training index (private)")
    template_dir: str | None = option("folder holding dataset_card_template.md (default: model_cards/)", None)


@dataclass(kw_only=True)
class ExportOptions(CardOptions):
    """Write the Hub folder of a fine-tuned classifier or a pre-training run's final/ folder: safetensors, remote
    code, processor configs, model card; optionally a Gradio Space folder serving it."""

    model: str = option("fine-tuned model folder (or Hub id), or a pre-training run's final/ folder")
    output_dir: str = option("new or empty folder", old_names=("--output",))
    repo_id: str | None = option("Hub id shown in the card's usage example", None)
    overwrite: bool = option("replace a non-empty --output-dir", False)
    run: str | None = option(
        "pre-trained models: the pretrain --output_dir whose records go on the card (default: the folder around "
        "--model)",
        None,
    )
    space: str | None = option("also write a Gradio Space folder serving the exported classifier", None)


def export(options: ExportOptions) -> Path:
    """Export and print what was written; returns the folder."""
    from ..hub.export import export_model
    from ..hub.space import refuse_a_pretrained_model

    if options.space:
        refuse_a_pretrained_model(options.model)
    out = export_model(
        options.model,
        options.output_dir,
        options.loaded_results(),
        preprocessing=options.preprocessing(),
        overwrite=options.overwrite,
        run_dir=options.run,
        repo_id=options.repo_id,
        show_training_frames=options.show_training_frames,
        **options.card_options(),
    )
    print(f"exported {options.model} -> {out}: {', '.join(sorted(p.name for p in out.iterdir()))}")
    auto_map = json.loads((out / "config.json").read_text(encoding="utf-8")).get("auto_map", {})
    for auto_class in sorted(name for name in auto_map if name != "AutoConfig"):
        print(f"load with {auto_class}.from_pretrained({str(out)!r}, trust_remote_code=True)")
    if options.space:
        from ..hub.space import write_space

        space = write_space(
            out, options.space, repo_id=options.repo_id, overwrite=options.overwrite, keep=(options.model,)
        )
        print(f"Space folder: {space} (upload it as a Gradio Space; run locally: cd {space} && python app.py)")
    return out


@dataclass(kw_only=True)
class PushOptions(CardOptions):
    """Export a fine-tuned or pre-trained model and upload it to the Hub (token from HF_TOKEN or `hf auth login`)."""

    model: str = option("fine-tuned model folder (or Hub id), or a pre-training run's final/ folder")
    repo_id: str = option("ORG/NAME")
    private: bool = option(
        "create the repository as private (and refuse an existing public one); without it: the namespace's default",
        False,
    )
    run: str | None = option(
        "pre-trained models: the pretrain --output_dir whose records go on the card (default: the folder around "
        "--model)",
        None,
    )


def push(options: PushOptions) -> str:
    """Export, upload and print the commit URL; returns it."""
    from ..hub.push import push_model

    url = push_model(
        options.model,
        options.repo_id,
        options.loaded_results(),
        private=options.private or None,  # without --private: the namespace's default, not a forced public
        preprocessing=options.preprocessing(),
        run_dir=options.run,
        show_training_frames=options.show_training_frames,
        **options.card_options(),
    )
    print(f"pushed {options.model} to {options.repo_id}: {url}")
    return url


@dataclass
class SpaceOptions:
    """Serve the Gradio Space (spaces/app.py of the repository) on a model folder or Hub id.

    Each option sets the environment variable the Space reads, so the page behaves exactly as on the Hub.
    """

    model: str | None = option(
        "model folder or Hub id (MODEL_ID; default: the quickstart's runs/quickstart/model)", None
    )
    accurate_views: str = option("views of the accurate mode, TxS (ACCURATE_VIEWS)", "2x3")
    max_video_seconds: int = option("longest accepted video (MAX_VIDEO_SECONDS)", 180)
    max_upload_mb: int = option("largest accepted upload (MAX_UPLOAD_MB)", 100)
    inference_dtype: str = option(
        "float32, bfloat16 or auto (INFERENCE_DTYPE)", "auto", choices=("float32", "bfloat16", "auto")
    )
    torch_threads: int | None = option("torch intra-op threads (TORCH_THREADS; default: all cores)", None)
    examples_dir: str | None = option("where the synthetic example clips are made (EXAMPLES_DIR)", None)
    host: str = option("address to listen on (GRADIO_SERVER_NAME)", "0.0.0.0")
    port: int | None = option("port (GRADIO_SERVER_PORT; default: Gradio's 7860 or the next free one)", None)
    app: Path = option("the Space's app.py", CHECKOUT / "spaces" / "app.py")

    def environment(self) -> dict[str, str]:
        values = {
            "MODEL_ID": self.model,
            "ACCURATE_VIEWS": self.accurate_views,
            "MAX_VIDEO_SECONDS": self.max_video_seconds,
            "MAX_UPLOAD_MB": self.max_upload_mb,
            "INFERENCE_DTYPE": self.inference_dtype,
            "TORCH_THREADS": self.torch_threads,
            "EXAMPLES_DIR": self.examples_dir,
            "GRADIO_SERVER_NAME": self.host,
            "GRADIO_SERVER_PORT": self.port,
        }
        return {name: str(value) for name, value in values.items() if value is not None}


def _a_hub_model(model: str) -> bool:
    """Whether ``model`` names a Hub model: ``OWNER/NAME`` that cannot only be local; one that reads as a local path
    (``runs/typo`` where ``runs/`` exists, or an ``OWNER/`` folder here) only when the Hub (or its cache) has it."""
    if only_local(model) or not is_repo_id(model):
        return False
    if not looks_local(model):
        return True
    from huggingface_hub import hf_hub_download

    try:
        hf_hub_download(model, "config.json")
    except Exception:  # offline and not cached, no such repository, no access: the missing folder is named
        return False
    return True


def space(options: SpaceOptions) -> None:
    """Run the Space's app.py as its own ``__main__`` with the options in its environment (serves until stopped)."""
    app = Path(options.app)
    if not app.is_file():
        raise ConfigError(
            f"--app {app}: no such file; the Space ships with the repository (spaces/app.py), pass its path"
        )
    model = options.model
    if model is not None and not Path(model).exists() and not _a_hub_model(model):
        raise ConfigError(
            f"--model {model}: no such folder (and not a Hub id like ORG/NAME); pass a fine-tuned model "
            "folder, e.g. runs/quickstart/model after the quickstart"
        )
    if importlib.util.find_spec("gradio") is None:
        raise ConfigError("the Space needs the optional package gradio: pip install 'hf-tiktokactions[demo]'")
    os.environ.update(options.environment())
    runpy.run_path(str(app), run_name="__main__")
