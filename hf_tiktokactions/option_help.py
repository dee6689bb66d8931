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


class RetiredName(argparse.Action):
    """An old option name that is refused, naming the option to use: the name means another thing on other commands
    (one name, one meaning), so it cannot stay an alias. Hidden from ``--help``; it takes the value the old option
    took, so the error is about the name, not about a stray value."""

    def __init__(self, option_strings: list[str], dest: str, use: str, why: str, **kwargs) -> None:
        hidden = argparse.SUPPRESS
        super().__init__(option_strings, hidden, nargs="?", default=hidden, help=hidden)
        self.use, self.why = use, why

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        parser.error(f"{option_string} is no longer an option here: use {self.use} ({option_string} {self.why})")


def retire(parser: argparse.ArgumentParser, old_name: str, use: str, why: str) -> None:
    """Refuse ``old_name`` on ``parser`` with ``use`` (the option's name now) and ``why`` (what ``old_name`` means
    on the other commands), e.g. ``retire(parser, "--preset", "--x264-preset", "is a model size elsewhere")``."""
    parser.add_argument(old_name, action=RetiredName, use=use, why=why)


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
