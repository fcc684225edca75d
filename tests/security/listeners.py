"""Small loopback HTTP servers the security suite points things at.

`RecordingServer` plays the attacker's host: it serves a JWKS and a certificate for the attacker's
key (so that a verifier that followed `jku`/`x5u` would be fooled) and records every hit, which is
how the suite proves that no token-supplied URL is ever fetched.

`JwksProxy` sits between the service and the OIDC issuer's JWKS: it counts fetches (rotation and
cool-down tests) and can be switched to answer 503, to stall, or to trickle its answer byte by byte
(outage and budget tests) without touching the issuer other tests rely on.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _LoopbackServer:
    """A ThreadingHTTPServer on 127.0.0.1:<free port>, run in a daemon thread."""

    def __init__(self, respond: Callable[[BaseHTTPRequestHandler], tuple[int, str, bytes]]):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                status, content_type, body = respond(self)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command == "HEAD":
                    return
                if not outer.drip_interval_seconds:
                    self.wfile.write(body)
                    return
                # A degraded link: the body trickles in, each byte well inside any socket timeout.
                for index in range(len(body)):
                    self.wfile.write(body[index : index + 1])
                    self.wfile.flush()
                    time.sleep(outer.drip_interval_seconds)

            do_GET = do_POST = do_HEAD = _answer

            def log_message(self, format: str, *args: Any) -> None:
                outer.access_log.append(format % args)

        self.access_log: list[str] = []
        self.drip_interval_seconds = 0.0
        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> _LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Hit:
    method: str
    path: str
    headers: dict[str, str]


class RecordingServer(_LoopbackServer):
    """The attacker's host: records every request; serves `jwks` at /jwks.json and `cert_pem` at /cert.pem."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.jwks: dict[str, Any] = {"keys": []}
        self.cert_pem: bytes = b""
        self._lock = threading.Lock()
        super().__init__(self._respond)

    def _respond(self, request: BaseHTTPRequestHandler) -> tuple[int, str, bytes]:
        with self._lock:
            self.hits.append(Hit(request.command, request.path, dict(request.headers.items())))
        if request.path.startswith("/jwks.json"):
            return 200, "application/json", json.dumps(self.jwks).encode()
        if request.path.startswith("/cert.pem"):
            return 200, "application/x-pem-file", self.cert_pem
        return 404, "text/plain", b"not found"


@dataclass
class JwksProxy(_LoopbackServer):
    """Forwards GET /jwks.json to `upstream_jwks_url`; counts fetches; can fail or stall on demand."""

    upstream_jwks_url: str
    fetches: int = 0
    down: bool = False
    delay_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        super().__init__(self._respond)

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/jwks.json"

    def reset(self) -> None:
        with self._lock:
            self.fetches = 0
        self.down = False
        self.delay_seconds = 0.0
        self.drip_interval_seconds = 0.0

    def _respond(self, request: BaseHTTPRequestHandler) -> tuple[int, str, bytes]:
        if not request.path.startswith("/jwks.json"):
            return 404, "text/plain", b"not found"
        with self._lock:
            self.fetches += 1
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        if self.down:
            return 503, "application/json", b'{"error":"jwks endpoint down (test)"}'
        with urllib.request.urlopen(self.upstream_jwks_url, timeout=5) as upstream:
            return upstream.status, "application/json", upstream.read()
