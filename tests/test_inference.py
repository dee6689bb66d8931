"""One inference path: the Space's classifier and multi-view testing give the same view-averaged probabilities,
and the model's inference-time shortcuts (the cached qkv bias) follow changes to the weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_hub_export import tiny_classifier
from video_files import write_test_video

from hf_tiktokactions.data.finetune_dataset import MultiViewVideoDataset
from hf_tiktokactions.hub.export import export_model, load_classifier
from hf_tiktokactions.hub.processor_config import read_preprocessing
from hf_tiktokactions.inference import VideoClassifier
from hf_tiktokactions.modeling import VideoMAEv2Config, VideoMAEv2ForVideoClassification
from hf_tiktokactions.training.evaluation import predict_multiview


@pytest.mark.parametrize("views", [(2, 3), (1, 1)], ids=["2x3", "1x1"])
def test_the_space_and_multiview_testing_average_the_same_views(tmp_path, views):
    tiny_classifier(tmp_path / "model", seed=5)
    export = export_model(tmp_path / "model", tmp_path / "export", preprocessing={"sampling_rate": 2})
    spec = read_preprocessing(export)
    video = write_test_video(tmp_path / "clip.mp4", 60, 48, 80, pattern="motion")
    space = VideoClassifier(load_classifier(export), spec).classify(str(video), views)
    dataset = MultiViewVideoDataset(
        [str(video)],
        [0],
        num_frames=spec.num_frames,
        sampling_rate=spec.sampling_rate,
        num_segments=views[0],
        num_crops=views[1],
        input_size=spec.crop_size,
        short_side_size=spec.short_side,
        backend="pyav",
    )
    tested = predict_multiview(load_classifier(export), dataset, progress=False)
    assert space.num_views == dataset.num_views == views[0] * views[1]
    np.testing.assert_allclose(space.probabilities.numpy(), tested.probabilities[0], atol=1e-5)


def test_the_cached_qkv_bias_follows_the_weights():
    torch.manual_seed(0)
    model = VideoMAEv2ForVideoClassification(VideoMAEv2Config.from_preset("vit-tiny", num_labels=3)).eval()
    pixel_values = torch.randn(1, 4, 3, 32, 32)
    with torch.inference_mode():
        before = model(pixel_values).logits
    with torch.no_grad():
        for block in model.encoder.blocks:
            block.attn.q_bias.add_(0.5)  # what an optimiser step does: in place
        changed = model(pixel_values).logits
    fresh = model(pixel_values).logits.detach()  # autograd on: the bias is built anew
    assert not torch.allclose(before, changed)
    torch.testing.assert_close(changed, fresh)
    with torch.inference_mode():
        torch.testing.assert_close(model(pixel_values).logits, fresh)
