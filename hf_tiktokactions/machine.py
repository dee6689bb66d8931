"""This machine in words, for the records runs write (fine-tuning's ``hardware``, the reference encoder's
``machine``) and the benchmarks' JSON lines: one description, so two records of one machine read alike."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``, e.g. "AMD EPYC 7B13"), else what ``platform`` knows ("x86_64")."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description() -> str:
    """The CPU model, its cores, torch's version, and the GPU when one is present: "AMD EPYC 7B13, 2 cores, torch
    2.14.1"."""
    import torch

    gpu = f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return f"{cpu_model()}, {os.cpu_count()} cores{gpu}, torch {torch.__version__}"
