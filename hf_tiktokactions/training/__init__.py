"""The training layer: pre-training (Accelerate), fine-tuning (Trainer), evaluation, metrics and the experiment
drivers. See docs/ARCHITECTURE.md for the layers."""
