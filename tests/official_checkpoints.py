"""Look-alikes of the checkpoints people have, built here at tiny sizes with the published layouts.

* ``OfficialVisionTransformer``: the official fine-tuning model (OpenGVLab/VideoMAEv2 ``modeling_finetune.py``)
  re-written compactly with the same parameter names and the same forward: Conv3d patch embedding on
  (B, C, T, H, W), fixed sinusoid table, blocks with q/v biases and a zero k bias, final ``norm`` (identity with
  mean pooling), ``fc_norm`` of the mean over tokens, ``head``.
* ``save_numpy1_checkpoint``: ``torch.save`` of ``{'module' | 'model': state_dict, 'args': Namespace}`` whose
  ``args`` hold numpy scalars and a set, pickled with protocol 2 under numpy 1.x names, so that the file's
  globals are exactly those of the paper's released files: ``numpy.dtype``, ``numpy.core.multiarray.scalar``,
  ``__builtin__.set``, ``_codecs.encode``.
* ``save_opengvlab_folder``: an OpenGVLab Hub folder (config.json with nested ``model_config``, ``model.``-prefixed
  safetensors, no head).
"""

from __future__ import annotations

import argparse
import json
import pickle
import pickletools
import types
import zipfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn


def sinusoid_table(positions: int, dim: int) -> torch.Tensor:
    """(1, positions, dim), the official ``get_sinusoid_encoding_table``."""
    angles = np.array([[p / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)] for p in range(positions)])
    angles[:, 0::2] = np.sin(angles[:, 0::2])
    angles[:, 1::2] = np.cos(angles[:, 1::2])
    return torch.tensor(angles, dtype=torch.float32).unsqueeze(0)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.q_bias, self.v_bias = nn.Parameter(torch.zeros(dim)), nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
        qkv = nn.functional.linear(x, self.qkv.weight, bias).reshape(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, -1))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.mlp = nn.Sequential()
        self.mlp.fc1, self.mlp.act, self.mlp.fc2 = nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class OfficialVisionTransformer(nn.Module):
    """Official ``VisionTransformer``; input (B, C, T, H, W). ``use_mean_pooling=False`` is a model fine-tuned with
    ``--use_cls``: a final ``norm`` and no ``fc_norm``, the head reading token 0."""

    def __init__(
        self,
        img=32,
        patch=8,
        frames=4,
        tubelet=2,
        dim=64,
        depth=2,
        heads=2,
        mlp_ratio=2.0,
        classes=6,
        use_mean_pooling=True,
    ):
        super().__init__()
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv3d(3, dim, (tubelet, patch, patch), (tubelet, patch, patch))
        self.pos_embed = sinusoid_table((frames // tubelet) * (img // patch) ** 2, dim)  # not a parameter
        self.blocks = nn.ModuleList(Block(dim, heads, int(dim * mlp_ratio)) for _ in range(depth))
        self.norm = nn.Identity() if use_mean_pooling else nn.LayerNorm(dim, eps=1e-6)
        self.fc_norm = nn.LayerNorm(dim, eps=1e-6) if use_mean_pooling else None
        self.head = nn.Linear(dim, classes) if classes > 0 else nn.Identity()
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for name, param in self.named_parameters():
                param.copy_(torch.randn(param.shape, generator=generator) * 0.2 + (1.0 if "norm" in name else 0.0))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        x = x + self.pos_embed.type_as(x)
        for block in self.blocks:
            x = block(x)
        return self.fc_norm(x.mean(1)) if self.fc_norm is not None else self.norm(x[:, 0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


def numpy1_args(**values) -> argparse.Namespace:
    """Training args as the official scripts leave them: numpy scalars and a set among plain values."""
    return argparse.Namespace(
        num_frames=np.int64(values.get("num_frames", 4)),
        input_size=values.get("input_size", 32),
        lr=np.float64(1e-3),
        tubelet_size=np.int64(2),
        reprob=np.float32(0.25),
        eval_datasets={"k400", "ssv2"},
        model=values.get("model", "vit_tiny"),
    )


class _Numpy1Pickler(pickle._Pickler):
    """Python pickler writing numpy 2's ``scalar`` under its numpy 1.x name, as a numpy 1.x pickle names it."""

    def save_global(self, obj, name=None):
        if obj is np._core.multiarray.scalar:
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\nscalar\n")
            self.memoize(obj)
            return
        super().save_global(obj, name)


def save_numpy1_checkpoint(checkpoint: dict, path: Path) -> None:
    """``torch.save`` with protocol 2 through the numpy 1.x-naming pickler (zip format, as torch >= 1.6 writes)."""
    module = types.SimpleNamespace(Pickler=_Numpy1Pickler, __name__="pickle")
    torch.save(checkpoint, path, pickle_module=module, pickle_protocol=2)


def pickle_globals(path: Path) -> set[str]:
    """The ``module name`` pairs of every GLOBAL opcode in a torch zip file's data.pkl."""
    with zipfile.ZipFile(path) as archive:
        data = archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))
    return {arg for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}


def save_opengvlab_folder(model: OfficialVisionTransformer, folder: Path, size: str = "Base") -> None:
    """What ``OpenGVLab/VideoMAEv2-<size>`` holds: the wrapper's ``model.``-prefixed weights and its config."""
    folder.mkdir(parents=True, exist_ok=True)
    dim = model.fc_norm.normalized_shape[0]
    config = {
        "architectures": [f"VideoMAEv2_{size}"],
        "auto_map": {
            "AutoConfig": "modeling_config.VideoMAEv2Config",
            "AutoModel": "modeling_videomaev2.VideoMAEv2",
        },
        "model_type": f"VideoMAEv2_{size}",
        "model_config": {
            "img_size": 32,
            "patch_size": 8,
            "in_chans": 3,
            "num_classes": 0,
            "embed_dim": dim,
            "depth": len(model.blocks),
            "num_heads": model.blocks[0].attn.heads,
            "mlp_ratio": model.blocks[0].mlp.fc1.out_features / dim,
            "qkv_bias": True,
            "qk_scale": None,
            "drop_rate": 0.0,
            "attn_drop_rate": 0.0,
            "drop_path_rate": 0.0,
            "norm_layer": "nn.LayerNorm",
            "layer_norm_eps": 1e-6,
            "init_values": 0.0,
            "use_learnable_pos_emb": False,
            "tubelet_size": 2,
            "use_mean_pooling": True,
            "with_cp": False,
            "num_frames": 4,
            "cos_attn": False,
        },
        "torch_dtype": "float32",
        "transformers_version": "4.38.0",
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    state = {"model." + k: v.contiguous() for k, v in model.state_dict().items() if not k.startswith("head.")}
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})


class _ClaimingPickler(pickle._Pickler):
    """Writes every tensor storage as claiming ``claim`` elements: a forged header asking for absurd memory."""

    claim = 10**13

    def save_pers(self, pid):
        if isinstance(pid, tuple) and pid and pid[0] == "storage":
            pid = (*pid[:4], self.claim, *pid[5:])
        super().save_pers(pid)


def save_forged_size_checkpoint(path: Path, zip_format: bool = True) -> None:
    """A real ``torch.save`` file whose pickle claims 10**13 elements for its (tiny) tensor."""
    module = types.SimpleNamespace(Pickler=_ClaimingPickler, dump=pickle.dump, __name__="pickle")
    torch.save(
        {"model": {"w": torch.ones(4)}},
        path,
        pickle_module=module,
        pickle_protocol=2,
        _use_new_zipfile_serialization=zip_format,
    )
