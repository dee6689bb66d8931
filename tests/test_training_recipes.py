"""The paper recipes equal the table of docs/RECIPES.md, which is written from the official scripts.

The table is parsed here: every paper recipe must have a column, set exactly the options the table lists (no more, no
fewer), with the table's values, load through the scripts' own parser (``HfArgumentParser`` via
``parse_with_config``), reach the official total batch on 8 GPUs, and cite its official script in its header.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml
from transformers import TrainingArguments

from hf_tiktokactions.training.arguments import FinetuneArguments, PretrainArguments, parse_with_config
from hf_tiktokactions.training.finetuning import schedule_learning_rates

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "training" / "configs"
DOC = ROOT / "docs" / "RECIPES.md"
PAPER_RECIPES = sorted(
    p.stem for p in CONFIGS.glob("*.yaml") if re.fullmatch(r"(pretrain_vit_[bg]_tiktok|finetune_vit_[bg]_\w+)", p.stem)
)
MARKS = {"S", "D", "C", "O"}
GPUS = 8


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def read_tables() -> dict[str, dict[str, str]]:
    """{recipe: {row name: cell}} from every table of docs/RECIPES.md whose first header cell is 'option'.

    Option rows are named by their backticked key (``num_train_epochs``); the other rows by their label."""
    recipes: dict[str, dict[str, str]] = {}
    lines = DOC.read_text().splitlines()
    for i, line in enumerate(lines):
        header = _cells(line) if line.startswith("|") else []
        if not header or header[0] != "option" or (i > 0 and lines[i - 1].startswith("|")):
            continue
        names = [cell.strip("`") for cell in header[1:]]
        for row in lines[i + 2 :]:
            if not row.startswith("|"):
                break
            label, *values = _cells(row)
            assert len(values) == len(names), f"docs/RECIPES.md: row {label!r} has {len(values)} cells"
            for name, value in zip(names, values):
                recipes.setdefault(name, {})[label.strip("`")] = value
    return recipes


TABLES = read_tables()
INFO_ROWS = {
    "official script",
    "official GPUs x videos/GPU x update_freq",
    "total batch (videos)",
    "paper top-1 (views)",
}


def table_options(name: str) -> dict[str, tuple[object, str]]:
    """The recipe's option rows: {key: (value, source letter)}; '—' (not applicable) rows are left out."""
    options = {}
    for key, cell in TABLES[name].items():
        if key in INFO_ROWS or cell == "—":
            continue
        text, mark = cell.rsplit(" ", 1)
        assert mark in MARKS, f"docs/RECIPES.md: {name} {key}: {cell!r} does not end with one of {sorted(MARKS)}"
        options[key] = (yaml.safe_load(text), mark)
    return options


def parse_recipe(name: str) -> dict[str, object]:
    """The recipe through the real parser, as the scripts parse it: {option: value} over all its dataclasses."""
    argv = ["--config", str(CONFIGS / f"{name}.yaml")]
    if name.startswith("pretrain"):
        parsed = (parse_with_config(PretrainArguments, argv, prog="t"),)
    else:
        parsed = parse_with_config((FinetuneArguments, TrainingArguments), [*argv, "--output_dir", "unused"], prog="t")
    values: dict[str, object] = {}
    for instance in parsed:
        values.update({f.name: getattr(instance, f.name) for f in dataclasses.fields(instance)})
    return values


def _as_parsed(value: object) -> object:
    """TrainingArguments turns ``report_to: tensorboard`` into ['tensorboard'] and strategies into str enums."""
    if isinstance(value, list):
        return ",".join(value)
    return getattr(value, "value", value)


def test_every_paper_recipe_has_a_column_and_every_column_a_recipe():
    assert len(PAPER_RECIPES) == 10
    assert sorted(TABLES) == PAPER_RECIPES


@pytest.mark.parametrize("name", PAPER_RECIPES)
def test_recipe_equals_the_table(name):
    recipe = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    options = table_options(name)
    assert sorted(recipe) == sorted(options), f"{name}: keys differ from docs/RECIPES.md"
    parsed = parse_recipe(name)
    for key, (value, _) in options.items():
        assert recipe[key] == value, f"{name}: {key} is {recipe[key]!r}, docs/RECIPES.md says {value!r}"
        assert _as_parsed(parsed[key]) == value, (
            f"{name}: {key} parses to {parsed[key]!r}, docs/RECIPES.md says {value!r}"
        )


@pytest.mark.parametrize("name", PAPER_RECIPES)
def test_recipe_reaches_the_official_total_batch_on_8_gpus(name):
    recipe = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    gpus, per_gpu, update_freq = (int(n) for n in TABLES[name]["official GPUs x videos/GPU x update_freq"].split(" x "))
    official = gpus * per_gpu * update_freq
    assert int(TABLES[name]["total batch (videos)"]) == official
    assert recipe["per_device_train_batch_size"] * recipe["gradient_accumulation_steps"] * GPUS == official


@pytest.mark.parametrize("name", PAPER_RECIPES)
def test_recipe_header_cites_its_script_and_the_paper_number(name):
    text = (CONFIGS / f"{name}.yaml").read_text()
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    script = TABLES[name]["official script"]
    if script.startswith("V1"):
        assert "MCG-NJU/VideoMAE scripts/ucf101/" in header and "finetune.sh" in header
    else:
        assert "OpenGVLab/VideoMAEv2 scripts/" in header and script.split("`")[1] in header
    if "paper top-1 (views)" in TABLES[name]:
        number, views = re.fullmatch(r"([\d.]+) \((\dx\d)\)", TABLES[name]["paper top-1 (views)"]).groups()
        assert f"{number} top-1 ({views} views)" in header
    for stale in ("not available", "ASSUMED", "not in our reference index", "could read"):
        assert stale not in header, f"{name}: header says {stale!r}"


def test_no_recipe_clips_at_trainers_default():
    """transformers clips at 1.0 unless told otherwise; the official scripts clip only ViT-g pre-training (0.02)."""
    clipping = {name: parse_recipe(name)["max_grad_norm"] for name in PAPER_RECIPES}
    assert clipping == {name: (0.02 if name == "pretrain_vit_g_tiktok" else 0.0) for name in PAPER_RECIPES}


def test_paper_finetuning_recipes_drop_the_last_partial_batch():
    """run_class_finetuning.py's training loader: ``drop_last=True`` (Trainer keeps the batch unless told)."""
    finetuning = [name for name in PAPER_RECIPES if name.startswith("finetune")]
    assert len(finetuning) == 8 and all(parse_recipe(name)["dataloader_drop_last"] is True for name in finetuning)


def test_min_and_warmup_lr_scale_with_the_total_batch_as_upstream():
    """run_class_finetuning.py: lr, min_lr and warmup_lr are each multiplied by total batch / 256."""
    args, training_args = parse_with_config(
        (FinetuneArguments, TrainingArguments),
        [
            "--config",
            str(CONFIGS / "finetune_vit_b_ucf101.yaml"),
            "--output_dir",
            "unused",
            "--warmup_learning_rate",
            "1e-8",
        ],
        prog="t",
    )
    peak, end, start = schedule_learning_rates(args, 128, training_args.learning_rate)
    assert (peak, end, start) == pytest.approx((5e-4 * 0.5, 1e-5 * 0.5, 1e-8 * 0.5))
    absolute = dataclasses.replace(args, base_learning_rate=None)
    assert schedule_learning_rates(absolute, 128, 3e-4) == pytest.approx((3e-4, 1e-5, 1e-8))


def test_finetune_run_scales_min_and_warmup_lr_like_the_lr(tmp_path):
    """Through ``finetune``: one process x 8 videos is a total batch of 8, so every rate is x 8 / 256."""
    import json

    from hf_tiktokactions.data.synthetic import make_synthetic_actions
    from hf_tiktokactions.training.finetuning import finetune

    data = make_synthetic_actions(tmp_path / "data", clips_per_class=4, size=32, num_frames=16, progress=False)
    argv = ["--config", str(CONFIGS / "finetune_tiny_synthetic.yaml"), "--data_root", str(data)]
    argv += ["--output_dir", str(tmp_path / "run"), "--disable_tqdm", "true", "--max_steps", "1"]
    argv += ["--eval_strategy", "no", "--test_num_segment", "1", "--test_num_crop", "1"]
    argv += ["--base_learning_rate", "0.032", "--min_learning_rate", "3.2e-4", "--warmup_learning_rate", "3.2e-6"]
    args, training_args = parse_with_config((FinetuneArguments, TrainingArguments), argv, prog="t")
    finetune(args, training_args)
    record = json.loads((tmp_path / "run" / "run_config.json").read_text())
    assert record["learning_rates"] == pytest.approx({"peak": 1e-3, "min": 1e-5, "warmup_start": 1e-7})
    assert record["training_args"]["learning_rate"] == pytest.approx(1e-3)


def test_without_a_full_recipe_the_defaults_are_the_official_ones(tmp_path):
    """run_class_finetuning.py's defaults, not transformers' (no weight decay or smoothing, clipping at 1.0, lr 5e-5,
    3 epochs, the last partial batch kept), where no recipe sets them; the pre-training defaults are the ViT-B
    script's."""
    from hf_tiktokactions.cli import parse_step_options

    partial = tmp_path / "partial.yaml"
    partial.write_text("dataset: videofolder\n")
    for argv in ([], ["--config", str(partial)]):
        args, training = parse_step_options("finetune", [*argv, "--output-dir", "o"])
        assert (training.weight_decay, training.label_smoothing_factor, training.max_grad_norm) == (0.05, 0.1, 0.0)
        assert (training.num_train_epochs, args.base_learning_rate, args.warmup_epochs) == (30, 1e-3, 5.0)
        assert (args.warmup_learning_rate, args.min_learning_rate, args.layer_decay) == (0.0, 1e-6, 0.75)
        assert training.dataloader_drop_last  # the official loader drops the last partial batch
    absolute = tmp_path / "absolute.yaml"
    absolute.write_text("learning_rate: 3.0e-4\n")
    args, training = parse_step_options("finetune", ["--config", str(absolute), "--output-dir", "o"])
    assert (args.base_learning_rate, training.learning_rate) == (None, 3e-4)
    pretrain = PretrainArguments()
    script = parse_recipe("pretrain_vit_b_tiktok")
    for name in ("num_train_epochs", "warmup_epochs", "warmup_learning_rate", "base_learning_rate", "num_sample"):
        assert getattr(pretrain, name) == script[name], name
