"""Loopback package indexes: PyPI's JSON simple API (PEP 691) and a PyTorch-style static
PEP 503 HTML index with `#sha256=` fragments (some left out, as upstream sometimes does)."""

from __future__ import annotations

import hashlib
import html

from servers.http import Answer, FakeServer

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


class PyPIFake:
    def __init__(self, delay: float = 0.0) -> None:
        self.server = FakeServer(delay)
        self.projects: dict[str, list[dict]] = {}

    @property
    def url(self) -> str:
        return self.server.url

    def page_path(self, project: str) -> str:
        return f"/simple/{project}/"

    def add_file(self, project: str, filename: str, data: bytes, *, sha256: bool = True) -> str:
        """Publish a file; returns its sha256."""
        sha = hashlib.sha256(data).hexdigest()
        self.server.add(f"/files/{filename}", Answer(200, data))
        entry = {"filename": filename, "url": f"../../files/{filename}", "size": len(data),
                 "hashes": {"sha256": sha} if sha256 else {}, "requires-python": ">=3.9"}
        self.projects.setdefault(project, []).append(entry)
        body = {"meta": {"api-version": "1.1"}, "name": project,
                "versions": [], "files": self.projects[project]}
        self.server.add(self.page_path(project), Answer.json(body, SIMPLE_JSON))
        return sha

    def close(self) -> None:
        self.server.close()


class TorchIndexFake:
    """`/whl/<cuda tag>/torch/` pages like download.pytorch.org's."""

    def __init__(self, delay: float = 0.0) -> None:
        self.server = FakeServer(delay)
        self.files: dict[str, list[tuple[str, str | None]]] = {}

    @property
    def url(self) -> str:
        return self.server.url + "/whl"

    def page_path(self, tag: str, project: str = "torch") -> str:
        return f"/whl/{tag}/{project}/"

    def add_wheel(self, tag: str, filename: str, *, sha256: bool = True,
                  project: str = "torch") -> str:
        sha = hashlib.sha256(filename.encode()).hexdigest()
        self.files.setdefault(f"{tag}/{project}", []).append((filename, sha if sha256 else None))
        anchors = "\n".join(
            f'<a href="/whl/{tag}/{html.escape(n.replace("+", "%2B"))}'
            f'{"#sha256=" + s if s else ""}">{html.escape(n)}</a><br/>'
            for n, s in self.files[f"{tag}/{project}"])
        page = f"<!DOCTYPE html><html><body><h1>Links for {project}</h1>\n{anchors}\n</body></html>"
        self.server.add(self.page_path(tag, project), Answer(200, page.encode(), {
            "Content-Type": "text/html"}))
        return sha

    def close(self) -> None:
        self.server.close()
