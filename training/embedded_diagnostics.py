"""Fast, in-memory diagnostics of the embedded synthetic set: does pre-training help, and if not, why not?

`compare_init.py --embedded true` answers the paper's question through the real pipeline (MP4 files, the data
loaders, Accelerate, Trainer); it takes tens of minutes per arm on a CPU. This script renders the clips straight
into memory and trains the same VideoMAE V2 classes in a plain loop, so a setting can be tried in minutes:

    python training/embedded_diagnostics.py --arms scratch,pretrained,probe,cnn --output-json runs/diagnostics.json

Arms (each prints progress and ends with test top-1 on held-out clips):
  scratch     fine-tune a randomly initialised encoder on the labelled clips
  pretrained  pre-train (tube + running-cell masking) on the unlabeled clips, then fine-tune the same way
  probe       linear probe (logistic regression) of mean-pooled encoder features: random vs pre-trained
  cnn         a small 3D CNN trained like `scratch`: tells whether the labels are learnable from these clips

The labelled and test clips come from the target seed (0), the unlabeled ones from another seed (1), as in
compare_init. Fine-tuning follows the recipe's core (AdamW, layer-wise lr decay, warm-up + cosine, label
smoothing 0.1, random resized crop + flip) without mixup / RandAugment / erasing.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hf_tiktokactions import VideoMAEv2Config, VideoMAEv2ForPreTraining, VideoMAEv2ForVideoClassification
from hf_tiktokactions.data.synthetic import ACTIONS, action_poses, clip_seed, render_frames, sample_clip
from hf_tiktokactions.data.transforms import normalize_video
from hf_tiktokactions.option_help import ArgumentParser, retire
from hf_tiktokactions.training.optim import layer_decay_groups, weight_decay_groups
from hf_tiktokactions.training.schedules import cosine_with_warmup

CLIP_FRAMES = 32
TEST_INDEX_OFFSET = 100_000  # test clips use clip indices far from the labelled ones


def parse_args(argv=None) -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arms", default="scratch,pretrained", help="comma list of: scratch, pretrained, probe, cnn")
    parser.add_argument("--labelled", type=int, default=20, help="labelled clips per action")
    parser.add_argument("--test", type=int, default=20, help="test clips per action")
    parser.add_argument("--unlabeled", type=int, default=100, help="pre-training clips per action (another seed)")
    parser.add_argument("--size", type=int, default=64, help="rendered frame side")
    parser.add_argument("--figure-scale", type=float, default=1.0, help="scale the stick figure (1 = the embedded set)")
    parser.add_argument("--plain", action="store_true", help="no blobs, noise or camera shake in the background")
    parser.add_argument("--num-frames", type=int, default=8)
    parser.add_argument("--sampling-rate", type=int, default=4)
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--patch-size", type=int, default=8)
    parser.add_argument("--mask-ratio", type=float, default=0.75)
    parser.add_argument("--norm-pix-loss", type=int, default=0, help="1 = per-patch normalised target (official)")
    parser.add_argument("--pretrain-steps", type=int, default=2000)
    parser.add_argument("--pretrain-lr", type=float, default=1.5e-3)
    parser.add_argument("--finetune-steps", type=int, default=400)
    parser.add_argument("--finetune-lr", type=float, default=1e-3)
    parser.add_argument("--layer-decay", type=float, default=0.75)
    parser.add_argument("--batch", type=int, default=32, help="fine-tuning (and default pre-training) batch")
    parser.add_argument("--pretrain-batch", type=int, help="pre-training batch (default: --batch)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--output-json", type=Path, help="write the results as JSON here too")
    retire(parser, "--output", "--output-json", "names an output folder on the other commands")
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------------------------- data


def render(args, action: str, seed: int) -> np.ndarray:
    """One clip (32, size, size, 3) uint8, optionally with a larger figure or a plain background."""
    motion, scene = sample_clip(seed, args.size, CLIP_FRAMES)
    if args.figure_scale != 1.0:
        scene = replace(
            scene,
            figure_height=scene.figure_height * args.figure_scale,
            thickness=scene.thickness * args.figure_scale,
            figure_x=scene.figure_x / 2,
        )
    if args.plain:
        scene = replace(scene, noise_std=0.0, blob_strength=scene.blob_strength * 0, shake=scene.shake * 0)
    return render_frames(action_poses(action, CLIP_FRAMES, motion), scene)


def clip_set(args, seed: int, per_action: int, first_index: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Clips (K, 32, H, W, 3) uint8 on ``args.device`` and labels (K,) on the CPU, ``per_action`` clips of
    every action."""
    clips, labels = [], []
    for label, action in enumerate(ACTIONS):
        for index in range(first_index, first_index + per_action):
            clips.append(render(args, action, clip_seed(seed, action, index)))
            labels.append(label)
    return torch.from_numpy(np.stack(clips)).to(args.device), torch.tensor(labels)


def draw_views(args, count: int, generator: torch.Generator | None) -> torch.Tensor:
    """Per clip (start, side, top, left, flip) as a (count, 5) int64 tensor.

    Training (``generator`` given): random start, a random square crop of 70-100% of the side and a random
    horizontal flip, drawn clip by clip in that order. Evaluation: the centred window of the full frame.
    """
    span = args.num_frames * args.sampling_rate
    if generator is None:
        return torch.tensor([[(CLIP_FRAMES - span) // 2, args.size, 0, 0, 0]] * count)
    views = []
    for _ in range(count):
        start = int(torch.randint(0, CLIP_FRAMES - span + 1, (1,), generator=generator))
        side = int(torch.randint(int(0.7 * args.size), args.size + 1, (1,), generator=generator))
        top, left = (int(torch.randint(0, args.size - side + 1, (1,), generator=generator)) for _ in range(2))
        views.append([start, side, top, left, int(torch.rand(1, generator=generator) < 0.5)])
    return torch.tensor(views)


def crop_resize_flip(frames: torch.Tensor, views: torch.Tensor) -> torch.Tensor:
    """(B, T, 3, S, S) float, views (B, 5) -> (B, T, 3, S, S): each clip's square crop resized back to S x S
    (bilinear, ``align_corners=False``: the sampling points of ``F.interpolate`` of the crop) and flipped.
    Where a point falls in the outer half pixel of the crop, it blends in the real neighbouring pixel rather
    than repeating the crop's edge, as ``torchvision.ops.roi_align`` does.

    One ``grid_sample`` for the whole batch instead of a crop + interpolate per clip, so it runs on the GPU
    in a few kernels.
    """
    batch, frames_per_clip, channels, size, _ = frames.shape
    side, top, left, flip = (views[:, i].to(frames.device, torch.float32) for i in range(1, 5))
    # output x in [-1, 1] samples input pixel left + (j + 0.5) * side / S - 0.5, i.e. normalised
    # input coordinate (2 * left + side) / S - 1 + (side / S) * x
    theta = torch.zeros(batch, 2, 3, device=frames.device)
    theta[:, 0, 0] = side / size * (1 - 2 * flip)
    theta[:, 0, 2] = (2 * left + side) / size - 1
    theta[:, 1, 1] = side / size
    theta[:, 1, 2] = (2 * top + side) / size - 1
    grid = F.affine_grid(theta, [batch, channels, size, size], align_corners=False)
    grid = grid.repeat_interleave(frames_per_clip, dim=0)
    flat = frames.reshape(batch * frames_per_clip, channels, size, size)
    out = F.grid_sample(flat, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.view(batch, frames_per_clip, channels, size, size)


def model_input(args, clips: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """(B, 32, H, W, 3) uint8 on ``args.device`` -> (B, T, 3, H, W) normalised; random start, crop and flip
    when ``generator`` is given (training), else the centred window of the full frame."""
    views = draw_views(args, len(clips), generator)
    steps = torch.arange(args.num_frames) * args.sampling_rate
    index = (views[:, :1] + steps).to(clips.device)  # (B, T) frame indices
    frames = clips[torch.arange(len(clips), device=clips.device)[:, None], index].permute(0, 1, 4, 2, 3)
    frames = normalize_video(frames)
    if generator is not None:
        frames = crop_resize_flip(frames, views)
    return frames


# ---------------------------------------------------------------------------------------------- models


def vit_config(args) -> VideoMAEv2Config:
    """The defaults give the ``vit-mini`` preset of training/configs/pretrain_embedded_synthetic.yaml."""
    return VideoMAEv2Config.from_preset(
        "vit-mini",
        hidden_size=args.hidden_size,
        num_hidden_layers=args.layers,
        num_attention_heads=max(2, args.hidden_size // 32),
        intermediate_size=4 * args.hidden_size,
        decoder_hidden_size=args.hidden_size // 2,
        decoder_num_hidden_layers=2,
        decoder_num_attention_heads=2,
        decoder_intermediate_size=args.hidden_size,
        image_size=args.size,
        patch_size=args.patch_size,
        num_frames=args.num_frames,
        num_labels=len(ACTIONS),
        drop_path_rate=0.1,
        mask_ratio=args.mask_ratio,
        norm_pix_loss=bool(args.norm_pix_loss),
    )


class TinyC3D(nn.Module):
    """A four-layer 3D CNN: (B, T, C, H, W) -> logits (B, num_labels), the learnability reference."""

    def __init__(self, num_labels: int) -> None:
        super().__init__()
        layers, width = [], 3
        for out, pool in ((32, (1, 2, 2)), (64, 2), (128, 2), (128, None)):
            layers += [nn.Conv3d(width, out, 3, padding=1), nn.BatchNorm3d(out), nn.ReLU()]
            layers.append(nn.MaxPool3d(pool) if pool else nn.AdaptiveAvgPool3d(1))
            width = out
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(width, num_labels)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(pixel_values.transpose(1, 2)))


def logits_of(model: nn.Module, pixel_values: torch.Tensor) -> torch.Tensor:
    out = model(pixel_values=pixel_values)
    return out.logits if hasattr(out, "logits") else out


@torch.no_grad()
def accuracy(args, model: nn.Module, clips: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    correct = sum(
        int(
            (
                logits_of(model, model_input(args, clips[i : i + args.batch], None)).argmax(-1).cpu()
                == labels[i : i + args.batch]
            ).sum()
        )
        for i in range(0, len(clips), args.batch)
    )
    model.train()
    return 100.0 * correct / len(clips)


# ---------------------------------------------------------------------------------------------- training


def set_lr(optimizer: torch.optim.Optimizer, step: int, total: int, peak: float) -> None:
    lr = cosine_with_warmup(step, total, peak, peak * 1e-3, warmup_steps=total // 10)
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)


def pretrain(args, unlabeled: torch.Tensor) -> dict:
    """MAE pre-training on the unlabeled clips; returns the state dict."""
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    model = VideoMAEv2ForPreTraining(vit_config(args)).to(args.device)
    optimizer = torch.optim.AdamW(weight_decay_groups(model, 0.05), lr=args.pretrain_lr, betas=(0.9, 0.95))
    start = time.time()
    for step in range(args.pretrain_steps):
        set_lr(optimizer, step, args.pretrain_steps, args.pretrain_lr)
        batch = unlabeled[torch.randint(0, len(unlabeled), (args.pretrain_batch or args.batch,), generator=generator)]
        loss = model(model_input(args, batch, generator), generator=generator).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 200 == 0 or step == args.pretrain_steps - 1:
            print(f"pretrain step {step} loss {loss.item():.4f} ({time.time() - start:.0f} s)", flush=True)
    return model.state_dict()


def finetune(args, model: nn.Module, data: dict, name: str) -> float:
    """Supervised training on the labelled clips; returns test top-1 (%)."""
    generator = torch.Generator().manual_seed(args.seed + 1)
    if isinstance(model, VideoMAEv2ForVideoClassification):
        groups = layer_decay_groups(model, 0.05, args.layer_decay, model.config.num_hidden_layers)
    else:
        groups = weight_decay_groups(model, 0.05)
    optimizer = torch.optim.AdamW(groups, lr=args.finetune_lr)
    clips, labels = data["labelled"]
    for step in range(args.finetune_steps):
        set_lr(optimizer, step, args.finetune_steps, args.finetune_lr)
        index = torch.randint(0, len(clips), (args.batch,), generator=generator)
        logits = logits_of(model, model_input(args, clips[index], generator))
        loss = F.cross_entropy(logits, labels[index].to(args.device), label_smoothing=0.1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 100 == 0 or step == args.finetune_steps - 1:
            print(
                f"{name} step {step} loss {loss.item():.3f} train {accuracy(args, model, clips, labels):.1f} "
                f"test {accuracy(args, model, *data['test']):.1f}",
                flush=True,
            )
    return accuracy(args, model, *data["test"])


def classifier(args, state: dict | None) -> VideoMAEv2ForVideoClassification:
    torch.manual_seed(args.seed + 1)
    model = VideoMAEv2ForVideoClassification(vit_config(args))
    if state is not None:
        missing, _ = model.load_state_dict(state, strict=False)
        if not set(missing) <= {"fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias"}:
            raise RuntimeError(f"the pre-trained encoder did not load: missing {sorted(missing)}")
    return model.to(args.device)


@torch.no_grad()
def pooled_features(args, model: VideoMAEv2ForVideoClassification, clips: torch.Tensor) -> torch.Tensor:
    model.eval()
    return torch.cat(
        [
            model.encoder.encode(model_input(args, clips[i : i + args.batch], None))[0].mean(1).cpu()
            for i in range(0, len(clips), args.batch)
        ]
    )


def linear_probe(args, model: VideoMAEv2ForVideoClassification, data: dict) -> dict[str, float]:
    """L2-regularised logistic regression (LBFGS) on standardised pooled features: train and test top-1 (%)."""
    train, test = pooled_features(args, model, data["labelled"][0]), pooled_features(args, model, data["test"][0])
    mean, std = train.mean(0), train.std(0) + 1e-6
    train, test = (train - mean) / std, (test - mean) / std
    labels, test_labels = data["labelled"][1], data["test"][1]
    weight = torch.zeros(train.shape[1], len(ACTIONS), requires_grad=True)
    bias = torch.zeros(len(ACTIONS), requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=500)

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(train @ weight + bias, labels) + 0.1 * weight.pow(2).sum() / len(train)
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        score = lambda x, y: 100.0 * float(((x @ weight + bias).argmax(1) == y).float().mean())  # noqa: E731
        return {"train": score(train, labels), "test": score(test, test_labels)}


def main(argv=None) -> dict:
    args = parse_args(argv)
    arms = [arm.strip() for arm in args.arms.split(",") if arm.strip()]
    unknown = set(arms) - {"scratch", "pretrained", "probe", "cnn"}
    if unknown:
        raise SystemExit(f"--arms: unknown {sorted(unknown)}; choose from scratch, pretrained, probe, cnn")
    start = time.time()
    data = {"labelled": clip_set(args, 0, args.labelled), "test": clip_set(args, 0, args.test, TEST_INDEX_OFFSET)}
    state = None
    if {"pretrained", "probe"} & set(arms):
        state = pretrain(args, clip_set(args, 1, args.unlabeled)[0])
    results: dict = {
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "chance": 100.0 / len(ACTIONS),
        "test_top1": {},
    }
    for arm in arms:
        if arm == "scratch":
            results["test_top1"]["scratch"] = finetune(args, classifier(args, None), data, "scratch")
        elif arm == "pretrained":
            results["test_top1"]["pretrained"] = finetune(args, classifier(args, state), data, "pretrained")
        elif arm == "cnn":
            torch.manual_seed(args.seed + 1)
            results["test_top1"]["cnn"] = finetune(args, TinyC3D(len(ACTIONS)).to(args.device), data, "cnn")
        else:
            results["linear_probe"] = {
                "random": linear_probe(args, classifier(args, None), data),
                "pretrained": linear_probe(args, classifier(args, state), data),
            }
    results["seconds"] = round(time.time() - start, 1)
    print(json.dumps(results))
    if args.output_json:
        args.output_json.parent.mkdir(parents=True, exist_ok=True)
        args.output_json.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
