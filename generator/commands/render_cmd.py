"""`gen render`: write one Dockerfile per kept variant, the bake file, MATRIX.md,
variants.json and the CI workflow; `--check` compares instead of writing."""

from __future__ import annotations

import os

import click


def _display(path: str, root: str) -> str:
    """A path as headers print it: relative to the root when inside it (deterministic)."""
    absolute = os.path.abspath(path)
    rel = os.path.relpath(absolute, os.path.abspath(root))
    return path if rel.startswith("..") else rel.replace(os.sep, "/")


def _committed_unverified(root: str) -> int:
    """How many variants the committed generated/variants.json marks unverified (0 when
    there is none or it cannot be read: then the check simply finds it stale)."""
    import json
    from pathlib import Path

    try:
        data = json.loads((Path(root) / "generated" / "variants.json").read_text())
        return sum(1 for v in data["variants"] if v.get("verified") is False)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return 0


@click.command()
@click.option("--matrix", "matrix_path", default="matrix.yaml", show_default=True,
              type=click.Path(dir_okay=False), help="The matrix file.")
@click.option("--lock", "lock_path", default="matrix.lock.json", show_default=True,
              type=click.Path(dir_okay=False),
              help="The lock file gen verify wrote (read offline; absent = nothing verified).")
@click.option("--root", default=".", show_default=True,
              type=click.Path(file_okay=False),
              help="Repository root: generated/ and .github/workflows/ are written here.")
@click.option("--allow-unverified", is_flag=True,
              help="Render variants whose resources gen verify has not proven, marked "
                   "UNVERIFIED in their Dockerfile and in MATRIX.md.")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 and list stale files when the output on disk "
                   "differs from a fresh render (made as the committed output was: with "
                   "--allow-unverified when it has UNVERIFIED variants).")
def render(matrix_path: str, lock_path: str, root: str, allow_unverified: bool,
           check: bool) -> None:
    """Render Dockerfiles, docker-bake.json, MATRIX.md and the CI workflow."""
    from pathlib import Path

    from generator.lock import Lock, load_lock
    from generator.matrix import load_matrix, parse_matrix
    from generator.plan import build_plan
    from generator.render import engine, tree
    from generator.render.context import Options

    shown = _display(matrix_path, root)
    matrix = load_matrix(matrix_path)  # errors name the path as given
    if matrix.path != shown:  # reasons quote the path: keep the output independent of cwd
        matrix = parse_matrix(Path(matrix_path).read_text(encoding="utf-8"), shown)
    lock = load_lock(lock_path)
    if check and not allow_unverified and _committed_unverified(root):
        # --check asks "is the output stale?"; writing still needs the flag.
        allow_unverified = True
        click.echo("gen render --check: the committed output has UNVERIFIED variants (rendered "
                   "with --allow-unverified); checking it as such", err=True)
    opts = Options(matrix=shown, lock=_display(lock_path, root),
                   lock_found=lock is not None, allow_unverified=allow_unverified)
    base = Path(root)
    result = engine.render(build_plan(matrix), matrix, lock or Lock(path=lock_path), opts)
    if check:
        drift = tree.check(base, result.files, result.out_dir)
        if drift.stale:
            click.echo(drift.report(), nl=False)
            click.echo(f"gen render --check: rendered files are stale; run `{opts.command}`",
                       err=True)
            raise SystemExit(1)
        click.echo(f"gen render --check: {len(result.files)} files up to date")
        return
    tree.write(base, result.files, result.out_dir)
    unverified = len(result.unverified)
    click.echo(f"rendered {len(result.variants)} variants into {result.out_dir}/ and "
               f"{engine.WORKFLOW}" + (f" ({unverified} marked UNVERIFIED)" if unverified
                                       else ""))
