"""Facts about a base image read from its tag, by the grammars in base_images.yaml."""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

from generator import knowledge
from generator.grammar import family_key


class ImageFacts(NamedTuple):
    image: str  # repository, with a registry host where one was given
    tag: str
    family: str  # key into base_images.yaml, e.g. pytorch/pytorch
    flavour: str  # base | runtime | devel
    cuda: str  # as in the tag: '12.6' or '12.6.3'
    cudnn: str | None
    os: str | None
    torch: str | None  # preinstalled torch version, if any
    python: str | None  # Python in the image, if any (may be an unverified default)
    python_unverified: bool

    @property
    def ref(self) -> str:
        return f"{self.image}:{self.tag}"

    @property
    def has_nvcc(self) -> bool:
        return self.flavour == "devel"

    @property
    def cuda_minor(self) -> str:
        major, minor = self.cuda.split(".")[:2]
        return f"{major}.{minor}"

    def with_flavour(self, flavour: str) -> ImageFacts | None:
        """The same image in another flavour (e.g. the -devel twin of a -runtime tag)."""
        if flavour == self.flavour:
            return self
        tag = self.tag.replace(f"-{self.flavour}", f"-{flavour}", 1)
        if tag == self.tag:
            return None
        return parse_image(self.image, tag)


@cache
def parse_image(image: str, tag: str) -> ImageFacts | None:
    """Facts from `image:tag`, or None when no known grammar matches."""
    family = knowledge.image_families().get(family_key(image))
    if family is None:
        return None
    for grammar in family.grammars:
        match = grammar.match(tag)
        if match:
            break
    else:
        return None
    fields = match.groupdict()
    torch = fields.get("torch") if family.torch_preinstalled else None
    os_name = fields.get("os") or family.os
    python = None
    if torch:
        python = next((py for spec, py in family.python_rules
                       if knowledge.in_range(torch, spec)), None)
    elif os_name:
        python = family.os_python.get(os_name)
    cudnn = fields.get("cudnn")
    return ImageFacts(
        image=image,
        tag=tag,
        family=family.repository,
        flavour=fields["flavour"],
        cuda=fields["cuda"],
        cudnn=cudnn if cudnn is not None else None,
        os=os_name,
        torch=torch,
        python=python,
        python_unverified=family.python_unverified,
    )


def parse_ref(ref: str) -> ImageFacts | None:
    image, _, tag = ref.rpartition(":")
    return parse_image(image, tag) if image else None
