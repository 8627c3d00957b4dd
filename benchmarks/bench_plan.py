"""Benchmark `gen plan`: start-up against bare Python, and a 10,000-candidate matrix.

Prints figures; asserts nothing. Targets (issue 2): the default plan within 3x of a bare
`python -c pass` measured in the same run, and 10,000 candidates planned in under 1 s.

    python benchmarks/bench_plan.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def wall(argv: list[str], runs: int) -> tuple[float, float]:
    """(best, median) wall seconds of a command over `runs` runs, after one warm-up."""
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True, cwd=ROOT)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def synthetic_matrix(path: Path) -> int:
    """A matrix of exactly 10,000 candidates: 10 targets x 25 tags x (3 strategies x 13
    flash-attn versions + the none strategy)."""
    gpus = ["L40", "L4", "A10", "A100", "H100", "T4", "L40S", "A40", "H200", "RTX4090"]
    pairs = [("2.3.1", "12.1"), ("2.4.1", "12.1"), ("2.4.1", "12.4"), ("2.5.1", "12.1"),
             ("2.5.1", "12.4"), ("2.6.0", "11.8"), ("2.6.0", "12.4"), ("2.6.0", "12.6"),
             ("2.7.1", "12.6"), ("2.7.1", "12.8"), ("2.8.0", "12.6"), ("2.8.0", "12.8"),
             ("2.9.1", "12.8")]
    tags = [f"{t}-cuda{c}-cudnn9-{f}" for t, c in pairs for f in ("devel", "runtime")][:25]
    fa = ["2.5.8", "2.5.9.post1", "2.6.3", "2.7.4.post1", "2.8.3", "2.8.3.post1", "2.7.3",
          "2.6.1", "2.7.0", "2.8.0", "2.8.1", "2.8.2", "2.7.4"]
    data = {
        "targets": [{"name": g.lower(), "gpu": g, "runs_on": ["gpu"]} for g in gpus],
        "bases": [{"image": "pytorch/pytorch", "tags": tags}],
        "flash_attn": fa,
        "strategies": ["wheel", "pypi-sdist", "source", "none"],
    }
    path.write_text(yaml.safe_dump(data))
    return len(gpus) * len(tags) * (3 * len(fa) + 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    py = sys.executable
    # An installed package has byte-code (pip compiles it); a source checkout under
    # PYTHONDONTWRITEBYTECODE=1 would otherwise recompile every module on every start.
    subprocess.run([py, "-m", "compileall", "-q", str(ROOT / "generator")], check=True)
    bare, bare_med = wall([py, "-c", "pass"], args.runs)
    plan, plan_med = wall([py, "-m", "generator", "plan", "--matrix", "matrix.yaml"], args.runs)
    helps, _ = wall([py, "-m", "generator", "--help"], args.runs)
    floor, _ = wall([py, "-c", "import click, yaml"], args.runs)
    print(f"cores: {os.cpu_count()}  python: {sys.version.split()[0]}")
    print(f"bare python -c pass      best {bare * 1e3:7.1f} ms  median {bare_med * 1e3:7.1f} ms")
    print(f"import click, yaml       best {floor * 1e3:7.1f} ms  ({floor / bare:.2f}x bare: "
          "the floor of any gen command)")
    print(f"gen --help               best {helps * 1e3:7.1f} ms  ({helps / bare:.2f}x bare)")
    print(f"gen plan (default)       best {plan * 1e3:7.1f} ms  median {plan_med * 1e3:7.1f} ms"
          f"  ratio best {plan / bare:.2f}x, median {plan_med / bare_med:.2f}x (target <= 3x)")

    from generator.matrix import load_matrix
    from generator.plan import build_plan

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.yaml"
        expected = synthetic_matrix(path)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            result = build_plan(load_matrix(path))
            times.append(time.perf_counter() - start)
        assert len(result.variants) == expected, len(result.variants)
        cold = subprocess.run([py, "-c", (
            "import time,sys; t=time.perf_counter();"
            "from generator.matrix import load_matrix; from generator.plan import build_plan;"
            f"p=build_plan(load_matrix({str(path)!r}));"
            "print(time.perf_counter()-t, len(p.kept))")], capture_output=True, text=True,
            check=True, cwd=ROOT).stdout.split()
    print(f"plan {expected} candidates  in-process best {min(times):.3f} s, "
          f"fresh process {float(cold[0]):.3f} s ({cold[1]} kept) (target < 1 s)")


if __name__ == "__main__":
    main()
