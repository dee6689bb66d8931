"""download_videos.py and the download library: resumable, per-video failures, a readable manifest."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hf_tiktokactions.collection.download import (
    DownloadFailed,
    LocalCopyDownloader,
    YtDlpDownloader,
    download_videos,
    load_downloaded_videos,
    read_manifest,
    video_page_url,
)
from hf_tiktokactions.errors import DownloadError

REPO = Path(__file__).resolve().parents[1]
CLI = REPO / "dataset_scripts" / "download_videos.py"


@pytest.fixture
def mirror(tmp_path: Path) -> tuple[Path, Path]:
    """Metadata for six videos and a mirror holding four good files, one empty file, one gap."""
    source = tmp_path / "mirror"
    source.mkdir()
    records = []
    for i in range(6):
        vid = 7_300_000_000_000_000_000 + i
        records.append({"id": vid, "username": f"dancer{i}", "hashtag": "salsa", "create_time": 1_700_000_000 + i})
        if i < 4:
            (source / f"{vid}.mp4").write_bytes(bytes([i]) * (1000 + i))
        elif i == 4:
            (source / f"{vid}.mp4").write_bytes(b"")
    records.append(dict(records[0]))  # a duplicate line must not be fetched twice
    metadata = tmp_path / "videos.jsonl"
    metadata.write_text("".join(json.dumps(r) + "\n" for r in records))
    return metadata, source


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CLI), "--quiet", *args], capture_output=True, text=True, timeout=60)


def test_cli_downloads_records_failures_and_resumes(mirror, tmp_path):
    metadata, source = mirror
    out = tmp_path / "out"
    template = source.as_uri() + "/{id}.mp4"
    done = run_cli(
        "--metadata",
        str(metadata),
        "--output",
        str(out),
        "--downloader",
        "local",
        "--source",
        template,
        "--workers",
        "3",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("4 downloaded, 2 failed, 0 skipped, 0 already there")
    manifest = read_manifest(out / "manifest.jsonl")
    assert len(manifest) == 6
    ok = [e for e in manifest.values() if e["status"] == "ok"]
    assert len(ok) == 4
    for entry in ok:
        data = (out / entry["path"]).read_bytes()
        assert data == (source / f"{entry['id']}.mp4").read_bytes()
        assert entry["bytes"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["url"] == f"https://www.tiktok.com/@{'dancer' + str(entry['id'] % 10)}/video/{entry['id']}"
    reasons = {e["id"] % 10: e["reason"] for e in manifest.values() if e["status"] == "failed"}
    assert reasons[4] == "the downloaded file is empty"
    assert reasons[5].startswith("source file ") and reasons[5].endswith("5.mp4 not found")
    assert not (out / ".partial").exists()
    summary = json.loads((out / "download_summary.json").read_text())
    assert summary["failed"] == 2 and "the downloaded file is empty" in summary["failures_by_reason"]
    assert any(cause.endswith("{id}.mp4 not found") for cause in summary["failures_by_reason"])  # one row a cause

    # The gap is filled upstream; a rerun fetches only the two failures and keeps the rest.
    for entry in manifest.values():
        if entry["status"] == "failed":
            (source / f"{entry['id']}.mp4").write_bytes(b"late")
    lines_before = len((out / "manifest.jsonl").read_text().splitlines())
    again = run_cli("--metadata", str(metadata), "--output", str(out), "--downloader", "local", "--source", template)
    assert again.returncode == 0 and again.stdout.startswith("2 downloaded, 0 failed, 0 skipped, 4 already there")
    assert len((out / "manifest.jsonl").read_text().splitlines()) == lines_before + 2
    assert len(load_downloaded_videos(out)) == 6
    assert all(Path(e["path"]).is_absolute() and Path(e["path"]).is_file() for e in load_downloaded_videos(out))


def test_interrupted_manifest_and_scratch_files_are_repaired(mirror, tmp_path):
    metadata, source = mirror
    out = tmp_path / "out"
    downloader = LocalCopyDownloader(str(source) + "/{id}.mp4")
    download_videos(metadata, out, downloader, workers=2, limit=2, progress=False)
    # As if killed mid-append and mid-copy.
    with (out / "manifest.jsonl").open("a") as handle:
        handle.write('{"id": 7300000000000000002, "sta')
    (out / ".partial" / "junk").mkdir(parents=True)
    result = download_videos(metadata, out, downloader, workers=2, progress=False)
    assert (result.already_done, result.ok, result.failed) == (2, 2, 2)
    assert all(line.endswith("}") for line in (out / "manifest.jsonl").read_text().splitlines())
    assert not (out / ".partial").exists()


def test_failures_are_counted_by_cause_not_by_video(tmp_path):
    """Every missing file's reason names its own path: the summary had one row per video; now one per cause."""
    records = [{"id": 7_300_000_000_000_000_000 + i, "username": f"u{i}"} for i in range(5)]
    metadata = tmp_path / "videos.jsonl"
    metadata.write_text("".join(json.dumps(record) + "\n" for record in records))
    (tmp_path / "mirror").mkdir()
    result = download_videos(metadata, tmp_path / "out", LocalCopyDownloader(str(tmp_path / "mirror") + "/{id}.mp4"))
    assert result.failed == 5 and len(result.failures) == 1 and list(result.failures.values()) == [5]


def test_ctrl_c_stops_soon_and_every_fetched_video_is_recorded(tmp_path):
    """Leaving a thread pool waits for every queued download: Ctrl-C went on fetching all 300 (hours with yt-dlp)
    and recorded 20, so the rerun fetched the rest again. Now the queued ones never start, the running ones are
    recorded."""
    import _thread
    import threading
    import time

    source = tmp_path / "mirror"
    source.mkdir()
    records = [{"id": 7_300_000_000_000_000_000 + i, "username": f"u{i}"} for i in range(60)]
    for record in records:
        (source / f"{record['id']}.mp4").write_bytes(b"video")
    metadata = tmp_path / "videos.jsonl"
    metadata.write_text("".join(json.dumps(record) + "\n" for record in records))
    fetched, lock = [], threading.Lock()

    class Slow(LocalCopyDownloader):
        def fetch(self, record, workdir):
            time.sleep(0.1)
            path = super().fetch(record, workdir)
            with lock:
                fetched.append(record["id"])
                if len(fetched) == 4:
                    _thread.interrupt_main()  # as Ctrl-C does, while the main thread waits for results
            return path

    with pytest.raises(KeyboardInterrupt):
        download_videos(metadata, tmp_path / "out", Slow(str(source) + "/{id}.mp4"), workers=2, progress=False)
    manifest = read_manifest(tmp_path / "out" / "manifest.jsonl")
    assert 4 <= len(fetched) <= 8  # the two under way finish; none of the queued ones start
    assert sorted(int(key) for key in manifest) == sorted(fetched)  # and every one fetched is recorded
    result = download_videos(metadata, tmp_path / "out", LocalCopyDownloader(str(source) + "/{id}.mp4"), progress=False)
    assert (result.already_done, result.ok) == (len(fetched), 60 - len(fetched))


def test_owner_opt_out_is_skipped_and_unexpected_errors_become_failures(tmp_path):
    metadata = tmp_path / "videos.jsonl"
    metadata.write_text(
        json.dumps({"id": 1, "username": "a", "download_allowed": False})
        + "\n"
        + json.dumps({"id": 2, "username": "b"})
        + "\n"
    )

    class Broken:
        name = "broken"

        def fetch(self, record, workdir):
            raise RuntimeError("disk on fire")

    result = download_videos(metadata, tmp_path / "out", Broken(), progress=False)
    manifest = read_manifest(tmp_path / "out" / "manifest.jsonl")
    assert manifest["1"]["status"] == "skipped" and "does not allow downloads" in manifest["1"]["reason"]
    assert manifest["2"] == {**manifest["2"], "status": "failed", "reason": "RuntimeError: disk on fire"}
    assert (result.skipped, result.failed) == (1, 1)


def test_video_url_and_user_errors(tmp_path):
    assert video_page_url({"id": 5, "username": "x"}) == "https://www.tiktok.com/@x/video/5"
    with pytest.raises(DownloadFailed, match="no username"):
        video_page_url({"id": 5})
    with pytest.raises(DownloadError, match="must contain"):
        LocalCopyDownloader("/mirror/video.mp4")
    done = run_cli(
        "--metadata",
        str(tmp_path / "none.jsonl"),
        "--output",
        str(tmp_path / "o"),
        "--downloader",
        "local",
        "--source",
        "/m/{id}.mp4",
    )
    assert done.returncode == 2 and "none.jsonl does not exist; run collect_tiktok.py first" in done.stderr
    assert "Traceback" not in done.stderr
    done = run_cli("--metadata", str(tmp_path / "none.jsonl"), "--output", str(tmp_path / "o"), "--downloader", "local")
    assert done.returncode == 2 and "needs --source" in done.stderr


def test_missing_yt_dlp_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "yt_dlp", None)  # makes `import yt_dlp` fail, installed or not
    with pytest.raises(DownloadError, match=r"pip install 'hf-tiktokactions\[curation\]'"):
        YtDlpDownloader()


@pytest.mark.skipif(importlib.util.find_spec("yt_dlp") is None, reason="yt-dlp (curation extra) is not installed")
def test_yt_dlp_downloader_fetches_over_http_and_reports_404(tmp_path):
    """The real yt-dlp path, pointed at a local HTTP server instead of tiktok.com."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    served = tmp_path / "served"
    served.mkdir()
    (served / "1.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2000)
    metadata = tmp_path / "videos.jsonl"
    metadata.write_text('{"id": 1, "username": "a"}\n{"id": 2, "username": "b"}\n')

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        template = f"http://127.0.0.1:{server.server_address[1]}/{{id}}.mp4"
        result = download_videos(
            metadata, tmp_path / "out", YtDlpDownloader(url_template=template, retries=0), workers=2, progress=False
        )
    finally:
        server.shutdown()
        server.server_close()
    manifest = read_manifest(tmp_path / "out" / "manifest.jsonl")
    assert (result.ok, result.failed) == (1, 1)
    assert (tmp_path / "out" / manifest["1"]["path"]).read_bytes() == (served / "1.mp4").read_bytes()
    assert "404" in manifest["2"]["reason"]
