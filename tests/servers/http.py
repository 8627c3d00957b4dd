"""A loopback HTTP/1.1 server with routes and fault injection, for the verify tests.

Routes map a path (percent-decoded, no query) to an `Answer` or a function returning one.
Faults are queued per path and consumed one per request before the normal answer:
`429` (Retry-After: 1), `429-long` (Retry-After: 3600), `ratelimit` (GitHub's 403 with
x-ratelimit-remaining 0), `503`, `reset` (TCP RST, no answer), `stall` (headers, then a
body that never arrives), `html` (a 200 HTML page), `loop` (a 302 to itself). A fault
added with `always=True` stays. `delay` adds latency to every answer (the benchmark).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

FAULTS = ("429", "429-long", "ratelimit", "503", "reset", "stall", "html", "loop")


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: object, content_type: str = "application/json") -> Answer:
        return cls(200, json.dumps(data).encode(), {"Content-Type": content_type})

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Answer:
        return cls(status, b"", {"Location": location})


Route = Answer | Callable[["Request"], Answer]


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]


class FakeServer:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.routes: dict[str, Route] = {}
        self.faults: dict[str, list[str]] = {}
        self.sticky: dict[str, str] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server._handle(self)

            def do_HEAD(self) -> None:
                server._handle(self)

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # resets and stalls end connections on purpose

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    def add(self, path: str, route: Route) -> None:
        self.routes[path] = route

    def fault(self, path: str, *kinds: str, always: bool = False) -> None:
        for kind in kinds:
            assert kind in FAULTS, kind
        if always:
            self.sticky[path] = kinds[0]
        else:
            self.faults.setdefault(path, []).extend(kinds)

    def close(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ handling

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        path = unquote(parts.path)
        request = Request(h.command, path, parts.query, {k.lower(): v for k, v in
                                                        h.headers.items()})
        with self._lock:
            self.hits[path] += 1
            self.requests.append(request)
            queue = self.faults.get(path)
            fault = queue.pop(0) if queue else self.sticky.get(path)
        if self.delay:
            time.sleep(self.delay)
        if fault == "reset":
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
            h.close_connection = True
            return
        if fault == "stall":
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", "100000")
            h.end_headers()
            h.wfile.flush()
            self.stopping.wait(60)
            h.close_connection = True
            return
        answer = self._fault_answer(fault, h.path) if fault else None
        if answer is None:
            route = self.routes.get(path)
            if route is None:
                answer = Answer(404, b'{"message": "Not Found"}',
                                {"Content-Type": "application/json"})
            else:
                answer = route(request) if callable(route) else route
        self._send(h, answer)

    @staticmethod
    def _fault_answer(fault: str, raw_path: str) -> Answer:
        if fault == "429":
            return Answer(429, b"slow down", {"Retry-After": "1"})
        if fault == "429-long":
            return Answer(429, b"slow down", {"Retry-After": "3600"})
        if fault == "ratelimit":
            return Answer(403, b'{"message": "API rate limit exceeded"}', {
                "x-ratelimit-remaining": "0", "x-ratelimit-limit": "60",
                "x-ratelimit-reset": str(int(time.time()) + 3600)})
        if fault == "503":
            return Answer(503, b"unavailable")
        if fault == "html":
            page = b"<!DOCTYPE html><html><body>Unicorn! Something went wrong.</body></html>"
            return Answer(200, page, {"Content-Type": "text/html; charset=utf-8"})
        assert fault == "loop"
        return Answer.redirect(raw_path)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, answer: Answer) -> None:
        h.send_response(answer.status)
        headers = {"Content-Type": "application/octet-stream", **answer.headers}
        for key, value in headers.items():
            h.send_header(key, value)
        h.send_header("Content-Length", str(len(answer.body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(answer.body)
