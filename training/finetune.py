"""Fine-tune and test VideoMAE V2.

``python training/finetune.py --config training/configs/RECIPE.yaml [--key value ...]``

Also under ``torchrun --nproc_per_node N`` or ``accelerate launch`` (Trainer picks the processes up). The options
are ``transformers.TrainingArguments`` plus ``FinetuneArguments`` (hf_tiktokactions/training/arguments.py);
``--help`` lists them all. Results: OUTPUT_DIR/results.json, results.md, predictions.jsonl, confusion_matrix.png.
"""

import sys

from hf_tiktokactions.cli import run_step


def main(argv=None) -> int:
    """``hf-tiktokactions finetune`` (the same options, the same function)."""
    return run_step("finetune", argv, prog="training/finetune.py")


if __name__ == "__main__":
    sys.exit(main())
