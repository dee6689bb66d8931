"""Pre-train VideoMAE V2: ``accelerate launch training/pretrain.py --config training/configs/RECIPE.yaml [--key value ...]``.

On a machine without a GPU, two CPU processes: ``accelerate launch --multi_gpu --num_processes 2 training/pretrain.py ...``
(``--cpu --num_processes 2`` starts only one). ``--help`` lists every option.
"""

import sys

from hf_tiktokactions.cli_errors import run_cli
from hf_tiktokactions.training.arguments import PretrainArguments, parse_with_config


def main(argv=None) -> int:
    from hf_tiktokactions.training.pretraining import pretrain

    pretrain(parse_with_config(PretrainArguments, argv, prog="training/pretrain.py"))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
