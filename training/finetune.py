"""Fine-tune and test VideoMAE V2: ``python training/finetune.py --config training/configs/RECIPE.yaml [--key value ...]``.

Also under ``torchrun --nproc_per_node N`` or ``accelerate launch`` (Trainer picks the processes up). The options
are ``transformers.TrainingArguments`` plus ``FinetuneArguments`` (hf_tiktokactions/training/arguments.py);
``--help`` lists them all. Results: OUTPUT_DIR/results.json, results.md, predictions.jsonl, confusion_matrix.png.
"""

import sys

from hf_tiktokactions.cli_errors import run_cli
from hf_tiktokactions.training.arguments import FinetuneArguments, parse_with_config


def main(argv=None) -> int:
    from transformers import TrainingArguments

    from hf_tiktokactions.training.finetuning import finetune

    args, training_args = parse_with_config((FinetuneArguments, TrainingArguments), argv, prog="training/finetune.py")
    finetune(args, training_args)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
