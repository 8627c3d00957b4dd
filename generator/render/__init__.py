"""`gen render`: the kept variants of the plan as files a build system runs.

Outputs (all deterministic, no timestamps; `generated/` belongs to render entirely):

- `generated/<id>/Dockerfile`: one per kept variant, from `templates/Dockerfile.j2`;
- `generated/<id>/Dockerfile.dockerignore`: BuildKit's per-Dockerfile ignore file;
- `generated/<id>/variant.json`: copied to /opt/gen/variant.json, read by the smoke test
  and by the build-time assertion (`assert_env.py`, copied to /opt/gen/assert_env.py);
- `generated/_support/`: the smoke folder and `assert_env.py`, which every image copies;
- `generated/variants.json`, `generated/docker-bake.json`, `generated/MATRIX.md`;
- `.github/workflows/images.yml`, from `templates/images.yml.j2`.

Build context: the repository root. gen render writes the smoke folder and the build-time
assertion once, under `generated/_support/` (from the running package), so any repository
can build the images, not only gen's own. Each Dockerfile copies those and its own
`variant.json`; its `Dockerfile.dockerignore` admits only those. The content hash of an
image (and so its immutable tag `<id>-<12 hex>`) covers exactly these files plus the
Dockerfile and the ignore file: editing the smoke script changes every tag, and
`gen render --check` reports the stale output until it is rendered again.

Lock: read offline. A `missing` resource prunes its variant (resource-missing); a
verified one is pinned (`FROM ref@sha256:...`, `ADD --checksum=sha256:...`, pip
`--hash`). A kept variant with an unverified resource renders only with
`--allow-unverified`, and is then marked UNVERIFIED in its Dockerfile header, its
`gen.variant.verified` label, variants.json and MATRIX.md. With no lock at all (this
repository today: verification needs the network) every variant is unverified, so
`gen render` refuses and `gen render --allow-unverified` renders everything marked.
"""
