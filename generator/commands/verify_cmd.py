"""`gen verify`: check every external resource the kept variants need; write the lock."""

from __future__ import annotations

import os

import click


def default_lock_path(matrix_path: str) -> str:
    """matrix.lock.json next to the matrix file."""
    from generator.lock import LOCK_FILE

    return os.path.join(os.path.dirname(matrix_path), LOCK_FILE)


@click.command()
@click.option("--matrix", "matrix_path", default="matrix.yaml", show_default=True,
              type=click.Path(dir_okay=False), help="The matrix file.")
@click.option("--lock", "lock_path", default=None, type=click.Path(dir_okay=False),
              help="The lock file to write (default: matrix.lock.json next to the matrix).")
@click.option("--target", default=None, help="Only this target (by name).")
@click.option("--offline", is_flag=True, help="No network: report what the lock holds.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Requests in flight at once.")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds for one connect or read.")
@click.option("--time-bound", default=60.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds one resource may take, retries included.")
@click.option("--deadline", default=600.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds the whole run may take; what is left ends unverified.")
@click.option("--max-age", default=86400.0, show_default=True, type=click.FloatRange(0),
              help="Reuse verified lock entries younger than this many seconds.")
@click.option("--refresh", is_flag=True, help="Recheck everything (same as --max-age 0).")
@click.option("--fetch-wheels", is_flag=True,
              help="Download and hash wheels whose host publishes no digest.")
@click.option("--strict", is_flag=True, help="Exit 1 unless every resource is verified.")
@click.option("--github-api", default=None, help="GitHub API base URL [env GEN_GITHUB_API].")
@click.option("--github-url", default=None,
              help="Base URL for github.com release downloads [env GEN_GITHUB_URL].")
@click.option("--pypi-url", default=None, help="PyPI base URL [env GEN_PYPI_URL].")
@click.option("--torch-index", default=None,
              help="Replaces https://download.pytorch.org/whl [env GEN_TORCH_INDEX].")
@click.option("--registry", "registries", multiple=True, metavar="HOST=URL",
              help="Registry host to base URL, repeatable [env GEN_REGISTRY_MAP].")
def verify(matrix_path: str, lock_path: str | None, target: str | None, offline: bool,
           concurrency: int, timeout: float, time_bound: float, deadline: float,
           max_age: float, refresh: bool, fetch_wheels: bool, strict: bool,
           github_api: str | None, github_url: str | None, pypi_url: str | None,
           torch_index: str | None, registries: tuple[str, ...]) -> None:
    """Check every image, wheel and sdist the kept variants need; write the lock file."""
    import asyncio
    from collections import Counter

    from generator.errors import UserError
    from generator.lock import load_lock
    from generator.matrix import load_matrix
    from generator.plan import build_plan
    from generator.verify import Endpoints, VerifyOptions, offline_lock, verify_resources
    from generator.verify.progress import Progress

    matrix = load_matrix(matrix_path)
    plan = build_plan(matrix, target)
    resources = [r for v in plan.kept for r in v.resources()]
    path = lock_path or default_lock_path(matrix_path)
    previous = load_lock(path)
    mapping = {}
    for item in registries:
        host, sep, base = item.partition("=")
        if not sep or not base.startswith(("http://", "https://")):
            raise UserError(f"--registry {item!r} is not HOST=http(s)://URL")
        mapping[host] = base.rstrip("/")
    try:
        endpoints = Endpoints.from_env(github_api=github_api, github_url=github_url,
                                       pypi_url=pypi_url, torch_index=torch_index)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    endpoints.registry_map.update(mapping)
    keys = {r["kind"] + repr(sorted(r.items())) for r in resources}
    progress = Progress(len(keys))
    if offline:
        lock = offline_lock(resources, previous, path, progress)
    else:
        options = VerifyOptions(concurrency=concurrency, timeout=timeout, time_bound=time_bound,
                                total_bound=deadline, max_age=0 if refresh else max_age,
                                fetch_wheels=fetch_wheels)
        lock = asyncio.run(verify_resources(resources, previous=previous, endpoints=endpoints,
                                            options=options, path=path, progress=progress))
        lock.save(path)
    counts = Counter(entry.status for entry in lock.resources.values())
    where = "lock unchanged (offline)" if offline else f"lock written to {path}"
    click.echo(f"{len(lock.resources)} resources: {counts['verified']} verified, "
               f"{counts['missing']} missing, {counts['unverified']} unverified; {where}")
    if strict and counts["verified"] != len(lock.resources):
        raise SystemExit(1)
