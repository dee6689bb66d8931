"""Pre-train VideoMAE V2.

``accelerate launch training/pretrain.py --config training/configs/RECIPE.yaml [--key value ...]``

On a machine without a GPU, two CPU processes:
``accelerate launch --multi_gpu --num_processes 2 training/pretrain.py ...``
(``--cpu --num_processes 2`` starts only one). ``--help`` lists every option.
"""

import sys

from hf_tiktokactions.cli import run_step


def main(argv=None) -> int:
    """``hf-tiktokactions pretrain`` (the same options, the same function)."""
    return run_step("pretrain", argv, prog="training/pretrain.py")


if __name__ == "__main__":
    sys.exit(main())
