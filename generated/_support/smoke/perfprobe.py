"""Attention throughput at one standard shape: flash-attn next to torch SDPA, same run.

FLOP convention of flash-attention's benchmarks (benchmarks/benchmark_flash_attention.py):
forward = 4 * batch * seqlen^2 * heads * head_dim (halved when causal), backward = 2.5x forward,
forward+backward = 3.5x forward. Each time is the median of REPEATS CUDA-event samples of CALLS
back-to-back calls each, after WARMUP untimed calls.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

SHAPE = {"batch": 4, "seqlen": 4096, "heads": 16, "head_dim": 128, "dtype": "bfloat16",
         "causal": False}
WARMUP, REPEATS, CALLS = 3, 10, 5


def attention_flops(batch: int, seqlen: int, heads: int, head_dim: int, causal: bool,
                    mode: str = "fwd") -> float:
    fwd = 4 * batch * seqlen**2 * heads * head_dim / (2 if causal else 1)
    return fwd * {"fwd": 1.0, "bwd": 2.5, "fwd_bwd": 3.5}[mode]


def median_ms(torch: Any, fn: Callable[[], Any], warmup: int = WARMUP,
              repeats: int = REPEATS, calls: int = CALLS) -> float:
    """Median over `repeats` samples of the CUDA-event time per call of `calls` back-to-back
    calls (several calls per sample keep the GPU busy, so host launch gaps don't count)."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(calls):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / calls)
    return statistics.median(times)


def measure(torch: Any, attn: Callable[[Any, Any, Any], Any], layout: str,
            shape: dict[str, Any]) -> dict[str, Any]:
    """fwd and fwd+bwd TFLOP/s of attn(q, k, v); layout 'bshd' (flash-attn) or 'bhsd' (SDPA)."""
    b, s, h, d = shape["batch"], shape["seqlen"], shape["heads"], shape["head_dim"]
    dims = (b, s, h, d) if layout == "bshd" else (b, h, s, d)
    dtype = getattr(torch, shape["dtype"])
    q, k, v = (torch.randn(dims, device="cuda", dtype=dtype) for _ in range(3))
    fwd_ms = median_ms(torch, lambda: attn(q, k, v))
    qg, kg, vg = (t.detach().requires_grad_() for t in (q, k, v))
    grad = torch.randn(dims, device="cuda", dtype=dtype)

    def fwd_bwd() -> Any:
        return torch.autograd.grad(attn(qg, kg, vg), (qg, kg, vg), grad)

    fwd_bwd_ms = median_ms(torch, fwd_bwd)
    causal = shape["causal"]
    return {
        "fwd_ms": round(fwd_ms, 4),
        "fwd_bwd_ms": round(fwd_bwd_ms, 4),
        "fwd_tflops": round(attention_flops(b, s, h, d, causal) / fwd_ms / 1e9, 2),
        "fwd_bwd_tflops": round(attention_flops(b, s, h, d, causal, "fwd_bwd")
                                / fwd_bwd_ms / 1e9, 2),
    }


def run_perf(torch: Any, flash_attn: Any | None, shape: dict[str, Any] | None = None
             ) -> dict[str, Any]:
    import torch.nn.functional as F

    shape = dict(shape or SHAPE)
    causal = shape["causal"]
    doc: dict[str, Any] = {"shape": shape, "warmup": WARMUP, "repeats": REPEATS,
                           "calls_per_sample": CALLS,
                           "flops": "fwd = 4*B*S^2*H*D (/2 causal); fwd_bwd = 3.5 * fwd",
                           "flash_attn": None}
    if flash_attn is not None:
        doc["flash_attn"] = measure(
            torch, lambda q, k, v: flash_attn.flash_attn_func(q, k, v, causal=causal),
            "bshd", shape)
    doc["sdpa"] = measure(
        torch, lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=causal),
        "bhsd", shape)
    if doc["flash_attn"] and doc["sdpa"]["fwd_tflops"] > 0:
        doc["flash_attn_vs_sdpa"] = round(doc["flash_attn"]["fwd_tflops"]
                                          / doc["sdpa"]["fwd_tflops"], 3)
    return doc
