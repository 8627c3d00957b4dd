"""generator.registry against a real docker-registry on loopback (pushed by the test)."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from generator import registry as reg
from generator.registry import ManifestMissing, Registry


def test_parse_image_ref() -> None:
    assert reg.parse_image_ref("pytorch/pytorch:2.7.1-cuda12.6-cudnn9-devel") == reg.ImageRef(
        "docker.io", "pytorch/pytorch", "2.7.1-cuda12.6-cudnn9-devel")
    assert reg.parse_image_ref("ubuntu") == reg.ImageRef("docker.io", "library/ubuntu",
                                                         "latest")
    assert reg.parse_image_ref("127.0.0.1:5000/a/b:t") == reg.ImageRef("127.0.0.1:5000",
                                                                       "a/b", "t")
    assert reg.parse_image_ref("nvcr.io/nvidia/pytorch:24.01-py3@sha256:ab").reference == \
        "sha256:ab"
    assert reg.parse_image_ref("localhost:5000/x").registry == "localhost:5000"


def test_parse_challenge() -> None:
    scheme, params = reg.parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:pytorch/pytorch:pull"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                      "scope": "repository:pytorch/pytorch:pull"}


def test_registry_map_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEN_REGISTRY_MAP", "docker.io=http://127.0.0.1:9")
    assert Registry().base_url("docker.io") == "http://127.0.0.1:9"
    monkeypatch.setenv("GEN_REGISTRY_MAP", "docker.io")
    with pytest.raises(ValueError):
        reg.mapping_from_env()


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["oci", "docker-v2", "index"])
def test_head_get_put_roundtrip(oci_registry, kind: str) -> None:
    name = f"{oci_registry.host}/pytorch/pytorch"
    tag = f"2.7.1-{kind}"
    digest = oci_registry.push_image("pytorch/pytorch", tag, index=kind == "index",
                                     docker_v2=kind == "docker-v2")
    head = reg.head_manifest(name, tag)
    assert head.digest == digest
    assert head.media_type == {"oci": reg.OCI_MANIFEST, "docker-v2": reg.DOCKER_MANIFEST,
                               "index": reg.OCI_INDEX}[kind]
    body, media_type, got = reg.get_manifest(name, tag)
    assert got == digest == "sha256:" + hashlib.sha256(body).hexdigest()
    assert media_type == head.media_type
    # retag by digest (what promote does), then the new tag resolves to the same digest
    assert reg.put_manifest(name, f"{tag}-promoted", body, media_type) == digest
    assert reg.head_manifest(name, f"{tag}-promoted").digest == digest
    assert reg.head_manifest(name, digest).digest == digest


@pytest.mark.integration
def test_missing_tag_and_repo(oci_registry) -> None:
    oci_registry.push_image("nvidia/cuda", "12.6.3-devel-ubuntu22.04")
    with pytest.raises(ManifestMissing) as tag:
        reg.head_manifest(f"{oci_registry.host}/nvidia/cuda", "12.1.0-devel-ubuntu18.04")
    assert tag.value.status == 404
    assert "MANIFEST_UNKNOWN" in str(tag.value) and "12.1.0-devel-ubuntu18.04" in str(tag.value)
    with pytest.raises(ManifestMissing) as repo:
        reg.head_manifest(f"{oci_registry.host}/nobody/nothing", "latest")
    assert repo.value.status == 404 and "nobody/nothing" in str(repo.value)


@pytest.mark.integration
def test_bearer_token_flow(oci_registry_auth) -> None:
    digest = oci_registry_auth.push_image("pytorch/pytorch", "2.8.0-cuda12.8-cudnn9-devel")
    token_server = oci_registry_auth.token_server
    seen = len(token_server.requests)
    name = f"{oci_registry_auth.host}/pytorch/pytorch"

    async def run() -> tuple[str, str]:
        async with Registry() as client:
            head = await client.head_manifest(name, "2.8.0-cuda12.8-cudnn9-devel")
            again = await client.head_manifest(name, "2.8.0-cuda12.8-cudnn9-devel")
            return head.digest, again.digest

    assert asyncio.run(run()) == (digest, digest)
    asked = token_server.requests[seen:]
    assert len(asked) == 1  # the token is cached for the second HEAD
    assert asked[0]["scope"] == ["repository:pytorch/pytorch:pull"]
    assert asked[0]["service"] == [token_server.service]
    # a retag needs push scope: a fresh token with pull,push
    body, media_type, _ = reg.get_manifest(name, "2.8.0-cuda12.8-cudnn9-devel")
    assert reg.put_manifest(name, "canonical", body, media_type) == digest
    assert any("push" in q["scope"][0] for q in token_server.requests[seen:])
    with pytest.raises(ManifestMissing):
        reg.head_manifest(name, "no-such-tag")
