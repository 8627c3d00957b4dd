"""Benchmark `gen verify`: 500 resources on loopback servers that add 50 ms to every answer.

The servers run in a child process, so the client's CPU time is its own. Prints the wall
time of a cold run against the bound 500 x 50 ms / concurrency (target: within 1.3x), then
a second run with the lock of the first (verified entries younger than --max-age are not
asked again; target: under 10% of the first). Where the client's CPU time per request
times n exceeds the bound (high concurrency on few cores), the CPU sets the pace.

    .venv/bin/python benchmarks/bench_verify.py [--concurrency 4 8 16] [--delay 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from servers.github import GitHubFake, fake_wheel
from servers.http import Answer, FakeServer
from servers.pypi import PyPIFake

from generator.verify import Endpoints, VerifyOptions, verify_resources

OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def build(n: int, delay: float) -> tuple[list[dict[str, str]], Endpoints, list[FakeServer]]:
    """n resources, each costing exactly one request: 40% image tags (HEAD on a registry),
    40% sdists (one PEP 691 page per project), 20% wheels (one release each)."""
    registry, pypi, github = FakeServer(delay), PyPIFake(delay), GitHubFake(delay)
    resources: list[dict[str, str]] = []
    for i in range(n):
        if i % 5 in (0, 1):
            digest = "sha256:" + hashlib.sha256(str(i).encode()).hexdigest()
            registry.add(f"/v2/bench/image{i}/manifests/1.0", Answer(200, b"", {
                "Docker-Content-Digest": digest, "Content-Type": OCI_INDEX}))
            resources.append({"kind": "image", "ref": f"bench/image{i}:1.0"})
        elif i % 5 in (2, 3):
            pypi.add_file(f"pkg{i}", f"pkg{i}-1.0.tar.gz", str(i).encode())
            resources.append({"kind": "sdist", "project": f"pkg{i}", "version": "1.0"})
        else:
            name = f"flash_attn-{i}.0+cu12torch2.7cxx11abiTRUE-cp311-cp311-linux_x86_64.whl"
            github.add_release("o/r", f"v{i}", {name: fake_wheel(name, 64)})
            resources.append({"kind": "wheel", "name": name, "repo": "o/r", "release": f"v{i}",
                              "url": f"https://github.com/o/r/releases/download/v{i}/{name}"})
    endpoints = Endpoints(github_api=github.url, github_url=github.url, pypi_url=pypi.url,
                          registry_map={"docker.io": registry.url})
    return resources, endpoints, [registry, pypi.server, github.web, github.storage]


def serve(n: int, delay: float, conn: Connection) -> None:
    """Child process: run the servers (their CPU is not the client's), report, count hits."""
    resources, endpoints, servers = build(n, delay)
    conn.send((resources, endpoints))
    while conn.recv() == "hits":
        conn.send(sum(sum(s.hits.values()) for s in servers))
    for server in servers:
        server.close()


async def bare_httpx(resources: list[dict[str, str]], endpoints: Endpoints,
                     concurrency: int) -> tuple[float, float]:
    """(wall, CPU) seconds of plain httpx GETs, one a resource, on the image routes: the
    floor any httpx-based client pays on this machine."""
    import httpx

    base = endpoints.registry_map["docker.io"]
    paths = [f"/v2/bench/image{i}/manifests/1.0" for i in range(len(resources))]
    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency)) as client:
        async def one(path: str) -> None:
            async with semaphore:
                await client.head(base + path)
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one(p) for p in paths))
        return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 16, 32])
    args = parser.parse_args()
    for concurrency in args.concurrency:
        conn, child_conn = multiprocessing.Pipe()
        child = multiprocessing.Process(target=serve, args=(args.n, args.delay, child_conn))
        child.start()
        resources, endpoints = conn.recv()
        options = VerifyOptions(concurrency=concurrency, timeout=10, time_bound=60)
        started, cpu = time.perf_counter(), time.process_time()
        lock = asyncio.run(verify_resources(resources, endpoints=endpoints, options=options))
        cold, cpu = time.perf_counter() - started, time.process_time() - cpu
        conn.send("hits")
        requests = conn.recv()
        statuses = {e.status for e in lock.resources.values()}
        assert statuses == {"verified"}, statuses
        started = time.perf_counter()
        again = asyncio.run(verify_resources(resources, previous=lock, endpoints=endpoints,
                                             options=options))
        warm = time.perf_counter() - started
        assert again.to_json() == lock.to_json()
        conn.send("hits")
        extra = conn.recv() - requests
        bare_wall, bare_cpu = asyncio.run(bare_httpx(resources, endpoints, concurrency))
        conn.send("stop")
        child.join()
        bound = args.n * args.delay / concurrency
        print(f"concurrency {concurrency:>3}: {args.n} resources, {requests} requests, "
              f"cold {cold:.2f} s vs bound {bound:.2f} s = {cold / bound:.2f}x "
              f"(target <= 1.3x); with the lock {warm * 1000:.1f} ms, {extra} requests = "
              f"{warm / cold:.1%} of cold (target < 10%); client CPU {cpu:.2f} s "
              f"({cpu / requests * 1000:.1f} ms a request); bare httpx, same requests: "
              f"{bare_wall:.2f} s, CPU {bare_cpu:.2f} s")


if __name__ == "__main__":
    main()
