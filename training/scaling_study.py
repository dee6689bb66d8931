"""Pre-train on N videos of the index for each N and seed, fine-tune, report top-1/top-5 mean +- std
(the paper's figure 3).

On the embedded synthetic set, on CPU:
    python training/scaling_study.py --embedded true --sizes 21,42,84 --output_dir runs/scaling
At full scale:
    python training/scaling_study.py --pretrain_data INDEX --sizes 1000,2000,3000,4000,5000,6000 \
        --pretrain_config training/configs/pretrain_vit_b_tiktok.yaml \
        --finetune_config training/configs/finetune_vit_b_ucf101.yaml \
        --finetune_args "--data_root UCF101" --output_dir runs/fig3

Outputs: OUTPUT_DIR/scaling_study.json, .md and .png; every run's own folder with its results.json.
"""

import sys

from hf_tiktokactions.cli import run_step


def main(argv=None) -> int:
    """``hf-tiktokactions scaling-study`` (the same options, the same function)."""
    return run_step("scaling-study", argv, prog="training/scaling_study.py")


if __name__ == "__main__":
    sys.exit(main())
