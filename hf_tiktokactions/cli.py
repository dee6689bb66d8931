"""The ``hf-tiktokactions`` command (also ``python -m hf_tiktokactions``).

Subcommands:
    selfcheck   pre-train the tiny model on generated clips, save it, reload it as a classifier, and write
                a summary; the smallest end-to-end run of the model layer (no data or weights downloaded).
    convert     same as ``python -m hf_tiktokactions.convert``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .cli_errors import run_cli


def moving_pattern_clips(batch: int, num_frames: int, size: int, seed: int):
    """Clips of drifting sinusoidal stripes, a learnable stand-in for video: (B, T, 3, size, size) float."""
    import torch

    g = torch.Generator().manual_seed(seed)
    speed = torch.rand(batch, 1, 1, 1, 1, generator=g) * 3 + 1
    phase = torch.rand(batch, 1, 3, 1, 1, generator=g) * 6.28
    t = torch.arange(num_frames).view(1, -1, 1, 1, 1)
    y = torch.arange(size).view(1, 1, 1, -1, 1)
    x = torch.arange(size).view(1, 1, 1, 1, -1)
    return torch.sin((y + x * 0.5 + speed * t) / 3.0 + phase)


def selfcheck(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from .modeling import VideoMAEv2Config, VideoMAEv2ForPreTraining, VideoMAEv2ForVideoClassification

    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    started = time.perf_counter()
    config = VideoMAEv2Config.from_preset("vit-tiny")
    model = VideoMAEv2ForPreTraining(config).to(args.device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.05)
    generator = torch.Generator().manual_seed(args.seed)
    losses = []
    for step in tqdm(range(args.steps), desc="pre-training vit-tiny", unit="step"):
        clips = moving_pattern_clips(8, config.num_frames, config.image_size, seed=args.seed + step).to(args.device)
        loss = model(clips, generator=generator).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.save_pretrained(output / "pretrained")
    classifier = VideoMAEv2ForVideoClassification.from_pretrained(output / "pretrained", num_labels=3).eval()
    with torch.no_grad():
        logits = classifier(moving_pattern_clips(2, config.num_frames, config.image_size, seed=1).to(args.device)).logits
    summary = {
        "command": "selfcheck",
        "seed": args.seed,
        "steps": args.steps,
        "first_loss": round(losses[0], 4),
        "last_loss": round(sum(losses[-5:]) / min(5, len(losses)), 4),
        "classifier_logits_shape": list(logits.shape),
        "model_dir": str(output / "pretrained"),
        "seconds": round(time.perf_counter() - started, 1),
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
    }
    (output / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"selfcheck: loss {summary['first_loss']} -> {summary['last_loss']} in {args.steps} steps, "
        f"{summary['seconds']} s; model in {summary['model_dir']}; summary in {output / 'summary.json'}"
    )
    if not summary["last_loss"] < summary["first_loss"]:
        print("selfcheck: the loss did not decrease", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hf-tiktokactions", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("selfcheck", help="pre-train, save and reload the tiny model on generated clips")
    check.add_argument("--output", default="runs/selfcheck")
    check.add_argument("--steps", type=int, default=60)
    check.add_argument("--seed", type=int, default=0)
    check.add_argument("--device", default="cpu")
    sub.add_parser("convert", help="convert an official or transformers checkpoint (see --help of the subcommand)", add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "convert":
        from .convert import main as convert_main

        return convert_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return selfcheck(args)


def entry_point() -> None:
    sys.exit(run_cli(main))
