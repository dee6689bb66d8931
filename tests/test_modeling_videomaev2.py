"""VideoMAE V2 models: presets, Auto classes, save/load, the official pre-training math, classification."""

import json

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForPreTraining, AutoModelForVideoClassification

from hf_tiktokactions import (
    VideoMAEv2Config,
    VideoMAEv2ForPreTraining,
    VideoMAEv2ForVideoClassification,
    VideoMAEv2Model,
)
from hf_tiktokactions.modeling import reconstruction_target, tube_mask, unpatchify
from hf_tiktokactions.modeling.modeling_videomaev2 import patchify


def tiny(**overrides) -> VideoMAEv2Config:
    return VideoMAEv2Config.from_preset("vit-tiny", **overrides)


def clip(config: VideoMAEv2Config, batch: int = 2, seed: int = 0) -> torch.Tensor:
    """A random ImageNet-normalised clip (B, T, C, H, W)."""
    g = torch.Generator().manual_seed(seed)
    size = config.image_size
    return torch.randn(batch, config.num_frames, config.num_channels, size, size, generator=g)


def encoder_params(name: str) -> int:
    with torch.device("meta"):
        model = VideoMAEv2Model(VideoMAEv2Config.from_preset(name))
    return sum(p.numel() for p in model.parameters())


def test_presets_match_official_sizes():
    assert encoder_params("vit-b") == pytest.approx(86.2e6, rel=2e-3)
    assert encoder_params("vit-g") == pytest.approx(1.011e9, rel=2e-3)
    assert VideoMAEv2Config.from_preset("vit-g").patch_size == 14
    assert VideoMAEv2Config.from_preset("vit-s").hidden_size == 384
    assert VideoMAEv2Config.from_preset("vit-l", num_frames=8).num_frames == 8
    assert encoder_params("vit-tiny") < 200_000


def test_bad_preset_and_bad_config_are_named():
    with pytest.raises(ValueError, match="unknown preset 'vit-x'"):
        VideoMAEv2Config.from_preset("vit-x")
    with pytest.raises(ValueError, match="image_size 30 is not a multiple of patch_size 8"):
        tiny(image_size=30)
    with pytest.raises(ValueError, match="decoder_mask_ratio"):
        tiny(decoder_mask_ratio=0.1)


@pytest.mark.parametrize(
    "hostile, says",
    [
        ({"patch_size": 0}, "patch_size must be a positive integer, got 0"),  # was ZeroDivisionError
        ({"hidden_size": "64"}, "hidden_size must be a positive integer, got '64'"),  # was a TypeError of '%'
        ({"num_hidden_layers": -1}, "num_hidden_layers must be a positive integer"),  # loaded with no blocks
        ({"image_size": -32}, "image_size must be a positive integer"),  # loaded
        ({"num_frames": 4.0}, "num_frames must be a positive integer, got 4.0"),
        ({"layer_norm_eps": "x"}, "layer_norm_eps must be a number"),  # loaded
        ({"num_labels": -3}, "num_labels must be at least 1"),  # loaded with a head of no classes
        ({"num_hidden_layers": 100_000}, "100000 \\+ 1 blocks"),  # building it ran past 60 s
        ({"image_size": 3_200_000}, "320000000000 tokens a clip"),  # tried to allocate 82 TB
    ],
)
def test_a_hostile_config_json_fails_at_once_naming_the_value(tmp_path, hostile, says):
    """A model folder from the Hub holds any config.json: loading it ends in one ValueError naming the value, before
    a layer is built (the folder here has no weights: the config is read first)."""
    config = tiny(num_labels=3).to_dict()
    (tmp_path / "config.json").write_text(json.dumps({**config, **hostile}))
    with pytest.raises(ValueError, match=f"^invalid VideoMAEv2Config: .*{says}"):
        VideoMAEv2ForVideoClassification.from_pretrained(tmp_path)


@pytest.mark.parametrize(
    "model_class, auto_class",
    [
        (VideoMAEv2Model, AutoModel),
        (VideoMAEv2ForPreTraining, AutoModelForPreTraining),
        (VideoMAEv2ForVideoClassification, AutoModelForVideoClassification),
    ],
)
def test_save_and_auto_load_round_trip(tmp_path, model_class, auto_class):
    torch.manual_seed(0)
    config = tiny(num_labels=5)
    model = model_class(config).eval()
    x = clip(config)
    kwargs = {}
    if model_class is VideoMAEv2ForPreTraining:
        kwargs = dict(
            zip(["bool_masked_pos", "decoder_masked_pos"], model.draw_masks(2, torch.Generator().manual_seed(1)))
        )
    expected = model(x, **kwargs)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    assert AutoConfig.from_pretrained(tmp_path).model_type == "videomaev2"
    loaded = auto_class.from_pretrained(tmp_path).eval()
    assert type(loaded) is model_class
    got = loaded(x, **kwargs)
    key = "last_hidden_state" if model_class is VideoMAEv2Model else "logits"
    assert torch.equal(got[key], expected[key])


def official_pretraining_forward(model: VideoMAEv2ForPreTraining, pixel_values, mask, decode_mask):
    """The official VideoMAE V2 forward and loss, written with boolean indexing as in OpenGVLab/VideoMAEv2
    (modeling_pretrain.py + engine_for_pretraining.py), on our modules' weights. Returns (loss, logits)."""
    config = model.config
    b = pixel_values.shape[0]
    x = model.encoder.patch_embed(pixel_values)
    x = x + model.encoder.position_embeddings.type_as(x)
    x_vis = x[~mask].reshape(b, -1, config.hidden_size)
    for block in model.encoder.blocks:
        x_vis = block(x_vis)
    x_vis = model.encoder_to_decoder(model.encoder.norm(x_vis))
    pos = model.decoder_position_embeddings.expand(b, -1, -1).type_as(pixel_values)
    decode_vis = ~decode_mask
    pos_vis = pos[~mask].reshape(b, -1, config.decoder_hidden_size)
    pos_mask = pos[decode_vis].reshape(b, -1, config.decoder_hidden_size)
    x_full = torch.cat([x_vis + pos_vis, model.mask_token + pos_mask], dim=1)
    logits = model.decoder(x_full, pos_mask.shape[1])

    unnorm = pixel_values * torch.tensor([0.229, 0.224, 0.225])[None, None, :, None, None]
    unnorm = unnorm + torch.tensor([0.485, 0.456, 0.406])[None, None, :, None, None]
    squeezed = patchify(unnorm, config.patch_size, config.tubelet_size)  # b n (p0 p1 p2) c
    normed = (squeezed - squeezed.mean(-2, keepdim=True)) / (
        squeezed.var(-2, unbiased=True, keepdim=True).sqrt() + 1e-6
    )
    images_patch = normed.flatten(2)
    labels = images_patch[~decode_mask].reshape(b, -1, images_patch.shape[-1])
    loss = ((logits - labels) ** 2).mean(dim=-1)
    cal_loss_mask = mask[~decode_mask].reshape(b, -1)
    return (loss * cal_loss_mask).sum() / cal_loss_mask.sum(), logits


@pytest.mark.parametrize("decoder_mask_ratio", [0.5, 0.0])
def test_pretraining_matches_the_official_forward_and_loss(decoder_mask_ratio, generator):
    torch.manual_seed(0)
    model = VideoMAEv2ForPreTraining(tiny(image_size=64, decoder_mask_ratio=decoder_mask_ratio)).eval()
    x = clip(model.config, batch=3)
    out = model(x, generator=generator)
    ref_loss, ref_logits = official_pretraining_forward(model, x, out.bool_masked_pos, out.decoder_masked_pos)
    n_dec = int((~out.decoder_masked_pos[0]).sum())
    assert out.logits.shape == (3, n_dec, model.config.patch_dim)
    torch.testing.assert_close(out.logits, ref_logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.loss, ref_loss, atol=1e-6, rtol=1e-5)
    if decoder_mask_ratio == 0:
        assert torch.equal(out.decoder_masked_pos, ~out.bool_masked_pos)


def test_under_autocast_the_decoder_runs_in_float32_as_upstreams(generator):
    """Upstream adds the tables in the dtype of what they are added to: the patch embedding's (the autocast dtype)
    in the encoder, the float32 input clip's in the decoder, whose residual stream therefore stays float32."""
    torch.manual_seed(0)
    model = VideoMAEv2ForPreTraining(tiny(image_size=64, decoder_num_hidden_layers=2)).eval()
    x = clip(model.config, batch=2)
    dtypes = {}

    def record_input_dtype(name):
        def hook(module, args):
            dtypes.setdefault(name, args[0].dtype)

        return hook

    model.encoder.blocks[0].register_forward_pre_hook(record_input_dtype("encoder"))
    model.decoder.blocks[0].register_forward_pre_hook(record_input_dtype("decoder"))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x, generator=generator)
        ref_loss, ref_logits = official_pretraining_forward(model, x, out.bool_masked_pos, out.decoder_masked_pos)
    assert dtypes == {"encoder": torch.bfloat16, "decoder": torch.float32}
    torch.testing.assert_close(out.logits.float(), ref_logits.float(), atol=1e-6, rtol=0)
    torch.testing.assert_close(out.loss, ref_loss, atol=1e-6, rtol=0)


def test_dropout_sits_where_upstreams_does():
    """Upstream's ``Mlp`` drops after fc2 only and its pre-training encoder has no dropout after the position table
    (the fine-tuning model has); attention's own dropout is inside SDPA. Counted: the dropout modules that run."""
    config = tiny(image_size=32, hidden_dropout_prob=0.1, num_hidden_layers=1, decoder_num_hidden_layers=1)
    for model, expected in (
        (VideoMAEv2ForPreTraining(config), 2 + 2),  # encoder block (attn proj, mlp) + decoder block
        (VideoMAEv2ForVideoClassification(tiny(image_size=32, hidden_dropout_prob=0.1, num_hidden_layers=1)), 1 + 2),
    ):
        ran = []
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout) and module.p > 0:
                module.register_forward_hook(lambda *_, ran=ran: ran.append(1))
        model.train()(clip(model.config, batch=1))
        assert len(ran) == expected, type(model).__name__


def test_loss_counts_only_encoder_masked_decoded_tokens(generator):
    """With running-cell masking the decoder also predicts tokens the encoder saw; they must not count."""
    torch.manual_seed(0)
    model = VideoMAEv2ForPreTraining(tiny(image_size=64)).eval()
    x = clip(model.config, batch=2)
    out = model(x, generator=generator)
    decoded = ~out.decoder_masked_pos
    counted = out.bool_masked_pos & decoded
    assert 0 < counted.sum() < decoded.sum(), "both kinds of decoded token must occur"
    target = reconstruction_target(x, model.config)[decoded].view(2, -1, model.config.patch_dim)
    errors = (out.logits - target).pow(2).mean(-1)
    weight = out.bool_masked_pos[decoded].view(2, -1).float()
    torch.testing.assert_close(out.loss, (errors * weight).sum() / weight.sum())
    assert not torch.isclose(out.loss, errors.mean())


def test_unpatchify_inverts_patchify():
    config = tiny()
    x = clip(config)
    patches = patchify(x, config.patch_size, config.tubelet_size).flatten(2)
    assert torch.equal(unpatchify(patches, config), x)


def test_masks_are_drawn_from_the_config_and_can_be_given(generator):
    model = VideoMAEv2ForPreTraining(tiny(mask_ratio=0.75, decoder_mask_ratio=0.5))
    x = clip(model.config)
    out = model(x, generator=generator)
    t, h, w = model.config.grid_size
    assert (out.bool_masked_pos.sum(1) == t * int(0.75 * h * w)).all()
    assert ((~out.decoder_masked_pos).sum(1) == t * h * w // 2).all()
    again = model(x, bool_masked_pos=out.bool_masked_pos, decoder_masked_pos=out.decoder_masked_pos)
    assert torch.equal(again.logits, out.logits)


def test_given_masks_must_keep_the_configs_token_counts(generator):
    model = VideoMAEv2ForPreTraining(tiny(mask_ratio=0.9, decoder_mask_ratio=0.5))
    x = clip(model.config)
    encoder, decoder = model.draw_masks(2, generator)
    looser = tube_mask(2, model.config.grid_size[0], 16, 0.75, generator)
    with pytest.raises(ValueError, match="bool_masked_pos keeps \\[8\\] tokens per sample.*give 4"):
        model(x, bool_masked_pos=looser, decoder_masked_pos=decoder)
    with pytest.raises(ValueError, match="decoder_masked_pos"):
        model(x, bool_masked_pos=encoder, decoder_masked_pos=~encoder)


def test_pretraining_step_compiles_as_one_graph(generator):
    """No host read-back of mask counts: the whole forward + backward is one graph (static shapes)."""
    torch.manual_seed(0)
    model = VideoMAEv2ForPreTraining(tiny())
    x = clip(model.config)
    masks = model.draw_masks(2, generator)
    eager = model(x, *masks).loss
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    loss = compiled(x, *masks).loss
    loss.backward()
    torch.testing.assert_close(loss, eager)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_pretraining_learns_a_clip():
    torch.manual_seed(0)
    model = VideoMAEv2ForPreTraining(tiny())
    config = model.config
    t = torch.arange(config.num_frames)[:, None, None, None]
    y = torch.arange(config.image_size)[None, None, :, None]
    c = torch.arange(3)[None, :, None, None]
    x = torch.sin((y + 3 * t + 5 * c) / 4.0).expand(-1, -1, -1, config.image_size)  # moving stripes
    x = x.unsqueeze(0).repeat(4, 1, 1, 1, 1)
    masks = model.draw_masks(4, torch.Generator().manual_seed(0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = model(x, *masks).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_gradient_checkpointing_gives_the_same_gradients(generator):
    torch.manual_seed(0)
    model = VideoMAEv2ForPreTraining(tiny())
    x = clip(model.config)
    masks = model.draw_masks(2, generator)
    model.train()
    model(x, *masks).loss.backward()
    plain = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model.activation_checkpointing_enable()
    # the property's name before transformers renamed gradient -> activation checkpointing (5.17 has the older)
    enabled = (
        "is_activation_checkpointing"
        if hasattr(type(model), "is_activation_checkpointing")
        else "is_gradient_checkpointing"
    )
    assert getattr(model, enabled)
    model(x, *masks).loss.backward()
    for a, p in zip(plain, model.parameters()):
        torch.testing.assert_close(p.grad, a, atol=1e-6, rtol=1e-5)


def test_drop_path_is_random_in_training_only():
    torch.manual_seed(0)
    model = VideoMAEv2ForVideoClassification(tiny(num_labels=3, drop_path_rate=0.5))
    rates = [block.drop_path_rate for block in model.encoder.blocks]
    assert rates[0] == 0.0 and rates[-1] == 0.5
    x = clip(model.config)
    model.train()
    assert not torch.equal(model(x).logits, model(x).logits)
    model.eval()
    assert torch.equal(model(x).logits, model(x).logits)


def test_classification_pools_tokens_and_accepts_soft_labels():
    torch.manual_seed(0)
    model = VideoMAEv2ForVideoClassification(tiny(num_labels=4)).eval()
    assert model.encoder.norm is None and model.fc_norm is not None
    x = clip(model.config)
    labels = torch.tensor([1, 3])
    hard = model(x, labels=labels)
    soft = model(x, labels=torch.nn.functional.one_hot(labels, 4).float())
    assert hard.logits.shape == (2, 4)
    torch.testing.assert_close(hard.loss, soft.loss)
    tokens = model.encoder(x).last_hidden_state
    expected = model.head(model.fc_norm(tokens.mean(1)))
    torch.testing.assert_close(hard.logits, expected)
    hidden = model(x, output_hidden_states=True).hidden_states
    assert len(hidden) == model.config.num_hidden_layers + 1


def test_a_clip_of_another_geometry_is_named_not_run():
    """vit-tiny takes 4 frames of 32x32: 8 frames of 32x16 hold as many tokens and ran on with every token at another
    place; a (B, C, T, H, W) clip, upstream's layout, failed inside Conv3d."""
    model = VideoMAEv2ForVideoClassification(tiny(num_labels=3)).eval()
    for shape in [(1, 8, 3, 32, 16), (1, 4, 3, 16, 64), (1, 4, 3, 32, 48), (1, 3, 4, 32, 32)]:
        with pytest.raises(ValueError, match=r"takes \(batch, frames, channels, height, width\) = \(B, 4, 3, 32, 32\)"):
            model(torch.zeros(shape))
    with pytest.raises(ValueError, match=r"pass pixel_values.transpose\(1, 2\)"):
        model(torch.zeros(1, 3, 4, 32, 32))
    pretraining = VideoMAEv2ForPreTraining(tiny())
    with pytest.raises(ValueError, match=r"\(B, 4, 3, 32, 32\)"):
        pretraining(torch.zeros(1, 8, 3, 32, 16))


def test_biases_changed_through_data_are_used_by_the_next_forward():
    """DeepSpeed's and some weight-averaging code's copies write parameters through ``.data``, which no version
    counter sees: a fused q/v bias kept between no-grad forwards went stale."""
    torch.manual_seed(0)
    model = VideoMAEv2ForVideoClassification(tiny(num_labels=3)).eval()
    x = clip(model.config, batch=1)
    with torch.no_grad():
        model(x)
        for block in model.encoder.blocks:
            block.attn.q_bias.data.add_(0.5)
            block.attn.v_bias.data.add_(0.5)
        after = model(x).logits
        fresh = VideoMAEv2ForVideoClassification(model.config).eval()
        fresh.load_state_dict(model.state_dict())
        torch.testing.assert_close(after, fresh(x).logits)


def test_classification_from_a_pretraining_folder_keeps_the_encoder(tmp_path):
    torch.manual_seed(0)
    pretrained = VideoMAEv2ForPreTraining(tiny())
    pretrained.save_pretrained(tmp_path)
    classifier = VideoMAEv2ForVideoClassification.from_pretrained(tmp_path, num_labels=7)
    assert classifier.head.out_features == 7
    for name, value in pretrained.encoder.state_dict().items():
        if not name.startswith("norm."):
            assert torch.equal(classifier.encoder.state_dict()[name], value), name


def test_the_bare_encoder_keeps_the_final_norm_its_config_records(tmp_path):
    """A pre-trained export's config says ``add_final_norm``: the bare encoder is then the pre-training encoder,
    while a classifier made from it pools as official fine-tuning and saves a config without the field (AutoModel
    on the classifier's folder gives the classifier's own encoder, no norm it lacks)."""
    torch.manual_seed(0)
    pretrained = VideoMAEv2ForPreTraining(tiny(add_final_norm=True)).eval()
    pretrained.save_pretrained(tmp_path / "pretrained")
    encoder = VideoMAEv2Model.from_pretrained(tmp_path / "pretrained").eval()
    x = clip(pretrained.config)
    with torch.no_grad():
        torch.testing.assert_close(encoder(x).last_hidden_state, pretrained.encoder(x).last_hidden_state)

    classifier = VideoMAEv2ForVideoClassification.from_pretrained(tmp_path / "pretrained", num_labels=3)
    assert classifier.encoder.norm is None and classifier.fc_norm is not None
    assert classifier.config.add_final_norm is None
    classifier.save_pretrained(tmp_path / "classifier")
    assert VideoMAEv2Model.from_pretrained(tmp_path / "classifier").norm is None
    assert VideoMAEv2Model(tiny()).norm is None and VideoMAEv2Model(tiny(use_mean_pooling=False)).norm is not None
    shared = tiny(add_final_norm=True)  # one config object for an encoder, then a classifier
    VideoMAEv2ForVideoClassification(shared)
    assert shared.add_final_norm is True  # the classifier cleared its own copy, not the encoder's config


def _uniform_std(bound: float) -> float:
    return bound / 3**0.5


def test_a_classifier_from_scratch_starts_as_the_official_fine_tuning_model():
    """modeling_finetune.py: truncated-normal linears (std 0.02) with zero biases, the head scaled by init_scale
    (0.001), unit LayerNorms, PyTorch's default Conv3d; xavier (the pre-training init) gives ViT-B's qkv std 0.026."""
    torch.manual_seed(0)
    config = VideoMAEv2Config.from_preset("vit-b", num_frames=2, image_size=32, num_labels=400)
    model = VideoMAEv2ForVideoClassification(config)
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and name != "head":
            assert module.weight.std().item() == pytest.approx(0.02, rel=0.03), name
            assert module.bias is None or not module.bias.any(), name
    assert model.head.weight.std().item() == pytest.approx(2e-5, rel=0.05) and not model.head.bias.any()
    assert torch.equal(model.fc_norm.weight, torch.ones(768)) and not model.fc_norm.bias.any()
    conv = model.encoder.patch_embed.proj
    bound = 1 / conv.weight[0].numel() ** 0.5  # kaiming_uniform(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert conv.weight.std().item() == pytest.approx(_uniform_std(bound), rel=0.03) and conv.bias.abs().max() <= bound


def test_a_pretraining_model_starts_as_the_official_one():
    """modeling_pretrain.py: xavier linears, except encoder_to_decoder (never passed to its _init_weights: nn.Linear's
    default); the mask token truncated at one std; drop path spread over the decoder's blocks as over the encoder's."""
    torch.manual_seed(0)
    config = VideoMAEv2Config.from_preset("vit-b", num_frames=2, image_size=32, drop_path_rate=0.1)
    model = VideoMAEv2ForPreTraining(config)
    qkv = model.encoder.blocks[0].attn.qkv.weight
    assert qkv.std().item() == pytest.approx(_uniform_std((6 / (768 + 3 * 768)) ** 0.5), rel=0.03)
    projection = model.encoder_to_decoder.weight
    assert projection.std().item() == pytest.approx(_uniform_std(1 / 768**0.5), rel=0.03)
    assert model.mask_token.abs().max() <= 0.02 and model.mask_token.std().item() == pytest.approx(0.0108, rel=0.1)
    decoder_rates = [block.drop_path_rate for block in model.decoder.blocks]
    assert decoder_rates == pytest.approx([0.0, 0.1 / 3, 0.2 / 3, 0.1])
    assert [block.drop_path_rate for block in model.encoder.blocks][-1] == pytest.approx(0.1)


def test_a_head_the_checkpoint_lacks_starts_scaled(tmp_path):
    torch.manual_seed(0)
    VideoMAEv2ForPreTraining(tiny()).save_pretrained(tmp_path)
    classifier = VideoMAEv2ForVideoClassification.from_pretrained(tmp_path, num_labels=7)
    assert classifier.head.weight.abs().max() < 1e-4 and not classifier.head.bias.any()
