"""The command line: help, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

from generator.cli import main


def run_gen(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "generator", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_help_lists_commands():
    result = run_gen("--help")
    assert result.returncode == 0
    assert "plan" in result.stdout


def test_plan_json_on_default_matrix(repo_root):
    result = run_gen("plan", "--format", "json", "--matrix", str(repo_root / "matrix.yaml"))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    kept = [v for v in data["variants"] if v["status"] == "kept"]
    assert kept
    for v in data["variants"]:
        for key in ("id", "status", "reasons", "base", "torch", "cuda", "python", "flash_attn",
                    "strategy", "target"):
            assert key in v
        assert (v["status"] == "kept") == (v["reasons"] == [])


def test_missing_matrix_is_exit_2_without_traceback(tmp_path):
    result = run_gen("plan", "--matrix", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "nope.yaml" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_main_in_process_exit_code(tmp_path, capsys):
    bad = tmp_path / "m.yaml"
    bad.write_text("targets: []\n")
    try:
        main(["plan", "--matrix", str(bad)])
    except SystemExit as exc:
        assert exc.code == 2
    err = capsys.readouterr().err
    assert f"{bad}:1" in err


def test_help_and_plan_import_no_heavy_modules(repo_root):
    """gen --help and gen plan stay fast: no network, template or async stack is imported."""
    heavy = ("httpx", "asyncio", "jinja2", "packaging.specifiers", "difflib", "hashlib",
             "tempfile")
    for args in (["--help"], ["plan", "--matrix", str(repo_root / "matrix.yaml")]):
        code = (
            "import sys, io, contextlib\n"
            "from generator.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n"
            f"        main({args!r})\n"
            "    except SystemExit as exc:\n"
            "        assert not exc.code, exc.code\n"
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))\n"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                cwd=repo_root)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "", f"gen {args[0]} imported {result.stdout.strip()}"
