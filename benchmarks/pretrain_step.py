"""Pre-training step throughput: our VideoMAE V2 against transformers' VideoMAE (V1) in the same run.

One step = forward + backward + AdamW step, under bf16 autocast on GPU (fp32 on CPU unless --dtype says
otherwise). Masks are drawn before timing, as a data loader's workers would. Prints one JSON line per
model, then one comparing them:

    python benchmarks/pretrain_step.py --model-preset vit-b --batch 64
    python benchmarks/pretrain_step.py --model-preset vit-g --batch 32 --gradient-checkpointing --models ours
    python benchmarks/pretrain_step.py --model-preset vit-s --batch 2 --device cpu --steps 3   # a CPU smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time

import torch
import transformers
from torch.utils.flop_counter import FlopCounterMode
from transformers_baseline import videomae_config

from hf_tiktokactions.machine import cpu_model
from hf_tiktokactions.modeling import VideoMAEv2Config, VideoMAEv2ForPreTraining, tube_mask
from hf_tiktokactions.option_help import ArgumentParser

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def parse_args() -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-preset", "--preset", dest="preset", default="vit-b", help="model size")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=DTYPES, help="autocast dtype (default bf16 on GPU, fp32 on CPU)")
    parser.add_argument("--models", default="ours,transformers", help="comma list of: ours, transformers")
    parser.add_argument("--compile", action="store_true", help="torch.compile our model")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--transformers-attn", default="sdpa", choices=["sdpa", "eager"])
    parser.add_argument("--num-mask-sets", type=int, default=4, help="distinct pre-drawn mask batches cycled through")
    return parser.parse_args()


def our_model(config: VideoMAEv2Config):
    model = VideoMAEv2ForPreTraining(config)

    def masks(batch: int, generator: torch.Generator) -> dict:
        encoder, decoder = model.draw_masks(batch, generator)
        return {"bool_masked_pos": encoder.cpu(), "decoder_masked_pos": decoder.cpu()}

    return model, masks


def transformers_model(config: VideoMAEv2Config, attn: str):
    """transformers' VideoMAEForPreTraining of the same size, tube masking at the same ratio (V1 decoder)."""
    theirs = videomae_config(config, use_mean_pooling=False, norm_pix_loss=True, attn_implementation=attn)
    model = transformers.VideoMAEForPreTraining(theirs)
    t, h, w = config.grid_size

    def masks(batch: int, generator: torch.Generator) -> dict:
        return {"bool_masked_pos": tube_mask(batch, t, h * w, config.mask_ratio, generator)}

    return model, masks


def count_flops(model, pixel_values, masks, autocast) -> int:
    """FLOPs of one forward + backward, counted by torch.utils.flop_counter."""
    with FlopCounterMode(display=False) as counter:
        with autocast():
            loss = model(pixel_values, **masks).loss
        loss.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def measure(name: str, model, make_masks, args, dtype) -> dict:
    device = torch.device(args.device)
    model.to(device).train()
    if args.gradient_checkpointing:
        model.activation_checkpointing_enable()
    step_model = torch.compile(model, fullgraph=True) if (args.compile and name == "ours") else model
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=1.5e-4, betas=(0.9, 0.95), weight_decay=0.05, fused=device.type == "cuda"
    )
    generator = torch.Generator().manual_seed(0)
    config_size = model.config.image_size
    pixel_values = torch.randn(args.batch, args.num_frames, 3, config_size, config_size, device=device)
    mask_sets = [
        {k: v.to(device, non_blocking=True) for k, v in make_masks(args.batch, generator).items()}
        for _ in range(args.num_mask_sets)
    ]

    def autocast():
        if dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=dtype)

    def step(i: int) -> None:
        with autocast():
            loss = step_model(pixel_values, **mask_sets[i % len(mask_sets)]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    flops = count_flops(model, pixel_values, mask_sets[0], autocast)
    for i in range(args.warmup):
        step(i)
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for i in range(args.steps):
        step(i)
    sync()
    seconds = (time.perf_counter() - start) / args.steps
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
    return {
        "benchmark": "pretrain_step",
        "model": name,
        "preset": args.preset,
        "batch": args.batch,
        "frames": args.num_frames,
        "image_size": config_size,
        "device": torch.cuda.get_device_name() if device.type == "cuda" else cpu_model(),
        "dtype": str(dtype).removeprefix("torch."),
        "compile": bool(args.compile and name == "ours"),
        "gradient_checkpointing": args.gradient_checkpointing,
        "clips_per_s": round(args.batch / seconds, 2),
        "step_ms": round(seconds * 1000, 2),
        "peak_memory_gb": round(peak, 2) if peak is not None else None,
        "gflop_per_step": round(flops / 1e9, 2),
        "tflop_per_s": round(flops / seconds / 1e12, 3),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cpu_threads": torch.get_num_threads(),
    }


def main() -> None:
    args = parse_args()
    dtype = DTYPES[args.dtype or ("bf16" if args.device.startswith("cuda") else "fp32")]
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    config = VideoMAEv2Config.from_preset(args.preset, num_frames=args.num_frames, image_size=args.image_size)
    results = {}
    for name in args.models.split(","):
        if name == "ours":
            model, masks = our_model(config)
        elif name == "transformers":
            model, masks = transformers_model(config, args.transformers_attn)
        else:
            raise SystemExit(f"unknown model {name!r}: use ours or transformers")
        results[name] = measure(name, model, masks, args, dtype)
        print(json.dumps(results[name]), flush=True)
        del model
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()
    if {"ours", "transformers"} <= results.keys():
        speedup = results["ours"]["clips_per_s"] / results["transformers"]["clips_per_s"]
        print(
            json.dumps(
                {"benchmark": "pretrain_step", "comparison": "ours / transformers", "speedup": round(speedup, 3)}
            )
        )


if __name__ == "__main__":
    main()
