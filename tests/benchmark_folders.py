"""Small look-alikes of the four benchmarks as they are released, with real videos (``"index"`` pattern, so a test
can read back which frame it got): the official annotation files' formats, tiny sizes.

* ``kinetics400(root)``: ``annotations/{train,val,test}.csv`` as the CVDF release (``label,youtube_id,time_start,
  time_end,split``; the test list is labelled too), H.264 MP4s ``videos/<split>/<youtube_id>_<start>_<end>.mp4``;
  ``kinetics400_videomae_lists(root)``: the official VideoMAE code's ``{train,val,test}.csv`` lists instead;
* ``ssv2(root)``: ``labels/something-something-v2-{labels,train,validation,test}.json``, VP9 ``videos/<id>.webm``;
* ``ucf101(root)``: ``UCF-101/<Class>/v_<Class>_gXX_cYY.avi`` (MPEG-4 Part 2 AVI) + ``ucfTrainTestlist/``;
* ``hmdb51(root)``: ``hmdb51_org/<class>/<name>.avi`` + ``testTrainMulti_7030_splits/<class>_test_split1.txt``.

Each returns a ``BenchmarkFolder`` with the ``--dataset`` / ``--data_root`` / ``--annotation_dir`` to pass and the
ids of the videos of each split.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from video_files import write_test_video

SIZE = 48  # square frames: a centre crop or a full-frame crop keeps all index stripes


@dataclass
class BenchmarkFolder:
    dataset: str
    data_root: Path
    annotation_dir: Path | None
    ids: dict[str, list[str]] = field(default_factory=dict)  # split -> video ids, in list order

    def options(self) -> dict[str, str]:
        """The data options of ``FinetuneArguments``."""
        values = {"dataset": self.dataset, "data_root": str(self.data_root)}
        if self.annotation_dir is not None:
            values["annotation_dir"] = str(self.annotation_dir)
        return values


def kinetics400(root: Path, num_frames: int = 40) -> BenchmarkFolder:
    annotations, videos = root / "annotations", root / "videos"
    annotations.mkdir(parents=True)
    rows = {
        "train": [("abseiling", "---QUuC4vJs", 3, 13), ("air drumming", "--nQbRBEz2s", 104, 114)],
        "val": [("abseiling", "-3B32lodo2M", 59, 69), ("air drumming", "-VtLx-mcPds", 0, 10)],
        "test": [("abseiling", "-4wsuPCjDBc", 5, 15), ("air drumming", "-WpcPAaq-bU", 44, 54)],
    }
    ids = {}
    for split, entries in rows.items():
        with (annotations / f"{split}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["label", "youtube_id", "time_start", "time_end", "split"])
            for label, youtube_id, start, end in entries:
                writer.writerow([label, youtube_id, start, end, split])
                write_test_video(videos / split / f"{youtube_id}_{start:06d}_{end:06d}.mp4", num_frames, SIZE, SIZE)
        ids[{"val": "validation"}.get(split, split)] = [youtube_id for _, youtube_id, *_ in entries]
    return BenchmarkFolder("kinetics400", videos, annotations, ids)


def kinetics400_videomae_lists(root: Path, num_frames: int = 40) -> BenchmarkFolder:
    """Kinetics-400 as the official VideoMAE code reads it: ``train.csv`` / ``val.csv`` / ``test.csv`` lists of
    ``<path under data_root> <class index>`` (no header), and VideoMAE V2's ``label_map_k400.txt``."""
    lists, videos = root / "lists", root / "data"
    lists.mkdir(parents=True)
    (lists / "label_map_k400.txt").write_text("abseiling\nair drumming\nanswering questions\n")
    rows = {
        "train": [("---QUuC4vJs", 0), ("--nQbRBEz2s", 2)],
        "val": [("jf7RDuUTrsQ", 1), ("JTlatknwOrY", 2)],
        "test": [("NUG7kwJ-614", 0), ("y9r115bgfNk", 1)],
    }
    for split, entries in rows.items():
        (lists / f"{split}.csv").write_text("".join(f"k400/{video_id}.mp4 {label}\n" for video_id, label in entries))
        for video_id, _ in entries:
            write_test_video(videos / "k400" / f"{video_id}.mp4", num_frames, SIZE, SIZE)
    ids = {
        {"val": "validation"}.get(split, split): [video_id for video_id, _ in entries]
        for split, entries in rows.items()
    }
    return BenchmarkFolder("kinetics400", videos, lists, ids)


def ssv2(root: Path, num_frames: int = 42) -> BenchmarkFolder:
    annotations, videos = root / "labels", root / "20bn-something-something-v2"
    annotations.mkdir(parents=True)
    templates = ["Pushing [something] from left to right", "Pushing [something] from right to left"]
    labels = {template.replace("[", "").replace("]", ""): str(i) for i, template in enumerate(templates)}
    entries = {
        "train": [("78687", 0), ("42326", 1)],
        "validation": [("74225", 1), ("116154", 0)],
    }
    files = {"labels": labels, "test": [{"id": "1420"}]}
    for split, pairs in entries.items():
        files[split] = [
            {"id": video_id, "label": "pushing a cup", "template": templates[label], "placeholders": ["a cup"]}
            for video_id, label in pairs
        ]
    for name, content in files.items():
        (annotations / f"something-something-v2-{name}.json").write_text(json.dumps(content))
    ids = {split: [video_id for video_id, _ in pairs] for split, pairs in entries.items()}
    ids["test"] = ["1420"]
    for video_id in [i for split_ids in ids.values() for i in split_ids]:
        write_test_video(videos / f"{video_id}.webm", num_frames, SIZE, SIZE, fps=12, codec="libvpx-vp9")
    return BenchmarkFolder("ssv2", videos, annotations, ids)


def ucf101(root: Path, num_frames: int = 40) -> BenchmarkFolder:
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    (lists / "classInd.txt").write_bytes(b"1 ApplyEyeMakeup\r\n2 Archery\r\n")
    train = ["ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1", "Archery/v_Archery_g08_c01.avi 2"]
    test = ["ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "Archery/v_Archery_g01_c01.avi"]
    (lists / "trainlist01.txt").write_bytes(("\r\n".join(train) + "\r\n").encode())
    (lists / "testlist01.txt").write_bytes(("\r\n".join(test) + "\r\n").encode())
    for line in train + test:
        write_test_video(root / "UCF-101" / line.split()[0], num_frames, SIZE, SIZE, fps=25, codec="mpeg4")
    ids = {"train": [Path(t.split()[0]).stem for t in train], "test": [Path(t).stem for t in test]}
    return BenchmarkFolder("ucf101", root, None, ids)


def hmdb51(root: Path, num_frames: int = 40) -> BenchmarkFolder:
    videos, splits = root / "hmdb51_org", root / "testTrainMulti_7030_splits"
    splits.mkdir(parents=True)
    flags = {  # flag 1: train, 2: test (0: unused in this split)
        "brush_hair": [
            ("April_09_brush_hair_u_nm_np1_ba_goo_0.avi", 1),
            ("Blonde_being_brushed_f_nm_np1_ri_goo_0.avi", 2),
        ],
        "cartwheel": [
            ("Acrobacias_de_un_fenomeno_cartwheel_f_cm_np1_ba_bad_8.avi", 1),
            ("cartwheel_f_cm_np1_le_med_0.avi", 2),
        ],
    }
    ids: dict[str, list[str]] = {"train": [], "test": []}
    for name, entries in flags.items():
        (splits / f"{name}_test_split1.txt").write_text("".join(f"{file} {flag} \n" for file, flag in entries))
        for file, flag in entries:
            write_test_video(videos / name / file, num_frames, SIZE, SIZE, fps=30, codec="mpeg4")
            ids["train" if flag == 1 else "test"].append(Path(file).stem)
    return BenchmarkFolder("hmdb51", videos, None, ids)


BUILDERS = {"kinetics400": kinetics400, "ssv2": ssv2, "ucf101": ucf101, "hmdb51": hmdb51}
VIDEOMAE_LISTS = {"kinetics400-lists": kinetics400_videomae_lists}  # same --dataset, the official code's list files
