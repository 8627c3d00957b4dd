"""Image references ('name:tag', 'host:port/name@sha256:...'): pure parsing, no network.

Kept apart from the registry client so that plan and render, which only name images,
never import httpx and asyncio.
"""

from __future__ import annotations

from typing import NamedTuple

from generator.grammar import split_image

DOCKER_HUB = "docker.io"


class ImageRef(NamedTuple):
    registry: str  # e.g. docker.io, 127.0.0.1:5000
    name: str  # repository path inside it, e.g. pytorch/pytorch, library/ubuntu
    reference: str  # a tag or sha256:... digest

    @property
    def full_name(self) -> str:
        return self.name if self.registry == DOCKER_HUB else f"{self.registry}/{self.name}"


def split_name(name: str) -> tuple[str, str]:
    """('registry', 'repository') of an image name without tag: 'ubuntu' -> docker.io,
    library/ubuntu; '127.0.0.1:5000/pytorch/pytorch' -> 127.0.0.1:5000, pytorch/pytorch."""
    host, repo = split_image(name)
    registry = host or DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in repo:
        repo = f"library/{repo}"
    return registry, repo


def parse_image_ref(ref: str) -> ImageRef:
    """Split 'name:tag', 'name@sha256:...' (and 'name:tag@sha256:...', digest wins)."""
    name, at, digest = ref.partition("@")
    tag = "latest"
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    registry, repo = split_name(name)
    return ImageRef(registry, repo, digest if at else tag)
