"""How every command line reads: ``--help`` of the steps (the data steps' parser and the training steps' recipe
parser) and the one flag style of the parsers without an options dataclass (module entry points, scripts)."""

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


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose long options are accepted in both spellings, ``--num-frames`` and
    ``--num_frames``, as every step's options are (``HfArgumentParser`` registers both for a dataclass field)."""

    def add_argument(self, *names: str, **kwargs) -> argparse.Action:
        spellings = list(names)
        for name in names:
            if name.startswith("--"):
                for other in (name.replace("_", "-"), "--" + name[2:].replace("-", "_")):
                    if other not in spellings:
                        spellings.append(other)
        return super().add_argument(*spellings, **kwargs)


def description_of(options_class: type) -> str | None:
    """The docstring of an options dataclass, for ``--help`` (``None`` for the signature dataclasses put there)."""
    doc = options_class.__doc__
    return None if not doc or doc.startswith(f"{options_class.__name__}(") else doc
