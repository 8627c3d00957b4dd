"""Opt-in (`pytest -m live`): the real flash-attn sdist on the real PyPI."""

from __future__ import annotations

import asyncio

import pytest

from generator.verify import Endpoints, VerifyOptions, verify_resources


@pytest.mark.live
def test_real_flash_attn_sdist_on_pypi() -> None:
    resources = [{"kind": "sdist", "project": "flash-attn", "version": "2.8.3"},
                 {"kind": "sdist", "project": "flash-attn", "version": "0.0.0.dev0"}]
    lock = asyncio.run(verify_resources(resources, endpoints=Endpoints(),
                                        options=VerifyOptions(time_bound=60)))
    real = lock.get(resources[0])
    assert real is not None and real.status == "verified", real
    assert real.sha256 and len(real.sha256) == 64
    assert real.url.endswith("/flash_attn-2.8.3.tar.gz")
    absent = lock.get(resources[1])
    assert absent is not None and absent.status == "missing", absent
