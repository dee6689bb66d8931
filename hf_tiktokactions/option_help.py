"""How every step's ``--help`` reads (shared by the data steps' parser and the training steps' recipe parser)."""

from __future__ import annotations

import argparse


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` of every step: ``(default: ...)`` after each option, unless its help already says what the default
    is (``(default: the recipe's)``: the ``None`` behind it would only contradict that)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "(default" in text or "default:" in text or "; default " in text:
            return text
        return super()._get_help_string(action)


def description_of(options_class: type) -> str | None:
    """The docstring of an options dataclass, for ``--help`` (``None`` for the signature dataclasses put there)."""
    doc = options_class.__doc__
    return None if not doc or doc.startswith(f"{options_class.__name__}(") else doc
