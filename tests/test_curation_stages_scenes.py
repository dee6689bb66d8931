"""Scene cutting in the shared decode pass agrees with PySceneDetect's own pipeline."""

from __future__ import annotations

import av
import scenedetect
from curation_files import write_scene_video

from hf_tiktokactions.curation.stages.scenes import SceneCutter, detection_size


def _cut_file(path, fps=30.0):
    cutter = SceneCutter(fps)
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            cutter.add(frame.to_ndarray(format="bgr24"))
    cutter.finish()
    return [(s.start, s.end) for s in cutter.scenes()]


def test_scene_list_matches_pyscenedetect_detect_with_start_in_scene(tmp_path):
    video = write_scene_video(tmp_path / "three.mp4", [60, 150, 90])
    expected = [
        (a.frame_num, b.frame_num)
        for a, b in scenedetect.detect(str(video), scenedetect.ContentDetector(), start_in_scene=True)
    ]
    assert expected == [(0, 60), (60, 210), (210, 300)]
    assert _cut_file(video) == expected


def test_a_video_without_cuts_is_one_scene(tmp_path):
    video = write_scene_video(tmp_path / "one.mp4", [120])
    # without start_in_scene PySceneDetect reports no scene at all for such a video
    assert scenedetect.detect(str(video), scenedetect.ContentDetector()) == []
    assert _cut_file(video) == [(0, 120)]


def test_detection_size_follows_pyscenedetect_auto_downscale():
    assert detection_size(720, 1280) == (144, 256)
    assert detection_size(320, 568) == (144, 256)
    assert detection_size(160, 120) == (160, 120)  # never upscaled
