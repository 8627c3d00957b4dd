"""How long `gen render` takes: the default matrix, and a synthetic one with ~1,000 kept
variants (the default matrix repeated over 21 targets). Prints figures; asserts nothing.

    python benchmarks/bench_render.py
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from pathlib import Path

from generator.lock import Lock
from generator.matrix import parse_matrix
from generator.plan import build_plan
from generator.render import engine, tree
from generator.render.context import Options

ROOT = Path(__file__).resolve().parent.parent


def synthetic(text: str, targets: int) -> str:
    block = "targets:\n" + "".join(
        f"  - name: t{i:02d}\n    gpu: L40\n    runs_on: [self-hosted, linux, gpu, t{i:02d}]\n"
        for i in range(targets))
    return re.sub(r"targets:\n(  .*\n)+", block, text, count=1)


def measure(text: str, repeats: int) -> dict[str, float]:
    plan_s, render_s, write_s, check_s = [], [], [], []
    kept = files = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        matrix = parse_matrix(text, "matrix.yaml")
        plan = build_plan(matrix)
        t1 = time.perf_counter()
        result = engine.render(plan, matrix, Lock(), Options(allow_unverified=True))
        t2 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            tree.write(Path(tmp), result.files, result.out_dir)
            t3 = time.perf_counter()
            drift = tree.check(Path(tmp), result.files, result.out_dir)
            t4 = time.perf_counter()
            assert not drift.stale
        plan_s.append(t1 - t0)
        render_s.append(t2 - t1)
        write_s.append(t3 - t2)
        check_s.append(t4 - t3)
        kept, files = len(result.variants), len(result.files)
    return {"kept": kept, "files": files, "plan": statistics.median(plan_s),
            "render": statistics.median(render_s), "write": statistics.median(write_s),
            "check": statistics.median(check_s)}


def main() -> None:
    text = (ROOT / "matrix.yaml").read_text()
    rows = [("default matrix", measure(text, 5)),
            ("21 targets (synthetic)", measure(synthetic(text, 21), 3))]
    print(f"{'matrix':<24} {'kept':>5} {'files':>6} {'plan s':>8} {'render s':>9} "
          f"{'write s':>8} {'check s':>8} {'total s':>8} {'ms/variant':>11}")
    for name, r in rows:
        total = r["plan"] + r["render"] + r["write"]
        print(f"{name:<24} {r['kept']:>5} {r['files']:>6} {r['plan']:>8.3f} "
              f"{r['render']:>9.3f} {r['write']:>8.3f} {r['check']:>8.3f} {total:>8.3f} "
              f"{1000 * total / r['kept']:>11.2f}")
    small, big = rows[0][1], rows[1][1]
    ratio = (big["render"] / big["kept"]) / (small["render"] / small["kept"])
    print(f"render time per variant, 1,000-variant matrix vs default: {ratio:.2f}x "
          "(1.0 = linear)")


if __name__ == "__main__":
    main()
