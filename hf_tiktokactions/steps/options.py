"""How a step's options dataclass becomes its command line: one style for every step.

An option is named after its dataclass field and accepted in both spellings, ``--output_dir`` and
``--output-dir`` (``transformers.HfArgumentParser`` registers both); a renamed option keeps its old name as an
alias (field metadata ``aliases``, marked "old name" in ``--help``), unless another command gives that name another
meaning: then it is retired (field metadata ``retired``: old name -> its meaning elsewhere) and refused with the
option's name now, as one name means one thing on every command. A field whose metadata has
``positional=True`` is a positional argument (``hf-tiktokactions blur-faces IN OUT``).
"""

from __future__ import annotations

import copy
import dataclasses
from types import MappingProxyType
from typing import Any

from transformers import HfArgumentParser

from ..errors import ConfigError
from ..option_help import HelpFormatter, retire


def option(
    help: str,
    default: Any = dataclasses.MISSING,
    *,
    old_names: tuple[str, ...] = (),
    retired: dict[str, str] | None = None,
    **metadata: Any,
) -> Any:
    """A dataclass field with its ``--help`` text; ``old_names`` (e.g. ``("--output",)``) stay accepted, in both
    spellings; ``retired`` old names (e.g. ``{"--preset": "is a model size elsewhere"}``) are refused by name."""
    if old_names:
        metadata["aliases"] = spellings(old_names)
        help = f"{help} (old name: {', '.join(old_names)})"
    if retired:
        metadata["retired"] = dict(retired)
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata={"help": help, **metadata})
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


def spellings(names: tuple[str, ...]) -> list[str]:
    """``names`` and their other spelling (``--no-progress`` and ``--no_progress``), as the field names get."""
    every = []
    for name in names:
        for spelling in (name, name.replace("_", "-"), "--" + name[2:].replace("-", "_")):
            if spelling not in every:
                every.append(spelling)
    return every


def positional(help: str, metavar: str) -> Any:
    """A required positional argument (no ``--name``), e.g. ``IN`` and ``OUT`` of ``blur-faces``."""
    return dataclasses.field(metadata={"help": help, "metavar": metavar, "positional": True})


class OptionsParser(HfArgumentParser):
    """``HfArgumentParser`` plus positional fields (metadata ``positional=True``) and retired old names (metadata
    ``retired``)."""

    @staticmethod
    def _parse_dataclass_field(parser, field: dataclasses.Field) -> None:
        if retired := field.metadata.get("retired"):
            field = copy.copy(field)
            field.metadata = MappingProxyType({k: v for k, v in field.metadata.items() if k != "retired"})
            OptionsParser._parse_dataclass_field(parser, field)
            for old_name, why in retired.items():
                retire(parser, old_name, "--" + field.name.replace("_", "-"), why)
            return
        if not field.metadata.get("positional"):
            HfArgumentParser._parse_dataclass_field(parser, field)
            return
        kwargs = {k: v for k, v in field.metadata.items() if k != "positional"}
        parser.add_argument(field.name, type=field.type, **kwargs)


def parse_options(types: type | tuple[type, ...], argv: list[str] | None, prog: str, description: str | None) -> Any:
    """Parse ``argv`` into an instance of ``types`` (or a tuple of instances when ``types`` is a tuple).

    A value a dataclass rejects in ``__post_init__`` ends in a ``ConfigError`` naming it.
    """
    classes = types if isinstance(types, tuple) else (types,)
    parser = OptionsParser(classes, prog=prog, description=description, formatter_class=HelpFormatter)
    try:
        parsed = parser.parse_args_into_dataclasses(args=argv, look_for_args_file=False)
    except ValueError as error:
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(str(error)) from error
    return tuple(parsed) if isinstance(types, tuple) else parsed[0]
