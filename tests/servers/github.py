"""A loopback server that speaks GitHub's release API and its download redirect: the API and
the github.com download URLs on one port, the asset storage (302 target) on another."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from servers.http import Answer, FakeServer


class GitHubFake:
    def __init__(self, delay: float = 0.0) -> None:
        self.web = FakeServer(delay)  # api.github.com and github.com
        self.storage = FakeServer(delay)  # objects.githubusercontent.com
        self.releases: dict[str, list[dict]] = {}

    @property
    def url(self) -> str:
        return self.web.url

    def release_path(self, repo: str, tag: str) -> str:
        return f"/repos/{repo}/releases/tags/{tag}"

    def download_path(self, repo: str, tag: str, name: str) -> str:
        return f"/{repo}/releases/download/{tag}/{name}"

    def add_release(self, repo: str, tag: str, assets: dict[str, bytes], *,
                    digest: bool = True, listed_size: dict[str, int] | None = None) -> None:
        """A release `tag` of `repo` whose assets are `assets` (name -> bytes)."""
        listing = []
        for name, data in assets.items():
            sha = hashlib.sha256(data).hexdigest()
            blob = f"/blob/{sha}"
            self.storage.add(blob, Answer(200, data, {"Content-Type":
                                                      "application/octet-stream"}))
            self.web.add(self.download_path(repo, tag, name),
                         Answer.redirect(f"{self.storage.url}{blob}?sig=x"))
            entry = {"name": name, "size": (listed_size or {}).get(name, len(data)),
                     "state": "uploaded", "content_type": "application/octet-stream",
                     "browser_download_url": "https://github.com" + quote(
                         self.download_path(repo, tag, name), safe="/+")}
            if digest:
                entry["digest"] = f"sha256:{sha}"
            listing.append(entry)
        self.releases[f"{repo}@{tag}"] = listing
        self.web.add(self.release_path(repo, tag), Answer.json(
            {"tag_name": tag, "assets": listing}, "application/json; charset=utf-8"))

    def close(self) -> None:
        self.web.close()
        self.storage.close()


def fake_wheel(name: str, size: int = 2048) -> bytes:
    """Bytes that start like a zip (a wheel), unique per name."""
    seed = hashlib.sha256(name.encode()).digest()
    return b"PK\x03\x04" + (seed * (size // len(seed) + 1))[: size - 4]
