"""Numerics of flash-attn (or torch SDPA) against a float32 reference. Needs torch and a GPU.

The rule is flash-attention's own test rule (tests/test_flash_attn.py, hopper/test_flash_attn.py):
the kernel's max abs error against a float32 reference may be at most twice the max abs error of
a plain PyTorch attention computed in the same low precision (with the scaling moved onto k, as
their `reorder_ops=True`), plus an absolute slack of twice the rounding error of the low
precision near 0.3 (their `atol = 2 * (ref + 0.3 - 0.3 - ref).abs().max()`). Outputs and the
gradients dq, dk, dv are all checked this way.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

RULE = ("max|x - ref32| <= 2 * max|x_torch_lowp - ref32| + 2 * max|(r + 0.3 - 0.3) - r| "
        "(r = ref32 in the low dtype); flash-attention's tests/test_flash_attn.py rule")
BATCH, SEQLEN, HEADS = 2, 197, 4
VARLEN_SEQLENS = (37, 200, 129)
DTYPES = ("float16", "bfloat16")
DEVICE = "cuda"  # tests may point it at "cpu" to exercise the Python paths


def finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def attention_ref(torch: Any, q: Any, k: Any, v: Any, causal: bool, upcast: bool = True,
                  reorder_ops: bool = False) -> Any:
    """Plain attention on (batch, seqlen, heads, dim) tensors, as flash-attn's tests write it."""
    if upcast:
        q, k, v = q.float(), k.float(), v.float()
    scale = 1.0 / math.sqrt(q.shape[-1])
    if reorder_ops:
        scores = torch.einsum("bthd,bshd->bhts", q, k * scale)
    else:
        scores = torch.einsum("bthd,bshd->bhts", q * scale, k)
    if causal:
        sq, sk = q.shape[1], k.shape[1]
        mask = torch.ones(sq, sk, dtype=torch.bool, device=q.device).triu(sk - sq + 1)
        scores = scores.masked_fill(mask, float("-inf"))
    attention = torch.softmax(scores, dim=-1).to(v.dtype)
    return torch.einsum("bhts,bshd->bthd", attention, v)


def compare(torch: Any, name: str, got: Any, ref32: Any, lowp: Any, dtype: Any) -> dict[str, Any]:
    err = (got.float() - ref32).abs().max().item()
    ref_err = (lowp.float() - ref32).abs().max().item()
    r = ref32.to(dtype)
    atol = 2 * ((r + 0.3 - 0.3) - r).abs().max().float().item()
    bound = 2 * ref_err + atol
    ok = math.isfinite(err) and math.isfinite(bound) and err <= bound
    return {"tensor": name, "err": finite(err), "torch_err": finite(ref_err),
            "bound": finite(bound), "ok": ok,
            "ratio": finite(err / bound) if bound > 0 and math.isfinite(err) else None}


AttnFn = Callable[[Any, Any, Any, bool], Any]


def check_case(torch: Any, attn: AttnFn, dtype_name: str, causal: bool, head_dim: int,
               backward: bool, seed: int) -> dict[str, Any]:
    """One (dtype, causal, head_dim) case on (BATCH, SEQLEN, HEADS, head_dim) tensors."""
    dtype = getattr(torch, dtype_name)
    gen = torch.Generator(device=DEVICE).manual_seed(seed)
    shape = (BATCH, SEQLEN, HEADS, head_dim)
    q, k, v = (torch.randn(shape, device=DEVICE, dtype=dtype, generator=gen).requires_grad_()
               for _ in range(3))
    q32, k32, v32 = (t.detach().float().requires_grad_() for t in (q, k, v))
    out = attn(q, k, v, causal)
    out_ref = attention_ref(torch, q32, k32, v32, causal)
    out_pt = attention_ref(torch, q, k, v, causal, upcast=False, reorder_ops=True)
    checks = [compare(torch, "out", out, out_ref, out_pt, dtype)]
    if backward:
        checks += grad_checks(torch, (q, k, v), (q32, k32, v32), out, out_ref, out_pt, dtype,
                              gen)
    return {"name": f"{dtype_name}-{'causal' if causal else 'full'}-d{head_dim}",
            "dtype": dtype_name, "causal": causal, "head_dim": head_dim, "varlen": False,
            "backward": backward, "checks": checks, "ok": all(c["ok"] for c in checks)}


def grad_checks(torch: Any, low: tuple[Any, ...], full: tuple[Any, ...], out: Any,
                out_ref: Any, out_pt: Any, dtype: Any, gen: Any) -> list[dict[str, Any]]:
    """dq, dk, dv of the kernel against the float32 reference, with the same upstream
    gradient, judged by the same rule as the forward output."""
    g = torch.randn(out.shape, device=DEVICE, dtype=dtype, generator=gen)
    grads = torch.autograd.grad(out, low, g)
    grads_ref = torch.autograd.grad(out_ref, full, g.float())
    grads_pt = torch.autograd.grad(out_pt, low, g)
    return [compare(torch, name, got, ref, pt, dtype)
            for name, got, ref, pt in zip(("dq", "dk", "dv"), grads, grads_ref, grads_pt,
                                          strict=True)]


def check_varlen(torch: Any, varlen_fn: Any, dtype_name: str, causal: bool, head_dim: int,
                 seed: int) -> dict[str, Any]:
    """flash_attn_varlen_func on packed sequences of different lengths, forward and backward."""
    dtype = getattr(torch, dtype_name)
    gen = torch.Generator(device=DEVICE).manual_seed(seed)
    total = sum(VARLEN_SEQLENS)
    q, k, v = (torch.randn((total, HEADS, head_dim), device=DEVICE, dtype=dtype,
                           generator=gen).requires_grad_() for _ in range(3))
    q32, k32, v32 = (t.detach().float().requires_grad_() for t in (q, k, v))
    bounds = [0]
    for n in VARLEN_SEQLENS:
        bounds.append(bounds[-1] + n)
    cu = torch.tensor(bounds, device=DEVICE, dtype=torch.int32)
    longest = max(VARLEN_SEQLENS)
    out = varlen_fn(q, k, v, cu, cu, longest, longest, causal=causal)

    def packed_ref(a: Any, b: Any, c: Any, **kw: Any) -> Any:
        parts = [attention_ref(torch, a[s:e][None], b[s:e][None], c[s:e][None], causal, **kw)[0]
                 for s, e in itertools.pairwise(bounds)]
        return torch.cat(parts, dim=0)

    out_ref = packed_ref(q32, k32, v32)
    out_pt = packed_ref(q, k, v, upcast=False, reorder_ops=True)
    checks = [compare(torch, "out", out, out_ref, out_pt, dtype)]
    checks += grad_checks(torch, (q, k, v), (q32, k32, v32), out, out_ref, out_pt, dtype, gen)
    return {"name": f"varlen-{dtype_name}-{'causal' if causal else 'full'}-d{head_dim}",
            "dtype": dtype_name, "causal": causal, "head_dim": head_dim, "varlen": True,
            "backward": True, "checks": checks, "ok": all(c["ok"] for c in checks)}


def backward_supported(head_dim: int, cc: tuple[int, int]) -> bool:
    """flash-attn's tests check head dims above 192 backward only on sm80 and sm90."""
    return head_dim <= 192 or cc in ((8, 0), (9, 0))


def sdpa_fn(torch: Any) -> AttnFn:
    import torch.nn.functional as F

    def attn(q: Any, k: Any, v: Any, causal: bool) -> Any:
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                             v.transpose(1, 2), is_causal=causal)
        return out.transpose(1, 2)

    return attn


def run_numerics(torch: Any, flash_attn: Any | None, cc: tuple[int, int]) -> dict[str, Any]:
    """All cases; flash_attn None checks torch SDPA instead (images without flash-attn)."""
    cases: list[dict[str, Any]] = []
    seed = 0
    if flash_attn is not None:
        def fa(q: Any, k: Any, v: Any, causal: bool) -> Any:
            return flash_attn.flash_attn_func(q, k, v, causal=causal)

        attn, head_dims, subject = fa, (64, 128, 256), "flash_attn"
    else:
        attn, head_dims, subject = sdpa_fn(torch), (64, 128), "sdpa"
    for dtype_name in DTYPES:
        for causal in (False, True):
            for head_dim in head_dims:
                seed += 1
                cases.append(check_case(torch, attn, dtype_name, causal, head_dim,
                                        backward_supported(head_dim, cc), seed))
            if flash_attn is not None:
                seed += 1
                cases.append(check_varlen(torch, flash_attn.flash_attn_varlen_func, dtype_name,
                                          causal, 128, seed))
    torch.cuda.synchronize()
    worst = None
    for case in cases:
        for check in case["checks"]:
            ratio = check["ratio"] if check["ratio"] is not None else math.inf
            if worst is None or ratio > worst[0]:
                worst = (ratio, case["name"], check)
    worst_doc = None
    if worst is not None:
        worst_doc = {"case": worst[1], "tensor": worst[2]["tensor"], "err": worst[2]["err"],
                     "bound": worst[2]["bound"], "ratio": finite(worst[0])}
    return {"subject": subject, "rule": RULE, "passed": all(c["ok"] for c in cases),
            "cases": cases, "worst": worst_doc,
            "shape": {"batch": BATCH, "seqlen": SEQLEN, "heads": HEADS,
                      "varlen_seqlens": list(VARLEN_SEQLENS)}}
