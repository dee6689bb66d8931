"""Keep secrets out of what the package prints, logs and writes: ``redact(text)`` replaces every known secret.

Known secrets: the values of ``SECRET_ENVIRONMENT`` (the Hub token, the TikTok research client's key and secret),
the Hub token ``hf auth login`` stored, and what a running process registers (``register_secret``: the TikTok
access tokens it fetched). Servers echo requests in their errors, sometimes URL-encoded (a form body), so each
secret is also replaced in its ``quote`` / ``quote_plus`` spellings (other encodings, base64 or JSON escapes,
are not looked for). Values shorter than 8 characters are never secrets here: placeholders like ``test`` would
otherwise blank out words.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote, quote_plus

__all__ = ["SECRET_ENVIRONMENT", "register_secret", "known_secrets", "one_line", "redact"]

SECRET_ENVIRONMENT = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET")
REDACTED = "***"
_SHORTEST = 8  # shorter values (placeholders such as HF_TOKEN=test in CI) would blank out ordinary words

_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """Redact ``value`` from now on in this process (e.g. an access token just fetched)."""
    if value and len(value) >= _SHORTEST:
        _registered.add(value)


def _stored_hub_tokens() -> set[str]:
    """The Hub token in use and the one ``hf auth login`` stored (``get_token`` prefers ``HF_TOKEN``)."""
    try:
        from huggingface_hub import constants, get_token
    except ImportError:
        return set()
    tokens = set()
    try:
        tokens.add(get_token() or "")
        tokens.add(Path(constants.HF_TOKEN_PATH).read_text().strip())
    except (OSError, ValueError):  # no token file, or an unreadable one: nothing to redact from it
        pass
    return tokens


def known_secrets(*extra: str | None) -> list[str]:
    """Every secret to keep out of a text, longest first (a secret inside another goes after it)."""
    values = {os.environ.get(name, "").strip() for name in SECRET_ENVIRONMENT}
    values |= _registered | _stored_hub_tokens() | {value for value in extra if value}
    return sorted((value for value in values if len(value) >= _SHORTEST), key=len, reverse=True)


def redact(text: str, *extra: str | None) -> str:
    """``text`` with every known secret (and ``extra`` ones) replaced by ``***``, also URL-encoded ones."""
    for secret in known_secrets(*extra):
        for spelling in {secret, quote_plus(secret), quote(secret, safe="")}:
            text = text.replace(spelling, REDACTED)
    return text


def one_line(text: str) -> str:
    """``text`` with every unprintable character (line breaks, ANSI escapes, other control and format characters)
    written as its Python escape: a server's text quoted in a log line can neither end that line and forge the next
    one nor drive the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
