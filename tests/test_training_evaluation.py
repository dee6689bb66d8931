"""Multi-view testing: view averaging on a constructed case, the real dataset + loop, and metrics with the
network blocked."""

import socket

import numpy as np
import pytest
import torch

from hf_tiktokactions.data.decoding import open_video
from hf_tiktokactions.data.finetune_dataset import MultiViewVideoDataset
from hf_tiktokactions.data.readers import load_videofolder
from hf_tiktokactions.data.sampling import multiview_clips
from hf_tiktokactions.data.synthetic import make_synthetic_actions
from hf_tiktokactions.data.transforms import EvalTransform, normalize_video
from hf_tiktokactions.training import metrics as metrics_package
from hf_tiktokactions.training.evaluation import (
    MultiViewPredictions,
    average_view_probabilities,
    classification_metrics,
    multiview_metrics,
    predict_multiview,
)


@pytest.fixture(scope="module")
def synthetic_test(tmp_path_factory):
    root = make_synthetic_actions(
        tmp_path_factory.mktemp("synthetic"), clips_per_class=4, size=64, num_frames=16, progress=False
    )
    return load_videofolder(root)["test"]


def test_softmax_probabilities_are_averaged_over_the_views_of_each_video():
    # Video 0: one very confident view for class 0, two mild views for class 1. Averaging logits would pick
    # class 0 (mean logits [3.33, 1, 0]); averaging probabilities picks class 1, as the official code does.
    # Video 1: all views agree on class 2. Views of a video are adjacent rows.
    logits = torch.tensor([[10.0, 0, 0], [0, 1.5, 0], [0, 1.5, 0], [0, 0, 3], [0, 0, 2], [0, 0, 1]])
    averaged = average_view_probabilities(logits, num_views=3)
    per_view = torch.softmax(logits, dim=-1)
    assert torch.allclose(averaged[0], per_view[:3].mean(0)) and torch.allclose(averaged[1], per_view[3:].mean(0))
    assert logits.view(2, 3, 3).mean(1)[0].argmax() == 0
    assert averaged.argmax(dim=1).tolist() == [1, 2]
    assert torch.allclose(averaged.sum(dim=1), torch.ones(2))


class MeanColourModel(torch.nn.Module):
    """Logits from the mean pixel of each clip: any mix-up of views between videos changes the output."""

    def __init__(self, num_classes: int = 7):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.arange(num_classes, dtype=torch.float32))

    def forward(self, pixel_values):
        mean = pixel_values.mean(dim=(1, 2, 3, 4))  # (B*V,)
        return type("Output", (), {"logits": mean[:, None] * self.weight[None]})()


def test_predict_multiview_batches_whole_videos_and_keeps_the_order(synthetic_test):
    videos, labels = synthetic_test["video"], synthetic_test["label"]
    dataset = MultiViewVideoDataset(
        videos, labels, num_frames=4, sampling_rate=4, num_segments=2, num_crops=3, input_size=32, short_side_size=32
    )
    item = dataset[0]
    assert item["pixel_values"].shape == (6, 4, 3, 32, 32) and item["labels"].tolist() == [labels[0]] * 6
    model = MeanColourModel()
    batched = predict_multiview(model, dataset, videos_per_batch=3, progress=False)
    one_by_one = predict_multiview(model, dataset, videos_per_batch=1, progress=False)
    assert batched.probabilities.shape == (7, 7) and batched.labels.tolist() == list(labels)
    assert batched.indices.tolist() == list(range(7))
    np.testing.assert_allclose(batched.probabilities, one_by_one.probabilities, rtol=1e-5, atol=1e-6)
    expected = average_view_probabilities(model(item["pixel_values"]).logits, 6)[0].detach().numpy()
    np.testing.assert_allclose(batched.probabilities[0], expected, rtol=1e-5, atol=1e-6)
    assert batched.clips_per_second > 0


def test_segment_views_of_ssv2_style_sampling(synthetic_test):
    dataset = MultiViewVideoDataset(
        synthetic_test["video"][:1],
        [0],
        num_frames=4,
        sampling="segment",
        num_segments=2,
        num_crops=3,
        input_size=32,
        short_side_size=32,
    )
    clips = dataset[0]["pixel_values"]
    assert clips.shape == (6, 4, 3, 32, 32)
    assert not torch.equal(clips[0], clips[3])  # the two temporal views take different frames


def test_metrics_run_with_the_network_blocked(monkeypatch):
    real_connect = socket.socket.connect

    def loopback_only(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost") and not host.startswith("/"):
            raise OSError(f"network blocked in this test: {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    metrics_package.load_metric.cache_clear()  # load the modules again, now without a network
    scores = np.array([[0.8, 0.1, 0.1], [0.1, 0.2, 0.7], [0.3, 0.4, 0.3], [0.6, 0.3, 0.1]])
    labels = np.array([0, 2, 0, 1])
    predictions = MultiViewPredictions(scores, labels, np.arange(4), num_views=15, seconds=1.0)
    result = multiview_metrics(predictions, num_classes=3)
    assert result["top1"] == pytest.approx(50.0) and result["top5"] == pytest.approx(100.0)
    assert result["mean_class_accuracy"] == pytest.approx(100 * (0.5 + 0 + 1) / 3)
    assert result["confusion_matrix"] == [[1, 1, 0], [1, 0, 0], [0, 0, 1]]
    assert predictions.clips_per_second == 60.0
    assert classification_metrics(scores, labels, 3)["top1"] == pytest.approx(50.0)


def test_views_share_one_resize_and_uint8_items_normalise_to_the_float_ones(synthetic_test):
    video = synthetic_test["video"][0]
    options = dict(num_frames=4, sampling_rate=4, num_segments=2, num_crops=3, input_size=24, short_side_size=32)
    floats = MultiViewVideoDataset([video], [0], **options)[0]["pixel_values"]
    uint8 = MultiViewVideoDataset([video], [0], normalize=False, **options)[0]["pixel_values"]
    assert (
        floats.dtype == torch.float32
        and uint8.dtype == torch.uint8
        and uint8.shape == floats.shape == (6, 4, 3, 24, 24)
    )
    torch.testing.assert_close(normalize_video(uint8), floats)
    # the definition: every view decoded and transformed on its own
    transform = EvalTransform(input_size=24, short_side_size=32, num_crops=3)
    with open_video(video, "decord") as reader:
        views = multiview_clips(reader.num_frames, 2, 3, 4, 4, False)
        expected = torch.stack([transform(reader.read(view.indices), crop_index=view.spatial) for view in views])
    torch.testing.assert_close(floats, expected)


def test_predict_multiview_normalises_uint8_clips_on_the_device(synthetic_test):
    videos, labels = synthetic_test["video"][:3], synthetic_test["label"][:3]
    options = dict(num_frames=4, sampling_rate=4, num_segments=2, num_crops=3, input_size=32, short_side_size=32)
    model = MeanColourModel()
    floats = predict_multiview(
        model, MultiViewVideoDataset(videos, labels, **options), videos_per_batch=2, progress=False
    )
    uint8 = predict_multiview(
        model, MultiViewVideoDataset(videos, labels, normalize=False, **options), videos_per_batch=2, progress=False
    )
    np.testing.assert_allclose(uint8.probabilities, floats.probabilities, rtol=1e-6, atol=1e-7)


def test_the_validation_during_fine_tuning_reads_the_official_validation_clip(tmp_path):
    """VideoClsDataset's validation mode: the linspace clip centred in the video, one centre crop (the test views'
    every-4th-frame window would be frames 30..42 of this 100-frame video)."""
    from video_files import frame_index_of, write_test_video

    from hf_tiktokactions.data.sampling import finetune_clip_indices

    video = write_test_video(tmp_path / "v.mp4", 100, 96, 64)  # portrait: the crop keeps every stripe
    dataset = MultiViewVideoDataset(
        [str(video)],
        [0],
        num_frames=4,
        sampling_rate=4,
        input_size=64,
        short_side_size=64,
        backend="pyav",
        normalize=False,
        validation_clip=True,
        num_segments=5,
        num_crops=3,
    )
    clips = dataset[0]["pixel_values"]
    assert dataset.num_views == 1 and clips.shape == (1, 4, 3, 64, 64)
    read = [frame_index_of(frame) for frame in clips[0]]
    assert read == finetune_clip_indices(100, 4, 4).tolist() == [42, 47, 52, 57]
