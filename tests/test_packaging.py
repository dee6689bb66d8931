"""A wheel install (not the editable checkout) carries the recipes and card templates: ``pip install`` alone runs
the quickstart's recipes, the experiments' defaults and the card rendering, from any working directory."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hf_tiktokactions.errors import ConfigError
from hf_tiktokactions.resources import recipe, shipped_dir
from hf_tiktokactions.training.arguments import PretrainArguments, parse_with_config

ROOT = Path(__file__).resolve().parents[1]

CHECK_INSTALLED = """
import sys
from pathlib import Path
import hf_tiktokactions
from hf_tiktokactions.hub.cards import TEMPLATES_DIR
from hf_tiktokactions.quickstart import PRETRAIN_RECIPE, FINETUNE_RECIPE
from hf_tiktokactions.training.arguments import PretrainArguments, parse_with_config
from hf_tiktokactions.training.experiments import CompareArguments
site = Path(sys.argv[1]).resolve()
assert Path(hf_tiktokactions.__file__).resolve().is_relative_to(site), hf_tiktokactions.__file__
for path in (TEMPLATES_DIR / "model_card_template.md", TEMPLATES_DIR / "dataset_card_template.md", PRETRAIN_RECIPE,
             FINETUNE_RECIPE, Path(CompareArguments().pretrain_config), Path(CompareArguments().finetune_config)):
    assert path.is_file() and path.resolve().is_relative_to(site), path
recipe = parse_with_config(PretrainArguments, ["--config", "pretrain_vit_g_tiktok.yaml"], prog="x")
assert recipe.model_preset == "vit-g"
from hf_tiktokactions.resources import shipped_dir
for name in ("app.py", "README.md", "requirements.txt"):  # the Space's sources, for hub export --space
    assert (shipped_dir("space") / name).resolve().is_relative_to(site), name
from hf_tiktokactions.reference_encoder import REFERENCE_DIR  # the quickstart's reference encoder
assert (REFERENCE_DIR / "README.md").resolve().is_relative_to(site)
print("ok")
"""


def _source_copy(destination: Path) -> Path:
    """What the wheel is built from, copied so the build's own folders (build/, *.egg-info) stay out of the checkout."""
    destination.mkdir()
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, destination / name)
    for folder in ("hf_tiktokactions", "training/configs", "model_cards", "spaces"):
        shutil.copytree(ROOT / folder, destination / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def test_the_wheel_ships_the_recipes_and_card_templates(tmp_path):
    source = _source_copy(tmp_path / "source")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(source),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("hf_tiktokactions-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    recipes = {p.name for p in (ROOT / "training" / "configs").glob("*.yaml")}
    assert {f"hf_tiktokactions/recipes/{name}" for name in recipes} <= names
    assert {
        "hf_tiktokactions/card_templates/model_card_template.md",
        "hf_tiktokactions/card_templates/dataset_card_template.md",
    } <= names
    assert "hf_tiktokactions/data/kinetics400_classes.txt" in names
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "hf_tiktokactions").rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    reference = {str(p.relative_to(ROOT)) for p in (ROOT / "hf_tiktokactions" / "reference").iterdir()}
    assert "hf_tiktokactions/reference/README.md" in reference and reference <= names, sorted(reference - names)

    site = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    check = subprocess.run(
        [sys.executable, "-c", CHECK_INSTALLED, str(site)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert check.returncode == 0 and check.stdout.strip() == "ok", check.stderr[-3000:]


def test_a_shipped_recipe_by_name_and_an_unknown_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the checkout: the bare name must not depend on the working directory
    assert (
        parse_with_config(PretrainArguments, ["--config", "pretrain_vit_g_tiktok.yaml"], prog="x").model_preset
        == "vit-g"
    )
    assert recipe("pretrain_tiny_synthetic.yaml").parent == shipped_dir("recipes")
    with pytest.raises(ConfigError, match="shipped recipes: .*pretrain_tiny_synthetic.yaml"):
        recipe("pretrain_vit_x.yaml")
    with pytest.raises(ConfigError, match="config file pretrain_vit_x.yaml does not exist"):
        parse_with_config(PretrainArguments, ["--config", "pretrain_vit_x.yaml"], prog="x")
    (tmp_path / "pretrain_vit_g_tiktok.yaml").write_text(
        "model_preset: vit-s\n"
    )  # a file here wins over the shipped one
    assert (
        parse_with_config(PretrainArguments, ["--config", "pretrain_vit_g_tiktok.yaml"], prog="x").model_preset
        == "vit-s"
    )
