"""The emulated AWS endpoint's HTTP server: cheroot, with persistent HTTP/1.1 connections as AWS endpoints
keep them. werkzeug's development server closes every connection (a TCP handshake and a new thread per
SDK call); SDK clients keep a connection pool, and with one the emulator answers as fast as before while
checking every signature and encoding through moto's serializers.

What moto's own werkzeug request handler did is kept: the raw request target is passed as `RAW_URI`
(moto's routes and signature checks match the still-encoded path), S3 metadata headers whose names
contain `_` keep their spelling (`x-amz-meta-my_key` is not `x-amz-meta-my-key`), and absolute request
URIs are accepted, which is how clients that make the emulator their HTTP proxy reach it (Terraform's
provider, for s3control's `{AccountId}.` host prefix).
"""

from __future__ import annotations

import threading
from typing import Any

from cheroot import server, wsgi
from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY, environ_key_for_header

THREADS = 16


class _Gateway(wsgi.Gateway_10):
    # cheroot annotates get_environ as returning None; every implementation returns the WSGI environ.
    def get_environ(self) -> dict[str, Any]:  # type: ignore[override]
        environ: dict[str, Any] = super().get_environ()  # type: ignore[no-untyped-call]
        environ["RAW_URI"] = environ["REQUEST_URI"]
        preserved = {}
        for name, _ in self.req.inheaders.items():
            text = name.decode("latin-1")
            if "_" in text and text.lower().startswith("x-amz-meta-"):
                preserved[environ_key_for_header(text)] = text
        if preserved:
            environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = preserved
        return environ


class _ProxyRequest(server.HTTPRequest):
    def __init__(
        self, http_server: Any, conn: Any, proxy_mode: bool = True, strict_mode: bool = True
    ) -> None:
        super().__init__(http_server, conn, proxy_mode=True, strict_mode=strict_mode)


class _Connection(server.HTTPConnection):
    RequestHandlerClass = _ProxyRequest


class AwsEndpoint:
    def __init__(self, host: str, port: int, app: Any) -> None:
        self._server = wsgi.Server((host, port), app, numthreads=THREADS, request_queue_size=64)
        self._server.gateway = _Gateway
        self._server.ConnectionClass = _Connection
        self._server.prepare()
        threading.Thread(target=self._server.serve, name="serve-aws", daemon=True).start()

    @property
    def server_port(self) -> int:
        return int(self._server.bind_addr[1])

    def shutdown(self) -> None:
        self._server.stop()
