"""The benchmarks' official protocol on look-alike benchmark folders with real videos: which split is scored, SSv2's
segment sampling and no flip whatever a recipe says, SSv2 validation frames, and results.json naming the split."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import torch
from benchmark_folders import BUILDERS, VIDEOMAE_LISTS
from transformers import TrainingArguments
from video_files import frame_index_of

from hf_tiktokactions import VideoMAEv2Config, VideoMAEv2ForVideoClassification
from hf_tiktokactions.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from hf_tiktokactions.errors import ConfigError
from hf_tiktokactions.training.arguments import FinetuneArguments, parse_with_config
from hf_tiktokactions.training.finetune_inputs import resolve_data
from hf_tiktokactions.training.finetuning import _test_dataset, _train_dataset, finetune
from hf_tiktokactions.training.results_file import read_results

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"num_frames": 4, "input_size": 32, "short_side_size": 32, "decode_backend": "pyav"}
SCORED = {"kinetics400": "validation", "ssv2": "validation", "ucf101": "test", "hmdb51": "test"}
SCORED["kinetics400-lists"] = "validation"
FOLDERS = {**BUILDERS, **VIDEOMAE_LISTS}


@pytest.fixture(scope="module")
def benchmarks(tmp_path_factory):
    root = tmp_path_factory.mktemp("benchmarks")
    return {name: build(root / name) for name, build in FOLDERS.items()}


def small_args(folder, **options) -> FinetuneArguments:
    return FinetuneArguments(**{**folder.options(), **SMALL, **options})


def frame_indices(clip: torch.Tensor) -> list[int]:
    """The index each frame of a (T, C, H, W) clip shows; a normalised float clip is mapped back to uint8 first."""
    if clip.is_floating_point():
        std, mean = torch.tensor(IMAGENET_STD)[:, None, None], torch.tensor(IMAGENET_MEAN)[:, None, None]
        clip = ((clip * std + mean) * 255).round().clamp(0, 255).to(torch.uint8)
    return [frame_index_of(frame) for frame in clip]


@pytest.mark.parametrize("name", list(FOLDERS))
def test_auto_splits_score_what_the_official_code_scores(benchmarks, name):
    """K400 and SSv2: the validation list (K400's test.csv is labelled and still not scored), also from the official
    code's list files; UCF101 and HMDB51: the split's test list. Validation during training uses the same list."""
    folder = benchmarks[name]
    data = resolve_data(small_args(folder), seed=0)
    assert data.test.name == data.eval.name == SCORED[name]
    assert data.test.video_ids == folder.ids[SCORED[name]]
    assert data.train.video_ids == folder.ids["train"]
    if name == "kinetics400-lists":  # class names from label_map_k400.txt, the listed indices kept
        assert data.class_names == ["abseiling", "air drumming", "answering questions"]
        assert data.test.labels == [1, 2]


def test_another_split_is_scored_only_when_asked(benchmarks):
    data = resolve_data(small_args(benchmarks["kinetics400"], test_split="test"), seed=0)
    assert (data.test.name, data.eval.name) == ("test", "validation")
    assert data.test.video_ids == benchmarks["kinetics400"].ids["test"]
    with pytest.raises(ConfigError, match=r"--test_split 'val' is not a split .*train, validation, test"):
        resolve_data(small_args(benchmarks["kinetics400"], test_split="val"), seed=0)


def test_kinetics_without_its_validation_list_says_what_to_do(benchmarks, tmp_path):
    annotations = shutil.copytree(benchmarks["kinetics400"].annotation_dir, tmp_path / "annotations")
    (annotations / "val.csv").unlink()
    args = small_args(benchmarks["kinetics400"], annotation_dir=str(annotations))
    with pytest.raises(
        ConfigError, match=r"--test_split auto scores the labelled validation split .*val\.csv.*--test_split"
    ):
        resolve_data(args, seed=0)


def test_a_listed_video_missing_on_disk_is_left_out_or_named(benchmarks, tmp_path, caplog):
    """Every Kinetics copy lacks some videos: they are left out with a warning that counts them (the test used to
    stop at the first one), or, with --missing_videos error, named before anything runs."""
    folder = benchmarks["kinetics400"]
    annotations = shutil.copytree(folder.annotation_dir, tmp_path / "annotations")
    with (annotations / "val.csv").open("a") as handle:
        handle.write("abseiling,zzzNEVERGOT,10,20,val\n")
    with caplog.at_level(logging.WARNING):
        data = resolve_data(small_args(folder, annotation_dir=str(annotations)), seed=0)
    assert data.test.video_ids == folder.ids["validation"]  # the listed video that is not on disk is left out
    assert "zzzNEVERGOT" in caplog.text
    with pytest.raises(Exception, match="zzzNEVERGOT"):
        resolve_data(small_args(folder, annotation_dir=str(annotations), missing_videos="error"), seed=0)


def test_an_unlabelled_split_is_not_scored(benchmarks, tmp_path):
    """Kinetics' test.csv as published has no label column: scoring it gave 0 % and a results file."""
    folder = benchmarks["kinetics400"]
    annotations = shutil.copytree(folder.annotation_dir, tmp_path / "annotations")
    lines = (annotations / "test.csv").read_text().splitlines()
    (annotations / "test.csv").write_text("\n".join(line.split(",", 1)[1] for line in lines) + "\n")
    with pytest.raises(ConfigError, match="--test_split test: this split has no labels"):
        resolve_data(small_args(folder, annotation_dir=str(annotations), test_split="test"), seed=0)


def test_ssv2_never_flips_and_samples_segments_whatever_the_recipe_says(tmp_path, caplog):
    recipe = ROOT / "training" / "configs" / "finetune_vit_b_ssv2.yaml"
    with caplog.at_level(logging.WARNING, logger="hf_tiktokactions.training.protocol"):
        args, _ = parse_with_config(
            (FinetuneArguments, TrainingArguments),
            ["--config", str(recipe), "--flip", "true", "--sampling", "dense", "--output_dir", str(tmp_path)],
            prog="t",
        )
    assert (args.flip, args.sampling) == (False, "segment")
    assert "--flip true is overridden by false" in caplog.text and "--sampling dense is overridden" in caplog.text
    assert (FinetuneArguments(dataset="ssv2").flip, FinetuneArguments(dataset="ssv2").sampling) == (False, "segment")
    # the same options are honoured on other datasets; unset, they are dense clips and flips
    kinetics = FinetuneArguments(dataset="kinetics400", flip=False, sampling="segment")
    assert (kinetics.flip, kinetics.sampling) == (False, "segment")
    assert (FinetuneArguments().flip, FinetuneArguments().sampling) == (True, "dense")


def test_ssv2_training_clips_are_never_mirrored_and_take_one_frame_per_segment(benchmarks):
    """A mirrored index frame reads as its bit-reversed index: with a flip, half the clips would fail."""
    args = small_args(
        benchmarks["ssv2"], flip=True, sampling="dense", rand_augment="none", reprob=0.0, crop_scale_min=1.0
    )
    data = resolve_data(args, seed=0)
    dataset = _train_dataset(args, data.train, seed=0)
    assert "HorizontalFlip" not in repr(dataset.transform.crop_flip)
    torch.manual_seed(0)
    for _ in range(6):
        for index in range(len(dataset)):
            for clip in dataset[index]["pixel_values"]:  # num_sample clips, float (T, C, 32, 32)
                frames = frame_indices(clip)
                assert [frame // 10 for frame in frames] == [0, 1, 2, 3], frames  # 42 frames, segments of 10


def test_ssv2_validation_takes_the_middle_frame_of_each_segment(benchmarks):
    args = small_args(benchmarks["ssv2"], test_num_segment=2, test_num_crop=1)
    data = resolve_data(args, seed=0)
    validation = _test_dataset(args, data.eval, validation=True)[0]["pixel_values"]  # uint8 (1, T, C, S, S)
    assert frame_indices(validation[0]) == [5, 15, 25, 35]  # 42 // 4 = 10 frames a segment, the middle one
    one_view = _test_dataset(args, data.test, 1, 1)[0]["pixel_values"]
    assert frame_indices(one_view[0]) == [0, 10, 21, 31]  # one test view: upstream's test mode, the first frames
    test = _test_dataset(args, data.test, args.test_num_segment, args.test_num_crop)[0]["pixel_values"]
    assert [frame_indices(view) for view in test] == [[0, 10, 21, 31], [5, 15, 26, 36]]  # upstream test mode


@pytest.mark.parametrize("name, split, config", [("kinetics400", "validation", None), ("ucf101", "test", "1")])
def test_results_name_the_split_they_scored(benchmarks, tmp_path, name, split, config):
    folder = benchmarks[name]
    classifier = tmp_path / "classifier"
    VideoMAEv2ForVideoClassification(
        VideoMAEv2Config.from_preset("vit-tiny", num_labels=2, num_frames=4, image_size=32)
    ).save_pretrained(classifier)
    options = {**folder.options(), **SMALL, "init_from": classifier, "eval_only": "true", "test_num_segment": 2}
    options.update(test_num_crop=1, mixed_precision="no", output_dir=tmp_path / "run", disable_tqdm="true")
    options.update(report_to="none", dataloader_num_workers=0)
    argv = [str(item) for key, value in options.items() for item in (f"--{key}", value)]
    finetune(*parse_with_config((FinetuneArguments, TrainingArguments), argv, prog="t"))
    written = json.loads((tmp_path / "run" / "results.json").read_text())
    assert written["split"] == split and written["dataset_id"] == name and written["num_videos"] == 2
    assert written["dataset_config"] == config
    assert read_results(tmp_path / "run" / "results.json").split == split  # the model-index's split, as written
    predictions = (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()
    assert [json.loads(line)["video_id"] for line in predictions] == folder.ids[SCORED[name]]
    label = f"{split} (split {config})" if config else split
    assert f"| {label} | 2x1 |" in (tmp_path / "run" / "results.md").read_text()
