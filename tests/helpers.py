"""Small builders for test matrices."""

from __future__ import annotations

from typing import Any

import yaml

from generator.matrix import parse_matrix
from generator.plan import Plan, build_plan


def matrix_dict(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema_version": 1,
        "targets": [{"name": "l40", "gpu": "L40", "runs_on": ["self-hosted", "l40"]}],
        "bases": [{"image": "pytorch/pytorch", "tags": ["2.7.1-cuda12.6-cudnn9-devel"]}],
        "flash_attn": ["2.8.3"],
        "strategies": ["wheel"],
    }
    data.update(overrides)
    return data


def plan_of(**overrides: Any) -> Plan:
    text = yaml.safe_dump(matrix_dict(**overrides), sort_keys=False)
    return build_plan(parse_matrix(text, "test.yaml"))


def only(plan: Plan, **axes: str):
    """The single variant whose as_dict() values match `axes`."""
    found = [v for v in plan.variants
             if all(v.as_dict().get(k) == val for k, val in axes.items())]
    assert len(found) == 1, [v.id for v in found]
    return found[0]


def codes(variant) -> list[str]:
    return [r.code for r in variant.reasons]
