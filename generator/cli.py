"""The `gen` command line. Subcommands are imported only when they run, so `gen --help`
stays fast; user errors print one line and exit 2."""

from __future__ import annotations

import importlib
import sys

import click

from generator import __version__

# name -> (module, function, one-line help). Modules load lazily.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "plan": ("generator.commands.plan_cmd", "plan", "Expand the matrix and show every "
             "candidate, kept or pruned, with reasons."),
    "render": ("generator.commands.render_cmd", "render", "Write the Dockerfiles, bake "
               "file, MATRIX.md and CI workflow (--check: compare only)."),
    "promote": ("generator.commands.promote_cmd", "promote", "Choose the canonical image "
                "from smoke results and publish it by digest."),
    "explain": ("generator.commands.explain_cmd", "explain", "Why a variant was kept or "
                "pruned, what was verified, and how it smoked."),
    "smoke": ("generator.commands.smoke_cmd", "smoke", "Run the flash-attn smoke test here, "
              "in an image, or statically on a .so."),
    "schema": ("generator.commands.schema_cmd", "schema", "Print the JSON Schema of "
               "matrix.yaml."),
    "verify": ("generator.commands.verify_cmd", "verify", "Check every image, wheel and sdist; write the lock."),  # noqa: E501
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[cmd_name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gen")
def cli() -> None:
    """Find and ship a working PyTorch + CUDA + flash-attention image for a GPU.

    Pipeline: plan -> verify -> render -> (CI builds and smokes) -> promote.
    """


def main(argv: list[str] | None = None) -> None:
    from generator.errors import UserError

    try:
        code = cli.main(args=argv, prog_name="gen", standalone_mode=False)
    except UserError as exc:
        click.echo(f"gen: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("gen: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(1)
    # a command's ctx.exit(N) comes back as the return value without standalone mode
    sys.exit(code if isinstance(code, int) else 0)
