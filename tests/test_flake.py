"""flake.nix, evaluated and built offline by the real `nix` against a stand-in nixpkgs.

The stand-in (tests/nix/stand-in-nixpkgs) provides only what flake.nix touches, as trivial
derivations built by /bin/sh; its buildPythonApplication makes a wrapper that runs gen from
the Nix store with the Python running these tests. So these tests prove the flake's wiring
(pyproject.toml read, outputs present and buildable, the app runs gen, lib.variants matches
`gen plan`), not that real nixpkgs builds gen: that needs a machine with network access.

Each session gets its own Nix store, state and HOME in a temp dir (no daemon, no build users,
no sandbox, no substituters, no flake registry), so it runs as root on a fresh Debian with
only `nix-bin` installed, or as any user with nix on PATH.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT, require_tool

from generator import __version__
from generator.cli import COMMANDS

pytestmark = pytest.mark.integration

STAND_IN = "tests/nix/stand-in-nixpkgs"
VARIANTS_JSON = "generated/variants.json"
VARIANT_KEYS = ("id", "target", "base", "strategy", "torch", "cuda", "python", "flash_attn")
# Not part of a source checkout; never copied into the flake's repo.
SKIP_NAMES = {".git", ".venv", ".tox", "__pycache__", ".pytest_cache", ".ruff_cache",
              ".hypothesis", "build", "dist", "result"}
RENDER_LANDED = "render" in COMMANDS


def run_gen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "generator", *args], capture_output=True,
                          text=True, cwd=ROOT, check=False)


def kept_plan() -> list[dict]:
    result = run_gen("plan", "--format", "json", "--matrix", str(ROOT / "matrix.yaml"))
    assert result.returncode == 0, result.stderr
    return [v for v in json.loads(result.stdout)["variants"] if v["status"] == "kept"]


def source_files(root: Path) -> list[str]:
    """What a checkout holds: git's tracked and untracked-but-not-ignored files (a flake in a
    git repo sees only tracked ones), or every file outside SKIP_NAMES without git."""
    git = shutil.which("git")
    if git and (root / ".git").exists():
        out = subprocess.run([git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=root, capture_output=True, text=True, check=True).stdout
        return sorted({f for f in out.split("\0") if f and (root / f).is_file()})
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and not SKIP_NAMES & set(p.relative_to(root).parts)
                  and not p.name.endswith(".egg-info"))


def write_plan_variants(path: Path) -> None:
    """Until `gen render` lands, a stand-in generated/variants.json from `gen plan`, same shape."""
    variants = sorted(({k: v[k] for k in VARIANT_KEYS} for v in kept_plan()),
                      key=lambda v: v["id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"schema_version": 1, "variants": variants}, indent=2) + "\n")


@dataclass
class Flake:
    repo: Path
    env: dict[str, str]
    nix: str
    system: str
    stand_in: Path
    pyproject: dict

    def requirements(self, extra: str | None = None) -> set[str]:
        """PEP 503 names of pyproject.toml's dependencies, or of one extra's."""
        project = self.pyproject["project"]
        reqs = project["optional-dependencies"][extra] if extra else project["dependencies"]
        return {re.sub(r"[-_.]+", "-", re.match(r"\s*[A-Za-z0-9][A-Za-z0-9._-]*", r)
                       .group(0).strip()).lower() for r in reqs}

    def run(self, *args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.nix, *args], cwd=self.repo, env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=False)

    def flake(self, *command: str, args: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        """`nix <command...>` with nixpkgs overridden by the stand-in; no lock file is written;
        `args` go after the options (after `--` for nix run)."""
        return self.run(*command, "--no-write-lock-file", "--override-input", "nixpkgs",
                        f"path:{self.stand_in}", *args)

    def eval_json(self, attr: str):
        result = self.flake("eval", f".#{attr}", "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def build(self, attr: str) -> Path:
        result = self.flake("build", f".#{attr}", "--no-link", "--json")
        assert result.returncode == 0, result.stderr
        return Path(json.loads(result.stdout)[0]["outputs"]["out"])


def nix_env(base: Path) -> dict[str, str]:
    """Environment for nix: a private store, state, HOME and config under base."""
    home, store = base / "home", base / "nix"
    home.mkdir()
    registry = base / "registry.json"
    registry.write_text('{"flakes": [], "version": 2}')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NIX_", "XDG_", "GIT_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_CACHE_HOME=str(home / ".cache"), XDG_DATA_HOME=str(home / ".local/share"),
               XDG_STATE_HOME=str(home / ".local/state"))
    env["NIX_CONFIG"] = "\n".join([
        "experimental-features = nix-command flakes",
        # A local store of our own: no daemon, no nixbld users, no sandbox, nothing downloaded.
        f"store = local?store={store}/store&state={store}/var&log={store}/log",
        "build-users-group =",
        "sandbox = false",
        "substituters =",
        f"flake-registry = {registry}",
    ])
    return env


@pytest.fixture(scope="session")
def flake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flake]:
    nix = require_tool("nix")
    git = require_tool("git")
    base = tmp_path_factory.mktemp("flake")
    env = nix_env(base)
    repo = base / "repo"
    for rel in source_files(ROOT):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, repo / rel)
    if not (repo / VARIANTS_JSON).exists():
        # Before `gen render` exists, nothing writes the file; afterwards it must be committed.
        assert not RENDER_LANDED, f"{VARIANTS_JSON} is missing: run `gen render` and commit it"
        write_plan_variants(repo / VARIANTS_JSON)

    def nix_eval(expr: str) -> str:
        return subprocess.run([nix, "eval", "--impure", "--json", "--expr", expr], env=env,
                              capture_output=True, text=True, check=True).stdout

    system = json.loads(nix_eval("builtins.currentSystem"))
    # pyproject.toml as Nix's TOML parser reads it (Python 3.10 has no tomllib).
    pyproject = json.loads(nix_eval(f"builtins.fromTOML (builtins.readFile "
                                    f"{repo / 'pyproject.toml'})"))
    flake = Flake(repo, env, nix, system, repo / STAND_IN, pyproject)
    # The stand-in's "python" is this interpreter (it has gen's dependencies), and it offers a
    # package for each of gen's requirements.
    names = sorted(flake.requirements() | flake.requirements("test"))
    (repo / STAND_IN / "host.json").write_text(
        json.dumps({"python": sys.executable, "pythonPackages": names}))
    git_id = ["-c", "user.name=gen tests", "-c", "user.email=tests@localhost"]
    for args in (["init", "-q"], ["add", "-A"], [*git_id, "commit", "-q", "-m", "snapshot"]):
        subprocess.run([git, *args], cwd=repo, env=env, check=True, capture_output=True)
    yield flake
    # Store paths are read-only: make them writable so the temp dir can go.
    subprocess.run(["chmod", "-R", "u+w", str(base)], check=False)
    shutil.rmtree(base, ignore_errors=True)


def test_nix_files_parse(flake):
    nix_instantiate = require_tool("nix-instantiate")
    files = ["flake.nix", *(str(p.relative_to(ROOT)) for p in (ROOT / STAND_IN).glob("*.nix"))]
    for rel in files:
        result = subprocess.run([nix_instantiate, "--parse", str(ROOT / rel)],
                                env=flake.env, capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{rel}: {result.stderr}"


def test_flake_check_builds_every_check(flake):
    result = flake.flake("flake", "check", "-L")
    if RENDER_LANDED:
        assert result.returncode == 0, result.stderr
        return
    # Before `gen render` lands, the render check reaches gen and fails only there.
    assert result.returncode != 0
    assert "gen-render-check" in result.stderr
    assert "No such command 'render'" in result.stderr
    assert (flake.build(f"checks.{flake.system}.gen") / "bin" / "gen").is_file()


def test_outputs_exist_for_every_system(flake):
    for output in ("packages", "apps", "devShells", "checks"):
        systems = flake.eval_json(output)
        assert set(systems) == {"x86_64-linux", "aarch64-linux", "x86_64-darwin",
                                "aarch64-darwin"}, output
    assert flake.eval_json(f"checks.{flake.system}").keys() >= {"gen", "render-check"}


def test_package_metadata_comes_from_pyproject(flake):
    pkg = f"packages.{flake.system}"
    version = flake.pyproject["project"]["version"]
    assert flake.eval_json(f"{pkg}.gen.version") == version == __version__
    assert flake.eval_json(f"{pkg}.gen.pname") == "gen"
    assert flake.eval_json(f"{pkg}.gen.meta.mainProgram") == "gen"
    assert flake.eval_json(f"{pkg}.default.drvPath") == flake.eval_json(f"{pkg}.gen.drvPath")


def _names(recorded: Path) -> set[str]:
    """Stand-in package names in a nix-support list: .../<hash>-python3-click-stand-in."""
    return {re.sub(r"^[a-z0-9]{32}-(python3-)?|-stand-in$", "", Path(p).name)
            for p in recorded.read_text().split()}


def test_package_dependencies_follow_pyproject(flake):
    out = flake.build(f"packages.{flake.system}.gen")
    assert _names(out / "nix-support/dependencies") == flake.requirements()
    checks = _names(out / "nix-support/check-inputs")
    assert checks == {"pytest-check-hook"} | (flake.requirements("test") - {"ruff"})


def test_check_phase_deselects_network_gpu_and_integration_tests(flake):
    out = flake.build(f"packages.{flake.system}.gen")
    marks = (out / "nix-support/disabled-test-marks").read_text().split()
    assert {"live", "gpu", "integration"} <= set(marks)
    # What pytestCheckHook runs: -m "not a and not b". Tests needing nix (this file) must go.
    expr = " and ".join(f"not {m}" for m in marks)
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m",
                                expr, "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True,
                               text=True, check=False)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    ids = [line for line in collected.stdout.splitlines() if "::" in line]
    assert ids, collected.stdout
    assert not [i for i in ids if i.startswith("tests/test_flake.py")]


def test_nix_run_app_is_gen(flake):
    result = flake.flake("run", ".", args=("--", "--help"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == run_gen("--help").stdout
    assert "Commands:" in result.stdout


def test_dev_shell_has_python_deps_tox_and_ruff(flake):
    shell = flake.build(f"devShells.{flake.system}.default")
    paths = (shell / "nix-support/packages").read_text().split()
    assert {"tox", "ruff"} <= _names(shell / "nix-support/packages")
    env = next(Path(p) for p in paths if p.endswith("-python3-env"))
    assert _names(env / "nix-support/packages") == (
        flake.requirements() | flake.requirements("test")) - {"ruff"}
    assert (env / "bin/python3").exists()


def test_lib_variants_are_plans_kept_variants(flake):
    variants = flake.eval_json("lib.variants")
    plan = {v["id"]: v for v in kept_plan()}
    assert [v["id"] for v in variants] == sorted(plan)
    for v in variants:
        assert set(VARIANT_KEYS) <= set(v), v
        for key in ("target", "base", "strategy", "torch", "python", "flash_attn"):
            assert v[key] == plan[v["id"]][key], (v["id"], key)
    by_id = flake.eval_json("lib.variantsById")
    assert by_id == {v["id"]: v for v in variants}


@pytest.mark.parametrize(("variants", "message"), [
    (None, "generated/variants.json is missing: run `gen render`"),
    ({"schema_version": 2, "variants": []}, "schema_version 2, this flake reads 1"),
])
def test_lib_variants_explains_a_missing_or_newer_file(flake, tmp_path, variants, message):
    repo = tmp_path / "repo"
    for rel in ("flake.nix", "pyproject.toml"):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(flake.repo / rel, repo / rel)
    if variants is not None:
        (repo / "generated").mkdir()
        (repo / VARIANTS_JSON).write_text(json.dumps(variants))
    # A path: flake (no git), so nix sees every file without a commit.
    other = Flake(repo, flake.env, flake.nix, flake.system, flake.stand_in, flake.pyproject)
    result = other.flake("eval", f"path:{repo}#lib.variants", "--json")
    assert result.returncode != 0
    assert message in result.stderr
    # The rest of the flake does not need the file.
    version = other.flake("eval", f"path:{repo}#packages.{flake.system}.gen.version", "--json")
    assert json.loads(version.stdout) == __version__, version.stderr
