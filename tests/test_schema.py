"""The JSON Schema of matrix.yaml: generated from the model, committed, and correct."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from generator.schema import MATRIX_SCHEMA


def test_committed_schema_matches_the_model(repo_root):
    committed = json.loads((repo_root / "generator/resources/matrix.schema.json").read_text())
    assert committed == MATRIX_SCHEMA, "regenerate with: gen schema > generator/resources/" \
        "matrix.schema.json"


def test_schema_is_valid_and_accepts_the_default_matrix(repo_root):
    jsonschema.Draft202012Validator.check_schema(MATRIX_SCHEMA)
    data = yaml.load((repo_root / "matrix.yaml").read_text(), Loader=yaml.BaseLoader)
    data["schema_version"] = int(data["schema_version"])
    data["build"] = {k: int(v) for k, v in data["build"].items()}
    jsonschema.validate(data, MATRIX_SCHEMA)


@pytest.mark.parametrize("tag", ["a\nRUN x", "${{ github.event }}", "x'y", "a b"])
def test_schema_refuses_hostile_tags_for_editors_too(repo_root, tag):
    data = yaml.load((repo_root / "matrix.yaml").read_text(), Loader=yaml.BaseLoader)
    data["schema_version"] = 1
    data["build"] = {k: int(v) for k, v in data["build"].items()}
    data["bases"][0]["tags"][0] = tag
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, MATRIX_SCHEMA)
