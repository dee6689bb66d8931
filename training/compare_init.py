"""Fine-tune from our index's pre-training vs the target set's own pre-training vs scratch, at equal fine-tuning budget
(the paper's figure 4).

On the embedded synthetic set, on CPU (a few minutes):
    python training/compare_init.py --embedded true --output_dir runs/compare-init
At full scale:
    python training/compare_init.py --pretrain_data INDEX \
        --pretrain_config training/configs/pretrain_vit_b_tiktok.yaml \
        --finetune_config training/configs/finetune_vit_b_ucf101.yaml \
        --finetune_args "--data_root UCF101" --output_dir runs/fig4

Outputs: OUTPUT_DIR/compare_init.json, .md and .png; every run's own folder with its results.json.
"""

import sys

from hf_tiktokactions.cli import run_step


def main(argv=None) -> int:
    """``hf-tiktokactions compare-init`` (the same options, the same function)."""
    return run_step("compare-init", argv, prog="training/compare_init.py")


if __name__ == "__main__":
    sys.exit(main())
