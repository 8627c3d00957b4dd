"""`gen promote`: choose the canonical image for a target from smoke results, publish it."""

from __future__ import annotations

from collections.abc import Callable

import click

from generator.errors import UserError
from generator.promote.decide import REJECTION_CODES


class _Failed(UserError):
    """Nothing promoted although the input was fine: exit 1, not 2."""

    exit_code = 1


def _write(path: str, write: Callable[[], None]) -> None:
    try:
        write()
    except OSError as exc:
        raise UserError(f"cannot write: {exc.strerror or exc}", file=path) from None


_CODES = "\n".join(f"  {code}: {meaning}" for code, meaning in REJECTION_CODES.items())


@click.command(epilog="\b\nRejection codes:\n" + _CODES + "\n\n\bExit status: 0 promoted (or "
               "would promote), 1 no variant passed or the push failed, 2 bad input.")
@click.argument("results", nargs=-1, required=True, type=click.Path())
@click.option("--target", default=None, help="Target name (default: the matrix's only one).")
@click.option("--matrix", "matrix_path", default="matrix.yaml", show_default=True,
              type=click.Path(dir_okay=False), help="The matrix file.")
@click.option("--lock", "lock_path", default=None, type=click.Path(dir_okay=False),
              help="Judge the plan by this lock (default: matrix.lock.json next to the matrix, "
              "if any), as gen plan does.")
@click.option("--record", "record_path", default=None, type=click.Path(dir_okay=False),
              help="Where the decision record goes (default: promoted/TARGET.json; not "
              "under generated/, which gen render owns).")
@click.option("--summary", "summary_path", default="-", show_default=True,
              type=click.Path(dir_okay=False, allow_dash=True),
              help="Append the Markdown report here (e.g. $GITHUB_STEP_SUMMARY); - is stdout.")
@click.option("--push", is_flag=True, help="Move the canonical tag in the registry (else only "
              "say what would happen). Credentials: GEN_REGISTRY_USER and "
              "GEN_REGISTRY_PASSWORD, else docker login's config.json.")
@click.option("--repository", default=None, help="Repository of the canonical tag (default: "
              "the repository the winner was built into).")
@click.option("--canonical-tag", default=None, help="Tag to move (default: the target name, "
              "e.g. REPO:l40).")
def promote(results: tuple[str, ...], target: str | None, matrix_path: str,
            lock_path: str | None, record_path: str | None, summary_path: str, push: bool,
            repository: str | None, canonical_tag: str | None) -> None:
    """Choose the canonical image for a target GPU from smoke RESULTS (files or directories
    of smoke and build-metadata JSON) and publish it by digest.

    Rejected results are listed with a reason; the passing variants are ranked by
    policy.prefer in matrix.yaml, and the first one is promoted.
    """
    from generator import grammar
    from generator.fsutil import atomic_write_text
    from generator.promote.context import current_plan
    from generator.promote.decide import judge
    from generator.promote.record import Publication, record_json, to_markdown
    from generator.promote.results import load_inputs

    plan = current_plan(matrix_path, lock_path)[0]
    matrix = plan.matrix
    if target is None:
        if len(matrix.targets) != 1:
            raise UserError("the matrix has several targets: choose one with --target "
                            f"({', '.join(t.name for t in matrix.targets)})", file=matrix.path)
        target = matrix.targets[0].name
    tgt = matrix.target(target)
    record_path = record_path or f"promoted/{tgt.name}.json"
    tag = canonical_tag or tgt.name
    if not grammar.matches(grammar.TAG, tag):
        raise UserError(f"'{tag}' is not a valid image tag", key="--canonical-tag")
    if repository is not None and not grammar.matches(grammar.IMAGE, repository):
        raise UserError(f"'{repository}' is not a repository name such as "
                        "ghcr.io/owner/gen", key="--repository")
    inputs = load_inputs(list(results))
    if not inputs.smoke:
        raise UserError(f"no smoke result (gen-smoke/1) among {len(inputs.files)} input "
                        "files", file=results[0])
    decision = judge(plan, tgt, inputs)

    publication = None
    failure = None
    winner = decision.winner
    if winner is not None:
        repo = repository or winner.build.repository
        if push:
            import httpx

            from generator.promote import retag
            from generator.registry import RegistryError, Transient

            try:
                publication = retag.retag(repo, winner.build.digest, tag,
                                          retag.credentials_for(repo))
            except (RegistryError, Transient, httpx.HTTPError, OSError, ValueError) as exc:
                failure = f"push failed ({repo}:{tag}), nothing recorded: {exc}"
        else:
            publication = Publication(repo, tag, winner.build.digest, "would-push")
        if failure is None:
            _write(record_path, lambda: atomic_write_text(record_path,
                                                          record_json(decision, publication)))

    report = to_markdown(decision, publication, record_path if winner and not failure
                         else None)
    if failure:
        report += f"\n**{failure}**\n"
    if summary_path == "-":
        click.echo(report)
    else:
        def append() -> None:
            with open(summary_path, "a", encoding="utf-8") as handle:
                handle.write(report + "\n")
        _write(summary_path, append)
        if winner is not None and publication is not None:
            click.echo(f"canonical for {tgt.name}: {winner.id}")
            click.echo(publication.sentence().replace("`", ""))
    if failure:
        raise _Failed(failure)
    if winner is None:
        raise _Failed(f"no variant passed for target '{tgt.name}': nothing promoted "
                      f"({len(decision.rejected)} rejected, {len(decision.untested)} untested)")
