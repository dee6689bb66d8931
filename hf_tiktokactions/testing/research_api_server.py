"""A local stand-in for the TikTok Research API, written from the public spec, for tests and dry runs.

It is a real HTTP server (``ThreadingHTTPServer`` on 127.0.0.1) serving

* ``POST /v2/oauth/token/`` (form: ``client_key``, ``client_secret``, ``grant_type``) and
* ``POST /v2/research/video/query/?fields=...`` (JSON body: ``query``, ``start_date``,
  ``end_date``, ``max_count``, ``cursor``, ``search_id``),

over an in-memory list of synthetic videos, with switches for what the real service does to a
long-running collector: tokens that expire, injected 429 / 5xx / non-JSON responses, a daily
request (and record) quota, withheld videos (pages shorter than ``max_count``) and slow pages.

Run it by hand for a dry run of the collection CLI::

    python -m hf_tiktokactions.testing.research_api_server --port 8123 --hashtags salsa,tango
    TIKTOK_CLIENT_KEY=test-key TIKTOK_CLIENT_SECRET=test-secret \\
        python dataset_scripts/collect_tiktok.py --api-base http://127.0.0.1:8123 ...
"""

from __future__ import annotations

import datetime as dt
import json
import random
import secrets
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from hf_tiktokactions.collection.tiktok_api import MAX_COUNT, QUERY_PATH, TOKEN_PATH, VIDEO_FIELDS
from hf_tiktokactions.option_help import ArgumentParser

MAX_WINDOW_DAYS = 30
"""The API refuses an end_date more than 30 days after start_date."""

_FILTER_FIELDS = {"hashtag_name", "username", "region_code", "keyword", "video_id"}


CUT_OFF_BODY = "cut_off_body"  # fail_next(200, CUT_OFF_BODY): a response whose body stops part-way


def make_videos(
    hashtags: list[str],
    start_date: str,
    end_date: str,
    per_hashtag: int,
    seed: int = 0,
    shared_every: int = 0,
) -> list[dict[str, Any]]:
    """Synthetic videos spread evenly over ``start_date..end_date`` (YYYYMMDD, inclusive).

    Every ``shared_every``-th video of a hashtag also carries the next hashtag, so one video can be
    found by two queries (the collector must keep it once).
    """
    rng = random.Random(seed)
    start = dt.datetime.strptime(start_date, "%Y%m%d").replace(tzinfo=dt.timezone.utc)
    end = dt.datetime.strptime(end_date, "%Y%m%d").replace(tzinfo=dt.timezone.utc) + dt.timedelta(days=1)
    span = (end - start).total_seconds()
    videos = []
    next_id = 7_000_000_000_000_000_000
    for h, tag in enumerate(hashtags):
        for i in range(per_hashtag):
            tags = [tag]
            if shared_every and i % shared_every == 0 and len(hashtags) > 1:
                tags.append(hashtags[(h + 1) % len(hashtags)])
            created = start.timestamp() + span * (i + rng.random()) / max(per_hashtag, 1)
            next_id += rng.randint(1, 10_000)
            videos.append(
                {
                    "id": next_id,
                    "create_time": int(min(created, end.timestamp() - 1)),
                    "username": f"user_{tag}_{i % 37}",
                    "region_code": rng.choice(["US", "GB", "DE", "FR", "JP", "BR"]),
                    "video_description": f"#{' #'.join(tags)} take {i}",
                    "hashtag_names": tags,
                    "video_duration": rng.randint(5, 60),
                    "view_count": rng.randint(0, 10**6),
                    "like_count": rng.randint(0, 10**5),
                }
            )
    return videos


@dataclass
class _Search:
    fingerprint: str
    matches: list[dict[str, Any]]


class FakeResearchApi(ThreadingHTTPServer):
    """The server plus its state and switches. Use as a context manager; ``url`` is its base URL.

    Switches (attributes, safe to change while it runs):

    * ``token_ttl_s`` -- lifetime reported in ``expires_in`` and enforced;
    * ``daily_request_quota`` / ``daily_record_quota`` -- query requests / videos served before
      ``daily_quota_limit_exceeded`` (``None``: unlimited); :meth:`reset_quota` starts a new day;
    * ``withhold_every`` -- every n-th video is "deleted": it still takes a cursor slot but is not
      returned, so pages hold fewer than ``max_count`` videos;
    * ``unavailable_ids`` -- ids (strings) of videos deleted or made private since they were
      collected: withheld the same way, whatever the query;
    * ``page_delay_s`` -- time to wait before answering a query;
    * :meth:`fail_next` -- queue failures for the next query requests;
    * :meth:`expire_tokens` -- make every issued token invalid now.

    Counters: ``token_requests``, ``query_requests`` (all, including failed ones),
    ``served_pages`` and ``request_log`` (one ``(path, body)`` per request; form bodies are not kept).
    """

    daemon_threads = True

    def __init__(
        self,
        videos: list[dict[str, Any]],
        client_key: str = "test-key",
        client_secret: str = "test-secret",
        token_ttl_s: float = 7200.0,
        daily_request_quota: int | None = None,
        daily_record_quota: int | None = None,
        withhold_every: int = 0,
        page_delay_s: float = 0.0,
        port: int = 0,
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.videos = sorted(videos, key=lambda v: (v["create_time"], v["id"]))
        self._rank = {v["id"]: i for i, v in enumerate(self.videos)}
        self.client_key = client_key
        self.client_secret = client_secret
        self.token_ttl_s = token_ttl_s
        self.daily_request_quota = daily_request_quota
        self.daily_record_quota = daily_record_quota
        self.withhold_every = withhold_every
        self.page_delay_s = page_delay_s
        self.unavailable_ids: set[str] = set()
        self.lock = threading.Lock()
        self.tokens: dict[str, float] = {}
        self.searches: dict[str, _Search] = {}
        self.failures: deque[tuple[int, str, dict[str, str], str]] = deque()
        self.token_requests = 0
        self.query_requests = 0
        self.served_pages = 0
        self.requests_today = 0
        self.records_today = 0
        self.request_log: list[tuple[str, dict[str, Any]]] = []
        self._thread: threading.Thread | None = None

    # -- control ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeResearchApi:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    def fail_next(
        self,
        status: int,
        code: str = "",
        times: int = 1,
        headers: dict[str, str] | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next ``times`` query requests with HTTP ``status``, error ``code`` and ``message`` (default
        ``"injected CODE"``).

        An empty ``code`` sends a non-JSON body (as a proxy in front of the API might).
        """
        for _ in range(times):
            self.failures.append((status, code, headers or {}, f"injected {code}" if message is None else message))

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def reset_quota(self) -> None:
        with self.lock:
            self.requests_today = 0
            self.records_today = 0

    def visible_videos(self, hashtag: str, start_date: str, end_date: str) -> list[dict[str, Any]]:
        """What a complete collection of ``hashtag`` over the dates must return (withheld excluded)."""
        matches = self._match(
            {"and": [{"operation": "EQ", "field_name": "hashtag_name", "field_values": [hashtag]}]},
            start_date,
            end_date,
        )
        return [v for v in matches if not self._withheld(v)]

    # -- behaviour -------------------------------------------------------------------------

    def _withheld(self, video: dict[str, Any]) -> bool:
        if str(video["id"]) in self.unavailable_ids:
            return True
        n = self.withhold_every
        return bool(n) and self._rank[video["id"]] % n == n - 1

    def _match(self, query: dict[str, Any], start_date: str, end_date: str) -> list[dict[str, Any]]:
        start = dt.datetime.strptime(start_date, "%Y%m%d").replace(tzinfo=dt.timezone.utc).timestamp()
        end = (
            dt.datetime.strptime(end_date, "%Y%m%d").replace(tzinfo=dt.timezone.utc) + dt.timedelta(days=1)
        ).timestamp()

        def holds(video: dict[str, Any], cond: dict[str, Any]) -> bool:
            name, values = cond["field_name"], [str(v).lower() for v in cond["field_values"]]
            if name == "hashtag_name":
                return any(t.lower() in values for t in video["hashtag_names"])
            if name == "keyword":
                return any(v in video["video_description"].lower() for v in values)
            if name == "video_id":
                return str(video["id"]) in values
            return str(video.get(name, "")).lower() in values

        out = []
        for video in self.videos:
            if not start <= video["create_time"] < end:
                continue
            if not all(holds(video, c) for c in query.get("and", [])):
                continue
            if query.get("or") and not any(holds(video, c) for c in query["or"]):
                continue
            if any(holds(video, c) for c in query.get("not", [])):
                continue
            out.append(video)
        return out


class _BadRequest(Exception):
    pass


def _validate_query(query: Any) -> dict[str, Any]:
    if not isinstance(query, dict) or not any(query.get(k) for k in ("and", "or", "not")):
        raise _BadRequest("query must hold at least one non-empty 'and', 'or' or 'not' list")
    for key in ("and", "or", "not"):
        for cond in query.get(key) or []:
            if not isinstance(cond, dict) or cond.get("operation") not in {"EQ", "IN"}:
                raise _BadRequest(f"query.{key}: each condition needs operation EQ or IN")
            if cond.get("field_name") not in _FILTER_FIELDS:
                raise _BadRequest(f"query.{key}: unsupported field_name {cond.get('field_name')!r}")
            values = cond.get("field_values")
            if not isinstance(values, list) or not values:
                raise _BadRequest(f"query.{key}: field_values must be a non-empty list")
            if cond["operation"] == "EQ" and len(values) != 1:
                raise _BadRequest(f"query.{key}: EQ takes exactly one value")
    return query


def _parse_date(body: dict[str, Any], key: str) -> dt.date:
    value = body.get(key)
    try:
        return dt.datetime.strptime(str(value), "%Y%m%d").date()
    except ValueError:
        raise _BadRequest(f"{key} must be a YYYYMMDD string, got {value!r}") from None


class _Handler(BaseHTTPRequestHandler):
    server: FakeResearchApi
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, payload: dict[str, Any] | None, headers: dict[str, str] | None = None) -> None:
        body = b"<html>upstream error</html>" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if payload is None else "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self._send(
            status, {"data": {}, "error": {"code": code, "message": message, "log_id": secrets.token_hex(8)}}, headers
        )

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        url = urllib.parse.urlsplit(self.path)
        if url.path == TOKEN_PATH:
            self._token(raw)
        elif url.path == QUERY_PATH:
            self._query(raw, urllib.parse.parse_qs(url.query))
        else:
            self._error(404, "not_found", f"no endpoint {url.path}")

    def _token(self, raw: bytes) -> None:
        server = self.server
        with server.lock:
            server.token_requests += 1
            server.request_log.append((TOKEN_PATH, {}))
        if not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            self._send(
                400,
                {"error": "invalid_request", "error_description": "Content-Type must be form-encoded", "log_id": "x"},
            )
            return
        form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            self._send(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant_type must be client_credentials",
                    "log_id": "x",
                },
            )
            return
        if form.get("client_key") != server.client_key or form.get("client_secret") != server.client_secret:
            self._send(
                401,
                {"error": "invalid_client", "error_description": "Client key or secret is incorrect.", "log_id": "x"},
            )
            return
        token = "clt." + secrets.token_urlsafe(24)
        with server.lock:
            server.tokens[token] = time.monotonic() + server.token_ttl_s
        self._send(200, {"access_token": token, "expires_in": server.token_ttl_s, "token_type": "Bearer"})

    def _query(self, raw: bytes, params: dict[str, list[str]]) -> None:
        server = self.server
        with server.lock:
            server.query_requests += 1
            failure = server.failures.popleft() if server.failures else None
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        with server.lock:
            server.request_log.append((QUERY_PATH, body if isinstance(body, dict) else {}))
        if failure is not None:
            status, code, headers, message = failure
            if code == CUT_OFF_BODY:  # the connection drops while the body is sent
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b'{"data": {"videos": [')
                self.close_connection = True
                return
            if code:
                self._error(status, code, message, headers)
            else:
                self._send(status, None, headers)
            return
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        with server.lock:
            expires = server.tokens.get(token)
        if expires is None or time.monotonic() >= expires:
            self._error(401, "access_token_invalid", "The access token is invalid or not found in the request.")
            return
        with server.lock:
            over = server.daily_request_quota is not None and server.requests_today >= server.daily_request_quota
            over = over or (server.daily_record_quota is not None and server.records_today >= server.daily_record_quota)
            if not over:
                server.requests_today += 1
        if over:
            self._error(429, "daily_quota_limit_exceeded", "Daily quota limit exceeded.")
            return
        try:
            page = self._page(body, params)
        except _BadRequest as exc:
            self._error(400, "invalid_params", str(exc))
            return
        if server.page_delay_s:
            time.sleep(server.page_delay_s)
        with server.lock:
            server.records_today += len(page["videos"])
            server.served_pages += 1
        self._send(200, {"data": page, "error": {"code": "ok", "message": "", "log_id": secrets.token_hex(8)}})

    def _page(self, body: Any, params: dict[str, list[str]]) -> dict[str, Any]:
        server = self.server
        if not isinstance(body, dict):
            raise _BadRequest("the body must be a JSON object")
        fields = [f.strip() for f in (params.get("fields") or [""])[0].split(",") if f.strip()]
        if not fields:
            raise _BadRequest("fields is required")
        unknown = [f for f in fields if f not in VIDEO_FIELDS]
        if unknown:
            raise _BadRequest(f"Invalid fields: {','.join(unknown)}")
        query = _validate_query(body.get("query"))
        start, end = _parse_date(body, "start_date"), _parse_date(body, "end_date")
        if end < start:
            raise _BadRequest("end_date must not be before start_date")
        if (end - start).days > MAX_WINDOW_DAYS:
            raise _BadRequest(f"end_date must be no more than {MAX_WINDOW_DAYS} days after start_date")
        max_count = body.get("max_count", 20)
        if not isinstance(max_count, int) or not 1 <= max_count <= MAX_COUNT:
            raise _BadRequest(f"max_count must be an integer in 1..{MAX_COUNT}")
        cursor = body.get("cursor", 0)
        if not isinstance(cursor, int) or cursor < 0:
            raise _BadRequest("cursor must be a non-negative integer")
        fingerprint = json.dumps([query, body["start_date"], body["end_date"]], sort_keys=True)
        search_id = body.get("search_id")
        with server.lock:
            if search_id:
                search = server.searches.get(search_id)
                if search is None or search.fingerprint != fingerprint:
                    raise _BadRequest(f"search_id {search_id} does not belong to this query")
            else:
                search_id = secrets.token_hex(10)
                search = _Search(fingerprint, server._match(query, body["start_date"], body["end_date"]))
                server.searches[search_id] = search
        window = range(cursor, min(cursor + max_count, len(search.matches)))
        videos = [
            {k: search.matches[i][k] for k in fields if k in search.matches[i]}
            for i in window
            if not server._withheld(search.matches[i])
        ]
        next_cursor = cursor + max_count
        return {
            "videos": videos,
            "cursor": next_cursor,
            "has_more": next_cursor < len(search.matches),
            "search_id": search_id,
        }


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(
        prog="python -m hf_tiktokactions.testing.research_api_server", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--hashtags", default="salsa,tango,waltz")
    parser.add_argument("--start-date", default="20240101")
    parser.add_argument("--end-date", default="20240331")
    parser.add_argument("--per-hashtag", type=int, default=250)
    parser.add_argument("--daily-request-quota", type=int, default=None)
    args = parser.parse_args(argv)
    videos = make_videos(args.hashtags.split(","), args.start_date, args.end_date, args.per_hashtag, shared_every=10)
    with FakeResearchApi(videos, daily_request_quota=args.daily_request_quota, port=args.port) as server:
        print(f"fake Research API at {server.url} (client key 'test-key', secret 'test-secret'); Ctrl-C stops it")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
