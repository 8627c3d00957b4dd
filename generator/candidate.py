"""A candidate: one combination of target, base image, torch, Python, flash-attn and strategy."""

from __future__ import annotations

from typing import NamedTuple

from generator import knowledge
from generator.images import ImageFacts
from generator.matrix import Target


class Candidate(NamedTuple):
    target: Target
    base: ImageFacts
    torch: str  # e.g. 2.7.1 (no local part)
    torch_cuda_tag: str  # the torch build, e.g. cu126
    python: str
    flash_attn: str | None  # None for strategy none
    strategy: str
    wheel_url: str | None = None
    origin: str = "matrix"  # matrix | include

    @property
    def torch_cuda(self) -> str:
        """torch.version.cuda of this build, e.g. '12.6'."""
        return knowledge.cuda_of_tag(self.torch_cuda_tag)

    @property
    def torch_minor(self) -> str:
        return knowledge.minor_of(self.torch)

    @property
    def python_tag(self) -> str:
        return "cp" + self.python.replace(".", "")

    @property
    def cxx11_abi(self) -> bool | None:
        entry = knowledge.torch_table().minor(self.torch)
        return None if entry is None else entry.cxx11_abi.get(self.torch_cuda_tag)
