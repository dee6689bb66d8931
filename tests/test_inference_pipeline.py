"""transformers' ``pipeline("video-classification")`` serves an exported model as our own inference does.

The export ships a video processor (``modeling/video_processing_videomaev2.py``) that takes the model's clip
(centred, ``sampling_rate`` apart), decodes with PyAV and turns phone videos upright. Here the pipeline runs in a
fresh interpreter that cannot import ``hf_tiktokactions``, on real files (MPEG-4 Part 2 in AVI, H.264 and HEVC in
MP4, a phone MP4 with a display matrix), and its probabilities are compared with the Space's fast mode
(``hf_tiktokactions.inference.VideoClassifier`` with one view) in float32.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import transformers
from packaging.version import Version
from test_hub_export import ACTIONS, tiny_classifier
from video_files import (
    can_write_display_rotation,
    frame_index_of,
    frames_as_a_player_shows,
    trim_by_stream_copy,
    with_another_video_track,
    write_test_video,
    write_xvid_avi,
)
from without_our_package import BLOCK_OUR_PACKAGE

from hf_tiktokactions.data.views import plan_views
from hf_tiktokactions.hub.export import export_model, load_classifier
from hf_tiktokactions.hub.processor_config import MIN_TRANSFORMERS_VERSION, read_preprocessing
from hf_tiktokactions.inference import VideoClassifier
from hf_tiktokactions.modeling import video_processing_videomaev2 as shipped_processor
from hf_tiktokactions.video_streams import main_video_stream

REPO_ROOT = Path(__file__).resolve().parents[1]

# The names the processor takes from transformers, checked present in the wheel of MIN_TRANSFORMERS_VERSION (5.11.0:
# transformers/<module>.py defines each class) when that version was chosen; a new import must be checked there too.
AVAILABLE_IN_MIN_VERSION = {
    "transformers.feature_extraction_utils": {"BatchFeature"},
    "transformers.processing_utils": {"VideosKwargs"},
    "transformers.video_processing_utils": {"BaseVideoProcessor"},
    "transformers.video_utils": {"VideoMetadata"},
}

PIPELINE = BLOCK_OUR_PACKAGE + textwrap.dedent(
    """
    import json

    from transformers import pipeline

    folder, videos, top_k = sys.argv[1], sys.argv[2:-1], int(sys.argv[-1])
    classifier = pipeline("video-classification", model=folder, trust_remote_code=True)
    print(type(classifier.video_processor).__name__, file=sys.stderr)
    results = {video: classifier(video, top_k=top_k) for video in videos}
    assert not any(m == "hf_tiktokactions" or m.startswith("hf_tiktokactions.") for m in sys.modules)
    print(json.dumps(results))
    """
)


def _video_files(folder: Path) -> dict[str, Path]:
    """Real files a user would pass: 40 frames of 64x48 (portrait) or 48x64, frame index drawn in stripes."""
    files = {
        "avi-mpeg4": write_test_video(folder / "clip.avi", 40, 48, 64, codec="mpeg4"),
        "mp4-h264": write_test_video(folder / "clip.mp4", 40, 64, 48),
    }
    if "libx265" in av.codecs_available:
        files["mp4-hevc"] = write_test_video(folder / "clip_hevc.mp4", 40, 48, 64, codec="libx265")
    if can_write_display_rotation():
        files["mp4-phone-rotated"] = write_test_video(folder / "phone.mp4", 40, 64, 48, display_rotation=90)
    return files


@pytest.fixture(scope="module")
def export_and_videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    tiny_classifier(root / "model", seed=3)
    export = export_model(root / "model", root / "export", preprocessing={"sampling_rate": 3})
    return export, _video_files(root)


def test_the_pipeline_gives_the_spaces_fast_mode_probabilities_without_our_package(export_and_videos, tmp_path):
    export, files = export_and_videos
    assert "libx265" in av.codecs_available, "PyAV's FFmpeg has no HEVC encoder here: the HEVC case would be skipped"
    classifier = VideoClassifier(load_classifier(export), read_preprocessing(export), torch.float32)
    ours = {name: classifier.classify(str(path)).probabilities for name, path in files.items()}

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    completed = subprocess.run(
        [sys.executable, "-c", PIPELINE, str(export), *map(str, files.values()), str(len(ACTIONS))],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "VideoMAEv2VideoProcessor" in completed.stderr  # the shipped processor, not transformers' default
    theirs = json.loads(completed.stdout.strip().splitlines()[-1])
    for name, path in files.items():
        scores = {row["label"]: row["score"] for row in theirs[str(path)]}
        assert set(scores) == set(ACTIONS)
        expected = {ACTIONS[i]: float(p) for i, p in enumerate(ours[name])}
        worst = max(abs(scores[label] - expected[label]) for label in ACTIONS)
        assert worst < 1e-5, f"{name}: pipeline and Space differ by {worst:.2e}"


def test_transformers_default_sampling_would_serve_the_model_other_probabilities(export_and_videos):
    """The processor's own sampling matters: transformers' default spreads the frames over the whole video, and
    the model's probabilities then move by far more than the 1e-5 the pipeline test allows."""
    export, files = export_and_videos
    from transformers import AutoVideoProcessor

    processor = AutoVideoProcessor.from_pretrained(export, trust_remote_code=True)
    assert type(processor).__name__ == "VideoMAEv2VideoProcessor"
    path = str(files["mp4-h264"])
    ours = processor(path, num_frames=4, do_sample_frames=True, return_tensors="pt")["pixel_values"]
    assert ours.shape == (1, 4, 3, 32, 32)
    _, metadata = shipped_processor.read_video_frames(path, processor.sample_frames)
    # 40 frames, the official validation clip: np.linspace over the centred 12-frame span 14..26, kept below 26
    assert list(metadata.frames_indices) == [14, 18, 22, 25]
    spread, _ = shipped_processor.read_video_frames(path, lambda metadata: np.arange(0, 40, 40 / 4).astype(int))
    theirs = processor(spread, do_sample_frames=False, return_tensors="pt")["pixel_values"]
    model = load_classifier(export)
    with torch.inference_mode():
        moved = (model(ours).logits.softmax(-1) - model(theirs).logits.softmax(-1)).abs().max()
    assert moved > 0.01


def test_the_processor_takes_frames_in_every_form_transformers_processors_take(export_and_videos):
    """A list of frames is one video (the MCG-NJU cards' ``list(np.random.randn(16, 3, 224, 224))``), as arrays
    (H, W, C) or (C, H, W), tensors or PIL images; a list of such lists is a batch."""
    from PIL import Image
    from transformers import AutoVideoProcessor

    export, files = export_and_videos
    processor = AutoVideoProcessor.from_pretrained(export, trust_remote_code=True)
    frames, _ = shipped_processor.read_video_frames(str(files["mp4-h264"]), lambda metadata: range(12))
    video = frames.permute(0, 2, 3, 1).numpy()  # (T, H, W, C) uint8
    expected = processor(video, do_sample_frames=True, return_tensors="pt")["pixel_values"]
    assert expected.shape == (1, 4, 3, 32, 32)  # the model's 4 frames of the 12
    forms = {
        "list of (H, W, C) arrays": list(video),
        "list of (C, H, W) tensors": list(frames),
        "list of PIL images": [Image.fromarray(frame) for frame in video],
    }
    for name, form in forms.items():
        assert torch.equal(processor(form, do_sample_frames=True, return_tensors="pt")["pixel_values"], expected), name
    batch = processor([list(video), list(video[::-1])], do_sample_frames=True, return_tensors="pt")["pixel_values"]
    assert batch.shape == (2, 4, 3, 32, 32) and torch.equal(batch[:1], expected)
    assert not torch.equal(batch[1:], expected)


def test_the_processor_reads_an_xvid_avi_as_a_player_shows_it(tmp_path):
    """A DivX / XviD AVI (UCF101, HMDB51) packs B-frames with the P-frame after them: its frames' timestamps are
    made up, so the shipped reader counts frames there."""
    path = write_xvid_avi(tmp_path / "v_ApplyEyeMakeup_g01_c01.avi", 40, 48, 64)
    if path is None:
        pytest.skip("needs the ffmpeg command with libxvid")
    shown = frames_as_a_player_shows(path)
    frames, metadata = shipped_processor.read_video_frames(str(path), lambda metadata: range(metadata.total_num_frames))
    assert metadata.total_num_frames == len(shown) and [frame_index_of(frame) for frame in frames] == shown


def test_the_processor_reads_a_video_trimmed_by_stream_copy_as_a_player_shows_it(tmp_path):
    source = write_test_video(tmp_path / "source.mp4", 90, 48, 64, fps=30)
    path = trim_by_stream_copy(source, tmp_path / "trimmed.mp4", 1.1)
    if path is None:
        pytest.skip("needs the ffmpeg command")
    frames, metadata = shipped_processor.read_video_frames(str(path), lambda metadata: range(metadata.total_num_frames))
    assert metadata.total_num_frames == 57 and [frame_index_of(frame) for frame in frames] == list(range(33, 90))


def test_the_processor_reads_the_video_not_a_thumbnail_or_proxy_track_before_it(tmp_path):
    """A camera's one-frame thumbnail track before the video of an MP4 (its default video track, which FFmpeg picks)
    was refused as "a single image, not a video"; an editing proxy before the video of a MOV was read in its place.
    The shipped copy of ``main_video_stream`` picks as the package's does, in Matroska too."""
    source = write_test_video(tmp_path / "source.mp4", 40, 48, 64)
    for name in ("thumbnail.mp4", "proxy.mov", "proxy.mkv"):
        path = with_another_video_track(source, tmp_path / name, name.split(".")[0])
        frames, metadata = shipped_processor.read_video_frames(str(path), lambda metadata: [0, 39])
        assert metadata.total_num_frames == 40 and [frame_index_of(frame) for frame in frames] == [0, 39], name
        with av.open(str(path)) as container:
            assert shipped_processor._main_video_stream(container).index == main_video_stream(container).index == 1


def test_the_rotated_phone_video_reaches_the_model_upright(export_and_videos):
    export, files = export_and_videos
    if "mp4-phone-rotated" not in files:
        pytest.skip("writing a display matrix needs PyAV >= 18")
    frames, _ = shipped_processor.read_video_frames(str(files["mp4-phone-rotated"]), lambda metadata: [0])
    assert frames.shape[-2:] == (64, 48)  # the stored frames are 48x64, turned back to portrait


@pytest.mark.parametrize("segment_based", [False, True], ids=["dense", "segments"])
def test_the_shipped_sampler_takes_the_clip_our_inference_takes(segment_based):
    for num_video_frames in range(1, 200):
        for num_frames, rate in ((16, 4), (8, 2), (4, 3)):
            (view,), _ = plan_views(num_video_frames, num_frames, rate, segment_based)
            shipped = shipped_processor.clip_indices(num_video_frames, num_frames, rate, segment_based)
            assert list(shipped) == list(view.indices), (num_video_frames, num_frames, rate)


def test_the_card_states_the_minimum_transformers_version_the_processor_needs(export_and_videos):
    export, _ = export_and_videos
    card = (export / "README.md").read_text()
    stated = set(re.findall(r"transformers>=([0-9.]+)", card))
    assert stated == {MIN_TRANSFORMERS_VERSION}
    assert Version(MIN_TRANSFORMERS_VERSION) <= Version(transformers.__version__)
    source = Path(shipped_processor.__file__).read_text()
    imported: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("transformers"):
            imported.setdefault(node.module, set()).update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            assert not any(alias.name.startswith("transformers") for alias in node.names)
    for module, names in imported.items():
        assert names <= AVAILABLE_IN_MIN_VERSION.get(module, set()), f"{module}: {names} not checked in 5.11.0"
    config = json.loads((export / "video_preprocessor_config.json").read_text())
    assert config["auto_map"] == {"AutoVideoProcessor": "video_processing_videomaev2.VideoMAEv2VideoProcessor"}
    assert (export / "video_processing_videomaev2.py").read_text() == source


def test_an_audio_file_is_named_as_having_no_video(tmp_path):
    """An .mp4 holding only sound raised IndexError from deep inside the processor."""
    path = tmp_path / "voice-memo.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        samples = np.zeros((1, 16000), dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with pytest.raises(ValueError, match="voice-memo.mp4: no video stream"):
        shipped_processor.read_video_frames(str(path), lambda metadata: [0])


def test_h264_in_an_mpeg_ps_file_is_named_as_untimed_not_as_an_image(tmp_path):
    """Only its first frame has a timestamp: the processor took it for a one-frame video, a still image."""
    path = write_test_video(tmp_path / "h264.mpg", 40, 48, 64, fps=25)
    with pytest.raises(ValueError, match=r"h264\.mpg: .* of its 40 frames carry no timestamp"):
        shipped_processor.read_video_frames(str(path), lambda metadata: [0])


@pytest.mark.parametrize("name", ["still.png", "frame.mp4"])
def test_a_single_image_is_named_as_not_a_video(tmp_path, name):
    """FFmpeg opens a still image as a one-frame video; the pipeline classified it as a clip of one frame repeated,
    where the Space (``VideoClassifier``) refuses it."""
    path = tmp_path / name
    if name.endswith(".png"):
        from PIL import Image

        Image.fromarray(np.full((48, 64, 3), 128, dtype=np.uint8)).save(path)
    else:
        write_test_video(path, 1, 48, 64)
    with pytest.raises(ValueError, match=f"{name}: a single image, not a video"):
        shipped_processor.read_video_frames(str(path), lambda metadata: [0])
