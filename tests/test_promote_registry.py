"""gen promote --push against Debian's docker-registry on loopback, images pushed by the test.

The canonical tag must end at exactly the winner's digest with the manifest's own media type,
a second run must change nothing, and bad input must leave the registry alone.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import require, require_tool
from promote_data.factory import MATRIX, build, smoke, write
from servers.registry import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    REGISTRY_BIN,
    OciRegistry,
    _wait_ready,
    free_port,
)

from generator.cli import main
from generator.registry import ACCEPT

pytestmark = pytest.mark.integration

WHEEL = "wheel-fa2.8.3-pt2.7.1-cu126-py311-pytorch-devel-l40"
WHEEL_RT = "wheel-fa2.8.3-pt2.7.1-cu126-py311-pytorch-runtime-l40"
SOURCE = "source-fa2.8.3-pt2.8.0-cu128-py311-pytorch-devel-l40"


@pytest.fixture(autouse=True, scope="module")
def _docker_registry() -> None:
    require_tool("docker-registry", "/usr/bin/docker-registry")  # CI fails without it


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(["promote", "--matrix", str(MATRIX), "--target", "l40", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def tag_state(registry, name: str, tag: str) -> tuple[int, str | None, str | None]:
    """(HTTP status, digest, media type) of name:tag, read straight from the registry."""
    response = registry._call("GET", f"/v2/{name}/manifests/{tag}", headers={"Accept": ACCEPT})
    if response.status_code != 200:
        return response.status_code, None, None
    return (200, response.headers.get("docker-content-digest"),
            response.headers.get("content-type"))


def tag_link(storage: Path, name: str, tag: str) -> Path:
    return (storage / "docker/registry/v2/repositories" / name / "_manifests/tags" / tag /
            "current/link")


def ci_artifacts(registry, root: Path, name: str, **push: bool) -> dict[str, str]:
    """Push one image per variant as CI would, and write build metadata and smoke results:
    WHEEL passes, WHEEL_RT fails (abi-mismatch), SOURCE passes faster but ranks below."""
    digests = {}
    for vid in (WHEEL, WHEEL_RT, SOURCE):
        digests[vid] = registry.push_image(name, vid, **push)
        write(root / "build-metadata" / f"{vid}.json",
              build(vid, digests[vid], f"{registry.host}/{name}"))
    write(root / "smoke" / "wheel.json", smoke(WHEEL, digests[WHEEL], fa=110.0))
    write(root / "smoke" / "wheel-rt.json", smoke(WHEEL_RT, digests[WHEEL_RT], status="fail",
                                                  category="abi-mismatch"))
    write(root / "smoke" / "source.json", smoke(SOURCE, digests[SOURCE], fa=150.0))
    return digests


@pytest.mark.parametrize("kind", ["oci", "index", "docker"])
def test_push_moves_tag_to_winner_and_rerun_changes_nothing(oci_registry, tmp_path, capsys,
                                                            kind):
    name = f"promote/{kind}"
    push = {"index": kind == "index", "docker_v2": kind == "docker"}
    digests = ci_artifacts(oci_registry, tmp_path, name, **push)
    # the canonical tag exists already and names another image (yesterday's winner)
    old = oci_registry.push_image(name, "l40")
    assert old not in digests.values()
    record = tmp_path / "generated" / "canonical.json"

    code, out, err = run(capsys, str(tmp_path), "--push", "--record", str(record))
    assert code == 0, err
    status, digest, media_type = tag_state(oci_registry, name, "l40")
    assert status == 200 and digest == digests[WHEEL]
    assert media_type == {"oci": OCI_MANIFEST, "index": OCI_INDEX, "docker": DOCKER_MANIFEST}[kind]
    # the pushed manifest is byte for byte the winner's: same digest by tag and by digest
    assert tag_state(oci_registry, name, digests[WHEEL])[1] == digests[WHEEL]
    assert f"moved `{oci_registry.host}/{name}:l40` to `{digests[WHEEL]}`" in out
    assert old in out
    data = json.loads(record.read_text())
    assert data["canonical"]["digest"] == digests[WHEEL]
    assert data["canonical"]["published"] is True
    assert data["canonical"]["reference"] == f"{oci_registry.host}/{name}:l40@{digests[WHEEL]}"
    first_record = record.read_bytes()

    # a second run finds the tag in place and changes nothing, not even the tag's link file
    storage = Path(oci_registry.process.args[2]).parent / "storage"
    link = tag_link(storage, name, "l40")
    assert link.read_text() == digests[WHEEL]
    before = link.stat().st_mtime_ns
    code, out, err = run(capsys, str(tmp_path), "--push", "--record", str(record))
    assert code == 0, err
    assert "already points at" in out and "nothing changed" in out
    assert link.stat().st_mtime_ns == before
    assert tag_state(oci_registry, name, "l40")[1] == digests[WHEEL]
    assert record.read_bytes() == first_record


def test_push_creates_a_custom_tag(oci_registry, tmp_path, capsys):
    name = "promote/custom"
    digests = ci_artifacts(oci_registry, tmp_path, name)
    assert tag_state(oci_registry, name, "canonical-l40")[0] == 404
    code, out, err = run(capsys, str(tmp_path), "--push", "--canonical-tag", "canonical-l40",
                         "--record", str(tmp_path / "r.json"), "--summary",
                         str(tmp_path / "summary.md"))
    assert code == 0, err
    assert tag_state(oci_registry, name, "canonical-l40")[1] == digests[WHEEL]
    assert f"canonical for l40: {WHEEL}" in out and "created" in out
    assert "read back and checked" in (tmp_path / "summary.md").read_text()


@pytest.fixture(scope="module")
def shared(oci_registry, tmp_path_factory) -> tuple[Path, dict[str, str], str]:
    """Artifacts pushed once for the tests that must leave the registry alone; the
    canonical tag names an older image."""
    root = tmp_path_factory.mktemp("shared-artifacts")
    digests = ci_artifacts(oci_registry, root, "promote/shared")
    return root, digests, oci_registry.push_image("promote/shared", "l40")


def test_without_push_the_registry_is_untouched(oci_registry, shared, tmp_path, capsys):
    root, digests, old = shared
    code, out, _ = run(capsys, str(root), "--record", str(tmp_path / "r.json"))
    assert code == 0
    assert f"would point `{oci_registry.host}/promote/shared:l40` at `{digests[WHEEL]}`" in out
    assert tag_state(oci_registry, "promote/shared", "l40")[1] == old


@pytest.mark.parametrize("bad", ["missing", "corrupt", "foreign"])
def test_bad_result_file_promotes_nothing(oci_registry, shared, tmp_path, capsys, bad):
    root, _, old = shared
    inputs = tmp_path / "inputs"
    shutil.copytree(root, inputs)
    args = [str(inputs)]
    if bad == "missing":
        args.append(str(inputs / "smoke" / "lost.json"))
    elif bad == "corrupt":
        (inputs / "smoke" / "cut.json").write_text('{"schema": "gen-smoke/1", "vari')
    else:
        write(inputs / "smoke" / "sbom.json", {"spdxVersion": "SPDX-2.3"})
    record = tmp_path / "r.json"
    code, out, err = run(capsys, *args, "--push", "--record", str(record))
    assert code == 2
    assert {"missing": "lost.json: no such file", "corrupt": "cut.json:1: not valid JSON",
            "foreign": "sbom.json: not a gen smoke result"}[bad] in err
    assert tag_state(oci_registry, "promote/shared", "l40")[1] == old
    assert not record.exists() and out == ""
    # without the bad file, the same inputs promote (here without --push)
    for extra in ("cut.json", "sbom.json"):
        (inputs / "smoke" / extra).unlink(missing_ok=True)
    code, _, err = run(capsys, str(inputs), "--record", str(record))
    assert code == 0, err


def test_winner_missing_from_repository_fails_cleanly(oci_registry, tmp_path, capsys):
    digests = ci_artifacts(oci_registry, tmp_path, "promote/here")
    oci_registry.push_image("promote/elsewhere", "x")
    record = tmp_path / "r.json"
    code, _, err = run(capsys, str(tmp_path), "--push", "--repository",
                         f"{oci_registry.host}/promote/elsewhere", "--record", str(record))
    assert code == 1
    assert "push failed" in err and digests[WHEEL] in err
    assert not record.exists()
    assert tag_state(oci_registry, "promote/elsewhere", "l40")[0] == 404


def test_push_through_bearer_token_auth(oci_registry_auth, tmp_path, capsys):
    name = "promote/auth"
    digests = ci_artifacts(oci_registry_auth, tmp_path, name)
    seen = len(oci_registry_auth.token_server.requests)
    code, _, err = run(capsys, str(tmp_path), "--push", "--record", str(tmp_path / "r.json"))
    assert code == 0, err
    assert tag_state(oci_registry_auth, name, "l40")[1] == digests[WHEEL]
    # gen asked the token server itself (the test's own pushes ask for pull,push only)
    ours = oci_registry_auth.token_server.requests[seen:]
    assert any(q.get("scope") == [f"repository:{name}:pull"] for q in ours)


# ---------------------------------------------------------------- basic auth (htpasswd)


@dataclass
class BasicAuthRegistry(OciRegistry):
    """A docker-registry that demands HTTP basic auth (htpasswd), as a private one would."""

    auth: tuple[str, str] = ("", "")

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = path if path.startswith("http") else self.url + path
        return httpx.request(method, url, auth=self.auth, timeout=20, **kwargs)


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory) -> Iterator[BasicAuthRegistry]:
    try:
        import bcrypt
    except ImportError:
        bcrypt = None
    require(bcrypt is not None, "the bcrypt module (pip install -e '.[test]')")
    require_tool("docker-registry", "/usr/bin/docker-registry")
    directory = tmp_path_factory.mktemp("basic-registry")
    user, password = "ci-bot", "s3cret-token"
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    (directory / "htpasswd").write_text(f"{user}:{hashed}\n")
    port = free_port()
    config = {"version": 0.1, "log": {"level": "warn"},
              "storage": {"filesystem": {"rootdirectory": str(directory / "storage")}},
              "http": {"addr": f"127.0.0.1:{port}", "secret": "promote-test"},
              "auth": {"htpasswd": {"realm": "gen-test", "path": str(directory / "htpasswd")}}}
    (directory / "config.yml").write_text(json.dumps(config))
    log = directory / "registry.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([REGISTRY_BIN, "serve", str(directory / "config.yml")],
                                   stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "OTEL_TRACES_EXPORTER": "none"})
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process, log)
        yield BasicAuthRegistry(f"127.0.0.1:{port}", process, auth=(user, password))
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_push_with_credentials_from_env_or_docker_config(basic_registry, tmp_path, capsys,
                                                         monkeypatch):
    name = "promote/private"
    digests = ci_artifacts(basic_registry, tmp_path / "in", name)
    record = tmp_path / "r.json"
    for var in ("GEN_REGISTRY_USER", "GEN_REGISTRY_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    # no credentials: the registry refuses, nothing is recorded
    code, _, err = run(capsys, str(tmp_path / "in"), "--push", "--record", str(record))
    assert code == 1 and "push failed" in err and "access refused (HTTP 401)" in err, err
    assert "GEN_REGISTRY_USER" in err
    assert not record.exists()
    assert tag_state(basic_registry, name, "l40")[0] == 404
    # what `docker login` (docker/login-action in CI) leaves in config.json
    user, password = basic_registry.auth
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    write(tmp_path / "docker" / "config.json", {"auths": {basic_registry.host: {"auth": token}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    code, out, err = run(capsys, str(tmp_path / "in"), "--push", "--record", str(record))
    assert code == 0, err
    assert "created" in out
    assert tag_state(basic_registry, name, "l40")[1] == digests[WHEEL]
    # the environment wins over config.json, and a wrong password is refused
    monkeypatch.setenv("GEN_REGISTRY_USER", user)
    monkeypatch.setenv("GEN_REGISTRY_PASSWORD", "wrong")
    code, _, err = run(capsys, str(tmp_path / "in"), "--push", "--canonical-tag", "other",
                       "--record", str(tmp_path / "r2.json"))
    assert code == 1 and "push failed" in err
    monkeypatch.setenv("GEN_REGISTRY_PASSWORD", password)
    code, _, err = run(capsys, str(tmp_path / "in"), "--push", "--canonical-tag", "other",
                       "--record", str(tmp_path / "r2.json"))
    assert code == 0, err
    assert tag_state(basic_registry, name, "other")[1] == digests[WHEEL]
