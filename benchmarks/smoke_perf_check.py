#!/usr/bin/env python3
"""Cross-check the smoke perf probe with an independent measurement, in the same run.

    python3 benchmarks/smoke_perf_check.py --smoke-json smoke.json

Times flash_attn_func and torch SDPA at the probe's shape (bf16, B=4, S=4096, H=16, D=128,
non-causal) with its own timing code (host wall clock over a burst of back-to-back calls,
synchronised at both ends; mean per call), prints TFLOP/s next to the probe's figures from the
smoke JSON, and the ratio of each pair. Needs torch, flash_attn and a GPU. Prints; asserts
nothing.
"""

from __future__ import annotations

import argparse
import json
import time

B, S, H, D = 4, 4096, 16, 128
CALLS, BURSTS = 20, 5


def burst_ms(torch, fn) -> float:
    """Best of BURSTS bursts of CALLS calls: wall-clock milliseconds per call."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(BURSTS):
        t0 = time.perf_counter()
        for _ in range(CALLS):
            fn()
        torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - t0) * 1e3 / CALLS)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-json", required=True)
    args = parser.parse_args()
    import torch
    import torch.nn.functional as F
    from flash_attn import flash_attn_func

    fwd_flop = 4.0 * B * S * S * H * D  # two matmuls of 2*S*S*D each, per (batch, head)
    total = {"fwd": fwd_flop, "fwd_bwd": fwd_flop * 3.5}  # backward = 2.5 forward
    ours: dict[str, dict[str, float]] = {"flash_attn": {}, "sdpa": {}}
    for name, layout, call in (
        ("flash_attn", (B, S, H, D), lambda q, k, v: flash_attn_func(q, k, v)),
        ("sdpa", (B, H, S, D), lambda q, k, v: F.scaled_dot_product_attention(q, k, v)),
    ):
        q, k, v = (torch.randn(layout, device="cuda", dtype=torch.bfloat16) for _ in range(3))
        ms = burst_ms(torch, lambda call=call, q=q, k=k, v=v: call(q, k, v))
        ours[name]["fwd"] = total["fwd"] / ms / 1e9
        qg, kg, vg = (t.clone().requires_grad_() for t in (q, k, v))
        dout = torch.randn(layout, device="cuda", dtype=torch.bfloat16)

        def step(call=call, qg=qg, kg=kg, vg=vg, dout=dout) -> None:
            call(qg, kg, vg).backward(dout)

        ms = burst_ms(torch, step)
        ours[name]["fwd_bwd"] = total["fwd_bwd"] / ms / 1e9
        del q, k, v, qg, kg, vg, dout

    with open(args.smoke_json, encoding="utf-8") as fh:
        probe = json.load(fh)["perf"]
    print(f"device: {torch.cuda.get_device_name()}  torch {torch.__version__}")
    print(f"{'what':<22}{'probe TFLOP/s':>15}{'standalone':>12}{'probe/standalone':>18}")
    worst = 0.0
    for name in ("flash_attn", "sdpa"):
        for mode in ("fwd", "fwd_bwd"):
            p = probe[name][f"{mode}_tflops"]
            s = ours[name][mode]
            worst = max(worst, abs(p / s - 1))
            print(f"{name + ' ' + mode:<22}{p:>15.1f}{s:>12.1f}{p / s:>18.3f}")
    print(f"largest disagreement: {worst * 100:.1f}% ({'within' if worst <= 0.10 else 'OVER'} 10%)")


if __name__ == "__main__":
    main()
