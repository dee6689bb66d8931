"""Benchmark readers on small annotation files written in each benchmark's official format.

Readers only check that listed files exist, so the videos here are empty placeholder files.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from hf_tiktokactions.data.readers import (
    load_hmdb51,
    load_kinetics,
    load_ssv2,
    load_ucf101,
    load_videofolder,
    ssv2_class_name,
)
from hf_tiktokactions.errors import DatasetLayoutError, TikTokActionsError


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def class_names(dataset_dict) -> list[str]:
    return next(iter(dataset_dict.values())).features["label"].names


def labels_as_names(dataset) -> list[str]:
    return [dataset.features["label"].int2str(label) for label in dataset["label"]]


# ---------------------------------------------------------------------------------------------- UCF101


@pytest.fixture
def ucf101_root(tmp_path: Path) -> Path:
    """UCF101 as unpacked: UCF-101/<class>/*.avi next to ucfTrainTestlist/ (CRLF lines, as released)."""
    lists = tmp_path / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_bytes(b"1 ApplyEyeMakeup\r\n2 ApplyLipstick\r\n3 Archery\r\n")
    train = [
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g09_c02.avi 1",
        "ApplyLipstick/v_ApplyLipstick_g08_c01.avi 2",
        "Archery/v_Archery_g08_c01.avi 3",
    ]
    test = ["ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "Archery/v_Archery_g01_c01.avi"]
    (lists / "trainlist01.txt").write_bytes(("\r\n".join(train) + "\r\n").encode())
    (lists / "testlist01.txt").write_bytes(("\r\n".join(test) + "\r\n").encode())
    # split 2 swaps the roles of the groups
    (lists / "trainlist02.txt").write_text("\n".join(t + (" 1" if "Eye" in t else " 3") for t in test) + "\n")
    (lists / "testlist02.txt").write_text("\n".join(t.split()[0] for t in train) + "\n")
    for line in train + test:
        touch(tmp_path / "UCF-101" / line.split()[0])
    return tmp_path


def test_ucf101_reads_classes_splits_and_labels(ucf101_root: Path) -> None:
    data = load_ucf101(ucf101_root, split=1)
    assert set(data) == {"train", "test"}
    assert class_names(data) == ["ApplyEyeMakeup", "ApplyLipstick", "Archery"]
    assert data["train"].num_rows == 4 and data["test"].num_rows == 2
    assert labels_as_names(data["train"]) == ["ApplyEyeMakeup", "ApplyEyeMakeup", "ApplyLipstick", "Archery"]
    assert labels_as_names(data["test"]) == ["ApplyEyeMakeup", "Archery"]
    first = data["train"][0]
    assert first["video"] == str(ucf101_root / "UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi")
    assert Path(first["video"]).is_absolute() and first["video_id"] == "v_ApplyEyeMakeup_g08_c01"

    data2 = load_ucf101(ucf101_root / "UCF-101", split=2, annotation_dir=ucf101_root / "ucfTrainTestlist")
    assert data2["train"].num_rows == 2 and data2["test"].num_rows == 4


def test_ucf101_missing_video_is_reported_kept_dropped_or_raised(ucf101_root: Path, caplog) -> None:
    (ucf101_root / "UCF-101/Archery/v_Archery_g08_c01.avi").unlink()
    with caplog.at_level(logging.WARNING, logger="hf_tiktokactions.data.readers"):
        kept = load_ucf101(ucf101_root, split=1)
    assert kept["train"].num_rows == 4  # missing="warn" keeps the row
    assert "1 of 6 listed video files are missing" in caplog.text
    assert "v_Archery_g08_c01.avi" in caplog.text

    dropped = load_ucf101(ucf101_root, split=1, missing="drop")
    assert dropped["train"].num_rows == 3
    assert "Archery" not in labels_as_names(dropped["train"])

    with pytest.raises(DatasetLayoutError, match=r"1 of 6 .*v_Archery_g08_c01\.avi"):
        load_ucf101(ucf101_root, split=1, missing="error")


def test_ucf101_clear_errors(ucf101_root: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        load_ucf101(tmp_path / "nowhere")
    with pytest.raises(DatasetLayoutError, match="classInd.txt"):
        load_ucf101(ucf101_root / "UCF-101" / "Archery")
    with pytest.raises(DatasetLayoutError, match="trainlist03.txt"):
        load_ucf101(ucf101_root, split=3)
    with pytest.raises(DatasetLayoutError, match="split must be 1, 2 or 3"):
        load_ucf101(ucf101_root, split=4)
    (ucf101_root / "ucfTrainTestlist/trainlist01.txt").write_text("Unknown/v_x.avi 9\n")
    with pytest.raises(TikTokActionsError, match=r"trainlist01\.txt, line 1"):
        load_ucf101(ucf101_root, split=1)


# ---------------------------------------------------------------------------------------------- HMDB51


@pytest.fixture
def hmdb51_root(tmp_path: Path) -> Path:
    """HMDB51: hmdb51_org/<class>/*.avi next to testTrainMulti_7030_splits/<class>_test_splitN.txt."""
    splits = tmp_path / "testTrainMulti_7030_splits"
    splits.mkdir()
    videos = tmp_path / "hmdb51_org"
    lines = {
        "brush_hair": [
            ("April_09_brush_hair_u_nm_np1_ba_goo_0.avi", 1),
            ("Brushing_Hair_h_nm_np2_le_goo_1.avi", 2),
            ("unused_brush_hair_0.avi", 0),
        ],
        "clap": [
            ("clap_a_f_nm_np1_fr_med_0.avi", 1),
            ("clap_b_f_nm_np1_fr_med_1.avi", 1),
            ("clap_c_u_nm_np1_fr_med_2.avi", 2),
        ],  # fmt: skip
        # "kick_ball_test_split1.txt" sorts before "kick_test_split1.txt", the class names the other way
        "kick": [("kick_x_f_cm_np1_ri_med_0.avi", 1)],
        "kick_ball": [("kick_ball_y_f_cm_np1_ba_med_0.avi", 1)],
    }
    for name, entries in lines.items():
        for split in (1, 2, 3):
            flags = entries if split == 1 else [(video, 3 - flag if flag else 0) for video, flag in entries]
            # the official files end every line with a space
            (splits / f"{name}_test_split{split}.txt").write_text("".join(f"{v} {f} \n" for v, f in flags))
        for video, _ in entries:
            touch(videos / name / video)
    return tmp_path


def test_hmdb51_flags_choose_the_split(hmdb51_root: Path) -> None:
    data = load_hmdb51(hmdb51_root / "hmdb51_org", split=1)
    assert class_names(data) == ["brush_hair", "clap", "kick", "kick_ball"]
    assert data["train"].num_rows == 5 and data["test"].num_rows == 2  # flag 0 is left out
    assert labels_as_names(data["train"]) == ["brush_hair", "clap", "clap", "kick", "kick_ball"]
    for row in data["train"]:
        assert Path(row["video"]).parent.name == data["train"].features["label"].int2str(row["label"])
    assert data["test"][0]["video"] == str(hmdb51_root / "hmdb51_org/brush_hair/Brushing_Hair_h_nm_np2_le_goo_1.avi")
    assert all("unused" not in video for split in data.values() for video in split["video"])

    data2 = load_hmdb51(hmdb51_root / "hmdb51_org", split=2)
    assert data2["train"].num_rows == 2 and data2["test"].num_rows == 5


def test_hmdb51_missing_and_errors(hmdb51_root: Path, tmp_path: Path) -> None:
    (hmdb51_root / "hmdb51_org/clap/clap_b_f_nm_np1_fr_med_1.avi").unlink()
    assert load_hmdb51(hmdb51_root / "hmdb51_org", split=1, missing="drop")["train"].num_rows == 4
    with pytest.raises(DatasetLayoutError, match="clap_b_f_nm_np1_fr_med_1.avi"):
        load_hmdb51(hmdb51_root / "hmdb51_org", split=1, missing="error")
    with pytest.raises(DatasetLayoutError, match=r"none of the 7 listed video files exist under .*elsewhere"):
        (hmdb51_root / "elsewhere").mkdir()
        load_hmdb51(hmdb51_root / "elsewhere", split=1, splits_dir=hmdb51_root / "testTrainMulti_7030_splits")
    with pytest.raises(DatasetLayoutError, match=r"_test_split1\.txt"):
        load_hmdb51(hmdb51_root / "hmdb51_org" / "clap", split=1)
    (hmdb51_root / "testTrainMulti_7030_splits/clap_test_split1.txt").write_text("clap_a.avi train\n")
    with pytest.raises(DatasetLayoutError, match=r"clap_test_split1\.txt, line 1"):
        load_hmdb51(hmdb51_root / "hmdb51_org", split=1)


# ---------------------------------------------------------------------------------------------- Kinetics


def test_kinetics_reads_official_csvs(tmp_path: Path) -> None:
    csv_dir = tmp_path / "kinetics400"
    csv_dir.mkdir()
    (csv_dir / "train.csv").write_text(
        "label,youtube_id,time_start,time_end,split,is_cc\n"
        "abseiling,---QUuC4vJs,3,13,train,0\n"
        '"air drumming",--nQbRBEz2s,104,114,train,0\n'
        "abseiling,-0BgYjlfxJk,30,40,train,0\n"
    )
    (csv_dir / "validate.csv").write_text(
        'label,youtube_id,time_start,time_end,split,is_cc\n"air drumming",-1a2b3c4d5e,0,10,val,0\n'
    )
    # the first release's test.csv has no label column
    (csv_dir / "test.csv").write_text("youtube_id,time_start,time_end,split\nzzzzzzzzzzz,12,22,test\n")
    videos = tmp_path / "k400"
    touch(videos / "train" / "abseiling" / "---QUuC4vJs_000003_000013.mp4")
    touch(videos / "train" / "air_drumming" / "--nQbRBEz2s_000104_000114.mp4")
    touch(videos / "val" / "-1a2b3c4d5e_000000_000010.mkv")
    touch(videos / "test" / "zzzzzzzzzzz_000012_000022.mp4")

    data = load_kinetics(csv_dir, videos)
    assert list(data) == ["train", "validation", "test"]
    assert class_names(data) == ["abseiling", "air drumming"]
    assert labels_as_names(data["train"]) == ["abseiling", "air drumming", "abseiling"]
    assert data["validation"][0]["video"] == str(videos / "val" / "-1a2b3c4d5e_000000_000010.mkv")
    assert data["train"][1]["time_start"] == 104 and data["train"][1]["time_end"] == 114
    assert data["test"]["label"] == [-1]

    # the one train video not on disk is reported under its expected name, then dropped on request
    dropped = load_kinetics(csv_dir, videos, missing="drop")
    assert dropped["train"]["video_id"] == ["---QUuC4vJs", "--nQbRBEz2s"]
    with pytest.raises(DatasetLayoutError, match=r"1 of 5 .*-0BgYjlfxJk_000030_000040"):
        load_kinetics(csv_dir, videos, missing="error")


def test_kinetics_classes_take_the_official_checkpoints_order(tmp_path: Path) -> None:
    """The official K400 heads follow the first release's order with 7 classes renamed in place (index 12 is
    "inflating balloons"): sorting a CSV of the later names moved 300 of 400 classes, and an official checkpoint
    was scored under the wrong labels without a word. A label map beside the CSVs gives the order too."""
    from hf_tiktokactions.data.readers import OFFICIAL_KINETICS400_CLASSES

    official = OFFICIAL_KINETICS400_CLASSES.read_text().splitlines()
    assert len(official) == 400 and official[12] == "inflating balloons" and official[13] == "bandaging"
    csv_dir, videos = tmp_path / "csv", tmp_path / "k400"
    csv_dir.mkdir()
    videos.mkdir()
    rows = [f'"{name}",id{i:08d},0,10,train' for i, name in enumerate(reversed(official))]
    for i in range(400):
        touch(videos / f"id{i:08d}_000000_000010.mp4")
    touch(videos / "a_000000_000010.mp4")
    touch(videos / "z_000000_000010.mp4")
    (csv_dir / "train.csv").write_text("label,youtube_id,time_start,time_end,split\n" + "\n".join(rows) + "\n")
    assert class_names(load_kinetics(csv_dir, videos, missing="warn")) == official

    (csv_dir / "train.csv").write_text(
        "label,youtube_id,time_start,time_end,split\nabseiling,a,0,10,train\nzumba,z,0,10,train\n"
    )
    assert class_names(load_kinetics(csv_dir, videos, missing="warn")) == ["abseiling", "zumba"]  # sorted
    (csv_dir / "label_map_k2.txt").write_text("zumba\nabseiling\n")
    assert class_names(load_kinetics(csv_dir, videos, missing="warn")) == ["zumba", "abseiling"]


def test_kinetics_reads_the_official_videomae_lists(tmp_path: Path, caplog) -> None:
    """VideoMAE / VideoMAE V2 ``train.csv`` / ``val.csv``: ``<path under data_root> <class index>``, no header."""
    lists, root = tmp_path / "lists", tmp_path / "data"
    lists.mkdir()
    (lists / "train.csv").write_text("k400/---QUuC4vJs.mp4 0\nk400/--nQbRBEz2s.mp4 2\n")
    (lists / "val.csv").write_text("k400/jf7RDuUTrsQ.mp4 1\n")
    for name in ("---QUuC4vJs", "--nQbRBEz2s", "jf7RDuUTrsQ"):
        touch(root / "k400" / f"{name}.mp4")
    data = load_kinetics(lists, root)
    assert list(data) == ["train", "validation"] and class_names(data) == ["0", "1", "2"]
    row = data["validation"][0]
    assert (row["video"], row["label"], row["video_id"]) == (str(root / "k400" / "jf7RDuUTrsQ.mp4"), 1, "jf7RDuUTrsQ")
    assert row["time_start"] == row["time_end"] == -1
    (lists / "label_map_k400.txt").write_text("abseiling\nair drumming\nanswering questions\n")
    assert labels_as_names(load_kinetics(lists, root)["train"]) == ["abseiling", "answering questions"]
    (lists / "label_map_k400.txt").write_text("abseiling\n")
    with pytest.raises(DatasetLayoutError, match=r"label_map_k400\.txt names 1 classes, the lists use class index 2"):
        load_kinetics(lists, root)
    (lists / "val.csv").write_text("k400/jf7RDuUTrsQ.mp4 1\nk400/JTlatknwOrY.mp4 air_drumming\n")
    with pytest.raises(DatasetLayoutError, match=r"val\.csv, line 2: expected '<video path> <class index>'"):
        load_kinetics(lists, root)


def test_kinetics_errors(tmp_path: Path) -> None:
    (tmp_path / "videos").mkdir()
    (tmp_path / "csv").mkdir()
    with pytest.raises(DatasetLayoutError, match="no .csv annotation file"):
        load_kinetics(tmp_path / "csv", tmp_path / "videos")
    with pytest.raises(DatasetLayoutError, match="Kinetics video root"):
        load_kinetics(tmp_path / "csv", tmp_path / "nope")
    (tmp_path / "csv" / "classes.csv").write_text("id,name\n0,abseiling\n")
    with pytest.raises(DatasetLayoutError, match=r"none of the CSVs .*classes\.csv"):
        load_kinetics(tmp_path / "csv", tmp_path / "videos")


# ---------------------------------------------------------------------------------------------- SSv2


def test_ssv2_class_name_drops_brackets() -> None:
    assert ssv2_class_name("Putting [something] on [something]") == "Putting something on something"
    assert ssv2_class_name("Moving [part] of [something]") == "Moving part of something"


def test_ssv2_reads_official_json(tmp_path: Path) -> None:
    labels = {"Holding something next to something": "1", "Putting something on something": "0"}
    train = [
        {
            "id": "78687",
            "label": "holding potato next to vicks vaporub bottle",
            "template": "Holding [something] next to [something]",
            "placeholders": ["potato", "vicks vaporub bottle"],
        },
        {
            "id": "42326",
            "label": "putting a cup on a table",
            "template": "Putting [something] on [something]",
            "placeholders": ["a cup", "a table"],
        },
    ]
    validation = [
        {
            "id": "74225",
            "label": "putting pen on book",
            "template": "Putting [something] on [something]",
            "placeholders": ["pen", "book"],
        }
    ]
    annotations = tmp_path / "labels"
    annotations.mkdir()
    for name, content in (("labels", labels), ("train", train), ("validation", validation), ("test", [{"id": "1420"}])):
        (annotations / f"something-something-v2-{name}.json").write_text(json.dumps(content))
    videos = tmp_path / "20bn-something-something-v2"
    for video_id in ("78687", "42326", "74225", "1420"):
        touch(videos / f"{video_id}.webm")

    data = load_ssv2(annotations, videos)
    assert list(data) == ["train", "validation", "test"]
    assert class_names(data) == ["Putting something on something", "Holding something next to something"]
    assert data["train"]["label"] == [1, 0]
    assert data["validation"][0]["video"] == str(videos / "74225.webm")
    assert data["test"]["label"] == [-1]

    train.append({"id": "5", "template": "Spinning [something]", "label": "spinning a top", "placeholders": ["a top"]})
    (annotations / "something-something-v2-train.json").write_text(json.dumps(train))
    with pytest.raises(DatasetLayoutError, match="'Spinning something' is not in"):
        load_ssv2(annotations, videos)
    (annotations / "something-something-v2-labels.json").unlink()
    with pytest.raises(DatasetLayoutError, match="something-something-v2-labels.json"):
        load_ssv2(annotations, videos)


# ---------------------------------------------------------------------------------------------- videofolder


def test_videofolder_class_layout_and_split_layout(tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    touch(flat / "wave" / "a.mp4")
    touch(flat / "wave" / "notes.txt")
    touch(flat / "clap" / "b.MP4")
    data = load_videofolder(flat)
    assert list(data) == ["train"] and class_names(data) == ["clap", "wave"]
    assert labels_as_names(data["train"]) == ["clap", "wave"]

    split = tmp_path / "split"
    touch(split / "train" / "wave" / "a.mp4")
    touch(split / "train" / "jump" / "b.mp4")
    touch(split / "val" / "wave" / "c.mp4")
    touch(split / "test" / "jump" / "d.webm")
    data = load_videofolder(split)
    assert list(data) == ["train", "validation", "test"]
    assert class_names(data) == ["jump", "wave"]
    assert labels_as_names(data["validation"]) == ["wave"] and labels_as_names(data["test"]) == ["jump"]
    assert data["test"][0]["video"] == str(split / "test" / "jump" / "d.webm")

    with pytest.raises(DatasetLayoutError, match="No video files found"):
        (tmp_path / "empty").mkdir()
        load_videofolder(tmp_path / "empty")
