"""Curate videos into clips and a private `datasets` video index (scenes, 3.5-10 s clips, person filter).

    pip install 'hf-tiktokactions[curation]'            # PySceneDetect, ultralytics (AGPL-3.0)
    python dataset_scripts/curate.py --videos data/tiktok_videos --output-dir data/curated \
        --detector /models/yolov8n.pt --workers 8
    python dataset_scripts/curate.py --videos my_videos/ --output-dir curated --detector none

--videos is a folder of videos, a text file with one path a line, or the download step's folder
(or its manifest.jsonl). Writes DIR/clips/<id>.mp4, DIR/metadata/<id>.json, DIR/index (a datasets
dataset, one row a video), DIR/review_list.txt and DIR/curation_summary.json. Killed runs resume:
rerun the same command. The clip rule and the stages: hf_tiktokactions/curation/pipeline.py.
"""

import sys

from hf_tiktokactions.cli import run_step


def main(argv: list[str] | None = None) -> int:
    """``hf-tiktokactions curate``: the options are those of ``hf_tiktokactions.steps``' options class."""
    return run_step("curate", argv, prog="dataset_scripts/curate.py")


if __name__ == "__main__":
    sys.exit(main())
