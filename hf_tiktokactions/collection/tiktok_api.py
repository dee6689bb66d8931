"""A client for the TikTok Research API video query endpoint that survives tokens, limits and errors.

Two endpoints are used (https://developers.tiktok.com/doc/research-api-specs-query-videos):

* ``POST {api_base}/v2/oauth/token/`` with the form fields ``client_key``, ``client_secret`` and
  ``grant_type=client_credentials`` gives a client access token (valid about two hours);
* ``POST {api_base}/v2/research/video/query/?fields=...`` with a JSON body gives one page of video
  metadata: ``{"data": {"videos", "cursor", "has_more", "search_id"}, "error": {"code", ...}}``.

What the client does about failures, by error code:

* ``access_token_invalid`` (401): fetch a new token and send the request again (once);
* ``rate_limit_exceeded`` / HTTP 429, ``internal_error`` / HTTP 5xx, connection errors: wait with
  exponential backoff and jitter (``Retry-After`` wins when the server sends one), then retry;
* ``daily_quota_limit_exceeded``: raise :class:`QuotaExhausted` at once, nothing will succeed
  until the quota resets;
* anything else (``invalid_params``, ``scope_not_authorized``, ...): raise :class:`ApiError`
  naming the request, because sending it again cannot help.

The client secret and key never appear in a log line or an exception message: the only place
they are sent is the token request body, and text coming back from the server is redacted. That body
goes over TLS: a plain ``http://`` base URL is refused unless it names this machine (``localhost``,
``127.0.0.1``, ``::1``: a local test server) or the caller passes ``allow_insecure=True``
(``--allow-insecure-api-base``).
"""

from __future__ import annotations

import logging
import math
import os
import random
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from hf_tiktokactions.errors import ApiError, ConfigError, CredentialsError, QuotaExhausted
from hf_tiktokactions.redaction import one_line, redact, register_secret

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://open.tiktokapis.com"
TOKEN_PATH = "/v2/oauth/token/"
QUERY_PATH = "/v2/research/video/query/"
ENV_CLIENT_KEY = "TIKTOK_CLIENT_KEY"
ENV_CLIENT_SECRET = "TIKTOK_CLIENT_SECRET"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")

MAX_COUNT = 100
"""The largest page the query endpoint serves."""

VIDEO_FIELDS = (
    "id", "create_time", "username", "region_code", "video_description", "music_id",
    "like_count", "comment_count", "share_count", "view_count", "effect_ids", "hashtag_names",
    "playlist_id", "voice_to_text", "is_stem_verified", "favorites_count", "video_duration",
    "hashtag_info_list", "sticker_info_list", "effect_info_list", "video_mention_list",
    "video_label", "video_tag",
)  # fmt: skip
"""Every field of the Research API video object."""

DEFAULT_FIELDS = (
    "id", "create_time", "username", "region_code", "video_description", "hashtag_names",
    "video_duration", "view_count", "like_count",
)  # fmt: skip
"""What the collection asks for unless told otherwise (``username`` + ``id`` give the video URL)."""

_TOKEN_CHARACTERS = re.compile(r"[\x21-\x7e]+")  # printable ASCII without spaces: what a header value may hold
_CURSOR = re.compile(r"[0-9]{1,20}")
_RETRYABLE_CODES = {"rate_limit_exceeded", "internal_error"}
_QUOTA_CODES = {"daily_quota_limit_exceeded", "quota_exceeded"}
_HINTS = {
    "invalid_params": "check --fields, the dates and the hashtag",
    "scope_not_authorized": (
        "the research client lacks the research.data.basic scope; check the project on developers.tiktok.com"
    ),
    "access_token_invalid": "a freshly fetched token was rejected too; check the research project's status",
    "scope_permission_missed": (
        "the research client lacks a scope a requested field needs; drop that field or ask TikTok for it"
    ),
}


@dataclass(frozen=True)
class Credentials:
    """A research client's key and secret. ``repr`` shows neither."""

    client_key: str = field(repr=False)
    client_secret: str = field(repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credentials:
        """Read ``TIKTOK_CLIENT_KEY`` / ``TIKTOK_CLIENT_SECRET``; a clear error names what is missing."""
        environ = os.environ if environ is None else environ
        missing = [name for name in (ENV_CLIENT_KEY, ENV_CLIENT_SECRET) if not environ.get(name, "").strip()]
        if missing:
            raise CredentialsError(
                f"missing {' and '.join(missing)}: export the client key and secret of your TikTok "
                "research project (developers.tiktok.com > Research projects) as environment variables"
            )
        return cls(environ[ENV_CLIENT_KEY].strip(), environ[ENV_CLIENT_SECRET].strip())

    def redact(self, text: str, *extra: str | None) -> str:
        """Remove the key, the secret, ``extra`` ones (access tokens) and every other known secret from ``text``,
        also URL-encoded (server messages may echo what they were sent, a form body encoded); the result is one
        printable line (:func:`~hf_tiktokactions.redaction.one_line`), as it is quoted in log lines and errors."""
        return one_line(redact(text, self.client_secret, self.client_key, *extra))


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt ``n`` waits ``U(0.5, 1) * min(max, base * 2**n)``."""

    max_attempts: int = 8
    base_delay_s: float = 2.0
    max_delay_s: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ConfigError(
                "retries: --max-retries (attempts per request) must be at least 1 and the backoff delays not "
                f"negative (got "
                f"{self.max_attempts}, {self.base_delay_s:g} s, {self.max_delay_s:g} s)"
            )

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The wait before retry number ``attempt`` (0-based)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2**attempt))
        return ceiling * rng.uniform(0.5, 1.0)


@dataclass(frozen=True)
class VideoPage:
    """One page of the query endpoint. ``videos`` may hold fewer than ``max_count`` entries."""

    videos: list[dict[str, Any]]
    cursor: int
    has_more: bool
    search_id: str


class _Retry(Exception):
    """Internal: the response was a transient failure; ``reason`` says which."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def check_api_base(api_base: str, allow_insecure: bool = False) -> None:
    """Refuse a plain ``http://`` base URL to another machine: the token request would send the secret in clear."""
    url = urllib.parse.urlsplit(api_base)
    if url.scheme.lower() == "http" and (url.hostname or "").lower() not in LOOPBACK_HOSTS and not allow_insecure:
        raise ConfigError(
            f"--api-base {api_base!r} is plain http to another machine: the client secret would travel unencrypted. "
            "Use https://, or pass --allow-insecure-api-base if this network is trusted"
        )


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


class ResearchApiClient:
    """Query the Research API for videos; tokens, retries and errors are handled here.

    ``sleep``, ``clock`` and ``rng`` are injectable so tests run fast and deterministic.
    ``requests_sent`` counts query requests that reached the server (what the daily quota counts).
    """

    def __init__(
        self,
        credentials: Credentials,
        api_base: str = DEFAULT_API_BASE,
        retry: RetryPolicy = RetryPolicy(),
        timeout_s: float = 60.0,
        refresh_margin_s: float = 300.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        allow_insecure: bool = False,
    ) -> None:
        check_api_base(api_base, allow_insecure)
        self.credentials = credentials
        self.api_base = api_base.rstrip("/")
        self.retry = retry
        self.timeout_s = timeout_s
        self.refresh_margin_s = refresh_margin_s
        self.session = session or requests.Session()
        self.sleep = sleep
        self.clock = clock
        self.rng = rng or random.Random()
        self.requests_sent = 0
        self.tokens_fetched = 0
        self._token: str | None = None
        self._tokens_fetched: list[str] = []  # kept out of every message, also once replaced
        self._token_expires_at = 0.0

    # -- tokens -----------------------------------------------------------------------------

    def _token_is_fresh(self) -> bool:
        return self._token is not None and self.clock() < self._token_expires_at

    def _redact(self, text: str) -> str:
        """``text`` (from the server) without the key, the secret or any access token this client fetched."""
        return self.credentials.redact(text, *self._tokens_fetched)

    def access_token(self) -> str:
        """A valid client access token, fetched again shortly before the old one expires."""
        if not self._token_is_fresh():
            self._fetch_token()
        assert self._token is not None
        return self._token

    def _fetch_token(self) -> None:
        url = self.api_base + TOKEN_PATH
        form = {
            "client_key": self.credentials.client_key,
            "client_secret": self.credentials.client_secret,
            "grant_type": "client_credentials",
        }

        def send() -> dict[str, Any]:
            response = self.session.post(
                url,
                data=form,
                headers={"Content-Type": "application/x-www-form-urlencoded", "Cache-Control": "no-cache"},
                timeout=self.timeout_s,
                allow_redirects=False,  # a 307 / 308 would carry the client secret to wherever it points
            )
            payload = _json(response)
            if response.status_code == 429 or response.status_code >= 500:
                raise _Retry(f"HTTP {response.status_code} from the token endpoint", _retry_after(response))
            if response.status_code == 200 and payload.get("access_token"):
                return payload
            error = payload.get("error")
            if isinstance(error, dict):  # v2 error struct
                code, description = str(error.get("code", "")), str(error.get("message", ""))
            else:  # OAuth error struct
                code, description = (
                    str(error or f"http_{response.status_code}"),
                    str(payload.get("error_description", "")),
                )
            code, description = self._redact(code), self._redact(description)
            raise CredentialsError(
                f"TikTok refused a client access token at {url} ({code}: "
                f"{description or 'no description'}); check {ENV_CLIENT_KEY} and "
                f"{ENV_CLIENT_SECRET} against your research project"
            )

        payload = self._with_backoff(f"POST {url}", send)
        token, lifetime = str(payload["access_token"]), payload.get("expires_in") or 7200
        # A token goes into a header: a server's token with a line break made requests refuse the header and quote
        # it (escaped, so redaction missed it) in the error line, state.json and collect.log.
        if not _TOKEN_CHARACTERS.fullmatch(token):
            raise CredentialsError(
                f"the token endpoint {url} answered with an access token that is not a printable string (not "
                "shown); check --api-base"
            )
        try:
            lifetime = float(lifetime)
        except (TypeError, ValueError):
            lifetime = math.nan
        if not 0 < lifetime < math.inf:
            raise CredentialsError(f"the token endpoint {url} answered with an expires_in that is no positive number")
        # Refresh early: the margin, but never more than a tenth of the lifetime (short test tokens).
        margin = min(self.refresh_margin_s, lifetime * 0.1)
        self._token = token
        self._tokens_fetched.append(self._token)
        register_secret(self._token)
        self._token_expires_at = self.clock() + lifetime - margin
        self.tokens_fetched += 1
        logger.info("fetched a client access token (valid %.0f s)", lifetime)

    # -- retries ----------------------------------------------------------------------------

    def _with_backoff(self, describe: str, send: Callable[[], Any]) -> Any:
        """Call ``send`` until it returns, backing off on :class:`_Retry` and connection errors."""
        attempt = 0
        while True:
            try:
                return send()
            except _Retry as transient:
                reason, retry_after = transient.reason, transient.retry_after
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                reason, retry_after = f"{type(exc).__name__} (no response, or one cut off)", None
            except requests.RequestException as exc:  # a malformed URL: retrying cannot help
                raise ConfigError(
                    f"{describe}: cannot send the request ({exc}); check --api-base {self.api_base!r}"
                ) from None
            attempt += 1
            if attempt >= self.retry.max_attempts:
                raise ApiError(
                    f"{describe}: still failing after {attempt} attempts (last: {reason}); "
                    "the service may be down, rerun the same command later to resume",
                    code="retries_exhausted",
                )
            delay = self.retry.delay(attempt - 1, self.rng)
            if retry_after is not None:  # the server's own wait is kept, even beyond --backoff-max
                delay = max(delay, retry_after)
            logger.warning(
                "%s: %s; retry %d/%d in %.2f s", describe, reason, attempt, self.retry.max_attempts - 1, delay
            )
            self.sleep(delay)

    # -- queries ----------------------------------------------------------------------------

    def query_videos(
        self,
        hashtag: str,
        start_date: str,
        end_date: str,
        fields: tuple[str, ...] = DEFAULT_FIELDS,
        cursor: int | None = None,
        search_id: str | None = None,
        max_count: int = MAX_COUNT,
    ) -> VideoPage:
        """One page of videos carrying ``hashtag`` created between two ``YYYYMMDD`` dates (UTC).

        Pass the ``cursor`` and ``search_id`` of the previous page to get the next one.
        """
        query = {"and": [{"operation": "EQ", "field_name": "hashtag_name", "field_values": [hashtag]}]}
        return self.query_where(
            query, f"hashtag #{hashtag}", start_date, end_date, fields, cursor, search_id, max_count
        )

    def query_video_ids(
        self,
        video_ids: list[str],
        start_date: str,
        end_date: str,
        fields: tuple[str, ...] = ("id",),
        cursor: int | None = None,
        search_id: str | None = None,
        max_count: int = MAX_COUNT,
    ) -> VideoPage:
        """One page of those ``video_ids`` (created between the two dates) that are still available.

        Deleted and private videos are simply not returned, which is how a refresh finds them.
        """
        query = {"and": [{"operation": "IN", "field_name": "video_id", "field_values": [str(i) for i in video_ids]}]}
        return self.query_where(
            query, f"{len(video_ids)} video ids", start_date, end_date, fields, cursor, search_id, max_count
        )

    def query_where(
        self,
        query: dict[str, Any],
        what: str,
        start_date: str,
        end_date: str,
        fields: tuple[str, ...] = DEFAULT_FIELDS,
        cursor: int | None = None,
        search_id: str | None = None,
        max_count: int = MAX_COUNT,
    ) -> VideoPage:
        """One page of the videos matching ``query`` (the API's and/or/not conditions); ``what`` names it in errors."""
        if not 1 <= max_count <= MAX_COUNT:
            raise ValueError(f"max_count must be in 1..{MAX_COUNT}, got {max_count}")
        body: dict[str, Any] = {"query": query, "start_date": start_date, "end_date": end_date, "max_count": max_count}
        if cursor is not None:
            body["cursor"] = cursor
        if search_id:
            body["search_id"] = search_id
        url = self.api_base + QUERY_PATH
        describe = (
            f"POST {url} ({what}, {start_date}-{end_date}, cursor {cursor or 0}"
            + (f", search_id {one_line(str(search_id))}" if search_id else "")  # the server's text
            + ")"
        )
        refreshed = False

        def send() -> dict[str, Any]:
            nonlocal refreshed
            while True:
                token = self.access_token()
                response = self.session.post(
                    url,
                    params={"fields": ",".join(fields)},
                    json=body,
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                    timeout=self.timeout_s,
                    allow_redirects=False,  # nor the access token
                )
                self.requests_sent += 1
                payload = _json(response)
                error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
                code = str(error.get("code", "")) or (
                    "ok" if response.status_code == 200 else f"http_{response.status_code}"
                )
                if code == "access_token_invalid" and not refreshed:
                    # Expired or revoked early (clock skew, rotation): fetch a new token, send again.
                    logger.info("%s: access token rejected, fetching a new one", describe)
                    refreshed = True
                    self._token = None
                    continue
                break
            message = self._redact(str(error.get("message", "")))
            log_id = self._redact(str(error.get("log_id", "")))
            shown_code = self._redact(code)  # the code decides what happens; only its text is redacted
            if response.status_code == 200 and code == "ok" and isinstance(payload.get("data"), dict):
                return payload["data"]
            if response.status_code == 200 and not payload:  # not the API's JSON: a proxy's page, a cut-off body
                raise _Retry("HTTP 200 whose body is not the API's JSON")
            if code in _QUOTA_CODES:
                raise QuotaExhausted(
                    f"{describe}: the daily quota is exhausted ({code}: {message})", code=code, log_id=log_id
                )
            if code in _RETRYABLE_CODES or response.status_code == 429 or response.status_code >= 500:
                raise _Retry(f"{shown_code} (HTTP {response.status_code})", _retry_after(response))
            hint = _HINTS.get(code, "")
            raise ApiError(
                f"{describe} failed with HTTP {response.status_code} {shown_code}: {message or 'no message'}"
                + (f" [log_id {log_id}]" if log_id else "")
                + (f"; {hint}" if hint else ""),
                code=code,
                log_id=log_id,
            )

        return self._page(self._with_backoff(describe, send), describe)

    def _page(self, data: dict[str, Any], describe: str) -> VideoPage:
        """A page from the ``data`` of an answer, or :class:`ApiError` when it is not in the API's format (a
        cursor that is no number, videos that are no list of objects ended the collection in a traceback)."""
        videos, cursor, search_id = data.get("videos") or [], data.get("cursor") or 0, data.get("search_id") or ""
        problem = None
        if not isinstance(videos, list) or not all(isinstance(video, dict) for video in videos):
            problem = "'videos' is not a list of video objects"
        elif isinstance(cursor, bool) or not isinstance(cursor, (int, str)) or not _CURSOR.fullmatch(str(cursor)):
            problem = "'cursor' is not a number"
        elif not isinstance(search_id, (str, int)):
            problem = "'search_id' is not a string"
        if problem is not None:
            raise ApiError(
                f"{self._redact(describe)}: the answer is not in the Research API's format ({problem}); nothing "
                "of this page was kept. Rerun the same command to resume; if it persists, check --api-base",
                code="malformed_response",
            )
        return VideoPage(
            videos=list(videos), cursor=int(cursor), has_more=bool(data.get("has_more")), search_id=str(search_id)
        )
