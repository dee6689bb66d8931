"""``python -m hf_tiktokactions.convert`` on look-alikes of the checkpoints people have (``official_checkpoints``):
the paper's released files (DrQY/VideoMAEv2_TikTok), OpenGVLab's Hub folders, Hub repo ids through a Hub cache,
and hostile or malformed files."""

import argparse
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from official_checkpoints import (
    OfficialVisionTransformer,
    numpy1_args,
    pickle_globals,
    save_forged_size_checkpoint,
    save_numpy1_checkpoint,
    save_opengvlab_folder,
)

from hf_tiktokactions import VideoMAEv2Config, VideoMAEv2ForPreTraining, VideoMAEv2ForVideoClassification
from hf_tiktokactions.modeling import VideoMAEv2Model

NUMPY1_GLOBALS = {"numpy dtype", "numpy.core.multiarray scalar", "__builtin__ set", "_codecs encode"}
REPO_ROOT = Path(__file__).resolve().parents[1]


_DRIVER = """
import json, resource, sys
from hf_tiktokactions.cli_errors import run_cli
from hf_tiktokactions.convert import main
for argv in json.loads(sys.argv[1]):
    print("@@call", file=sys.stderr, flush=True)
    code = run_cli(main, argv)
    sys.stderr.flush()
    print("@@result", json.dumps({"rc": code, "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def run_converts(*calls: list, env: dict | None = None) -> list[dict]:
    """Run the CLI once per argv list, all in one child process (torch is imported once); for each call its
    exit code, its stderr and the child's peak resident memory so far (MiB)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    argvs = json.dumps([[str(a) for a in call] for call in calls])
    child = subprocess.run(
        [sys.executable, "-c", _DRIVER, argvs], capture_output=True, text=True, timeout=600, env=full_env
    )
    assert child.returncode == 0, child.stderr
    results = [json.loads(line.split(" ", 1)[1]) for line in child.stdout.splitlines() if line.startswith("@@result")]
    errors = child.stderr.split("@@call\n")[1:]
    assert len(results) == len(errors) == len(calls), child.stderr
    return [
        {"rc": r["rc"], "stderr": e, "peak_rss_mb": r["maxrss_kib"] / 1024, "call": c}
        for r, e, c in zip(results, errors, calls)
    ]


def succeeded(result: dict) -> dict:
    assert result["rc"] == 0, result
    return result


def user_error(result: dict) -> str:
    """The one error line of a refused conversion (after checking there is nothing else)."""
    assert result["rc"] == 2, result
    lines = result["stderr"].splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result["stderr"]
    assert "weights_only" not in lines[0] and "Traceback" not in result["stderr"]
    return lines[0]


def clip(batch: int = 2) -> torch.Tensor:
    """(B, T, C, H, W) for our models; the official ones take (B, C, T, H, W)."""
    return torch.randn(batch, 4, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def test_the_look_alike_has_the_released_files_pickle_globals_and_plain_weights_only_refuses_it(tmp_path):
    save_numpy1_checkpoint({"module": OfficialVisionTransformer().state_dict(), "args": numpy1_args()}, tmp_path / "f")
    assert NUMPY1_GLOBALS <= pickle_globals(tmp_path / "f")
    with pytest.raises(Exception, match="Unsupported global: GLOBAL numpy.core.multiarray.scalar"):
        with torch.serialization.safe_globals([argparse.Namespace]):  # what the converter allowed before
            torch.load(tmp_path / "f", weights_only=True)


def test_released_checkpoints_and_opengvlab_folders_give_the_official_outputs(tmp_path):
    """One child process converts a fine-tuned and a pre-training file as released, and an OpenGVLab folder."""
    official = OfficialVisionTransformer().eval()
    save_numpy1_checkpoint({"module": official.state_dict(), "args": numpy1_args(), "epoch": 29}, tmp_path / "ft.pth")
    pretraining = VideoMAEv2ForPreTraining(VideoMAEv2Config.from_preset("vit-tiny")).state_dict()
    optimizer = {"state": {0: {"exp_avg": torch.ones(1000)}}, "param_groups": [{"lr": 1e-3}]}
    checkpoint = {"model": pretraining, "optimizer": optimizer, "args": numpy1_args(), "scaler": {"scale": 65536.0}}
    save_numpy1_checkpoint(checkpoint, tmp_path / "checkpoint-298.pth")
    assert zipfile.is_zipfile(tmp_path / "checkpoint-298.pth")  # the format torch >= 1.6 writes: memory-mapped
    gvl = OfficialVisionTransformer(classes=0).eval()
    save_opengvlab_folder(gvl, tmp_path / "VideoMAEv2-Base")
    for result in run_converts(
        [tmp_path / "ft.pth", tmp_path / "ft_out"],
        [tmp_path / "checkpoint-298.pth", tmp_path / "pt_out"],
        [tmp_path / "VideoMAEv2-Base", tmp_path / "gvl_out"],
        [tmp_path / "VideoMAEv2-Base", tmp_path / "gvl_cls", "--task", "classification", "--num-labels", "3"],
    ):
        succeeded(result)
    x = clip()

    classifier = VideoMAEv2ForVideoClassification.from_pretrained(tmp_path / "ft_out").eval()
    assert classifier.config.num_frames == 4 and classifier.config.image_size == 32
    with torch.no_grad():
        torch.testing.assert_close(classifier(x).logits, official(x.transpose(1, 2)), atol=1e-5, rtol=0)

    model = VideoMAEv2ForPreTraining.from_pretrained(tmp_path / "pt_out")
    for key, value in pretraining.items():
        assert torch.equal(model.state_dict()[key], value), key

    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(tmp_path / "gvl_out").eval()
    assert isinstance(encoder, VideoMAEv2Model) and encoder.config.num_frames == 4
    with torch.no_grad():
        torch.testing.assert_close(encoder(x).pooler_output, gvl.forward_features(x.transpose(1, 2)), atol=1e-5, rtol=0)
    report = json.loads((tmp_path / "gvl_cls" / "conversion.json").read_text())
    assert report["initialised_keys"] == ["head.bias", "head.weight"]  # only the head is new


def hub_cache_with(cache: Path, repo_id: str, files: dict[str, Path]) -> None:
    """What ``hf download`` leaves in a Hub cache: refs/main naming a snapshot that holds the files."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    for name, source in files.items():
        target = repo / "snapshots" / commit / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())


def test_hub_repo_ids_resolve_through_the_hub_cache_offline(tmp_path):
    official = OfficialVisionTransformer().eval()
    save_numpy1_checkpoint({"module": official.state_dict(), "args": numpy1_args()}, tmp_path / "ft.pth")
    save_opengvlab_folder(OfficialVisionTransformer(classes=0), tmp_path / "gvl")
    cache = tmp_path / "hub"
    inner = "vit_b_tiktokactions_k400ft_oscript/tiktokactions_ft_k400.pth"
    hub_cache_with(cache, "DrQY/VideoMAEv2_TikTok", {inner: tmp_path / "ft.pth"})
    gvl_files = {"config.json": tmp_path / "gvl/config.json", "model.safetensors": tmp_path / "gvl/model.safetensors"}
    hub_cache_with(cache, "OpenGVLab/VideoMAEv2-Base", gvl_files)
    env = {"HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}

    by_colon, by_option, folder, missing, several, missing_file = run_converts(
        [f"DrQY/VideoMAEv2_TikTok:{inner}", tmp_path / "a"],
        ["DrQY/VideoMAEv2_TikTok", tmp_path / "b", "--filename", inner],
        ["OpenGVLab/VideoMAEv2-Base", tmp_path / "c"],
        ["OpenGVLab/VideoMAEv2-giant", tmp_path / "d"],
        ["DrQY/VideoMAEv2_TikTok", tmp_path / "e"],
        ["DrQY/VideoMAEv2_TikTok:vit_g/tiktokactions_ft_k400_g.pth", tmp_path / "f"],
        env=env,
    )
    succeeded(by_colon), succeeded(by_option), succeeded(folder)
    ours = VideoMAEv2ForVideoClassification.from_pretrained(tmp_path / "b").eval()
    with torch.no_grad():
        torch.testing.assert_close(ours(clip()).logits, official(clip().transpose(1, 2)), atol=1e-5, rtol=0)
    assert "hf download OpenGVLab/VideoMAEv2-giant`" in user_error(missing)
    assert "DrQY/VideoMAEv2_TikTok:path/in/repo.pth" in user_error(several)
    assert "hf download DrQY/VideoMAEv2_TikTok vit_g/tiktokactions_ft_k400_g.pth`" in user_error(missing_file)


class RunsAShellCommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class RunsPython:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


def malformed(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.pth"
    good = OfficialVisionTransformer().state_dict()
    if kind == "truncated_zip":
        torch.save({"module": good}, path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif kind == "random_bytes":
        path.write_bytes(torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(0)).byte().numpy())
    elif kind == "no_state_dict":
        torch.save({"epoch": 3, "args": argparse.Namespace(lr=0.1)}, path)
    elif kind == "integer_tensors":
        torch.save({"module": {k: v.long() for k, v in good.items()}}, path)
    elif kind == "forged_size_zip":
        save_forged_size_checkpoint(path, zip_format=True)
    elif kind == "forged_size_legacy":
        save_forged_size_checkpoint(path, zip_format=False)
    elif kind == "forged_safetensors_header":
        path = tmp_path / "forged.safetensors"
        header = json.dumps({"w": {"dtype": "F32", "shape": [10**12], "data_offsets": [0, 4 * 10**12]}}).encode()
        path.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 16)
    elif kind == "wrong_shape":
        good["blocks.1.attn.proj.weight"] = torch.zeros(7, 64)
        torch.save({"module": good}, path)
    return path


MALFORMED = {
    "truncated_zip": "cannot read checkpoint",
    "random_bytes": "cannot read checkpoint",
    "no_state_dict": "no state dict under 'model'",
    "integer_tensors": "not floating point ['encoder.blocks.0.attn.proj.bias (torch.int64)'",
    "forged_size_zip": "claim 40000.0 GB",
    "forged_size_legacy": "claim 40000.0 GB",
    "forged_safetensors_header": "cannot read checkpoint",
    "wrong_shape": "mis-shaped ['encoder.blocks.1.attn.proj.weight (7, 64) (model: (64, 64))']",
}


def test_hostile_and_malformed_checkpoints_end_in_one_clear_line_in_bounded_memory(tmp_path):
    """Each file is made for real; one child process tries them all and must stay small (no 40 TB allocation)."""
    marker = tmp_path / "pwned"
    state = OfficialVisionTransformer().state_dict()
    for name, payload in [("shell", RunsAShellCommand), ("python", RunsPython)]:
        torch.save({"module": state, "args": argparse.Namespace(hook=payload(marker))}, tmp_path / f"evil_{name}.pth")
    paths = [tmp_path / "evil_shell.pth", tmp_path / "evil_python.pth"] + [malformed(tmp_path, k) for k in MALFORMED]
    results = run_converts(*[[path, tmp_path / f"out_{i}"] for i, path in enumerate(paths)])
    says = ["refused", "refused", *MALFORMED.values()]
    for path, expected, result in zip(paths, says, results):
        line = user_error(result)
        assert path.name in line or "does not match" in line, line
        assert expected in line, line
    assert not marker.exists()
    assert max(r["peak_rss_mb"] for r in results) < 1500
    assert not any(tmp_path.glob("out_*"))


def test_a_vit_g_shaped_release_with_patch_14_converts(tmp_path):
    """ViT-g's files differ by their patch size (14): the patch and input sizes come from the file itself."""
    from hf_tiktokactions.modeling.conversion import convert

    official = OfficialVisionTransformer(img=28, patch=14).eval()
    save_numpy1_checkpoint({"module": official.state_dict(), "args": numpy1_args(input_size=28)}, tmp_path / "g.pth")
    convert(tmp_path / "g.pth", tmp_path / "out", preset="vit-tiny")  # only the head count comes from the preset
    ours = VideoMAEv2ForVideoClassification.from_pretrained(tmp_path / "out").eval()
    assert ours.config.patch_size == 14 and ours.config.image_size == 28
    x = torch.randn(2, 4, 3, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(ours(x).logits, official(x.transpose(1, 2)), atol=1e-5, rtol=0)


def test_deepspeed_fp16_use_cls_and_wrapped_releases_give_the_official_outputs(tmp_path):
    """Files as other official runs leave them: DeepSpeed's fp16 weights beside its bookkeeping, a model fine-tuned
    with ``--use_cls`` (the head reads token 0), and weights under ``backbone.`` or ``module._orig_mod.``."""
    import collections

    from hf_tiktokactions.modeling.conversion import convert

    official = OfficialVisionTransformer().eval()
    fp16 = {key: value.half() for key, value in official.state_dict().items()}
    shapes = collections.OrderedDict((key, value.shape) for key, value in fp16.items())
    deepspeed = {"module": fp16, "param_shapes": [shapes], "ds_config": {"fp16": {"enabled": True}}}
    save_numpy1_checkpoint({**deepspeed, "args": numpy1_args(), "epoch": 29}, tmp_path / "ds.pth")
    use_cls = OfficialVisionTransformer(use_mean_pooling=False).eval()
    save_numpy1_checkpoint({"module": use_cls.state_dict(), "args": numpy1_args()}, tmp_path / "cls.pth")
    for prefix in ("backbone.", "module._orig_mod."):
        state = {prefix + key: value for key, value in official.state_dict().items()}
        torch.save({"model": state, "args": numpy1_args()}, tmp_path / f"{prefix.rstrip('.')}.pth")
    x = clip()

    report = convert(tmp_path / "ds.pth", tmp_path / "ds")
    assert report["source_dtypes"] == ["float16"]
    converted = VideoMAEv2ForVideoClassification.from_pretrained(tmp_path / "ds").eval()
    assert {param.dtype for param in converted.parameters()} == {torch.float32}  # fp32 input works as it is
    rounded = OfficialVisionTransformer().eval()
    rounded.load_state_dict({key: value.float() for key, value in fp16.items()})  # what the official code runs
    with torch.no_grad():
        torch.testing.assert_close(converted(x).logits, rounded(x.transpose(1, 2)), atol=1e-5, rtol=0)

    convert(tmp_path / "cls.pth", tmp_path / "cls")
    converted = VideoMAEv2ForVideoClassification.from_pretrained(tmp_path / "cls").eval()
    assert not converted.config.use_mean_pooling
    with torch.no_grad():
        torch.testing.assert_close(converted(x).logits, use_cls(x.transpose(1, 2)), atol=1e-5, rtol=0)

    for name in ("backbone", "module._orig_mod"):
        convert(tmp_path / f"{name}.pth", tmp_path / name)
        converted = VideoMAEv2ForVideoClassification.from_pretrained(tmp_path / name).eval()
        with torch.no_grad():
            torch.testing.assert_close(converted(x).logits, official(x.transpose(1, 2)), atol=1e-5, rtol=0)


def test_a_learnt_position_table_is_refused_and_pretraining_masks_come_from_the_args(tmp_path):
    from hf_tiktokactions.errors import CheckpointError
    from hf_tiktokactions.modeling.conversion import convert

    state = OfficialVisionTransformer().state_dict()
    learnt = torch.randn(1, 32, 64, generator=torch.Generator().manual_seed(0))
    torch.save({"module": {**state, "pos_embed": learnt}}, tmp_path / "learnt.pth")
    with pytest.raises(CheckpointError, match="pos_embed is a learnt position table"):
        convert(tmp_path / "learnt.pth", tmp_path / "learnt")
    assert not (tmp_path / "learnt").exists()

    pretraining = VideoMAEv2ForPreTraining(VideoMAEv2Config.from_preset("vit-tiny")).state_dict()
    v1_args = argparse.Namespace(num_frames=4, input_size=32, mask_type="tube", mask_ratio=0.75, normlize_target=False)
    torch.save({"model": pretraining, "args": v1_args}, tmp_path / "v1.pth")
    convert(tmp_path / "v1.pth", tmp_path / "v1")
    config = VideoMAEv2Config.from_pretrained(tmp_path / "v1")
    # VideoMAE V1 decodes every masked token: no running-cell decoder mask
    assert (config.mask_ratio, config.decoder_mask_ratio, config.norm_pix_loss) == (0.75, 0.0, False)
