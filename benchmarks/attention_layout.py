"""Self-attention of one ViT block in four layouts of q, k and v, on the same inputs, in alternating rounds.

* ``fused`` (ours): one (3D, D) projection; q, k, v are strided views of its output (row stride 3D);
* ``separate`` (transformers' ``VideoMAESelfAttention``): three (D, D) projections, row stride D;
* ``fused_packed``: the fused projection, then q, k, v copied contiguous before attention;
* ``per_head``: one batched matmul with a (3 heads, D, D/heads) weight, writing each head's q, k, v contiguous;
* ``fused_math``: ours with attention computed by SDPA's math backend (scores materialised, softmax, then a second
  matmul) instead of the fused (flash) kernel, to see whether the kernel or the GEMMs are the slower part.

Each variant is projection + ``scaled_dot_product_attention``; the output projection is the same for all and left
out. Prints one JSON line per variant (median and min milliseconds over the rounds) and checks that they agree:

    python benchmarks/attention_layout.py --dtype fp32 --rounds 21     # ViT-B, 3 clips of 16x224: 1568 tokens
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from hf_tiktokactions.machine import cpu_model
from hf_tiktokactions.option_help import ArgumentParser

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def parse_args() -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=3, help="clips (the views of one video)")
    parser.add_argument("--tokens", type=int, default=1568, help="8 x 14 x 14 for 16 frames at 224")
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="fp32")
    parser.add_argument("--rounds", type=int, default=21)
    return parser.parse_args()


def variants(weight: torch.Tensor, bias: torch.Tensor, heads: int) -> dict:
    """name -> function of x (B, L, D) giving the attention output (B, heads, L, D/heads)."""
    dim = weight.shape[1]

    def split_fused(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        b, length, _ = x.shape
        qkv = F.linear(x, weight, bias).view(b, length, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
        return qkv.unbind(0)

    def fused(x):
        return F.scaled_dot_product_attention(*split_fused(x))

    def fused_packed(x):
        return F.scaled_dot_product_attention(*(t.contiguous() for t in split_fused(x)))

    def separate(x):
        b, length, _ = x.shape
        q, k, v = (
            F.linear(x, weight[i * dim : (i + 1) * dim], bias[i * dim : (i + 1) * dim])
            .view(b, length, heads, dim // heads)
            .transpose(1, 2)
            for i in range(3)
        )
        return F.scaled_dot_product_attention(q, k, v)

    per_head_weight = weight.view(3 * heads, dim // heads, dim).transpose(1, 2).contiguous()  # (3 heads, D, D/heads)
    per_head_bias = bias.view(3 * heads, 1, dim // heads)

    def per_head(x):
        b, length, _ = x.shape
        qkv = torch.matmul(x.unsqueeze(1), per_head_weight).add_(per_head_bias)  # (B, 3 heads, L, D/heads)
        return F.scaled_dot_product_attention(*qkv.view(b, 3, heads, length, dim // heads).unbind(1))

    def fused_math(x):
        with sdpa_kernel(SDPBackend.MATH):
            return F.scaled_dot_product_attention(*split_fused(x))

    return {
        "fused": fused,
        "separate": separate,
        "fused_packed": fused_packed,
        "per_head": per_head,
        "fused_math": fused_math,
    }


def main() -> None:
    args = parse_args()
    dtype = DTYPES[args.dtype]
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, args.tokens, args.dim, generator=generator).to(dtype)
    weight = (torch.randn(3 * args.dim, args.dim, generator=generator) * 0.02).to(dtype)
    bias = (torch.randn(3 * args.dim, generator=generator) * 0.02).to(dtype)
    functions = variants(weight, bias, args.heads)
    seconds: dict[str, list[float]] = {name: [] for name in functions}
    with torch.inference_mode():
        reference = functions["fused"](x)
        for name, function in functions.items():
            difference = (function(x) - reference).abs().max().item()
            if difference > (1e-5 if dtype == torch.float32 else 1e-2):
                raise SystemExit(f"{name} differs from fused by {difference}")
        for round_index in range(args.rounds):
            order = list(functions) if round_index % 2 == 0 else list(functions)[::-1]
            for name in order:
                started = time.perf_counter()
                functions[name](x)
                seconds[name].append(time.perf_counter() - started)
    common = {
        "benchmark": "attention_layout",
        "shape": [args.batch, args.tokens, args.dim],
        "heads": args.heads,
        "dtype": args.dtype,
        "rounds": args.rounds,
        "machine": f"CPU {cpu_model()}, {torch.get_num_threads()} threads",
        "torch": torch.__version__,
    }
    fused_median = statistics.median(seconds["fused"])
    for name, times in seconds.items():
        median = statistics.median(times)
        record = {**common, "variant": name, "ms_median": round(1e3 * median, 3), "ms_min": round(1e3 * min(times), 3)}
        print(json.dumps({**record, "speed_vs_fused": round(fused_median / median, 3)}), flush=True)


if __name__ == "__main__":
    main()
