"""A Gradio Space folder that installs as it is: ``write_space(exported_model, space_dir)``.

Hugging Face Spaces install ``requirements.txt`` with pip and run ``app.py``. This package is not on PyPI, so
the Space folder carries what the app needs instead of naming it as a requirement::

    space_dir/app.py              the repository's spaces/app.py, unchanged
    space_dir/README.md           spaces/README.md (the Space's YAML), ``models:`` set to the exported repo id
    space_dir/requirements.txt    spaces/requirements.txt: public PyPI packages only (checked here)
    space_dir/hf_tiktokactions/   a copy of this package's source (app.py imports it; Python finds it next to app.py)
    space_dir/model/              the exported model folder, which app.py serves when MODEL_ID is not set

Upload the folder as a Gradio Space (``hf upload ORG/SPACE space_dir --repo-type space``). To serve a model
from the Hub instead of the copy, delete ``model/`` and set the Space variable ``MODEL_ID``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from hf_tiktokactions.errors import ConfigError
from hf_tiktokactions.output_guard import refuse_a_folder_holding
from hf_tiktokactions.resources import shipped_dir

__all__ = ["write_space", "refuse_a_pretrained_model", "space_requirements", "SPACE_FILES"]

PACKAGE_NAME = "hf-tiktokactions"
SPACE_FILES = ("app.py", "README.md", "requirements.txt")
_PACKAGE_DIR = Path(__file__).resolve().parents[1]
CLASSIFIER_ARCHITECTURE = "VideoMAEv2ForVideoClassification"


def space_requirements(path: str | os.PathLike) -> list[Requirement]:
    """The requirements in ``path``, refusing any line pip would not resolve from PyPI by name alone.

    Refused: options (``-e``, ``-r``, ``--index-url``), URLs and local paths, and this package itself (not on PyPI).
    """
    path = Path(path)
    requirements = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}:{number} ({line!r})"
        if line.startswith("-"):
            raise ConfigError(f"{where}: pip options are not allowed in a Space's requirements; list PyPI names")
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            raise ConfigError(f"{where}: not a PyPI requirement ({error})") from None
        if requirement.url:
            raise ConfigError(f"{where}: a URL or path requirement; a Space must install from PyPI names")
        if requirement.name.lower().replace("_", "-") == PACKAGE_NAME:
            raise ConfigError(f"{where}: {PACKAGE_NAME} is not on PyPI; the Space folder carries its source instead")
        requirements.append(requirement)
    return requirements


def _copy_package(destination: Path) -> None:
    """This package's Python source, plus the recipes and card templates where a wheel would carry them."""
    shutil.copytree(_PACKAGE_DIR, destination, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for kind, inside in (("recipes", "recipes"), ("card_templates", "card_templates")):
        source = shipped_dir(kind)
        if source.is_dir() and not (destination / inside).exists():
            shutil.copytree(source, destination / inside, ignore=shutil.ignore_patterns("__pycache__"))


def _readme(source: Path, repo_id: str | None) -> str:
    from huggingface_hub import SpaceCard

    card = SpaceCard(source.read_text(encoding="utf-8"))
    if repo_id:
        card.data.models = [repo_id]
    else:
        card.data.pop("models", None)  # the placeholder would link an unrelated repository
    return str(card)


def refuse_a_pretrained_model(model_dir: str | os.PathLike) -> None:
    """Raise ``ConfigError`` when the model ``export --space`` was given is a pre-trained one: checked before the
    export writes anything, so that nothing is left behind to ``--overwrite``."""
    from hf_tiktokactions.hub.export import is_pretraining_model

    if is_pretraining_model(model_dir):
        raise ConfigError(
            f"--model {model_dir}: the Space classifies videos, so --space needs a fine-tuned classifier (this is a "
            "pre-trained model); export it without --space"
        )


def write_space(
    model_folder: str | os.PathLike,
    space_dir: str | os.PathLike,
    *,
    repo_id: str | None = None,
    overwrite: bool = False,
    keep: tuple[str | os.PathLike, ...] = (),
) -> Path:
    """Write the Space folder serving the exported classifier in ``model_folder``; returns ``space_dir``.

    ``repo_id`` (the model's Hub id) goes into the Space card's ``models:``. Raises ``ConfigError`` when
    the Space sources are missing, the requirements name a package PyPI does not have, ``model_folder`` is
    not a classifier, or ``space_dir`` is not empty (without ``overwrite``).
    """
    import json

    model_folder, space_dir = Path(model_folder), Path(space_dir)
    sources = shipped_dir("space")
    missing = [name for name in SPACE_FILES if not (sources / name).is_file()]
    if missing:
        raise ConfigError(f"{sources}: the Space sources {missing} are missing; run from a checkout of the repository")
    space_requirements(sources / "requirements.txt")
    config = json.loads((model_folder / "config.json").read_text(encoding="utf-8"))
    # not the auto_map: a pre-trained export maps AutoModelForVideoClassification too (to fine-tune from it)
    if CLASSIFIER_ARCHITECTURE not in (config.get("architectures") or []):
        raise ConfigError(
            f"{model_folder}: the Space classifies videos, so --space needs a fine-tuned classifier "
            "(this export is a pre-trained model)"
        )
    if space_dir.resolve() == model_folder.resolve() or space_dir.resolve().is_relative_to(model_folder.resolve()):
        raise ConfigError(f"--space {space_dir}: choose a folder outside the exported model folder {model_folder}")
    for model in (model_folder, *keep):  # the folder is emptied first: the models must stay
        refuse_a_folder_holding(space_dir, model, "--space")
    if space_dir.exists() and any(space_dir.iterdir()):
        if not overwrite:
            raise ConfigError(f"--space {space_dir} is not empty; choose a new folder or pass --overwrite")
        shutil.rmtree(space_dir)
    space_dir.mkdir(parents=True, exist_ok=True)

    shutil.copyfile(sources / "app.py", space_dir / "app.py")
    shutil.copyfile(sources / "requirements.txt", space_dir / "requirements.txt")
    (space_dir / "README.md").write_text(_readme(sources / "README.md", repo_id), encoding="utf-8")
    _copy_package(space_dir / "hf_tiktokactions")
    shutil.copytree(model_folder, space_dir / "model")
    return space_dir
