"""How every command-line tool of the project ends on a user error: one line, no traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from .errors import TikTokActionsError
from .redaction import redact

USER_ERROR_EXIT_CODE = 2


def report_error(error: TikTokActionsError) -> None:
    """``error: <message>`` on stderr, every known secret redacted (the message may quote a server's echo)."""
    print(f"error: {redact(str(error))}", file=sys.stderr)


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Run ``main(argv)``; a ``TikTokActionsError`` becomes ``error: <message>`` on stderr and exit code 2."""
    try:
        return int(main(argv) or 0)
    except TikTokActionsError as error:
        report_error(error)
        return USER_ERROR_EXIT_CODE
