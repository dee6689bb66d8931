"""The exceptions a Hub call raises when the Hub cannot be reached.

huggingface_hub's own errors (``HfHubHTTPError``, ``OfflineModeIsEnabled``) are ``OSError``, and so were the
connection errors of the ``requests`` client its older releases use; the transport errors of the ``httpx`` /
``httpx2`` client of newer releases (connection refused, DNS failure, timeout) are not.
"""

from __future__ import annotations

import importlib

__all__ = ["hub_unreachable_errors"]


def hub_unreachable_errors() -> tuple[type[BaseException], ...]:
    """``OSError`` and the installed HTTP clients' transport errors: catch these around a Hub call."""
    errors: list[type[BaseException]] = [OSError]
    for client in ("httpx2", "httpx"):
        try:
            errors.append(importlib.import_module(client).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(errors)
