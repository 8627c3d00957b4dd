"""`gen schema`: print the JSON Schema of matrix.yaml (for editors)."""

from __future__ import annotations

import click


@click.command()
def schema() -> None:
    """Print the JSON Schema of matrix.yaml."""
    import json

    from generator.schema import MATRIX_SCHEMA

    click.echo(json.dumps(MATRIX_SCHEMA, indent=2))
