"""Export: safetensors + shipped modeling code that loads with trust_remote_code where our package is absent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from without_our_package import BLOCK_OUR_PACKAGE

from hf_tiktokactions.data.transforms import EvalTransform
from hf_tiktokactions.errors import CheckpointError, ConfigError
from hf_tiktokactions.hub.__main__ import main as hub_main
from hf_tiktokactions.hub.export import export_model, shipped_code_problems
from hf_tiktokactions.modeling import VideoMAEv2Config, VideoMAEv2ForVideoClassification, VideoMAEv2Model

ACTIONS = ["clap", "jump", "kick", "sit_down", "spin", "stand_up", "wave"]
SHIPPED_CODE = {"modeling_videomaev2.py", "configuration_videomaev2.py", "masking.py", "video_processing_videomaev2.py"}


def tiny_classifier(folder: Path, seed: int = 0) -> VideoMAEv2ForVideoClassification:
    """A random-weight vit-tiny classifier over the synthetic actions, saved to ``folder``; its head starts as large
    as a trained one (std 0.5, not fine-tuning's 2e-5), so its probabilities differ from clip to clip."""
    torch.manual_seed(seed)
    config = VideoMAEv2Config.from_preset(
        "vit-tiny",
        num_labels=len(ACTIONS),
        id2label=dict(enumerate(ACTIONS)),
        label2id={a: i for i, a in enumerate(ACTIONS)},
        head_init_scale=25.0,
    )
    model = VideoMAEv2ForVideoClassification(config).eval()
    model.save_pretrained(folder)
    return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("export")
    tiny_classifier(root / "model")
    assert (
        hub_main(["export", "--model", str(root / "model"), "--output", str(root / "out"), "--sampling-rate", "2"]) == 0
    )
    return root / "model", root / "out"


def test_export_writes_weights_code_processor_configs_and_card(exported) -> None:
    _, out = exported
    assert {p.name for p in out.iterdir()} == {
        "config.json",
        "model.safetensors",
        "README.md",
        "preprocessor_config.json",
        "video_preprocessor_config.json",
        *SHIPPED_CODE,
    }
    config = json.loads((out / "config.json").read_text())
    assert config["auto_map"] == {
        "AutoConfig": "configuration_videomaev2.VideoMAEv2Config",
        "AutoModel": "modeling_videomaev2.VideoMAEv2Model",
        "AutoModelForVideoClassification": "modeling_videomaev2.VideoMAEv2ForVideoClassification",
    }
    assert config["id2label"]["3"] == "sit_down"
    video_config = json.loads((out / "video_preprocessor_config.json").read_text())
    assert video_config["image_mean"] == [0.485, 0.456, 0.406] and video_config["image_std"] == [0.229, 0.224, 0.225]
    assert (video_config["num_frames"], video_config["sampling_rate"], video_config["crop_size"]) == (
        4,
        2,
        {"height": 32, "width": 32},
    )


def test_shipped_code_never_imports_our_package(exported) -> None:
    _, out = exported
    assert shipped_code_problems(out) == []
    for name in SHIPPED_CODE:
        assert "hf_tiktokactions" not in (out / name).read_text()
    (out.parent / "bad").mkdir()
    (out.parent / "bad" / "modeling_x.py").write_text(
        "import torch\nfrom hf_tiktokactions.modeling import x\nfrom .gone import y\n"
    )
    assert shipped_code_problems(out.parent / "bad") == [
        "modeling_x.py:2 imports hf_tiktokactions.modeling",
        "modeling_x.py:3 imports .gone, which is not shipped",
    ]


def test_export_leaves_the_classes_unregistered(exported) -> None:
    assert VideoMAEv2ForVideoClassification._auto_class is None and VideoMAEv2Config._auto_class is None


def test_processor_config_reproduces_our_eval_preprocessing(exported) -> None:
    from transformers import AutoImageProcessor, AutoVideoProcessor

    _, out = exported
    processor = AutoVideoProcessor.from_pretrained(out)
    y, x = torch.meshgrid(torch.arange(48.0), torch.arange(96.0), indexing="ij")
    smooth = torch.stack([128 + 100 * torch.sin(x / 7 + t + c) * torch.cos(y / 9) for t in range(4) for c in range(3)])
    frames = smooth.view(4, 3, 48, 96).round().to(torch.uint8)  # image-like content, not pixel noise
    theirs = processor(frames, return_tensors="pt")["pixel_values"]  # (1, T, C, 32, 32)
    ours = EvalTransform(input_size=32, short_side_size=32, num_crops=1)(frames).unsqueeze(0)
    assert theirs.shape == ours.shape == (1, 4, 3, 32, 32)
    image_processor = AutoImageProcessor.from_pretrained(out)
    assert type(image_processor).__name__.startswith("VideoMAEImageProcessor")
    assert list(image_processor.image_mean) == [0.485, 0.456, 0.406] and image_processor.crop_size["height"] == 32
    # same resize, crop and normalisation (a 2:1 frame, so both round the resized width alike);
    # the resize kernels still round differently (uint8 vs float paths)
    assert (theirs - ours).abs().mean() < 0.02


# A fresh interpreter in which `import hf_tiktokactions` fails, like a user who only has torch + transformers.
REMOTE_LOAD = BLOCK_OUR_PACKAGE + textwrap.dedent(
    """

    import torch
    from transformers import AutoModel, AutoModelForVideoClassification

    folder, work = sys.argv[1], sys.argv[2]
    model = AutoModelForVideoClassification.from_pretrained(folder, trust_remote_code=True).eval()
    pixel_values = torch.load(f"{work}/inputs.pt")
    with torch.inference_mode():
        logits = model(pixel_values).logits
    encoder = AutoModel.from_pretrained(folder, trust_remote_code=True)
    outputs = {"logits": logits, "class": type(model).__module__, "encoder": type(encoder).__name__}
    torch.save(outputs, f"{work}/outputs.pt")
    assert not any(m == "hf_tiktokactions" or m.startswith("hf_tiktokactions.") for m in sys.modules)
    """
)


def test_a_user_without_our_package_gets_the_same_logits(exported, tmp_path: Path) -> None:
    model_dir, out = exported
    ours = VideoMAEv2ForVideoClassification.from_pretrained(model_dir).eval()
    pixel_values = torch.randn(2, 4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected = ours(pixel_values).logits
    torch.save(pixel_values, tmp_path / "inputs.pt")

    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "HF_HOME": str(tmp_path / "hf_home"),  # a fresh modules cache: the code must come from the folder
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }
    result = subprocess.run(
        [sys.executable, "-I", "-c", REMOTE_LOAD, str(out), str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = torch.load(tmp_path / "outputs.pt")
    assert outputs["class"].startswith("transformers_modules.")
    assert outputs["encoder"] == "VideoMAEv2Model"
    torch.testing.assert_close(outputs["logits"], expected, rtol=1e-5, atol=1e-5)


def test_export_refuses_what_it_cannot_publish(tmp_path: Path, capsys) -> None:
    # an encoder alone is neither a classifier nor a pre-training model (those export: test_hub_export_pretrained.py)
    VideoMAEv2Model(VideoMAEv2Config.from_preset("vit-tiny")).save_pretrained(tmp_path / "encoder")
    with pytest.raises(CheckpointError, match=r"not a fine-tuned classifier.*head"):
        export_model(tmp_path / "encoder", tmp_path / "out1")

    tiny_classifier(tmp_path / "model")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        export_model(tmp_path / "model", tmp_path / "busy")
    assert (tmp_path / "busy" / "notes.txt").exists()

    assert hub_main_code(["export", "--model", str(tmp_path / "nowhere"), "--output", str(tmp_path / "out2")]) == 2
    assert "no such model folder" in capsys.readouterr().err
    (tmp_path / "a_file").write_text("mine")  # the message names the option as --help does (it said "--output")
    with pytest.raises(ConfigError, match="a_file is a file; --output-dir must be a folder"):
        export_model(tmp_path / "model", tmp_path / "a_file")
    # a training checkpoint folder (weights, no config.json): transformers built a default ViT-B config for it, and
    # the export ended in a size-mismatch report and a RuntimeError traceback
    VideoMAEv2Model(VideoMAEv2Config.from_preset("vit-tiny")).save_pretrained(tmp_path / "checkpoint")
    (tmp_path / "checkpoint" / "config.json").unlink()
    assert hub_main_code(["export", "--model", str(tmp_path / "checkpoint"), "--output", str(tmp_path / "out3")]) == 2
    assert "no config.json, so not a saved model folder" in capsys.readouterr().err


def hub_main_code(argv: list[str]) -> int:
    from hf_tiktokactions.cli_errors import run_cli

    return run_cli(hub_main, argv)
