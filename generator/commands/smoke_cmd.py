"""`gen smoke`: run the in-image smoke test here, inside an image, or only its static arch check.

    gen smoke                                   # this Python (torch/flash_attn installed here)
    gen smoke --image REPO:TAG --out r/smoke.json   # docker run --rm --gpus all ... smoke.py
    gen smoke --static path/flash_attn_2_cuda.so --target l40=8.9   # no GPU, no torch needed
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click

IMAGE_SMOKE = "/opt/gen/smoke/smoke.py"
IMAGE_RESULTS = "/results"
IMAGE_VARIANT_OVERRIDE = "/opt/gen/variant-override.json"
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def smoke_script() -> Path:
    return Path(__file__).resolve().parent.parent / "smoke" / "smoke.py"


def check_image_ref(ref: str) -> str:
    """Validate NAME[:TAG][@sha256:HEX] with the project grammar; return the digest or ''."""
    from generator import grammar
    from generator.errors import UserError

    name, _, digest = ref.partition("@")
    if digest and not DIGEST.match(digest):
        raise UserError(f"bad image digest {digest!r} (want sha256:<64 hex>)", key="--image")
    tag = ""
    if ":" in name.rsplit("/", 1)[-1]:
        name, tag = name.rsplit(":", 1)
    if not grammar.matches(grammar.IMAGE, name) or (tag and not grammar.matches(grammar.TAG, tag)):
        raise UserError(f"bad image reference {ref!r} (want NAME[:TAG][@sha256:DIGEST])",
                        key="--image")
    return digest


def check_targets(targets: tuple[str, ...]) -> list[str]:
    from generator import grammar
    from generator.errors import UserError

    for item in targets:
        name, sep, cc = item.partition("=")
        if not sep or not grammar.matches(grammar.NAME, name) or not grammar.matches(
                grammar.CC, cc):
            raise UserError(f"bad target {item!r} (want NAME=CC, e.g. l40=8.9)", key="--target")
    return list(targets)


def local_command(out: str, variant_json: str | None, targets: list[str],
                  python: str = sys.executable) -> list[str]:
    argv = [python, str(smoke_script()), "--out", out]
    if variant_json:
        argv += ["--variant-json", variant_json]
    for target in targets:
        argv += ["--target", target]
    return argv


def docker_command(image: str, out_dir: str, out_name: str, variant_json: str | None,
                   targets: list[str], digest: str = "", docker: str = "docker") -> list[str]:
    """docker run argv: results come back through a bind mount of out_dir at /results."""
    argv = [docker, "run", "--rm", "--gpus", "all",
            "-v", f"{os.path.abspath(out_dir)}:{IMAGE_RESULTS}",
            "-e", f"GEN_IMAGE_REF={image}"]
    if digest:
        argv += ["-e", f"GEN_IMAGE_DIGEST={digest}"]
    if variant_json:
        argv += ["-v", f"{os.path.abspath(variant_json)}:{IMAGE_VARIANT_OVERRIDE}:ro"]
    argv += [image, "python3", IMAGE_SMOKE, "--out", f"{IMAGE_RESULTS}/{out_name}"]
    if variant_json:
        argv += ["--variant-json", IMAGE_VARIANT_OVERRIDE]
    for target in targets:
        argv += ["--target", target]
    return argv


def static_report(path: str, targets: list[str], as_json: bool) -> int:
    """Print the fat binary's archs and a verdict per target; 1 when a target has no code."""
    import json

    from generator.errors import UserError
    from generator.smoke import archs, fatbin

    if not os.path.isfile(path):
        raise UserError("no such file", file=path, key="--static")
    try:
        info = fatbin.read_fatbin(path)
    except (fatbin.FatbinError, OSError, ValueError) as exc:
        raise UserError(f"cannot read a CUDA fat binary: {exc}", file=path,
                        key="--static") from exc
    cross = fatbin.cuobjdump_archs(path)
    verdicts = {}
    for item in targets:
        name, _, cc = item.partition("=")
        verdicts[name] = {"compute_capability": cc,
                          "runs": archs.binary_runs_on(info.sass, info.ptx, cc)}
    doc = {"file": path, "sass": info.sass, "ptx": info.ptx, "source": "elf",
           "cuobjdump": None if cross is None else {
               "sass": cross[0], "ptx": cross[1],
               "agrees": fatbin.same_archs(info.sass, cross[0])
               and fatbin.same_archs(info.ptx, cross[1])},
           "targets": verdicts}
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(f"{path}\n  SASS: {' '.join(info.sass) or 'none'}\n"
                   f"  PTX:  {' '.join(info.ptx) or 'none'}")
        if doc["cuobjdump"] is not None:
            state = "agrees" if doc["cuobjdump"]["agrees"] else "DISAGREES"
            click.echo(f"  cuobjdump {state}: SASS {' '.join(cross[0]) or 'none'}; "
                       f"PTX {' '.join(cross[1]) or 'none'}")
        for name, verdict in verdicts.items():
            word = "runs" if verdict["runs"] else "NO CODE"
            click.echo(f"  target {name} (cc {verdict['compute_capability']}): {word}")
    return 0 if all(v["runs"] for v in verdicts.values()) else 1


@click.command()
@click.option("--image", default=None, help="Run inside this image (docker run --gpus all).")
@click.option("--variant-json", type=click.Path(dir_okay=False), default=None,
              help="Variant metadata (default: /opt/gen/variant.json in the image).")
@click.option("--target", "targets", multiple=True, metavar="NAME=CC",
              help="A target GPU, e.g. l40=8.9 (repeatable).")
@click.option("--out", default=None, type=click.Path(dir_okay=False),
              help="Where to write the JSON (default: stdout; smoke.json with --image).")
@click.option("--print-command", is_flag=True, help="Print the command and exit.")
@click.option("--static", "static_path", default=None, type=click.Path(dir_okay=False),
              help="Only the static arch check of this .so (no GPU, no torch needed).")
@click.option("--json", "as_json", is_flag=True, help="With --static: print JSON.")
def smoke(image: str | None, variant_json: str | None, targets: tuple[str, ...],
          out: str | None, print_command: bool, static_path: str | None, as_json: bool) -> None:
    """Run the flash-attn smoke test here, in an image, or statically on a .so."""
    from generator.errors import UserError

    # Exit statuses go out through sys.exit: gen's main runs click with standalone_mode=False,
    # where a click.exceptions.Exit is returned, not raised, and its status would be lost.

    target_list = check_targets(targets)
    if static_path:
        sys.exit(static_report(static_path, target_list, as_json))
    if variant_json and not os.path.isfile(variant_json):
        raise UserError("no such file", file=variant_json, key="--variant-json")

    if image is None:
        argv = local_command(out or "-", variant_json, target_list)
        if print_command:
            click.echo(shlex.join(argv))
            return
        sys.exit(subprocess.run(argv, check=False).returncode)

    digest = check_image_ref(image)
    out = out or "smoke.json"
    out_dir, out_name = os.path.dirname(os.path.abspath(out)), os.path.basename(out)
    docker = shutil.which("docker")
    argv = docker_command(image, out_dir, out_name, variant_json, target_list, digest)
    if print_command:
        click.echo(shlex.join(argv))
        return
    if docker is None:
        raise UserError("docker is not installed or not on PATH (needed for --image; "
                        "--print-command shows the command)", key="--image")
    os.makedirs(out_dir, exist_ok=True)
    result = Path(out_dir) / out_name
    result.unlink(missing_ok=True)  # never report a stale result
    rc = subprocess.run([docker, *argv[1:]], check=False).returncode
    if not result.is_file():
        raise UserError(f"the container wrote no result (docker exit status {rc})", key="--image")
    click.echo(result.read_text(encoding="utf-8"), nl=False)
    sys.exit(rc)
