"""One inference path: the Space's classifier and multi-view testing give the same view-averaged probabilities,
and the model's inference-time shortcuts (the cached qkv bias, the in-place blocks) change no number."""

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


@pytest.mark.parametrize("name, codec", [("clip.mp4", "libx264"), ("clip.flv", "flv"), ("clip.mpg", "mpeg2video")])
@pytest.mark.parametrize("views", [(2, 3), (1, 1)], ids=["2x3", "1x1"])
def test_the_space_and_multiview_testing_average_the_same_views(tmp_path, views, name, codec):
    # FFmpeg finds the streams of an FLV or MPEG-PS file only while opening it; the Space once refused both as corrupt
    tiny_classifier(tmp_path / "model", seed=5)
    export = export_model(tmp_path / "model", tmp_path / "export", preprocessing={"sampling_rate": 2})
    spec = read_preprocessing(export)
    video = write_test_video(tmp_path / name, 60, 48, 80, pattern="motion", codec=codec)
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


@pytest.mark.parametrize("layer_scale", [0.0, 0.1], ids=["no-layer-scale", "layer-scale"])
@pytest.mark.parametrize("autocast", [None, torch.bfloat16], ids=["fp32", "bf16-autocast"])
def test_the_in_place_inference_blocks_equal_the_autograd_blocks(layer_scale, autocast):
    """Without autograd the blocks add their branches in place; every hidden state, the dtype of the residual
    stream and the logits stay those of the autograd path, and the caller's input is left untouched."""
    torch.manual_seed(0)
    config = VideoMAEv2Config.from_preset("vit-tiny", num_labels=3, layer_scale_init_value=layer_scale)
    model = VideoMAEv2ForVideoClassification(config).eval()
    pixel_values = torch.randn(2, 4, 3, 32, 32)
    kept = pixel_values.clone()
    with torch.autocast("cpu", dtype=autocast, enabled=autocast is not None):
        with torch.no_grad():
            in_place = model(pixel_values, output_hidden_states=True)
        with_autograd = model(pixel_values, output_hidden_states=True)
    assert len(in_place.hidden_states) == len(with_autograd.hidden_states) == config.num_hidden_layers + 1
    for ours, reference in zip(in_place.hidden_states, with_autograd.hidden_states, strict=True):
        assert ours.dtype == reference.dtype
        torch.testing.assert_close(ours, reference.detach(), rtol=0, atol=0)
    torch.testing.assert_close(in_place.logits, with_autograd.logits.detach(), rtol=0, atol=0)
    torch.testing.assert_close(pixel_values, kept, rtol=0, atol=0)
