"""Property tests: mutated matrix files give either a valid plan or a clean exit-2 error."""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.cli import main

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = yaml.load((ROOT / "matrix.yaml").read_text(), Loader=yaml.BaseLoader)

HOSTILE = st.sampled_from([
    "a\nRUN curl x | sh", "${{ github.event.issue.title }}", "'", '"', "x y", "$(id)", "",
    "2.7.1-cuda12.6-cudnn9-devel\n", "../../etc", "3.1", "2.8", "-1", "1e9", "L40", "devel",
])
LEAF = st.one_of(HOSTILE, st.text(max_size=12), st.integers(-3, 3), st.booleans(), st.none(),
                 st.lists(st.text(max_size=5), max_size=2), st.dictionaries(
                     st.text(max_size=4), st.text(max_size=4), max_size=2))


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


def _parent(doc: Any, path: tuple) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


@st.composite
def mutated_documents(draw: st.DrawFn) -> str:
    doc = json.loads(json.dumps(DEFAULT))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        path = draw(st.sampled_from(paths))
        parent = _parent(doc, path)
        action = draw(st.sampled_from(["replace", "delete", "duplicate", "unknown-key"]))
        if action == "replace":
            parent[path[-1]] = draw(LEAF)
        elif action == "delete":
            del parent[path[-1]]
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(parent[path[-1]])
        elif action == "unknown-key" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["target", "tag", "flash-attn", "xyz"]))] = "1"
    return yaml.safe_dump(doc, sort_keys=False)


@st.composite
def mangled_text(draw: st.DrawFn) -> str:
    text = (ROOT / "matrix.yaml").read_text()
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 6))
        insert = draw(st.sampled_from(["", ":", "-", " ", "\n", "[", "{", "'", "\t", "&a", "*a",
                                       "!!python/object:os.system", "\x00", "é"]))
        text = text[:pos] + insert + text[pos + cut:]
    return text


def run_plan(text: str) -> tuple[int, str, str]:
    fd, path = tempfile.mkstemp(suffix=".yaml")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(["plan", "--matrix", path, "--format", "json"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        os.unlink(path)
    return code, out.getvalue(), err.getvalue()


def check_outcome(text: str) -> None:
    code, out, err = run_plan(text)
    assert "Traceback" not in err
    if code == 0:
        data = json.loads(out)
        assert data["variants"] and any(v["status"] == "kept" for v in data["variants"])
        for v in data["variants"]:
            assert (v["status"] == "kept") == (not v["reasons"])
    else:
        assert code == 2, (code, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("gen: error: "), err


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents())
def test_mutated_matrix_gives_plan_or_clean_error(text):
    check_outcome(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mangled_text())
def test_mangled_yaml_text_gives_plan_or_clean_error(text):
    check_outcome(text)


def test_the_unmutated_default_matrix_plans():
    code, out, _ = run_plan((ROOT / "matrix.yaml").read_text())
    assert code == 0 and json.loads(out)["summary"]["kept"] > 0
