"""`gen explain ID`: why a variant was kept or pruned, what was verified, how it smoked."""

from __future__ import annotations

import click


@click.command()
@click.argument("variant_id", metavar="ID")
@click.option("--matrix", "matrix_path", default="matrix.yaml", show_default=True,
              type=click.Path(dir_okay=False), help="The matrix file.")
@click.option("--lock", "lock_path", default=None, type=click.Path(dir_okay=False),
              help="The lock file (default: matrix.lock.json next to the matrix, if any).")
@click.option("--results", multiple=True, type=click.Path(),
              help="Smoke results and build metadata (files or directories; repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def explain(variant_id: str, matrix_path: str, lock_path: str | None, results: tuple[str, ...],
            fmt: str) -> None:
    """Explain variant ID: why the plan kept or pruned it, what gen verify proved about the
    resources it needs, and how it did in the smoke results given with --results."""
    import json

    from generator.errors import UserError, did_you_mean
    from generator.promote.context import current_plan
    from generator.promote.explain import explain_data, to_text

    plan, lock, lock_path = current_plan(matrix_path, lock_path)
    variant = plan.get(variant_id)
    if variant is None:
        ids = [v.id for v in plan.variants]
        raise UserError(f"no variant '{variant_id}' in the plan{did_you_mean(variant_id, ids)}"
                        "; `gen plan` lists them", file=plan.matrix.path)
    inputs = decision = None
    if results:
        from generator.promote.decide import judge
        from generator.promote.results import load_inputs

        inputs = load_inputs(list(results))
        decision = judge(plan, variant.candidate.target, inputs)
    data = explain_data(plan, variant, lock, lock_path, inputs, decision)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(to_text(data), nl=False)
