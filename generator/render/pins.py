"""Versions and commits the rendered files pin, kept in one place.

Build tools: exact versions from PyPI (checked with `pip index versions` and `pip download`
for Python 3.9 to 3.13 on manylinux x86_64); the sdist build needs them before
`--no-build-isolation` (flash-attn's `build_requires` in the knowledge tables name them).
Actions: full commit SHAs of release tags (see `ACTIONS`), never a moving tag.
"""

from __future__ import annotations

# package -> exact version pip installs in every flash-attn image.
PIP_PINS: dict[str, str] = {
    "packaging": "25.0",  # 26.x needs Python >= 3.10
    "wheel": "0.48.0",
    "ninja": "1.13.2",
    "psutil": "7.2.2",
    "einops": "0.8.2",  # flash-attn's runtime dependency, installed ahead of it (--no-deps)
}

# action -> (commit, release tag). Each commit was matched to its tag in public workflow
# files and action logs ("Download action repository ... (SHA:...)").
ACTIONS: dict[str, tuple[str, str]] = {
    "actions/checkout": ("11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2"),
    "actions/setup-python": ("a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0"),
    "docker/setup-buildx-action": ("b5ca514318bd6ebac0fb2aedd5d36ec1b5c232a2", "v3.10.0"),
    "docker/login-action": ("74a5d142397b4f367a81961eba4e8cd7edddf772", "v3.4.0"),
    "docker/build-push-action": ("263435318d21b8e681c14492fe198d362a7d2c83", "v6.18.0"),
    "actions/upload-artifact": ("ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"),
    "actions/download-artifact": ("d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0"),
}


def pip_pin(name: str) -> str:
    """'ninja' -> 'ninja==1.13.2'; a package without a pin is a programming error."""
    try:
        return f"{name}=={PIP_PINS[name]}"
    except KeyError:
        raise KeyError(f"no pinned version for build requirement {name!r}: add it to "
                       "generator/render/pins.py") from None


def uses(action: str) -> str:
    """'actions/checkout' -> 'actions/checkout@<sha> # v4.2.2'."""
    sha, tag = ACTIONS[action]
    return f"{action}@{sha} # {tag}"
