"""gen verify's checkers against real servers on loopback, faults included.

Every fault case must end in the right verdict within its time bound, and never `verified`.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator

import pytest
from servers.github import GitHubFake, fake_wheel
from servers.pypi import PyPIFake, TorchIndexFake

from generator.lock import Lock
from generator.verify import Endpoints, VerifyOptions, offline_lock, verify_resources

REPO = "Dao-AILab/flash-attention"
WHEEL = "flash_attn-2.8.3+cu12torch2.7cxx11abiTRUE-cp311-cp311-linux_x86_64.whl"
OTHER = "flash_attn-2.8.3+cu12torch2.6cxx11abiTRUE-cp311-cp311-linux_x86_64.whl"
SDIST = "flash_attn-2.8.3.tar.gz"


def wheel(name: str = WHEEL, tag: str = "v2.8.3") -> dict[str, str]:
    return {"kind": "wheel", "name": name, "repo": REPO, "release": tag,
            "url": f"https://github.com/{REPO}/releases/download/{tag}/{name}"}


def sdist(version: str = "2.8.3") -> dict[str, str]:
    return {"kind": "sdist", "project": "flash-attn", "version": version}


def torch_wheel(version: str = "2.7.1", python: str = "cp311",
                tag: str = "cu126") -> dict[str, str]:
    return {"kind": "torch-wheel", "project": "torch", "version": version, "python": python,
            "index": f"https://download.pytorch.org/whl/{tag}"}


FAST = {"timeout": 0.5, "time_bound": 4.0, "backoff": 0.05, "attempts": 3}


def verify(resources: list[dict[str, str]], endpoints: Endpoints,
           previous: Lock | None = None, **options: float) -> Lock:
    opts = VerifyOptions(**{**FAST, **options})
    return asyncio.run(verify_resources(resources, previous=previous, endpoints=endpoints,
                                        options=opts))


def one(lock: Lock, resource: dict[str, str]):
    entry = lock.get(resource)
    assert entry is not None
    return entry


@pytest.fixture
def github() -> Iterator[GitHubFake]:
    fake = GitHubFake()
    fake.add_release(REPO, "v2.8.3", {WHEEL: fake_wheel(WHEEL), OTHER: fake_wheel(OTHER),
                                      SDIST: b"not a wheel"})
    yield fake
    fake.close()


@pytest.fixture
def pypi() -> Iterator[PyPIFake]:
    fake = PyPIFake()
    for name in (SDIST, "flash_attn-2.8.3.post1.tar.gz", "flash_attn-2.8.2.tar.gz",
                 "flash_attn-2.7.4.post1.tar.gz"):
        fake.add_file("flash-attn", name, name.encode() * 10)
    yield fake
    fake.close()


@pytest.fixture
def torch_index() -> Iterator[TorchIndexFake]:
    fake = TorchIndexFake()
    for py in ("cp310", "cp311", "cp312"):
        fake.add_wheel("cu126", f"torch-2.7.1+cu126-{py}-{py}-manylinux_2_28_x86_64.whl")
        fake.add_wheel("cu126", f"torch-2.7.1+cu126-{py}-{py}-manylinux_2_28_aarch64.whl")
    fake.add_wheel("cu126", "torch-2.8.0+cu126-cp311-cp311-manylinux_2_28_x86_64.whl",
                   sha256=False)
    yield fake
    fake.close()


@pytest.fixture
def endpoints(github: GitHubFake, pypi: PyPIFake, torch_index: TorchIndexFake) -> Endpoints:
    return Endpoints(github_api=github.url, github_url=github.url, pypi_url=pypi.url,
                     torch_index=torch_index.url)


# ---------------------------------------------------------------- GitHub release wheels


def test_wheel_with_release_digest_is_verified(endpoints: Endpoints) -> None:
    entry = one(verify([wheel()], endpoints), wheel())
    assert entry.status == "verified"
    assert entry.digest == "sha256:" + hashlib.sha256(fake_wheel(WHEEL)).hexdigest()
    assert entry.size == 2048 and entry.checked_at.endswith("Z")


def test_one_release_listing_for_many_wheels(endpoints: Endpoints, github: GitHubFake) -> None:
    lock = verify([wheel(), wheel(OTHER)], endpoints)
    assert {e.status for e in lock.resources.values()} == {"verified"}
    assert github.web.hits[github.release_path(REPO, "v2.8.3")] == 1


def test_absent_asset_is_missing_with_nearest(endpoints: Endpoints) -> None:
    name = "flash_attn-2.8.3+cu121torch2.7cxx11abiTRUE-cp311-cp311-linux_x86_64.whl"
    entry = one(verify([wheel(name)], endpoints), wheel(name))
    assert entry.status == "missing"
    assert "none named " + name in entry.evidence and "HTTP 200" in entry.evidence
    assert entry.extra["nearest"][0] == WHEEL


def test_absent_release_is_missing(endpoints: Endpoints) -> None:
    entry = one(verify([wheel(tag="v9.9.9")], endpoints), wheel(tag="v9.9.9"))
    assert entry.status == "missing"
    assert "HTTP 404" in entry.evidence and "/releases/tags/v9.9.9" in entry.evidence


def test_no_digest_follows_the_redirect(github: GitHubFake, endpoints: Endpoints) -> None:
    github.add_release(REPO, "v2.7.4", {WHEEL: fake_wheel(WHEEL)}, digest=False)
    res = wheel(tag="v2.7.4")
    entry = one(verify([res], endpoints), res)
    assert entry.status == "unverified"
    assert "no digest" in entry.evidence and "2048 bytes" in entry.evidence
    assert github.storage.hits  # it went through the 302 to the storage host
    fetched = one(verify([res], endpoints, fetch_wheels=True), res)
    assert fetched.status == "verified"
    assert fetched.digest == "sha256:" + hashlib.sha256(fake_wheel(WHEEL)).hexdigest()


def test_html_in_place_of_a_wheel(github: GitHubFake, endpoints: Endpoints) -> None:
    github.add_release(REPO, "v2.7.4", {WHEEL: fake_wheel(WHEEL)}, digest=False)
    blob = "/blob/" + hashlib.sha256(fake_wheel(WHEEL)).hexdigest()
    github.storage.fault(blob, "html", always=True)
    res = wheel(tag="v2.7.4")
    for fetch in (False, True):
        entry = one(verify([res], endpoints, fetch_wheels=fetch), res)
        assert entry.status == "unverified"
        assert "text/html" in entry.evidence and "in place of a wheel" in entry.evidence


def test_wrong_size_is_not_the_wheel(github: GitHubFake, endpoints: Endpoints) -> None:
    github.add_release(REPO, "v2.7.4", {WHEEL: fake_wheel(WHEEL)}, digest=False,
                       listed_size={WHEEL: 999_999})
    res = wheel(tag="v2.7.4")
    entry = one(verify([res], endpoints, fetch_wheels=True), res)
    assert entry.status == "unverified" and "999999" in entry.evidence


def test_redirect_loop(github: GitHubFake, endpoints: Endpoints) -> None:
    github.add_release(REPO, "v2.7.4", {WHEEL: fake_wheel(WHEEL)}, digest=False)
    github.web.fault(github.download_path(REPO, "v2.7.4", WHEEL), "loop", always=True)
    res = wheel(tag="v2.7.4")
    started = time.monotonic()
    entry = one(verify([res], endpoints), res)
    assert entry.status == "unverified" and "redirect loop" in entry.evidence
    assert time.monotonic() - started < FAST["time_bound"]


# ---------------------------------------------------------------- faults (API and PyPI)


def _release(github: GitHubFake) -> str:
    return github.release_path(REPO, "v2.8.3")


def test_429_retry_after_is_honoured(github: GitHubFake, endpoints: Endpoints) -> None:
    github.web.fault(_release(github), "429")
    started = time.monotonic()
    entry = one(verify([wheel()], endpoints), wheel())
    assert entry.status == "verified"  # the fault passed: the retry after 1 s saw the asset
    assert time.monotonic() - started >= 0.95
    assert github.web.hits[_release(github)] == 2


@pytest.mark.parametrize(("fault", "words", "bound"), [
    ("429", "rate limited (HTTP 429", 4.0),
    ("429-long", "exceeds the time bound", 1.0),
    ("ratelimit", "rate limited (HTTP 403", 1.0),
    ("503", "HTTP 503", 2.0),
    ("reset", "connection reset", 2.0),
    ("stall", "read timeout", 4.0),
    ("html", "not a release", 1.0),
])
def test_persistent_fault_is_unverified(github: GitHubFake, endpoints: Endpoints, fault: str,
                                        words: str, bound: float) -> None:
    github.web.fault(_release(github), fault, always=True)
    started = time.monotonic()
    lock = verify([wheel(), wheel(OTHER)], endpoints)
    elapsed = time.monotonic() - started
    for res in (wheel(), wheel(OTHER)):
        entry = one(lock, res)
        assert entry.status == "unverified", entry
        assert words in entry.evidence, entry.evidence
    assert elapsed < bound + 0.5


def test_total_time_bound(github: GitHubFake, endpoints: Endpoints) -> None:
    github.web.fault(_release(github), "stall", always=True)
    started = time.monotonic()
    lock = verify([wheel()], endpoints, timeout=30.0, time_bound=30.0, total_bound=1.0)
    assert one(lock, wheel()).status == "unverified"
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("fault", ["429", "503", "reset", "stall"])
def test_pypi_transient_fault_then_ok(pypi: PyPIFake, endpoints: Endpoints, fault: str) -> None:
    pypi.server.fault(pypi.page_path("flash-attn"), fault)
    entry = one(verify([sdist()], endpoints), sdist())
    assert entry.status == "verified"
    assert pypi.server.hits[pypi.page_path("flash-attn")] == 2


@pytest.mark.parametrize("fault", ["503", "reset", "stall", "html", "429-long"])
def test_pypi_persistent_fault(pypi: PyPIFake, endpoints: Endpoints, fault: str) -> None:
    pypi.server.fault(pypi.page_path("flash-attn"), fault, always=True)
    started = time.monotonic()
    entry = one(verify([sdist()], endpoints), sdist())
    assert entry.status == "unverified", entry
    assert time.monotonic() - started < FAST["time_bound"] + 0.5


# ---------------------------------------------------------------- PyPI and the torch index


def test_sdist_verified_with_sha256(pypi: PyPIFake, endpoints: Endpoints) -> None:
    entry = one(verify([sdist()], endpoints), sdist())
    assert entry.status == "verified"
    assert entry.sha256 == hashlib.sha256(SDIST.encode() * 10).hexdigest()
    assert entry.url == f"{pypi.url}/files/{SDIST}"
    request = pypi.server.requests[0]
    assert request.headers["accept"] == "application/vnd.pypi.simple.v1+json"


def test_sdist_missing_names_nearest(endpoints: Endpoints) -> None:
    entry = one(verify([sdist("2.8.4")], endpoints), sdist("2.8.4"))
    assert entry.status == "missing"
    assert "no sdist of flash-attn 2.8.4" in entry.evidence
    assert entry.extra["nearest"][0] in ("2.8.3", "2.8.3.post1")


def test_sdist_without_hash_is_unverified(pypi: PyPIFake, endpoints: Endpoints) -> None:
    pypi.add_file("flash-attn", "flash_attn-2.9.0.tar.gz", b"x", sha256=False)
    entry = one(verify([sdist("2.9.0")], endpoints), sdist("2.9.0"))
    assert entry.status == "unverified" and "without a sha256" in entry.evidence


def test_unknown_project_is_missing(endpoints: Endpoints) -> None:
    res = {"kind": "sdist", "project": "flash-attn-nope", "version": "1.0"}
    entry = one(verify([res], endpoints), res)
    assert entry.status == "missing" and "HTTP 404" in entry.evidence


def test_torch_wheels(torch_index: TorchIndexFake, endpoints: Endpoints) -> None:
    lock = verify([torch_wheel(), torch_wheel("2.8.0"), torch_wheel(python="cp313"),
                   torch_wheel(tag="cu999")], endpoints)
    good = one(lock, torch_wheel())
    assert good.status == "verified"
    name = "torch-2.7.1+cu126-cp311-cp311-manylinux_2_28_x86_64.whl"
    assert good.sha256 == hashlib.sha256(name.encode()).hexdigest()
    assert good.extra["filename"] == name
    nohash = one(lock, torch_wheel("2.8.0"))
    assert nohash.status == "unverified" and "without a #sha256=" in nohash.evidence
    nopy = one(lock, torch_wheel(python="cp313"))
    assert nopy.status == "missing" and "cp313" in nopy.evidence
    assert any("cp312" in n for n in nopy.extra["nearest"])
    assert one(lock, torch_wheel(tag="cu999")).status == "missing"


# ---------------------------------------------------------------- the lock


def test_second_run_reuses_verified_entries(endpoints: Endpoints, github: GitHubFake,
                                            pypi: PyPIFake) -> None:
    resources = [wheel(), sdist(), sdist("2.8.4")]
    first = verify(resources, endpoints)
    hits = sum(github.web.hits.values()) + sum(pypi.server.hits.values())
    second = verify(resources, endpoints, previous=first)
    assert one(second, wheel()) is one(first, wheel())
    # only the missing sdist is asked again (missing entries are always rechecked)
    assert sum(github.web.hits.values()) + sum(pypi.server.hits.values()) == hits + 1
    third = verify(resources, endpoints, previous=first, max_age=0)
    assert one(third, wheel()).checked_at >= one(first, wheel()).checked_at


def test_offline_lock() -> None:
    lock = Lock()
    lock.resources["sdist:flash-attn==2.8.3"] = __import__(
        "generator.verify.context", fromlist=["x"]).verified("sdist", "sha256:" + "a" * 64)
    out = offline_lock([sdist(), wheel()], lock, "x.json")
    assert one(out, sdist()).status == "verified"
    assert one(out, wheel()).status == "unverified"
    assert "offline" in one(out, wheel()).evidence


# ---------------------------------------------------------------- images (real registry)


@pytest.mark.integration
def test_images_on_a_real_registry(oci_registry) -> None:
    digest = oci_registry.push_image("pytorch/pytorch", "2.7.1-cuda12.6-cudnn9-devel",
                                     index=True)
    endpoints = Endpoints(registry_map={"docker.io": oci_registry.url})
    there = {"kind": "image", "ref": "pytorch/pytorch:2.7.1-cuda12.6-cudnn9-devel"}
    gone = {"kind": "image", "ref": "pytorch/pytorch:2.7.1-cuda12.1-cudnn9-devel"}
    direct = {"kind": "image", "ref": f"{oci_registry.host}/pytorch/pytorch:"
                                      "2.7.1-cuda12.6-cudnn9-devel"}
    lock = verify([there, gone, direct], endpoints)
    assert one(lock, there).status == "verified" and one(lock, there).digest == digest
    assert one(lock, there).extra["media_type"] == "application/vnd.oci.image.index.v1+json"
    assert one(lock, direct).digest == digest
    entry = one(lock, gone)
    assert entry.status == "missing" and "HTTP 404" in entry.evidence
    assert "MANIFEST_UNKNOWN" in entry.evidence


@pytest.mark.integration
def test_image_behind_token_auth(oci_registry_auth) -> None:
    digest = oci_registry_auth.push_image("nvidia/cuda", "12.6.3-cudnn-devel-ubuntu22.04")
    endpoints = Endpoints(registry_map={"docker.io": oci_registry_auth.url})
    res = {"kind": "image", "ref": "nvidia/cuda:12.6.3-cudnn-devel-ubuntu22.04"}
    entry = one(verify([res], endpoints), res)
    assert entry.status == "verified" and entry.digest == digest


def test_unreachable_registry_is_unverified() -> None:
    from servers.registry import free_port

    endpoints = Endpoints(registry_map={"docker.io": f"http://127.0.0.1:{free_port()}"})
    res = {"kind": "image", "ref": "pytorch/pytorch:2.7.1-cuda12.6-cudnn9-devel"}
    entry = one(verify([res], endpoints), res)
    assert entry.status == "unverified" and "cannot connect" in entry.evidence
