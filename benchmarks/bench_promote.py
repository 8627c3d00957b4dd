"""Benchmark `gen promote` decisions: every kept L40 variant of the default matrix.yaml with
its build record and several smoke results, loaded, validated, judged, ranked and written.

Prints figures; asserts nothing. The whole command is also timed next to `gen --help` in the
same run, so the ratio says how much of it is Python start-up.

    python benchmarks/bench_promote.py [--runs N] [--results-per-variant K]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from promote_data.factory import L40, build, smoke, write  # noqa: E402

from generator.matrix import load_matrix  # noqa: E402
from generator.plan import build_plan  # noqa: E402
from generator.promote.decide import judge  # noqa: E402
from generator.promote.record import record_json, to_markdown  # noqa: E402
from generator.promote.results import load_inputs  # noqa: E402


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def artifacts(root: Path, per_variant: int) -> int:
    plan = build_plan(load_matrix(ROOT / "matrix.yaml"))
    kept = [v.id for v in plan.kept if v.candidate.target.name == "l40"]
    for i, vid in enumerate(kept):
        write(root / "build-metadata" / f"{vid}.json", build(vid, digest(vid),
                                                             "ghcr.io/acme/gen"))
        for run in range(per_variant):
            failed = i % 5 == 4
            write(root / f"run{run}" / vid / "smoke.json",
                  smoke(vid, digest(vid), gpu=L40, fa=150.0 + i + run,
                        status="fail" if failed else "pass",
                        category="abi-mismatch" if failed else None))
    return len(kept)


def best_median(fn, runs: int) -> tuple[float, float]:
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--results-per-variant", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "results"
        variants = artifacts(root, args.results_per_variant)
        files = len(list(root.rglob("*.json")))
        matrix = load_matrix(ROOT / "matrix.yaml")
        plan = build_plan(matrix)
        target = matrix.target("l40")
        inputs = load_inputs([str(root)])
        decision = judge(plan, target, inputs)
        print(f"{variants} kept l40 variants, {files} input files, "
              f"{len(decision.ranking)} passed, {len(decision.rejected)} rejected")
        for name, fn in [
            ("load + validate", lambda: load_inputs([str(root)])),
            ("judge + rank", lambda: judge(plan, target, inputs)),
            ("record + report", lambda: (record_json(decision, None),
                                         to_markdown(decision, None))),
        ]:
            best, median = best_median(fn, args.runs)
            print(f"{name:<16} best {best * 1000:7.1f} ms  median {median * 1000:7.1f} ms  "
                  f"({median / files * 1e6:6.1f} µs a file)")
        gen = [sys.executable, "-m", "generator"]
        command = [*gen, "promote", str(root), "--target", "l40", "--matrix",
                   str(ROOT / "matrix.yaml"), "--record", str(Path(tmp) / "canonical.json"),
                   "--summary", str(Path(tmp) / "summary.md")]
        whole = best_median(lambda: subprocess.run(command, check=True, capture_output=True),
                            args.runs)
        bare = best_median(lambda: subprocess.run([*gen, "--help"], check=True,
                                                  capture_output=True), args.runs)
        print(f"gen promote (whole command) median {whole[1]:.3f} s; gen --help median "
              f"{bare[1]:.3f} s; ratio {whole[1] / bare[1]:.1f}x")
        record = json.loads((Path(tmp) / "canonical.json").read_text())
        print(f"canonical: {record['canonical']['variant']}")


if __name__ == "__main__":
    main()
