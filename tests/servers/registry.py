"""Debian's docker-registry (the CNCF distribution registry) on a loopback port, per test
session, with a helper that pushes tiny images through the registry HTTP API.

`oci_registry`: no auth. `oci_registry_auth`: `auth: token` in the registry config with a
loopback token server that signs ES256 JWTs (x5c header, its self-signed certificate as the
registry's rootcertbundle), so clients must follow the real Bearer challenge.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import io
import json
import os
import socket
import subprocess
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

REGISTRY_BIN = "/usr/bin/docker-registry"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- token server


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """Issues registry JWTs for any requested scope (anonymous) and records each request."""

    def __init__(self, directory: Path, service: str = "gen-test-registry",
                 issuer: str = "gen-test-issuer") -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.service, self.issuer = service, issuer
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gen-test-token")])
        now = time.time()
        import datetime as dt
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(dt.datetime.fromtimestamp(now - 3600, dt.timezone.utc))
                .not_valid_after(dt.datetime.fromtimestamp(now + 86400, dt.timezone.utc))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(self.key, hashes.SHA256()))
        self.cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.cert_path = directory / "token-cert.pem"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.requests: list[dict[str, list[str]]] = []
        self.port = free_port()
        self.realm = f"http://127.0.0.1:{self.port}/token"
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                server.requests.append(query)
                body = json.dumps({"token": server.token(query.get("scope", []))}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def token(self, scopes: list[str]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":")[0], ":".join(scope.split(":")[1:-1]), \
                scope.split(":")[-1]
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256",
                  "x5c": [base64.b64encode(self.cert_der).decode()]}
        claims = {"iss": self.issuer, "sub": "", "aud": self.service, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing = (_b64url(json.dumps(header).encode()) + "." +
                   _b64url(json.dumps(claims).encode()))
        der = self.key.sign(signing.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return signing + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------- the registry


@dataclass
class OciRegistry:
    host: str  # 127.0.0.1:PORT
    process: subprocess.Popen[bytes]
    token_server: TokenServer | None = None
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    # -- a tiny client that follows the token challenge (independent of generator/)
    def _call(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        scope = path.split("/v2/", 1)[-1].split("/blobs/")[0].split("/manifests/")[0]
        headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[call-overload]
        if scope in self._tokens:
            headers["Authorization"] = f"Bearer {self._tokens[scope]}"
        url = path if path.startswith("http") else self.url + path
        response = httpx.request(method, url, headers=headers, timeout=20, **kwargs)
        if response.status_code == 401 and self.token_server is not None:
            answer = httpx.get(self.token_server.realm, params={
                "service": self.token_server.service,
                "scope": f"repository:{scope}:pull,push"}, timeout=20)
            self._tokens[scope] = answer.json()["token"]
            headers["Authorization"] = f"Bearer {self._tokens[scope]}"
            response = httpx.request(method, url, headers=headers, timeout=20, **kwargs)
        return response

    def push_blob(self, name: str, data: bytes) -> str:
        digest = _sha(data)
        start = self._call("POST", f"/v2/{name}/blobs/uploads/")
        assert start.status_code == 202, start.text
        location = start.headers["location"]
        if location.startswith("/"):
            location = self.url + location
        sep = "&" if "?" in location else "?"
        done = self._call("PUT", f"{location}{sep}digest={digest}", content=data,
                          headers={"Content-Type": "application/octet-stream"})
        assert done.status_code == 201, done.text
        return digest

    def push_manifest(self, name: str, reference: str, body: bytes, media_type: str) -> str:
        response = self._call("PUT", f"/v2/{name}/manifests/{reference}", content=body,
                              headers={"Content-Type": media_type})
        assert response.status_code == 201, response.text
        digest = response.headers["docker-content-digest"]
        assert digest == _sha(body)
        return digest

    def push_image(self, name: str, tag: str, *, index: bool = False,
                   docker_v2: bool = False) -> str:
        """Push a one-layer image `name:tag` (an OCI manifest, a Docker v2 manifest, or an OCI
        index over one) and return the digest the tag now points at."""
        payload = f"{name}:{tag}:{uuid.uuid4()}\n".encode()
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo("hello.txt")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        layer = gzip.compress(buf.getvalue(), mtime=0)
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {
            "type": "layers", "diff_ids": [_sha(buf.getvalue())]}, "config": {}}).encode()
        layer_digest, config_digest = self.push_blob(name, layer), self.push_blob(name, config)
        media = DOCKER_MANIFEST if docker_v2 else OCI_MANIFEST
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": media,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json"
                       if docker_v2 else "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip"
                        if docker_v2 else "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": layer_digest, "size": len(layer)}],
        }, indent=2).encode()
        if not index:
            return self.push_manifest(name, tag, manifest, media)
        inner = self.push_manifest(name, _sha(manifest), manifest, media)
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": media, "digest": inner, "size": len(manifest),
             "platform": {"architecture": "amd64", "os": "linux"}}]}, indent=2).encode()
        return self.push_manifest(name, tag, body, OCI_INDEX)

    def delete_tag_manifest(self, name: str, digest: str) -> None:
        response = self._call("DELETE", f"/v2/{name}/manifests/{digest}")
        assert response.status_code == 202, response.text


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/v2/", timeout=1).status_code in (200, 401):
                return
        time.sleep(0.05)
    raise RuntimeError(f"docker-registry did not start: {log.read_text()[-2000:]}")


@contextlib.contextmanager
def run_registry(directory: Path, token: TokenServer | None = None) -> Iterator[OciRegistry]:
    """A docker-registry process on a free loopback port, storage in `directory`."""
    port = free_port()
    storage = directory / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    config = {
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(storage)},
                    "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": uuid.uuid4().hex},
    }
    if token is not None:
        config["auth"] = {"token": {"realm": token.realm, "service": token.service,
                                    "issuer": token.issuer,
                                    "rootcertbundle": str(token.cert_path)}}
    path = directory / "config.yml"
    path.write_text(json.dumps(config))  # JSON is YAML
    log = directory / "registry.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([REGISTRY_BIN, "serve", str(path)], stdout=out,
                                   stderr=subprocess.STDOUT,
                                   env={**os.environ, "OTEL_TRACES_EXPORTER": "none"})
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process, log)
        yield OciRegistry(f"127.0.0.1:{port}", process, token)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _require_registry() -> None:
    from conftest import require  # tests/conftest.py (tests/ is on sys.path under pytest)
    require(os.access(REGISTRY_BIN, os.X_OK), "docker-registry (apt-get install docker-registry)")


@pytest.fixture(scope="session")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OciRegistry]:
    """A real docker-registry on loopback, no auth; `.host`, `.push_image(name, tag)`."""
    _require_registry()
    with run_registry(tmp_path_factory.mktemp("oci-registry")) as registry:
        yield registry


@pytest.fixture(scope="session")
def oci_registry_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OciRegistry]:
    """A real docker-registry that demands Bearer tokens from a loopback token server."""
    _require_registry()
    pytest.importorskip("cryptography")
    directory = tmp_path_factory.mktemp("oci-registry-auth")
    token = TokenServer(directory)
    try:
        with run_registry(directory, token) as registry:
            yield registry
    finally:
        token.close()
