"""push uploads exactly the exported folder.

Only the Hub calls are mocked (huggingface_hub's ``create_repo`` and ``upload_folder`` as imported by
``hf_tiktokactions.hub.push``): the export, the card, the files and the token lookup are real.
"""

from __future__ import annotations

from pathlib import Path

from hub_doubles import digests
from huggingface_hub import constants
from test_hub_export import tiny_classifier

from hf_tiktokactions.cli_errors import run_cli
from hf_tiktokactions.hub.__main__ import main as hub_main

FAKE_TOKEN = "hf_fake_token_for_tests_0123456789"
STORED_TOKEN = "hf_stored_by_hf_auth_login_9876543210"


def test_push_uploads_exactly_what_export_writes(tmp_path: Path, hub_calls, monkeypatch, capsys) -> None:
    tiny_classifier(tmp_path / "model")
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    assert hub_main(["push", "--model", str(tmp_path / "model"), "--repo-id", "me/tiny", "--private"]) == 0
    assert (
        hub_main(
            ["export", "--model", str(tmp_path / "model"), "--output", str(tmp_path / "out"), "--repo-id", "me/tiny"]
        )
        == 0
    )

    _, (create, repo_id, create_kwargs), upload = hub_calls  # repo_info (none yet), create_repo, upload_folder
    assert (create, repo_id, create_kwargs["private"], create_kwargs["repo_type"]) == (
        "create_repo",
        "me/tiny",
        True,
        "model",
    )
    assert upload[0] == "upload_folder" and upload[1] == "me/tiny"
    assert upload[3] == digests(tmp_path / "out")  # same names, same bytes
    assert create_kwargs["token"] == FAKE_TOKEN == upload[2]["token"]
    assert FAKE_TOKEN not in capsys.readouterr().out
    assert all(FAKE_TOKEN.encode() not in p.read_bytes() for p in (tmp_path / "out").iterdir())


def test_push_needs_a_token_and_a_full_repo_id(tmp_path: Path, hub_calls, monkeypatch, capsys) -> None:
    tiny_classifier(tmp_path / "model")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-login" / "token"))  # nobody logged in
    assert run_cli(hub_main, ["push", "--model", str(tmp_path / "model"), "--repo-id", "me/tiny"]) == 2
    error = capsys.readouterr().err
    assert "run `hf auth login` or set HF_TOKEN" in error

    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    assert run_cli(hub_main, ["push", "--model", str(tmp_path / "model"), "--repo-id", "tiny"]) == 2
    assert "use ORG/NAME" in capsys.readouterr().err
    assert hub_calls == []


def test_push_uses_the_token_hf_auth_login_stored(tmp_path: Path, hub_calls, monkeypatch, capsys) -> None:
    """No HF_TOKEN: the token file that `hf auth login` writes (HF_HOME/token) is used, and never printed."""
    tiny_classifier(tmp_path / "model")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    token_file = tmp_path / "hf_home" / "token"  # where `hf auth login` stores it (huggingface_hub constants)
    token_file.parent.mkdir()
    token_file.write_text(STORED_TOKEN)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(token_file))
    assert hub_main(["push", "--model", str(tmp_path / "model"), "--repo-id", "me/tiny"]) == 0
    (_, _, create_kwargs), (_, _, upload_kwargs, _) = hub_calls
    assert create_kwargs["token"] == STORED_TOKEN == upload_kwargs["token"]
    captured = capsys.readouterr()
    assert STORED_TOKEN not in captured.out + captured.err

    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)  # the environment variable wins, as everywhere in huggingface_hub
    hub_calls.clear()
    assert hub_main(["push", "--model", str(tmp_path / "model"), "--repo-id", "me/tiny"]) == 0
    assert hub_calls[0][2]["token"] == FAKE_TOKEN


def test_offline_push_fails_with_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    """No mock here: with HF_HUB_OFFLINE=1 (tests/conftest.py) huggingface_hub refuses before any request."""
    from huggingface_hub import constants

    assert constants.HF_HUB_OFFLINE, "this test must not reach the network"
    tiny_classifier(tmp_path / "model")
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    assert run_cli(hub_main, ["push", "--model", str(tmp_path / "model"), "--repo-id", "me/tiny"]) == 2
    error = capsys.readouterr().err
    assert "HF_HUB_OFFLINE is set" in error and FAKE_TOKEN not in error


def test_an_unreachable_hub_fails_with_one_line(tmp_path: Path) -> None:
    """No mock: push and push-index ask a Hub address where nothing listens (a closed port on 127.0.0.1). newer
    huggingface_hub raises its HTTP client's ConnectError there, which is not an OSError: it ended in a traceback."""
    import os
    import socket
    import subprocess
    import sys

    from index_files import build_output

    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if not key.endswith("_OFFLINE")}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{port}", HF_TOKEN=FAKE_TOKEN, HF_HUB_ETAG_TIMEOUT="2")
    tiny_classifier(tmp_path / "model")
    build_output(tmp_path / "curated", [("salsa", "pass", 2, "7s")])
    for step in (
        ["push", "--model", str(tmp_path / "model"), "--repo-id", "me/tiny"],
        ["push-index", "--index", str(tmp_path / "curated"), "--repo-id", "me/index"],
    ):
        run = subprocess.run(
            [sys.executable, "-m", "hf_tiktokactions", *step], capture_output=True, text=True, env=env, timeout=300
        )
        assert run.returncode == 2, run.stderr[-2000:]
        assert "Traceback" not in run.stderr and FAKE_TOKEN not in run.stderr + run.stdout
        assert "me/" in run.stderr.strip().splitlines()[-1]


def test_push_index_uses_the_token_hf_auth_login_stored(tmp_path: Path, monkeypatch) -> None:
    """push_index, too, takes the stored token when HF_TOKEN is unset. Mocked: only the Hub calls."""
    import httpx
    import huggingface_hub
    from huggingface_hub.errors import RepositoryNotFoundError
    from index_files import build_output

    from hf_tiktokactions.curation.publish import PublishOptions, push_index

    build_output(tmp_path / "curated", [("salsa", "pass", 2, "7s")])
    monkeypatch.delenv("HF_TOKEN", raising=False)
    token_file = tmp_path / "hf_home" / "token"
    token_file.parent.mkdir()
    token_file.write_text(STORED_TOKEN)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(token_file))
    calls = []

    def repo_info(api, repo_id, **kwargs):
        calls.append(("repo_info", api.token))
        raise RepositoryNotFoundError("404", response=httpx.Response(404, request=httpx.Request("GET", "x")))

    monkeypatch.setattr(huggingface_hub.HfApi, "repo_info", repo_info)
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", lambda self, *a, **kw: calls.append(("repo", self.token)))
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", lambda self, **kw: calls.append(("upload", self.token)))
    push_index(tmp_path / "curated", "my-lab/index", PublishOptions(), card=None)
    assert calls == [("repo_info", STORED_TOKEN), ("repo", STORED_TOKEN), ("upload", STORED_TOKEN)]


def test_push_private_refuses_an_existing_public_repository(tmp_path: Path, hub_calls, monkeypatch, capsys) -> None:
    """create_repo ignores ``private`` for a repository that exists: --private would upload into a public one."""
    tiny_classifier(tmp_path / "model")
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    hub_calls.existing = False  # public
    assert run_cli(hub_main, ["push", "--model", str(tmp_path / "model"), "--repo-id", "me/open", "--private"]) == 2
    assert "me/open already exists and is PUBLIC" in capsys.readouterr().err
    assert [call[0] for call in hub_calls] == ["repo_info"]  # nothing created, nothing uploaded
    hub_calls.clear()
    assert hub_main(["push", "--model", str(tmp_path / "model"), "--repo-id", "me/open"]) == 0
    create = next(call for call in hub_calls if call[0] == "create_repo")
    assert create[2]["private"] is None  # without --private: the namespace's default, never a forced public
