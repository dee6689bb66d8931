"""The whole local pipeline on real files: outputs, metadata, index rows, and every broken-input case."""

from __future__ import annotations

import json
import os

import av
import pytest
from curation_files import (
    corrupt_copy,
    truncated_copy,
    write_audio_only,
    write_scene_video,
    write_vfr_video,
)

from hf_tiktokactions.curation.engines import curate
from hf_tiktokactions.curation.index import INDEX_COLUMNS, load_index
from hf_tiktokactions.curation.inputs import load_video_inputs
from hf_tiktokactions.curation.pipeline import CurationOptions
from hf_tiktokactions.curation.stages.probe import count_frames
from hf_tiktokactions.layout import resolved_path

OPTIONS = CurationOptions(detector="none", max_pixels=640 * 480)


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    """A folder with one good multi-scene video and one of every kind of bad input, curated once."""
    videos = tmp_path_factory.mktemp("videos")
    good = write_scene_video(videos / "good.mp4", [45, 150, 60])  # longest scene: frames 45..195, 5 s
    write_scene_video(videos / "long.mp4", [390], height=96, width=128)  # 13 s: the centre 10 s
    (videos / "zero.mp4").write_bytes(b"")
    truncated_copy(good, videos / "truncated.mp4")
    truncated_copy(
        write_scene_video(videos / ".faststart.mp4", [150], faststart=True), videos / "truncated_faststart.mp4"
    )
    corrupt_copy(good, videos / "corrupt.mp4")
    (videos / "notes.mp4").write_text("this is a text file with a video name\n")
    write_audio_only(videos / "audio.mp4")
    write_scene_video(videos / "short.mp4", [90])
    write_scene_video(videos / "cut_short.mp4", [100, 60])  # 5.3 s, but its longest scene is 3.3 s
    write_vfr_video(videos / "vfr.mp4")
    write_scene_video(videos / "huge.mp4", [120], height=720, width=960)  # over --max-pixels 640x480
    output = tmp_path_factory.mktemp("curated")
    result = curate(load_video_inputs(videos), output, OPTIONS, workers=1, progress=False)
    return videos, output, result


def _record(output, video_id):
    return json.loads((output / "metadata" / f"{video_id}.json").read_text())


def test_every_input_is_one_index_row(curated):
    videos, output, result = curated
    index = load_index(output)
    assert set(INDEX_COLUMNS) <= set(index.column_names)
    assert sorted(index["video_id"]) == sorted(p.stem for p in videos.glob("*.mp4") if not p.name.startswith("."))
    assert result.processed == len(index) == 12
    assert result.by_status == {"pass": 3, "rejected": 9}


@pytest.mark.parametrize(
    "video_id, reason",
    [
        ("zero", "empty file (0 bytes)"),
        ("truncated", "truncated: the file holds "),
        ("truncated_faststart", "truncated: the file holds "),
        ("corrupt", "not a readable media file (corrupt, truncated or not a video)"),
        ("notes", "not a readable media file (corrupt, truncated or not a video)"),
        ("audio", "no video stream (audio only)"),
        ("short", "too short: 3.00 s < 3.5 s"),
        ("cut_short", "too short: the longest scene lasts 3.33 s < 3.5 s"),
        ("huge", "resolution 960x720 exceeds --max-pixels 307200"),
    ],
)
def test_bad_inputs_are_rejected_with_their_reason(curated, video_id, reason):
    _, output, _ = curated
    row = load_index(output).filter(lambda v: v == video_id, input_columns="video_id")[0]
    assert row["status"] == "rejected" and row["reason"].startswith(reason) and row["clip_path"] is None
    assert _record(output, video_id)["reasons"][0] == row["reason"]
    assert not (output / "clips" / f"{video_id}.mp4").exists()


def test_clip_is_the_longest_scene_reencoded_and_described(curated):
    videos, output, _ = curated
    record = _record(output, "good")
    assert record["status"] == "pass" and resolved_path(record["source_path"], output) == str(videos / "good.mp4")
    assert not os.path.isabs(record["source_path"])  # relative to the curation folder, like clip_path
    assert [(s["start_frame"], s["end_frame"]) for s in record["scenes"]] == [(0, 45), (45, 195), (195, 255)]
    assert (record["clip_start"], record["clip_end"], record["clip_num_frames"]) == (1.5, 6.5, 150)
    assert record["sampled_frames"] == [0, 17, 33, 50, 66, 83, 99, 116, 132, 149]
    assert (record["width"], record["height"], record["fps"], record["num_frames"], record["duration"]) == (
        160,
        120,
        30.0,
        255,
        8.5,
    )
    clip = output / record["clip_path"]
    assert count_frames(clip) == 150
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 160, 120)
        middle = next(f for i, f in enumerate(container.decode(stream)) if i == 75).to_ndarray(format="rgb24")
    assert abs(int(middle[60, 5, 2]) - 160) < 20  # the blue second scene, not its neighbours
    row = load_index(output).filter(lambda v: v == "good", input_columns="video_id")[0]
    assert row["clip_path"] == "clips/good.mp4" and (row["clip_start"], row["clip_end"]) == (1.5, 6.5)


def test_long_scene_gives_its_centre_ten_seconds_and_vfr_keeps_its_timing(curated):
    _, output, _ = curated
    long = _record(output, "long")
    assert (long["clip_start"], long["clip_end"], long["clip_num_frames"]) == (1.5, 11.5, 300)
    vfr = _record(output, "vfr")
    assert vfr["status"] == "pass" and vfr["clip_start"] == 0.0 and vfr["clip_end"] == pytest.approx(5.0, abs=0.11)
    with av.open(str(output / vfr["clip_path"])) as container:
        steps = {round(b - a, 3) for a, b in zip(*(lambda t: (t, t[1:]))([f.time for f in container.decode(video=0)]))}
    assert {0.033, 0.1} <= steps


def test_originals_are_untouched_and_no_temporary_files_remain(curated):
    videos, output, _ = curated
    assert (videos / "zero.mp4").stat().st_size == 0
    assert not [p for p in output.rglob("*") if ".tmp" in p.name or p.name.startswith(".index")]


def test_rerun_does_nothing_and_other_settings_are_refused(curated):
    videos, output, _ = curated
    again = curate(load_video_inputs(videos), output, OPTIONS, workers=1, progress=False)
    assert (again.processed, again.already_done) == (0, 12)
    from hf_tiktokactions.errors import OutputStateError

    with pytest.raises(OutputStateError, match="short_side: 320 -> 256"):
        curate(
            load_video_inputs(videos),
            output,
            CurationOptions(detector="none", max_pixels=640 * 480, short_side=256),
            progress=False,
        )


def test_inputs_from_a_list_file_and_a_download_manifest(tmp_path):
    video = write_scene_video(tmp_path / "dl" / "videos" / "7001.mp4", [120])
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "videos.jsonl").write_text(
        json.dumps({"id": 7001, "video_description": "a dance #fyp", "hashtag": "dance"}) + "\n"
    )
    (tmp_path / "dl" / "download_summary.json").write_text(
        json.dumps({"metadata": str(tmp_path / "meta" / "videos.jsonl")})
    )
    manifest = [
        {"id": 7001, "status": "ok", "path": "videos/7001.mp4", "hashtag": "dance"},
        {"id": 7002, "status": "failed", "reason": "HTTP 404"},
    ]
    (tmp_path / "dl" / "manifest.jsonl").write_text("".join(json.dumps(m) + "\n" for m in manifest))
    for spec in (tmp_path / "dl", tmp_path / "dl" / "manifest.jsonl"):
        inputs = load_video_inputs(spec)
        assert [(v.video_id, v.description, v.hashtag) for v in inputs] == [("7001", "a dance #fyp", "dance")]
        assert inputs[0].source_path == str(video.resolve())
    (tmp_path / "list.txt").write_text(f"# my videos\n{video}\n\nmissing/clip.mp4\n")
    inputs = load_video_inputs(tmp_path / "list.txt")
    assert [v.video_id for v in inputs] == ["7001", "clip"]
    result = curate(inputs, tmp_path / "out", OPTIONS, workers=1, progress=False)
    assert result.by_status == {"pass": 1, "rejected": 1}
    assert _record(tmp_path / "out", "clip")["reason"] == "file not found"


def test_folder_ids_are_unique_and_skip_hidden_and_non_video_files(tmp_path):
    for name in ("a/x.mp4", "b/x.mp4", "y.mp4", "y.mov", ".hidden/z.mp4", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert sorted(v.video_id for v in load_video_inputs(tmp_path)) == ["a__x", "b__x", "y.mov", "y.mp4"]


def test_a_scene_longer_than_the_buffer_cap_decodes_its_window_again(curated, tmp_path):
    videos, output, _ = curated
    from hf_tiktokactions.curation.inputs import VideoInput
    from hf_tiktokactions.curation.pipeline import curate_video

    record = curate_video(
        VideoInput("long", str(videos / "long.mp4")),
        tmp_path,
        CurationOptions(detector="none", max_buffer_seconds=0.1),
        None,
    )
    assert any("decoded a second time" in note for note in record["reasons"])
    one_pass = _record(output, "long")
    assert (record["clip_start"], record["clip_end"], record["clip_num_frames"]) == (
        one_pass["clip_start"],
        one_pass["clip_end"],
        300,
    )
    with av.open(str(tmp_path / record["clip_path"])) as a, av.open(str(output / one_pass["clip_path"])) as b:
        first_a, first_b = (next(c.decode(video=0)).to_ndarray(format="rgb24").astype(int) for c in (a, b))
    assert abs(first_a - first_b).mean() < 2  # the same frame (the moving bar's position tells frames apart)


def test_a_video_trimmed_by_stream_copy_is_curated_not_called_truncated(tmp_path):
    """Its container declares the frames an edit list hides; only those the player shows are decoded."""
    from video_files import trim_by_stream_copy

    source = write_scene_video(tmp_path / "source.mp4", [180])
    (tmp_path / "videos").mkdir()
    if trim_by_stream_copy(source, tmp_path / "videos" / "trimmed.mp4", 1.1) is None:
        pytest.skip("needs the ffmpeg command")
    result = curate(load_video_inputs(tmp_path / "videos"), tmp_path / "out", OPTIONS, workers=1, progress=False)
    row = load_index(tmp_path / "out")[0]
    assert result.by_status == {"pass": 1}, row["reason"]
    assert count_frames(resolved_path(row["clip_path"], tmp_path / "out")) == 147  # 4.9 s at 30 fps


def test_importing_curation_stays_light():
    """No torch, datasets, cv2, ultralytics or Ray at import, and nothing from the layers above curation."""
    import subprocess
    import sys

    code = (
        "import sys, hf_tiktokactions.curation.engines, hf_tiktokactions.curation.index, "
        "hf_tiktokactions.curation.publish\n"
        "heavy = [m for m in ('torch', 'datasets', 'cv2', 'ultralytics', 'ray', 'scenedetect') if m in sys.modules]\n"
        "upper = [m for m in sys.modules if m.split('.')[:2] in "
        "(['hf_tiktokactions', 'training'], ['hf_tiktokactions', 'hub'], ['hf_tiktokactions', 'modeling'])]\n"
        "print(heavy, upper)"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "[] []"
    )


def test_a_script_without_the_main_guard_is_told_to_add_it(tmp_path):
    """The README's Python example as a script: the spawned workers import it and call curate() again; each died
    waiting for the caller's lock, and the run blamed every video's worker ("killed: out of memory or a signal")."""
    import subprocess
    import sys

    write_scene_video(tmp_path / "videos" / "a.mp4", [120], height=48, width=64)
    script = tmp_path / "curate_script.py"
    script.write_text(
        "from hf_tiktokactions.steps import CurateOptions, curate\n"
        "curate(CurateOptions(videos='videos', output_dir='out', detector='none', workers=2, quiet=True))\n"
    )
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "out of memory" not in run.stderr, run.stderr[-3000:]
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("hf_tiktokactions.errors.RunStopped: the worker process curating"), run.stderr[-3000:]
    assert 'must call it under `if __name__ == "__main__":`' in last
    assert not list((tmp_path / "out" / "metadata").glob("*.json"))  # no verdict on the video
