"""``python -m hf_tiktokactions``: the same as the ``hf-tiktokactions`` command."""

from .cli import entry_point

entry_point()
