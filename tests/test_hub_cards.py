"""Model and dataset cards: YAML metadata, model-index from results files, offline validation."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import tomllib
from huggingface_hub import ModelCard
from packaging.requirements import Requirement
from test_hub_export import tiny_classifier

from hf_tiktokactions.cli_errors import run_cli
from hf_tiktokactions.hub.__main__ import main as hub_main
from hf_tiktokactions.hub.processor_config import MIN_AV_VERSION

ROOT = Path(__file__).resolve().parents[1]

RUN = {  # the fields every results.json has (format: hf_tiktokactions/training/results_file.py)
    "task": "video-classification",
    "checkpoint": "/runs/ft/final",
    "seed": 0,
    "num_videos": 3,
    "seconds": 1.0,
    "clips_per_second": 45.0,
}
K400 = {
    **RUN,
    "dataset": "Kinetics-400",
    "split": "validation",
    "views": "5x3",
    "top1": 81.1,
    "top5": 94.9,
    "mean_class_accuracy": 80.2,
    "dataset_id": "kinetics400",
    "dataset_config": None,
    "recipe": {
        "epochs": 90,
        "lr": 0.001,
        "layer_decay": 0.75,
        "mixup": 0.8,
        "data_root": "/data/kinetics",  # where the training machine kept things: never published
        "annotation_dir": "/home/me/k400",
        "init_from": "runs/pretrain/final",
        "decode_backend": "~/odd",
    },
    "hardware": "8x H200, bf16",
}
UCF = {
    **RUN,
    "dataset": "UCF101",
    "split": "test",
    "views": "2x3",
    "top1": 97.5,
    "top5": 99.9,
    "mean_class_accuracy": 97.0,
    "dataset_id": "ucf101",
    "dataset_config": "1",
    "recipe": {"epochs": 50},
    "hardware": "1x H200, bf16",
}


@pytest.fixture
def model_and_results(tmp_path: Path) -> tuple[Path, list[Path]]:
    tiny_classifier(tmp_path / "model")
    paths = []
    for name, data in (("k400.json", K400), ("ucf.json", UCF)):
        (tmp_path / name).write_text(json.dumps(data))
        paths.append(tmp_path / name)
    return tmp_path / "model", paths


def test_model_card_from_results_files_validates_offline(tmp_path: Path, model_and_results) -> None:
    model, (k400, ucf) = model_and_results
    argv = [
        "card",
        "--model",
        str(model),
        "--results",
        str(k400),
        "--results",
        str(ucf),
        "--output",
        str(tmp_path / "card"),
        "--repo-id",
        "tiktokactions/videomaev2-b-k400",
        "--base-model",
        "tiktokactions/videomaev2-b-pt",
        "--pretraining-dataset",
        "tiktokactions/index-private",
        "--license",
        "cc-by-nc-4.0",
    ]
    assert hub_main(argv) == 0

    card = ModelCard.load(tmp_path / "card" / "README.md")  # parses and validates the YAML, no network
    data = card.data
    assert data.library_name == "transformers" and data.pipeline_tag == "video-classification"
    assert data.license == "cc-by-nc-4.0" and data.base_model == "tiktokactions/videomaev2-b-pt"
    assert data.datasets == ["tiktokactions/index-private", "kinetics400", "ucf101"]
    assert {"video-classification", "videomaev2", "custom_code"} <= set(data.tags)
    assert data.model_name == "tiktokactions/videomaev2-b-k400"

    found = {
        (r.dataset_type, r.dataset_split, r.dataset_config, r.metric_name, r.metric_value, r.metric_args["views"])
        for r in data.eval_results
    }
    assert found == {
        ("kinetics400", "validation", None, "top-1 (5x3 views)", 81.1, "5x3"),
        ("kinetics400", "validation", None, "top-5 (5x3 views)", 94.9, "5x3"),
        ("kinetics400", "validation", None, "mean class accuracy (5x3 views)", 80.2, "5x3"),
        ("ucf101", "test", "1", "top-1 (2x3 views)", 97.5, "2x3"),
        ("ucf101", "test", "1", "top-5 (2x3 views)", 99.9, "2x3"),
        ("ucf101", "test", "1", "mean class accuracy (2x3 views)", 97.0, "2x3"),
    }
    assert {r.dataset_name for r in data.eval_results} == {"Kinetics-400", "UCF101"}
    assert all(r.task_type == "video-classification" for r in data.eval_results)

    text = card.text
    for section in (
        "## How to use",
        "## Training data",
        "## Training procedure",
        "## Evaluation",
        "## Intended use",
        "## Limitations and bias",
        "## Ethics: training on public social video",
    ):
        assert section in text
    assert 'from_pretrained("tiktokactions/videomaev2-b-k400", trust_remote_code=True)' in text
    assert "`layer_decay`: 0.75" in text and "8x H200, bf16" in text  # recipe and hardware
    for local in ("/data/kinetics", "/home/me", "runs/pretrain", "~/odd", "data_root", "init_from"):
        assert local not in text, local
    assert "| Kinetics-400 | validation | accuracy top-1 | 5x3 | 81.10 |" in text
    assert "| UCF101 | test (split 1) | accuracy mean class accuracy | 2x3 | 97.00 |" in text
    assert "not redistributed" in text and "Retention" in text


def test_card_and_export_take_results_file_paths(tmp_path: Path, model_and_results) -> None:
    from hf_tiktokactions.hub.cards import model_card
    from hf_tiktokactions.hub.export import export_model

    model, (k400, ucf) = model_and_results
    assert len(model_card(model, [k400, str(ucf)]).data.eval_results) == 6
    ucf.write_text(
        json.dumps(
            {**UCF, "recipe": {"sampling_rate": 2, "test_num_segment": 2, "test_num_crop": 3, "sampling": "dense"}}
        )
    )
    export_model(model, tmp_path / "out", results=[ucf])
    assert ModelCard.load(tmp_path / "out" / "README.md").data.eval_results[0].dataset_type == "ucf101"
    processor = json.loads((tmp_path / "out" / "video_preprocessor_config.json").read_text())
    assert (processor["sampling_rate"], processor["num_views"], processor["num_crops"]) == (2, 2, 3)  # from the recipe


def av_installs(card_text: str) -> list[Requirement]:
    """The ``av`` requirements of the ``pip install`` commands in ``card_text``."""
    commands = re.findall(r"pip install ([^`\n]+)", card_text)
    return [Requirement(word) for command in commands for word in shlex.split(command) if re.match(r"av\b", word)]


def pyproject_floor(name: str) -> str:
    """The version pyproject.toml's dependency ``name`` needs at least (its ``>=``)."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (requirement,) = [Requirement(line) for line in dependencies if Requirement(line).name == name]
    (floor,) = [specifier.version for specifier in requirement.specifier if specifier.operator == ">="]
    return floor


def test_the_card_installs_the_pyav_that_turns_phone_videos_upright(tmp_path: Path, model_and_results) -> None:
    # PyAV below 14 gives frames no display rotation: the shipped processor would read phone videos sideways
    assert MIN_AV_VERSION == pyproject_floor("av")
    model, _ = model_and_results
    assert hub_main(["card", "--model", str(model), "--output", str(tmp_path / "card")]) == 0
    installs = av_installs((tmp_path / "card" / "README.md").read_text())
    assert [str(requirement) for requirement in installs] == [f"av>={MIN_AV_VERSION}"]


def test_card_without_results_has_no_model_index(tmp_path: Path, model_and_results) -> None:
    model, _ = model_and_results
    assert hub_main(["card", "--model", str(model), "--output", str(tmp_path / "card")]) == 0
    card = ModelCard.load(tmp_path / "card" / "README.md")
    assert card.data.eval_results is None and card.data.pipeline_tag == "video-classification"
    assert "No evaluation results were given" in card.text
    assert "(B, T, C, H, W) = (B, 4, 3, 32, 32)" in card.text  # the input layout, from the model's own geometry


def test_a_bad_results_file_stops_the_card_with_one_line(tmp_path: Path, model_and_results, capsys) -> None:
    model, (k400, _) = model_and_results
    k400.write_text(json.dumps({key: value for key, value in K400.items() if key != "views"}))
    assert (
        run_cli(hub_main, ["card", "--model", str(model), "--results", str(k400), "--output", str(tmp_path / "c")]) == 2
    )
    error = capsys.readouterr().err
    assert error.startswith(f"error: {k400}: ") and "missing field 'views'" in error and "Traceback" not in error
    assert not (tmp_path / "c" / "README.md").exists()


def test_export_refuses_the_results_of_another_model(tmp_path: Path, model_and_results) -> None:
    """A results file records the weights it tested: when those are here and differ, its numbers are not this
    model's (a copy of the tested folder is accepted)."""
    import shutil

    from hf_tiktokactions.errors import ConfigError
    from hf_tiktokactions.hub.export import export_model

    model, (_, ucf) = model_and_results
    tiny_classifier(tmp_path / "other", seed=1)
    ucf.write_text(json.dumps({**UCF, "checkpoint": str(tmp_path / "other")}))
    with pytest.raises(ConfigError, match=r"tested .*other, whose weights are not .*model's"):
        export_model(model, tmp_path / "out", results=[ucf])
    assert not (tmp_path / "out").exists()
    shutil.copytree(model, tmp_path / "tested")  # the folder the test ran on, copied before the export
    ucf.write_text(json.dumps({**UCF, "checkpoint": str(tmp_path / "tested")}))
    export_model(model, tmp_path / "out", results=[ucf])


def test_export_finds_the_tested_weights_from_any_folder(tmp_path: Path, model_and_results, monkeypatch) -> None:
    """Fine-tuning writes ``checkpoint`` as it was given it (relative to where it ran): an export run from another
    folder still finds the tested weights beside the results file, and refuses another model's numbers."""
    import shutil

    from hf_tiktokactions.errors import ConfigError
    from hf_tiktokactions.hub.export import export_model

    model, _ = model_and_results
    run = tmp_path / "project" / "runs" / "seed1"  # fine-tuning ran in project/ with --output_dir runs/seed1
    tiny_classifier(run / "final", seed=1)
    results = run / "results.json"
    results.write_text(json.dumps({**UCF, "checkpoint": "runs/seed1/final"}))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    with pytest.raises(ConfigError, match=r"tested .*seed1/final, whose weights are not .*model's"):
        export_model(model, tmp_path / "out", results=[results])
    shutil.rmtree(run / "final")
    shutil.copytree(model, run / "final")  # the results of this very model
    export_model(model, tmp_path / "out", results=[results])


def test_export_refuses_two_results_of_one_test(tmp_path: Path, model_and_results) -> None:
    """Two seeds' (or two runs') results of one test made two model-index entries with the same name."""
    from hf_tiktokactions.errors import ConfigError
    from hf_tiktokactions.hub.export import export_model

    model, (_, ucf) = model_and_results
    again = tmp_path / "again.json"
    again.write_text(ucf.read_text())
    with pytest.raises(ConfigError, match=r"2 results of one test \(.*split 1, test, 2x3 views\)"):
        export_model(model, tmp_path / "out", results=[ucf, again])


def test_a_model_pretrained_on_synthetic_videos_says_so(tmp_path: Path, model_and_results) -> None:
    """The quickstart's card described TikTok videos, their collection terms and retention, for a model that saw
    only synthetic ones; the default card (a TikTokActions model) keeps that section."""
    from hf_tiktokactions.hub.cards import model_card

    model_dir, results = model_and_results
    default = str(model_card(model_dir, results))
    synthetic = str(model_card(model_dir, results, synthetic_pretraining=True))
    assert "## Ethics: training on public social video" in default and "TikTok Research API" in default
    assert "TikTok Research API under its research terms" not in synthetic and "public short social" not in synthetic
    assert "Pre-training used synthetic videos generated by the package" in synthetic
    ModelCard(synthetic)  # its header still parses


def test_the_card_describes_the_clip_the_processor_samples(tmp_path: Path, model_and_results) -> None:
    """A segment-sampled (SSv2) model's card said its processor took the dense validation clip, frames 4 apart."""
    from hf_tiktokactions.hub.export import export_model

    model, (_, ucf) = model_and_results
    export_model(model, tmp_path / "dense")
    dense = (tmp_path / "dense" / "README.md").read_text()
    assert "4 frames spread over the 4 x 4 frames in the middle of the video" in dense
    recipe = {"sampling_rate": 2, "test_num_segment": 2, "test_num_crop": 3, "sampling": "segment"}
    ucf.write_text(json.dumps({**UCF, "recipe": recipe}))
    export_model(model, tmp_path / "segments", results=[ucf])
    assert json.loads((tmp_path / "segments" / "video_preprocessor_config.json").read_text())["segment_based"] is True
    card = (tmp_path / "segments" / "README.md").read_text()
    assert "4 frames, the middle one of each of 4 equal segments of the video" in card
    assert "one from each of 4 equal segments" in card  # the evaluation protocol
    assert "spread over" not in card and "frames 2 apart" not in card and "frame stride" not in card


def test_the_card_says_where_pretraining_came_from_or_that_there_was_none(
    tmp_path: Path, model_and_results, capsys
) -> None:
    """Every card described TikTok pre-training, its ethics and a person filter: also a model fine-tuned from random
    weights, one started from a converted checkpoint, and one whose owner pre-trained on other videos."""
    from hf_tiktokactions.hub.cards import model_card

    model, (_, ucf) = model_and_results
    tiktok = str(model_card(model, [ucf]))
    assert "TikTok Research API" in tiktok and "## Ethics: training on public social video" in tiktok

    ucf.write_text(json.dumps({**UCF, "init_from": "scratch (vit-tiny)"}))
    scratch = str(model_card(model, [ucf]))
    assert "No pre-training: the model was fine-tuned from random weights" in scratch
    assert "Pre-training: none" in scratch and "from random weights: supervised training only" in scratch
    assert "TikTok Research API" not in scratch and "public videos" not in scratch and "## Ethics" not in scratch

    evaluation = tmp_path / "eval.json"  # --eval_only: init_from is the evaluated classifier itself
    evaluation.write_text(json.dumps({**K400, "init_from": "runs/ft/final", "recipe": {"eval_only": True}}))
    trained_then_evaluated = str(model_card(model, [ucf, evaluation]))
    assert "No pre-training: the model was fine-tuned from random weights" in trained_then_evaluated
    assert "## Ethics" not in trained_then_evaluated
    evaluated = str(model_card(model, [evaluation]))
    assert "Pre-training used videos these results do not record (they evaluate the finished model)" in evaluated
    assert "TikTok Research API" not in evaluated and "## Ethics" not in evaluated

    ucf.write_text(json.dumps({**UCF, "init_from": "converted /ckpts/vit_b_k710_dl_from_giant.pth"}))
    converted = str(model_card(model, [ucf]))
    assert "the converted checkpoint fine-tuning started from (not recorded here)" in converted
    assert "TikTok Research API" not in converted and "public videos" not in converted and "## Ethics" not in converted

    argv = ["card", "--model", str(model), "--results", str(ucf), "--output", str(tmp_path / "card")]
    assert run_cli(hub_main, [*argv, "--pretraining-data", "Kinetics-710 videos, pre-trained by OpenGVLab"]) == 0
    described = (tmp_path / "card" / "README.md").read_text()
    assert "Pre-training used Kinetics-710 videos, pre-trained by OpenGVLab." in described
    assert "TikTok Research API" not in described and "public videos" not in described and "## Ethics" not in described


def test_a_v1_masking_model_is_not_called_dual_masking(tmp_path: Path, model_and_results) -> None:
    """A converted transformers VideoMAE (V1) model (decoder mask ratio 0) was described as dual masking."""
    from hf_tiktokactions.hub.cards import model_card

    model, _ = model_and_results
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "decoder_mask_ratio": 0.0}))
    card = str(model_card(model, []))
    assert "VideoMAE tube masking (mask ratio 0.9; the decoder reconstructs every masked token)" in card
    assert "dual masking (" not in card
