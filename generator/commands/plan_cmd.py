"""`gen plan`: expand matrix.yaml and show every candidate with its verdict."""

from __future__ import annotations

import click

from generator.rules import REASON_CODES

_CODES = "\n".join(f"  {code}: {meaning}" for code, meaning in REASON_CODES.items())


@click.command(epilog="\b\nReason codes:\n" + _CODES)
@click.option("--matrix", "matrix_path", default="matrix.yaml", show_default=True,
              type=click.Path(dir_okay=False), help="The matrix file.")
@click.option("--target", default=None, help="Only this target (by name).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]),
              default="table", show_default=True)
def plan(matrix_path: str, target: str | None, fmt: str) -> None:
    """Expand the matrix and show every candidate, kept or pruned, with reasons."""
    from generator.errors import UserError
    from generator.matrix import load_matrix
    from generator.plan import build_plan
    from generator.report import FORMATTERS

    matrix = load_matrix(matrix_path)
    result = build_plan(matrix, target)
    click.echo(FORMATTERS[fmt](result), nl=False)
    if not result.kept:
        raise UserError("no candidate is kept: every one was pruned (see the reasons above)",
                        file=matrix.path, line=1)
