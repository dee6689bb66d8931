"""``--init_from`` accounts for every key: only a new head (fine-tuning) or a new decoder (pre-training from an
encoder or classifier) may be initialised, and the log names them; anything else is one clear error."""

import dataclasses
import logging

import pytest
import torch
from safetensors.torch import load_file, save_file

from hf_tiktokactions import VideoMAEv2Config, VideoMAEv2ForPreTraining, VideoMAEv2ForVideoClassification
from hf_tiktokactions.errors import CheckpointError, ConfigError
from hf_tiktokactions.training.arguments import FinetuneArguments, PretrainArguments
from hf_tiktokactions.training.model_init import build_classifier
from hf_tiktokactions.training.pretraining import build_model

CLASSES = ["clap", "jump", "kick"]


def tiny(**overrides) -> VideoMAEv2Config:
    return VideoMAEv2Config.from_preset("vit-tiny", num_frames=4, image_size=32, **overrides)


def edit_weights(folder, edit) -> None:
    """Rewrite a saved folder's model.safetensors through ``edit(state)``, as a damaged or mixed-up copy."""
    state = load_file(str(folder / "model.safetensors"))
    edit(state)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})


def finetune_from(folder, tmp_path):
    return build_classifier(FinetuneArguments(init_from=str(folder), num_frames=4, input_size=32), CLASSES, tmp_path)


def test_finetuning_from_pretraining_logs_the_new_head_only(tmp_path, caplog):
    pretrained = VideoMAEv2ForPreTraining(tiny())
    pretrained.save_pretrained(tmp_path / "pt")
    with caplog.at_level(logging.INFO, logger="hf_tiktokactions.training.model_init"):
        model, origin = finetune_from(tmp_path / "pt", tmp_path)
    assert origin == str(tmp_path / "pt")
    assert "newly initialised: fc_norm.bias, fc_norm.weight, head.bias, head.weight" in caplog.text
    assert torch.equal(model.encoder.blocks[1].attn.q_bias, pretrained.encoder.blocks[1].attn.q_bias)
    assert not list(tmp_path.glob(".init-from-*"))  # the private conversion folder is gone


@pytest.mark.parametrize(
    "damage, says",
    [
        (lambda s: s.pop("encoder.blocks.1.attn.v_bias"), "missing ['encoder.blocks.1.attn.v_bias']"),
        (
            lambda s: s.update({"encoder.blocks.0.attn.proj.weight": torch.zeros(64, 32)}),
            "mis-shaped ['encoder.blocks.0.attn.proj.weight (64, 32) (model: (64, 64))']",
        ),
        (lambda s: s.update({"encoder.blocks.0.attn.k_bias": torch.zeros(64)}), "unexpected"),
    ],
)
def test_finetuning_from_a_damaged_folder_is_one_error(tmp_path, damage, says):
    VideoMAEv2ForPreTraining(tiny()).save_pretrained(tmp_path / "pt")
    edit_weights(tmp_path / "pt", damage)
    with pytest.raises(CheckpointError, match=r"^--init_from .*pt: checkpoint does not match") as error:
        finetune_from(tmp_path / "pt", tmp_path)
    assert says in str(error.value)


def test_finetuning_from_a_classifier_whose_head_lost_its_bias_is_an_error(tmp_path):
    VideoMAEv2ForVideoClassification(tiny(num_labels=3)).save_pretrained(tmp_path / "cls")
    edit_weights(tmp_path / "cls", lambda s: s.pop("head.bias"))
    with pytest.raises(CheckpointError, match=r"missing \['head.bias'\]"):
        finetune_from(tmp_path / "cls", tmp_path)


def test_a_kept_head_answers_in_the_datasets_class_order_or_is_refused(tmp_path):
    """A classifier whose classes come in another order (a videofolder run sorts JumpRope before JumpingJack,
    UCF101's classInd the other way) gets its head rows reordered; one of other classes is not tested."""
    theirs = ["kick", "Clap", "jump"]  # another order, and another letter case
    source = VideoMAEv2ForVideoClassification(tiny(num_labels=3, id2label=dict(enumerate(theirs))))
    source.save_pretrained(tmp_path / "cls")
    model, _ = finetune_from(tmp_path / "cls", tmp_path)
    assert torch.equal(model.head.weight, source.head.weight[[1, 2, 0]])  # rows for clap, jump, kick
    assert torch.equal(model.head.bias, source.head.bias[[1, 2, 0]])
    other = VideoMAEv2ForVideoClassification(tiny(num_labels=3, id2label=dict(enumerate(["run", "swim", "jump"]))))
    other.save_pretrained(tmp_path / "other")
    args = FinetuneArguments(init_from=str(tmp_path / "other"), num_frames=4, input_size=32, eval_only=True)
    with pytest.raises(ConfigError, match="classifies other classes than --dataset .*clap, kick, run"):
        build_classifier(args, CLASSES, tmp_path)


def pretrain_args(init_from) -> PretrainArguments:
    return PretrainArguments(model_preset="vit-tiny", num_frames=4, input_size=32, init_from=str(init_from))


def test_pretraining_from_a_classifier_gets_a_logged_new_decoder(tmp_path, caplog):
    classifier = VideoMAEv2ForVideoClassification(tiny(num_labels=3))
    classifier.save_pretrained(tmp_path / "cls")
    with caplog.at_level(logging.INFO, logger="hf_tiktokactions.training.model_init"):
        model = build_model(pretrain_args(tmp_path / "cls"))
    assert "newly initialised: decoder.blocks.0.attn.proj.bias" in caplog.text and "mask_token" in caplog.text
    assert "encoder.blocks" not in caplog.text.split("newly initialised:")[1]
    assert torch.equal(model.encoder.blocks[0].mlp.fc1.weight, classifier.encoder.blocks[0].mlp.fc1.weight)


def test_pretraining_from_a_folder_with_a_partial_decoder_is_an_error(tmp_path):
    VideoMAEv2ForPreTraining(tiny(decoder_num_hidden_layers=4)).save_pretrained(tmp_path / "pt")
    edit_weights(tmp_path / "pt", lambda s: s.pop("decoder.blocks.3.mlp.fc2.weight"))
    with pytest.raises(CheckpointError, match=r"missing \['decoder.blocks.3.mlp.fc2.weight'\]"):
        build_model(pretrain_args(tmp_path / "pt"))


def test_every_rank_of_a_launched_run_converts_init_from_into_its_own_folder(tmp_path, monkeypatch):
    """Under ``torchrun`` / ``accelerate launch`` the process group exists before the model is built, and
    transformers' ``save_pretrained`` then writes on rank 0 only: every other rank found its private conversion
    folder empty and stopped ("no file named model.safetensors"). Here this process plays rank 1."""
    pretrained = VideoMAEv2ForPreTraining(tiny())
    pretrained.save_pretrained(tmp_path / "pt")
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda *args, **kwargs: 1)
    model, _ = finetune_from(tmp_path / "pt", tmp_path)
    assert torch.equal(model.encoder.blocks[1].attn.q_bias, pretrained.encoder.blocks[1].attn.q_bias)
    continued = build_model(dataclasses.replace(pretrain_args(tmp_path / "pt"), decoder_depth=1))
    assert torch.equal(continued.encoder.blocks[1].attn.q_bias, pretrained.encoder.blocks[1].attn.q_bias)
