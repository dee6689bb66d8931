"""The Research API client and collect_tiktok.py against a real HTTP server on 127.0.0.1.

The server (hf_tiktokactions.testing.research_api_server) follows the public spec; its switches play
what the real service does to a long run: short pages, expiring tokens, 429 / 5xx, quota.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hf_tiktokactions.collection.collect import CollectionRequest, collect, date_windows, parse_fields
from hf_tiktokactions.collection.tiktok_api import Credentials, ResearchApiClient, RetryPolicy
from hf_tiktokactions.errors import ApiError, ConfigError, CredentialsError, OutputStateError
from hf_tiktokactions.testing.research_api_server import FakeResearchApi, make_videos

REPO = Path(__file__).resolve().parents[1]
CLI = REPO / "dataset_scripts" / "collect_tiktok.py"
KEY, SECRET = "key-5f1c9e-unique", "secret-8b2d7a-do-not-leak"
FAST = RetryPolicy(max_attempts=5, base_delay_s=0.001, max_delay_s=0.01)
TAGS = ["salsa", "tango", "waltz"]
START, END = "20240101", "20240330"  # 90 days: three 30-day windows


def videos(per_hashtag: int = 400) -> list[dict]:
    return make_videos(TAGS, START, END, per_hashtag, seed=1, shared_every=10)


def client_for(server: FakeResearchApi, **kwargs) -> ResearchApiClient:
    kwargs.setdefault("retry", FAST)
    return ResearchApiClient(Credentials(KEY, SECRET), api_base=server.url, **kwargs)


def server_for(vids: list[dict], **kwargs) -> FakeResearchApi:
    return FakeResearchApi(vids, client_key=KEY, client_secret=SECRET, **kwargs)


def expected_ids(server: FakeResearchApi, tags=TAGS, start=START, end=END) -> set:
    return {v["id"] for tag in tags for v in server.visible_videos(tag, start, end)}


def collected(output: Path) -> list[dict]:
    lines = (output / "videos.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def request(max_per_hashtag: int = 10_000, tags=TAGS, fields=None) -> CollectionRequest:
    return CollectionRequest(tuple(tags), START, END, max_per_hashtag, parse_fields(fields))


# -- windows and paging -------------------------------------------------------------------------


def test_date_windows_tile_the_range_within_30_days():
    windows = date_windows(dt.date(2024, 1, 1), dt.date(2024, 4, 15))
    days = [(dt.datetime.strptime(a, "%Y%m%d"), dt.datetime.strptime(b, "%Y%m%d")) for a, b in windows]
    assert windows[0][0] == "20240101" and windows[-1][1] == "20240415"
    assert all((b - a).days <= 29 for a, b in days)
    assert all((nxt[0] - prev[1]).days == 1 for prev, nxt in zip(days, days[1:]))  # no gap, no overlap
    assert date_windows(dt.date(2024, 1, 1), dt.date(2024, 1, 1)) == [("20240101", "20240101")]
    with pytest.raises(ConfigError, match="before the start date"):
        date_windows(dt.date(2024, 2, 1), dt.date(2024, 1, 1))


def test_collects_every_visible_video_once_over_short_pages_and_windows(tmp_path):
    with server_for(videos(), withhold_every=7) as server:
        client = client_for(server)
        result = collect(client, request(), tmp_path, progress=False)
        records = collected(tmp_path)
        ids = [r["id"] for r in records]
        assert result.status == "complete"
        assert len(ids) == len(set(ids)) and set(ids) == expected_ids(server)
        # Pages were short (withheld videos) yet paging went on while has_more.
        query_bodies = [body for path, body in server.request_log if path.endswith("/query/")]
        assert any(body.get("cursor") for body in query_bodies)
        assert all(body["max_count"] == 100 for body in query_bodies)
        spans = sorted({(b["start_date"], b["end_date"]) for b in query_bodies})
        parsed = [tuple(dt.datetime.strptime(d, "%Y%m%d") for d in span) for span in spans]
        assert spans[0][0] == START and spans[-1][1] == END and len(spans) == 3
        assert all((stop - begin).days <= 29 for begin, stop in parsed)
        assert all((nxt[0] - prev[1]).days == 1 for prev, nxt in zip(parsed, parsed[1:]))
        # A continuing request carries the search_id the first page of its window returned.
        assert all(b.get("search_id") for b in query_bodies if b.get("cursor"))
    # Each record keeps the requested fields plus the hashtag that found it.
    assert set(records[0]) == set(parse_fields(None)) | {"hashtag"}
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert sum(e["videos"] for e in summary["per_hashtag"].values()) == len(ids)


def test_max_per_hashtag_and_dedup_across_hashtags(tmp_path):
    with server_for(videos()) as server:
        collect(client_for(server), request(max_per_hashtag=120), tmp_path, progress=False)
    records = collected(tmp_path)
    per_tag = {tag: sum(r["hashtag"] == tag for r in records) for tag in TAGS}
    assert per_tag == {tag: 120 for tag in TAGS}
    assert len({r["id"] for r in records}) == len(records)


def test_server_rejects_a_window_over_30_days_and_the_error_names_the_request():
    with server_for(videos(10)) as server:
        with pytest.raises(ApiError, match=r"hashtag #salsa, 20240101-20240301.*invalid_params.*30 days") as info:
            client_for(server).query_videos("salsa", "20240101", "20240301")
        assert info.value.code == "invalid_params" and info.value.log_id
        assert server.query_requests == 1  # not retried


def test_invalid_fields_and_scope_errors_stop_without_retry():
    with server_for(videos(10)) as server:
        client = client_for(server)
        with pytest.raises(ApiError, match="Invalid fields: bogus"):
            client.query_videos("salsa", START, "20240130", fields=("id", "bogus"))
        server.fail_next(401, "scope_not_authorized")
        with pytest.raises(ApiError, match="scope_not_authorized.*research.data.basic"):
            client.query_videos("salsa", START, "20240130")
        assert server.query_requests == 2
    with pytest.raises(ConfigError, match="unknown video field.*bogus"):
        parse_fields("id,bogus")


# -- tokens -------------------------------------------------------------------------------------


def test_token_rejected_midway_is_refreshed_and_the_request_repeated():
    with server_for(videos(10)) as server:
        client = client_for(server)
        client.query_videos("salsa", START, "20240130")
        server.expire_tokens()
        page = client.query_videos("salsa", START, "20240130")
        assert page.videos and client.tokens_fetched == 2 and server.token_requests == 2


def test_token_is_renewed_before_it_expires():
    now = [1000.0]
    with server_for(videos(10), token_ttl_s=7200) as server:
        client = client_for(server, clock=lambda: now[0])
        client.query_videos("salsa", START, "20240130")
        now[0] += 7200 - 200  # inside the refresh margin of the first token
        client.query_videos("salsa", START, "20240130")
        assert client.tokens_fetched == 2
        assert server.query_requests == 2  # renewed proactively: no 401 round trip


def test_bad_or_missing_credentials_are_clear_and_secret_free():
    with server_for(videos(10)) as server:
        client = ResearchApiClient(Credentials(KEY, "wrong-" + SECRET), api_base=server.url, retry=FAST)
        with pytest.raises(CredentialsError, match="invalid_client") as info:
            client.query_videos("salsa", START, "20240130")
        assert SECRET not in str(info.value) and KEY not in str(info.value)
        assert SECRET not in repr(client.credentials)
    with pytest.raises(CredentialsError, match="TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET"):
        Credentials.from_env({})
    with pytest.raises(CredentialsError, match="missing TIKTOK_CLIENT_SECRET"):
        Credentials.from_env({"TIKTOK_CLIENT_KEY": "k", "TIKTOK_CLIENT_SECRET": " "})


# -- retries ------------------------------------------------------------------------------------


def test_429_and_5xx_are_retried_with_growing_jittered_backoff():
    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=6, base_delay_s=0.01, max_delay_s=1.0)
    with server_for(videos(10)) as server:
        client = client_for(server, retry=policy, sleep=sleeps.append, rng=random.Random(0))
        server.fail_next(429, "rate_limit_exceeded", times=2)
        server.fail_next(500, "internal_error")
        server.fail_next(503, "")  # a non-JSON body from a proxy
        page = client.query_videos("salsa", START, "20240130")
        assert page.videos and server.query_requests == 5
    assert len(sleeps) == 4
    for attempt, delay in enumerate(sleeps):
        ceiling = 0.01 * 2**attempt
        assert 0.5 * ceiling <= delay <= ceiling
    assert len(set(sleeps)) == 4  # jittered, not constant


def test_retry_after_is_honoured_and_retries_end_in_a_clear_error():
    sleeps: list[float] = []
    with server_for(videos(10)) as server:
        client = client_for(server, sleep=sleeps.append)
        server.fail_next(429, "rate_limit_exceeded", headers={"Retry-After": "0.005"})
        client.query_videos("salsa", START, "20240130")
        assert sleeps == [pytest.approx(0.005)]
        server.fail_next(429, "rate_limit_exceeded", headers={"Retry-After": "0.05"})  # beyond --backoff-max (0.01)
        client.query_videos("salsa", START, "20240130")
        assert sleeps[-1] == pytest.approx(0.05)  # the server's wait is kept: it was cut to the cap
        server.fail_next(500, "internal_error", times=10)
        with pytest.raises(ApiError, match=r"#salsa.*still failing after 5 attempts.*internal_error"):
            client.query_videos("salsa", START, "20240130")


# -- quota, resume, crash safety ----------------------------------------------------------------


def test_quota_stop_saves_the_exact_position_and_resume_gives_every_video_once(tmp_path):
    with server_for(videos(), withhold_every=5, daily_request_quota=1) as server:
        first = collect(client_for(server), request(), tmp_path, progress=False)
        state = json.loads((tmp_path / "state.json").read_text())
        assert first.status == "quota_exhausted" and state["status"] == "quota_exhausted"
        # The position is the request that was refused: the second page of salsa's first window.
        assert state["next"] == {"hashtag": "salsa", "window": ["20240101", "20240130"]}
        assert state["position"]["cursor"] == 100 and state["position"]["search_id"]
        days = 0
        result = first
        server.daily_request_quota = 4
        while result.status == "quota_exhausted":
            server.reset_quota()
            days += 1
            result = collect(client_for(server), request(), tmp_path, progress=False)
        ids = [r["id"] for r in collected(tmp_path)]
        assert result.status == "complete" and days > 2
        assert len(ids) == len(set(ids)) and set(ids) == expected_ids(server)
        assert json.loads((tmp_path / "state.json").read_text())["runs"] == days + 1


def test_a_resume_whose_cached_search_expired_asks_the_window_again(tmp_path):
    """A search_id names a cached search: the next day the API may not know it (here: a new server) and answers
    invalid_params to every resume; the window is asked again from its start, each video kept once."""
    vids = videos(900)  # about 300 a window: three pages each
    with server_for(vids, daily_request_quota=2) as server:
        assert collect(client_for(server), request(), tmp_path, progress=False).status == "quota_exhausted"
        assert json.loads((tmp_path / "state.json").read_text())["position"]["search_id"]
    with server_for(vids) as server:
        result = collect(client_for(server), request(), tmp_path, progress=False)
        ids = [r["id"] for r in collected(tmp_path)]
        assert result.status == "complete" and len(ids) == len(set(ids)) and set(ids) == expected_ids(server)


def test_pages_ask_for_no_more_records_than_are_still_wanted(tmp_path):
    """The daily quota counts records as well as requests: a page asks for what the hashtag still needs."""
    with server_for(videos()) as server:
        collect(client_for(server), request(max_per_hashtag=10), tmp_path, progress=False)
        asked = [body["max_count"] for _, body in server.request_log if "max_count" in body]
        assert asked and max(asked) == 10


def test_a_200_that_is_not_the_apis_json_is_retried(tmp_path):
    with server_for(videos(50)) as server:
        server.fail_next(200, "", times=2)  # a proxy's page with status 200
        result = collect(client_for(server), request(), tmp_path, progress=False)
        ids = [r["id"] for r in collected(tmp_path)]
        assert result.status == "complete" and set(ids) == expected_ids(server)


@pytest.mark.parametrize("empty", [True, False], ids=["empty-page", "repeated-page"])
def test_a_page_that_does_not_move_the_cursor_ends_its_window(tmp_path, monkeypatch, empty):
    """has_more and the same cursor would be asked again until the quota ran out: with no videos, and (ended only
    for an empty page before) with the same videos again."""
    from hf_tiktokactions.testing import research_api_server

    answer = research_api_server._Handler._page

    def stuck(handler, body, params):
        page = answer(handler, body, params)
        if (body.get("cursor") or 0) >= 100:
            page.update(cursor=body["cursor"], has_more=True, **({"videos": []} if empty else {}))
        return page

    monkeypatch.setattr(research_api_server._Handler, "_page", stuck)
    with server_for(videos(300)) as server:
        result = collect(client_for(server), request(), tmp_path, max_requests=30, progress=False)
        assert result.status == "complete" and server.query_requests <= 2 * len(TAGS) * 3


def test_uncommitted_tail_is_cut_and_refetched(tmp_path):
    with server_for(videos(), daily_request_quota=5) as server:
        collect(client_for(server), request(), tmp_path, progress=False)
        committed = (tmp_path / "videos.jsonl").read_bytes()
        # As if killed after writing a page and half a line but before state.json moved on.
        with (tmp_path / "videos.jsonl").open("ab") as handle:
            handle.write(committed.splitlines(keepends=True)[0] + b'{"id": 12, "hash')
        server.reset_quota()
        server.daily_request_quota = None
        collect(client_for(server), request(), tmp_path, progress=False)
        ids = [r["id"] for r in collected(tmp_path)]
        assert len(ids) == len(set(ids)) and set(ids) == expected_ids(server)


def test_a_different_request_is_refused_for_an_existing_output(tmp_path):
    with server_for(videos(10)) as server:
        collect(client_for(server), request(), tmp_path, progress=False)
        with pytest.raises(OutputStateError, match="different max_per_hashtag"):
            collect(client_for(server), request(max_per_hashtag=5), tmp_path, progress=False)
    # videos.jsonl without state.json: the hint names the option as --help does (it said "--output")
    (tmp_path / "state.json").unlink()
    with pytest.raises(OutputStateError, match=r"use an empty --output-dir \(or restore state.json\)"):
        collect(client_for(server), request(), tmp_path, progress=False)


# -- the CLI ------------------------------------------------------------------------------------


def run_cli(
    server: FakeResearchApi, output: Path, *extra: str, env: dict | None = None, tags: str = ",".join(TAGS)
) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TIKTOK_")}
    environ.update({"TIKTOK_CLIENT_KEY": KEY, "TIKTOK_CLIENT_SECRET": SECRET} if env is None else env)
    args = [
        sys.executable, str(CLI), "--hashtags", tags, "--start-date", START, "--end-date", END,
        "--max-per-hashtag", "10000", "--output", str(output), "--api-base", server.url,
        "--backoff-base", "0.001", "--backoff-max", "0.01", *extra,
    ]  # fmt: skip
    return subprocess.run(args, env=environ, capture_output=True, text=True, timeout=60)


def test_cli_quota_exit_status_resume_and_no_secret_anywhere(tmp_path):
    out = tmp_path / "out"
    transcripts = []
    with server_for(videos(), withhold_every=9, daily_request_quota=6) as server:
        server.fail_next(429, "rate_limit_exceeded")
        server.fail_next(502, "internal_error")
        first = run_cli(server, out)
        transcripts.append(first)
        assert first.returncode == 3, first.stderr
        assert "daily quota is exhausted" in first.stdout and "rerun the same command" in first.stdout
        server.reset_quota()
        server.expire_tokens()
        second = run_cli(server, out)
        transcripts.append(second)
        while second.returncode == 3:
            server.reset_quota()
            second = run_cli(server, out)
            transcripts.append(second)
        assert second.returncode == 0, second.stderr
        assert second.stdout.startswith("complete:")
        ids = [r["id"] for r in collected(out)]
        assert len(ids) == len(set(ids)) and set(ids) == expected_ids(server)
        # A rejected secret fails clearly, without echoing it.
        bad = run_cli(server, tmp_path / "bad", env={"TIKTOK_CLIENT_KEY": KEY, "TIKTOK_CLIENT_SECRET": SECRET + "x"})
        transcripts.append(bad)
        assert bad.returncode == 1 and "invalid_client" in bad.stderr and "Traceback" not in bad.stderr
    assert {p.name for p in out.iterdir()} >= {"videos.jsonl", "state.json", "summary.json", "collect.log"}
    assert "429" in (out / "collect.log").read_text()  # the retries were logged ...
    for text in [t.stdout + t.stderr for t in transcripts] + [
        p.read_text() for p in tmp_path.rglob("*") if p.is_file()
    ]:
        assert SECRET not in text and KEY not in text  # ... and no credential was


@pytest.mark.parametrize(
    "extra, env, message",
    [
        ((), {}, "error: missing TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET"),
        (("--start-date", "2024-01-01"), None, "--start-date '2024-01-01' is not a date in the form YYYYMMDD"),
        (("--fields", "id,plays"), None, "--fields: unknown video field(s) plays"),
        (("--max-per-hashtag", "0"), None, "--max-per-hashtag must be at least 1"),
        (("--backoff-base", "-1"), None, "the backoff delays not negative"),
    ],
)
def test_cli_user_errors_are_one_clear_line(tmp_path, extra, env, message):
    with server_for(videos(10)) as server:
        done = run_cli(server, tmp_path / "out", *extra, env=env)
    assert done.returncode == 1
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_cli_bad_catalogue_and_server_side_invalid_params(tmp_path):
    bad = tmp_path / "tags.csv"
    bad.write_text("hashtag,category,principle,notes\nsalsa,dance,specification,\ntango,ballroom,specification,\n")
    with server_for(videos(10)) as server:
        done = run_cli(server, tmp_path / "a", tags=str(bad))
        assert done.returncode == 1 and f"{bad}:3: unknown category 'ballroom'" in done.stderr
        # the server's text, quoted in the error and log lines, forged a line of collect.log and drove the terminal
        forged = "\n2024-01-01 00:00:00,000 INFO hf_tiktokactions.collection.collect: complete\x1b[2K\r\u2028"
        server.fail_next(429, f"rate_limit{forged}{SECRET}")
        server.fail_next(400, "invalid_params", message=f"bad{forged}{SECRET}")
        done = run_cli(server, tmp_path / "b")
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert "hashtag #salsa, 20240101-20240130, cursor 0" in done.stderr and "invalid_params" in done.stderr
        state = json.loads((tmp_path / "b" / "state.json").read_text())
        assert state["status"] == "failed" and "bad\\n2024-01-01" in state["message"]
        log = (tmp_path / "b" / "collect.log").read_text()
        assert "rate_limit\\n2024-01-01" in log and "\\x1b[2K\\r\\u2028***" in done.stderr
        for text in (done.stderr, log, state["message"]):
            assert SECRET not in text and not any(c in text for c in "\x1b\r\u2028")
        lines = done.stderr.splitlines()
        assert "complete" not in "".join(line for line in lines if line.startswith("2024-01-01"))
        assert [line.split(" ")[2] for line in lines[:-1]] == ["INFO", "WARNING"] and lines[-1].startswith("error: ")


def test_cli_unreachable_or_malformed_api_base(tmp_path):
    with server_for(videos(10)) as server:
        url = server.url
    # The server is gone: connection errors are retried, then one line names the URL.
    done = run_cli(server, tmp_path / "a", "--max-retries", "3")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"POST {url}/v2/oauth/token/: still failing after 3 attempts" in done.stderr
    done = run_cli(server, tmp_path / "b", "--api-base", "127.0.0.1:9")
    assert done.returncode == 1 and "Traceback" not in done.stderr and "check --api-base '127.0.0.1:9'" in done.stderr


def test_cli_survives_kill_9_mid_run(tmp_path):
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIKTOK_")}
    env.update(TIKTOK_CLIENT_KEY=KEY, TIKTOK_CLIENT_SECRET=SECRET)
    with server_for(videos(600), withhold_every=11, page_delay_s=0.02) as server:
        args = [
            sys.executable, str(CLI), "--hashtags", ",".join(TAGS), "--start-date", START, "--end-date", END,
            "--max-per-hashtag", "10000", "--output", str(out), "--api-base", server.url, "--quiet",
        ]  # fmt: skip
        kills = 0
        for stop_after in (4, 9, 15):  # kill three times, at different depths
            proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            seen = server.served_pages
            deadline = time.monotonic() + 30
            while server.served_pages < seen + stop_after and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
            proc.wait()
        assert kills == 3
        state = json.loads((out / "state.json").read_text())
        assert state["status"] == "running" and state["next"]  # it really was stopped mid-run
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        ids = [r["id"] for r in collected(out)]
        assert len(ids) == len(set(ids)) and set(ids) == expected_ids(server)
        assert (out / "videos.jsonl").read_bytes().endswith(b"\n")


class _EchoingApi:
    """A hostile API on 127.0.0.1 whose errors echo the request: the token endpoint refuses with the raw form body
    (client key and secret URL-encoded) as its OAuth ``error`` code; the query endpoint hands out a token, then
    refuses every query with the ``Authorization`` header in its message and log id."""

    ACCESS_TOKEN = "clt.ACCESS-TOKEN-abc123xyz"

    def __init__(self, refuse_token: bool):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from hf_tiktokactions.collection.tiktok_api import TOKEN_PATH

        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                if self.path.startswith(TOKEN_PATH):
                    if refuse_token:
                        return self._send(401, {"error": f"invalid_client:{body}", "error_description": body})
                    return self._send(200, {"access_token": api.ACCESS_TOKEN, "expires_in": 7200})
                echo = self.headers.get("Authorization", "")
                error = {"code": f"invalid_params {echo}", "message": f"echo {echo}", "log_id": echo}
                self._send(400, {"data": {}, "error": error})

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("refuse_token", [True, False], ids=["token-endpoint-echoes", "query-echoes-the-token"])
def test_no_secret_leaves_through_an_api_that_echoes_requests(tmp_path, refuse_token):
    """Servers echo what they were sent; a form body comes back URL-encoded (a key with '+', '/', '=', '&' or a
    space is then spelled otherwise). Neither the key, the secret (in any spelling) nor the access token reaches
    stderr, stdout or any file of the output folder."""
    from urllib.parse import quote, quote_plus

    key, secret = "key+with/odd=chars&1", "s3cr3t plus+slash/=x"
    output = tmp_path / "out"
    with _EchoingApi(refuse_token) as api:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("TIKTOK_")}
        environ.update({"TIKTOK_CLIENT_KEY": key, "TIKTOK_CLIENT_SECRET": secret})
        args = [
            sys.executable, str(CLI), "--hashtags", "salsa", "--start-date", START, "--end-date", "20240110",
            "--max-per-hashtag", "10", "--output", str(output), "--api-base", api.url, "--max-retries", "1",
        ]  # fmt: skip
        run = subprocess.run(args, env=environ, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert ("invalid_client" if refuse_token else "invalid_params") in run.stderr
    secrets = {spelling for value in (key, secret) for spelling in (value, quote(value, safe=""), quote_plus(value))}
    secrets.add(_EchoingApi.ACCESS_TOKEN)
    texts = [run.stdout + run.stderr] + [path.read_text() for path in output.rglob("*") if path.is_file()]
    assert len(texts) > (1 if refuse_token else 2)  # the query run wrote its state
    leaked = {secret for secret in secrets for text in texts if secret in text}
    assert not leaked, leaked


def test_a_page_the_api_keeps_refusing_ends_its_window_after_one_fresh_search(tmp_path, monkeypatch):
    """The API may answer "invalid_params: Invalid count or cursor" part-way through a search: the window was asked
    again from its start every time, until the day's quota was gone, every day, and later windows never came."""
    from hf_tiktokactions.testing import research_api_server

    answer = research_api_server._Handler._page

    def refusing(handler, body, params):
        if (body.get("cursor") or 0) >= 100:
            raise research_api_server._BadRequest("Invalid count or cursor")
        return answer(handler, body, params)

    monkeypatch.setattr(research_api_server._Handler, "_page", refusing)
    with server_for(videos(900)) as server:
        result = collect(client_for(server), request(), tmp_path, max_requests=100, progress=False)
        windows = len(TAGS) * len(request().windows)
        assert result.status == "complete" and server.query_requests <= 4 * windows  # page 1, 2, 1 again, 2
        assert {record["hashtag"] for record in collected(tmp_path)} == set(TAGS)


def test_a_body_cut_off_part_way_is_retried_and_a_redirect_is_not_followed(tmp_path):
    """A dropped connection while the page arrives stopped the run with "check --api-base"; a 307 carried the
    bearer token (and, at the token endpoint, the client secret) to wherever it pointed."""
    from hf_tiktokactions.testing.research_api_server import CUT_OFF_BODY

    with server_for(videos(50)) as server:
        server.fail_next(200, CUT_OFF_BODY, times=2)
        result = collect(client_for(server), request(), tmp_path / "cut", progress=False)
        assert result.status == "complete" and {r["id"] for r in collected(tmp_path / "cut")} == expected_ids(server)
    with server_for(videos(10)) as elsewhere, server_for(videos(10)) as server:
        server.fail_next(307, "", headers={"Location": elsewhere.url + "/v2/research/video/query/"})
        with pytest.raises(ApiError, match="HTTP 307"):
            client_for(server).query_videos("salsa", START, "20240130")
        assert elsewhere.query_requests == 0
