"""Secrets that reach the package by another way than the environment variables redaction knows, and what servers
send back, stay out of what a step prints. In process, no network: a monkeypatched call raises what a Hub or API
that echoes its request would make it raise."""

from __future__ import annotations

import json
import os

import pytest
from index_files import build_output

from hf_tiktokactions import cli
from hf_tiktokactions.curation import publish
from hf_tiktokactions.steps.curation import PushIndexOptions
from hf_tiktokactions.training import pretrain_data


def test_a_hub_token_given_as_push_index_token_is_never_printed(tmp_path, monkeypatch, capsys):
    """push-index --token: the Hub's 401 quoted 'Bearer <token>' and the error line printed it (HF_TOKEN was
    redacted, a --token value was not); nor does the options object show it."""
    token = "hf_ArgvTok3nNotInTheEnvironment42"
    build_output(tmp_path / "curated", [("salsa", "pass", 1, "4s")])
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))  # no stored token of this machine

    def echoing_hub(api, repo_id):
        raise OSError(f"401 Unauthorized for url .../api/datasets/{repo_id}: bad token: Bearer {token}")

    monkeypatch.setattr(publish, "repo_visibility", echoing_hub)
    argv = ["--index", str(tmp_path / "curated"), "--repo-id", "me/idx", "--token", token, "--no-card"]
    code = cli.run_step("push-index", argv)
    out = capsys.readouterr()
    assert code == 2 and "pushing to me/idx failed" in out.err and "Bearer ***" in out.err, out.err
    assert token not in out.out + out.err
    assert token not in repr(PushIndexOptions(index=tmp_path, repo_id="me/idx", token=token))


def test_the_token_of_hub_token_env_is_redacted_from_a_failed_hub_load(monkeypatch, capsys):
    """pretrain --data ORG/NAME --hub_token_env LAB_TOKEN: a load error quoting the request printed the token
    (only HF_TOKEN, HUGGING_FACE_HUB_TOKEN and the TikTok variables were known secrets)."""
    import datasets

    from hf_tiktokactions.cli_errors import report_error

    token = "hf_LabTokenFromACustomVariable77"
    monkeypatch.setenv("LAB_TOKEN", token)

    def echoing_load(path, token=None, **kwargs):
        raise OSError(f"403 Forbidden: {path} (Authorization: Bearer {token})")

    monkeypatch.setattr(datasets, "load_dataset", echoing_load)
    with pytest.raises(Exception) as raised:
        pretrain_data.load_published("lab/private-index", token_env="LAB_TOKEN")
    report_error(raised.value)
    printed = capsys.readouterr().err
    assert printed.startswith("error: --data 'lab/private-index'") and "Bearer ***" in printed, printed
    assert token not in printed and os.environ["LAB_TOKEN"] == token


class _ScriptedSession:
    """Stands for ``requests.Session``: the token endpoint answers ``token``, the query endpoint ``page``."""

    def __init__(self, token: object, page: dict) -> None:
        self.token, self.page = token, page

    def post(self, url, **kwargs):
        import json

        import requests

        response = requests.Response()
        response.status_code = 200
        body = {"access_token": self.token, "expires_in": 7200} if "oauth" in url else self.page
        response._content = json.dumps(body).encode()
        return response


def _client(token: object = "act.fine-token-1234567890", page: dict | None = None):
    from hf_tiktokactions.collection.tiktok_api import Credentials, ResearchApiClient, RetryPolicy

    session = _ScriptedSession(token, page or {"data": {"videos": []}, "error": {"code": "ok"}})
    credentials = Credentials("key-for-scripted-session", "secret-for-scripted-session")
    return ResearchApiClient(
        credentials, "http://127.0.0.1:9", RetryPolicy(max_attempts=1), session=session, sleep=lambda s: None
    )


@pytest.mark.parametrize(
    "data, problem",
    [
        ({"videos": [], "cursor": "abc", "has_more": True}, "'cursor' is not a number"),
        ({"videos": "notalist", "cursor": 0}, "'videos' is not a list of video objects"),
        ({"videos": [1, "x"], "cursor": 0}, "'videos' is not a list of video objects"),
        ({"videos": [], "cursor": "9" * 5000}, "'cursor' is not a number"),
    ],
    ids=["cursor", "videos-string", "videos-not-objects", "cursor-too-long"],
)
def test_a_page_not_in_the_api_format_is_one_api_error_not_a_traceback(data, problem):
    """An answer 'ok' whose page is malformed (a proxy, a changed API) ended collect in a ValueError /
    AttributeError traceback from deep inside; now one ApiError naming what is wrong."""
    from hf_tiktokactions.errors import ApiError

    client = _client(page={"data": data, "error": {"code": "ok"}})
    with pytest.raises(ApiError, match=problem) as raised:
        client.query_videos("salsa", "20240101", "20240102")
    assert raised.value.code == "malformed_response"


@pytest.mark.parametrize("token", ["act.LINE\nBREAK-token-123456", "act.LINE BREAK\r-123456"], ids=["newline", "space"])
def test_an_access_token_that_cannot_be_a_header_is_refused_unquoted(token):
    """A token with a line break made requests refuse the Authorization header and quote it, escaped (so redaction
    missed it), in the error line, state.json and collect.log."""
    from hf_tiktokactions.errors import CredentialsError

    client = _client(token=token)
    with pytest.raises(CredentialsError, match="not a printable string") as raised:
        client.query_videos("salsa", "20240101", "20240102")
    assert "LINE" not in str(raised.value)


def test_an_input_in_a_deep_folder_gets_an_id_that_can_name_its_files(tmp_path):
    """curate --videos DIR with DIR/<200 chars>/<200 chars>/v.mp4: the id a__b__v named metadata/<id>.json, past
    the 255 bytes a file name may have, and the whole run ended in 'OSError: File name too long' (no video of the
    folder was curated). Long ids are cut, with a hash of the whole path, so two of them stay distinct."""
    from hf_tiktokactions.curation.inputs import safe_video_id

    first = safe_video_id("a" * 200 + "/" + "b" * 200 + "/v")
    second = safe_video_id("a" * 200 + "/" + "b" * 200 + "/w")
    assert first != second and len(first) <= 160 and len(second) <= 160
    for video_id in (first, second):  # the longest names curation gives a video's files
        (tmp_path / f".{video_id}.json.tmp").write_text("{}")
        (tmp_path / f".{video_id}.tmp.mp4").write_bytes(b"")
    assert safe_video_id("7301234567890123456") == "7301234567890123456"  # a TikTok id is kept as it is


def test_a_video_removed_by_a_refresh_leaves_the_review_list_too(tmp_path):
    """purge --refresh deleted a withdrawn video's file, clip and metadata and rebuilt the index, but its id and clip
    path stayed in review_list.txt."""
    from hf_tiktokactions.curation.governance.retention import remove_videos
    from hf_tiktokactions.layout import REVIEW_LIST_FILE

    records = build_output(tmp_path, [("salsa", "review", 2, "7s")])
    gone, kept = (record["video_id"] for record in records)
    review = tmp_path / REVIEW_LIST_FILE
    review.write_text("".join(f"{i}\t{tmp_path}/clips/{i}.mp4\tfew person frames\n" for i in (gone, kept)))
    remove_videos(tmp_path, iter([gone]), dry_run=True)
    assert gone in review.read_text()  # a dry run changes nothing
    remove_videos(tmp_path, iter([gone]))
    assert review.read_text() == f"{kept}\t{tmp_path}/clips/{kept}.mp4\tfew person frames\n"


@pytest.mark.parametrize("clip_path", ["../victim.mp4", "clips/../../victim.mp4", "ABSOLUTE"])
def test_a_refresh_deletes_no_clip_outside_the_folders_clips(tmp_path, clip_path):
    """purge --refresh deletes a withdrawn video's clip by the clip_path of its metadata record: one that was absolute
    or climbed out of clips/ with '..' (a record edited by hand, or a curation folder from elsewhere) deleted that file,
    wherever it was."""
    from hf_tiktokactions.curation.governance.retention import remove_videos
    from hf_tiktokactions.curation.pipeline import metadata_path

    output, victim = tmp_path / "curated", tmp_path / "victim.mp4"
    (record,) = build_output(output, [("salsa", "pass", 1, "7s")])
    victim.write_bytes(b"not yours to delete")
    meta = metadata_path(output, record["video_id"])
    hostile = str(victim) if clip_path == "ABSOLUTE" else clip_path
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "clip_path": hostile, "source_path": None}))
    deletion, removed = remove_videos(output, [record["video_id"]])
    assert removed == 1 and victim.is_file() and not deletion.deleted["clips"] and not meta.exists()
