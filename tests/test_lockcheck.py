"""Pure logic around the lock: apply_lock, pins, the wheel-name parser and rule, Retry-After,
progress output. (Network behaviour is in test_verify.py, against loopback servers.)"""

from __future__ import annotations

import io
import time

import pytest

from generator.http import retry_after
from generator.lock import Lock, LockedResource, load_lock, resource_key
from generator.lockcheck import PIN_KEYS, apply_lock, pins
from generator.matrix import parse_matrix
from generator.plan import build_plan
from generator.verify.progress import Progress
from generator.wheelname import parse_flash_attn_wheel

MATRIX = """\
schema_version: 1
targets:
  - name: l40
    gpu: L40
    runs_on: [self-hosted]
bases:
  - image: pytorch/pytorch
    tags: [2.7.1-cuda12.6-cudnn9-runtime, 2.8.0-cuda12.8-cudnn9-runtime]
torch: ["2.7.1"]
flash_attn: ["2.8.3"]
strategies: [wheel, source]
"""
SHA = "ab" * 32


def _plan(text: str = MATRIX):
    return build_plan(parse_matrix(text))


def _entry(status: str, kind: str, **kw) -> LockedResource:
    return LockedResource(kind, status, "2026-11-28T05:00:00Z", **kw)


def _verified_lock(plan) -> Lock:
    lock = Lock()
    for v in plan.kept:
        for r in v.resources():
            lock.resources[resource_key(r)] = _entry("verified", r["kind"],
                                                     digest=f"sha256:{SHA}")
    return lock


def test_all_verified_keeps_everything_and_pins() -> None:
    plan = _plan()
    kept = [v.id for v in plan.kept]
    lock = _verified_lock(plan)
    apply_lock(plan, lock, allow_unverified=False)
    assert [v.id for v in plan.kept] == kept
    assert all(v.unverified == [] for v in plan.kept)
    wheel = next(v for v in plan.kept if v.candidate.strategy == "wheel")
    assert pins(wheel, lock) == {"image_digest": f"sha256:{SHA}", "builder_digest": None,
                                 "wheel_sha256": SHA, "sdist_sha256": None,
                                 "torch_sha256": None}
    source = next(v for v in plan.kept if v.candidate.strategy == "source")
    got = pins(source, lock)
    assert got["builder_digest"] == f"sha256:{SHA}" and got["sdist_sha256"] == SHA
    assert got["wheel_sha256"] is None
    assert set(pins(source, None)) == set(PIN_KEYS) and not any(pins(source, None).values())


def test_missing_prunes_with_evidence_and_nearest() -> None:
    plan = _plan()
    lock = _verified_lock(plan)
    gone = "image:pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime"
    lock.resources[gone] = _entry(
        "missing", "image", url="https://registry-1.docker.io/v2/pytorch/pytorch/manifests/x",
        evidence="HEAD https://registry-1.docker.io/v2/pytorch/pytorch/manifests/x -> HTTP 404",
        extra={"http_status": 404})
    apply_lock(plan, lock, allow_unverified=False)
    pruned = [v for v in plan.variants if v.candidate.base.ref.endswith("2.8.0-cuda12.8-"
                                                                          "cudnn9-runtime")]
    assert pruned and all(v.status == "pruned" for v in pruned)
    reason = next(v for v in pruned if v.reasons[0].code == "resource-missing").reasons[0]
    assert "HTTP 404" in reason.message and "manifests/x" in reason.message
    assert "pytorch/pytorch:2.7.1-cuda12.6-cudnn9-runtime (verified)" in reason.suggestion


def test_unverified_and_unlocked_are_recorded_not_pruned() -> None:
    plan = _plan()
    kept = [v.id for v in plan.kept]
    lock = _verified_lock(plan)
    wheel = next(v for v in plan.kept if v.candidate.strategy == "wheel")
    key = next(resource_key(r) for r in wheel.resources() if r["kind"] == "wheel")
    lock.resources[key] = _entry("unverified", "wheel", evidence="rate limited (HTTP 429)")
    image = resource_key({"kind": "image", "ref": wheel.candidate.base.ref})
    del lock.resources[image]
    apply_lock(plan, lock, allow_unverified=False)
    assert [v.id for v in plan.kept] == kept
    assert wheel.unverified == [image, key]
    assert wheel.as_dict()["unverified"] == [image, key]
    assert any("rate limited (HTTP 429)" in n for n in wheel.notes)
    assert "renders only with --allow-unverified" in wheel.notes
    assert pins(wheel, lock)["wheel_sha256"] is None  # never pin what was not seen


def test_no_lock_means_nothing_is_proven() -> None:
    plan = _plan()
    apply_lock(plan, None, allow_unverified=True)
    for v in plan.kept:
        assert v.unverified == [resource_key(r) for r in v.resources()]
        assert "renders only with --allow-unverified" not in v.notes


def test_lock_roundtrip(tmp_path) -> None:
    lock = Lock()
    lock.resources["sdist:flash-attn==2.8.3"] = _entry("verified", "sdist",
                                                       digest=f"sha256:{SHA}")
    lock.save(tmp_path / "l.json")
    again = load_lock(tmp_path / "l.json")
    assert again is not None and again.to_json() == lock.to_json()


# ---------------------------------------------------------------- wheel names


def test_parse_flash_attn_wheel() -> None:
    w = parse_flash_attn_wheel("https://x/y/flash_attn-2.8.3%2Bcu12torch2.7cxx11abiTRUE-"
                               "cp311-cp311-linux_x86_64.whl")
    assert (w.version, w.cuda_tag, w.cuda_major, w.torch_minor, w.cxx11_abi, w.python_tag,
            w.platform) == ("2.8.3", "cu12", "12", "2.7", True, "cp311", "linux_x86_64")
    post = parse_flash_attn_wheel("flash_attn-2.7.4.post1+cu118torch2.3cxx11abiFALSE-cp310-"
                                  "cp310-linux_x86_64.whl")
    assert (post.version, post.cuda_major, post.cxx11_abi) == ("2.7.4.post1", "11", False)
    for bad in ("flash_attn-2.8.3.tar.gz", "flash_attn-2.8.3-cp311-cp311-linux_x86_64.whl",
                "flash_attn-2.8.3+cu12torch2.7-cp311-cp311-linux_x86_64.whl",
                "torch-2.7.1+cu126-cp311-cp311-linux_x86_64.whl"):
        with pytest.raises(ValueError):
            parse_flash_attn_wheel(bad)


INCLUDE = MATRIX.replace("strategies: [wheel, source]", "strategies: [none]") + """\
include:
  - base: pytorch/pytorch:2.7.1-cuda12.6-cudnn9-runtime
    strategy: wheel
    flash_attn: "2.8.3"
    wheel_url: {url}
"""
OFFICIAL = "https://github.com/Dao-AILab/flash-attention/releases/download/v2.8.3/"


def _include_reasons(name: str, base: str = OFFICIAL) -> list[str]:
    plan = _plan(INCLUDE.format(url=base + name))
    variant = next(v for v in plan.variants if v.candidate.origin == "include")
    assert all(r.code == "wheel-url-mismatch" for r in variant.reasons)
    return [r.message for r in variant.reasons]


def test_rule_wheel_url() -> None:
    good = "flash_attn-2.8.3+cu12torch2.7cxx11abiTRUE-cp311-cp311-linux_x86_64.whl"
    assert _include_reasons(good) == []
    cu121 = _include_reasons(good.replace("cu12", "cu121"))
    assert len(cu121) == 1 and "cu121 never appears in an official flash-attn wheel" in cu121[0]
    # a custom host may use its own CUDA tag, but never another CUDA major
    assert _include_reasons(good.replace("cu12", "cu121"), "https://example.org/w/") == []
    assert "CUDA 11.x" in _include_reasons(good.replace("cu12", "cu118"), "http://e.org/")[0]
    assert "cp310" in _include_reasons(good.replace("cp311", "cp310"))[0]
    assert "torch 2.6" in _include_reasons(good.replace("torch2.7", "torch2.6"))[0]
    assert "cxx11abiFALSE" in _include_reasons(good.replace("TRUE", "FALSE"))[0]
    assert "2.8.2" in _include_reasons(good.replace("2.8.3", "2.8.2"))[0]
    assert "aarch64" in _include_reasons(good.replace("x86_64", "aarch64"))[0]
    assert "does not follow" in _include_reasons("flash_attn-2.8.3-py3-none-any.whl")[0]


# ---------------------------------------------------------------- HTTP helpers, progress


def test_retry_after() -> None:
    assert retry_after({"retry-after": "7"}) == 7
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0
    now = time.time()
    assert 99 <= retry_after({"x-ratelimit-remaining": "0",
                              "x-ratelimit-reset": str(int(now) + 100)}, now) <= 100
    assert retry_after({"x-ratelimit-remaining": "5", "x-ratelimit-reset": "1"}) is None
    assert retry_after({}) is None


def test_progress_plain_and_tty() -> None:
    plain = io.StringIO()
    progress = Progress(2, plain, tty=False)
    progress.update("sdist:a==1", _entry("verified", "sdist", digest="sha256:" + SHA))
    progress.update("image:b", _entry("missing", "image", evidence="HTTP 404"), reused=True)
    assert plain.getvalue().splitlines() == [
        f"[1/2] verified   sdist:a==1: sha256:{SHA}", "[2/2] missing    image:b (lock): HTTP 404"]
    tty = io.StringIO()
    bar = Progress(2, tty, tty=True)
    bar.update("x", _entry("verified", "sdist", digest="sha256:" + SHA))
    bar.update("y", _entry("unverified", "sdist", evidence="timeout"))
    assert tty.getvalue().startswith("\r[" + "#" * 15)
    assert tty.getvalue().endswith("2/2 verified 1 unverified 1\x1b[K\n")
