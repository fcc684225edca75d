"""The HTTP request handler of the local servers a browser can reach (the API gateway, the OIDC issuer).

Two things werkzeug's development server leaves to whoever deploys it, and which a stack on a laptop
needs as much as a deployed one:

- **Only the names it is served under.** A server bound to 127.0.0.1 is still reachable from any web
  page through DNS rebinding: a name the attacker controls first resolves to their server, then to
  127.0.0.1, and the page's scripts, now same-origin with "their" host, read what our server answers
  (a token from `/dev/token`, say). The `Host` header is the one thing the rebinding cannot change, so
  a request naming any other host is refused (421 Misdirected Request, RFC 9110 §15.5.20), as is an
  HTTP/1.1 request without one (400, RFC 9112 §3.2).
- **Framing errors are the client's.** A body whose length cannot be determined is a 400 (RFC 9112
  §6.3: differing or invalid `Content-Length`, a `Transfer-Encoding` whose last coding is not chunked,
  both headers at once), and so is anything the server's own parser refuses (a bad request line, an
  unsupported HTTP version), answered as API Gateway's edge answers malformed requests: a 4xx with a
  small JSON body, never the standard library's HTML page and never a 5xx.

A body that turns out malformed only while it is read (chunk framing) is the application's to answer:
`MalformedBody` names those errors for it. Routes that change a development server's state apply
`cross_site_refusal` too.
"""

from __future__ import annotations

import json
import re
from typing import Any

from werkzeug.exceptions import BadRequest
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request

LOOPBACK_NAMES = ("127.0.0.1", "localhost")
_DIGITS = re.compile(r"^[0-9]{1,18}$")

# What reading a body can raise when its framing is wrong: werkzeug's chunk decoder raises OSError or
# ValueError, a body shorter than its Content-Length raises ClientDisconnected (a BadRequest).
MalformedBody = (OSError, ValueError, BadRequest)


def own_hosts(port: int | str) -> set[str]:
    """The `Host` values a local server on `port` is served under."""
    return {f"{name}:{port}" for name in LOOPBACK_NAMES}


def cross_site_refusal(
    request: Request, port: int | str, *, require_json: bool = True
) -> tuple[int, str] | None:
    """Why a state-changing request to the server on `port` is refused, as (status, reason), or None.

    A form or a `text/plain` fetch from another site is a "simple" request that no CORS preflight stops,
    so such routes take JSON only (415), and only from no origin (a tool) or the server's own (403)."""
    if require_json and request.mimetype != "application/json":
        return 415, "send the body as application/json"
    origin = request.headers.get("Origin")
    if origin is not None and origin.rstrip("/") not in {f"http://{host}" for host in own_hosts(port)}:
        return 403, "another origin may not change this server's state"
    return None


class LoopbackRequestHandler(WSGIRequestHandler):
    """Refuses other hosts and unframeable bodies before the application sees the request. The servers
    are served under the loopback names only (their URLs say 127.0.0.1; browsers may say localhost), on
    their own port."""

    def version_string(self) -> str:
        return "local"  # no server software or version in answers

    def error_body(self, status: int) -> dict[str, Any]:
        return {"message": HTTP_STATUS_CODES.get(status, "Bad Request")}

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        refusal = self._refusal()
        if refusal is None:
            return True
        self.send_error(refusal)
        return False

    def _refusal(self) -> int | None:
        if self.request_version not in ("HTTP/1.0", "HTTP/1.1"):
            return 400  # a request line without a version (HTTP/0.9): no headers, no Host, no framing
        host = self.headers.get_all("Host") or []
        if len(host) > 1 or (not host and self.request_version != "HTTP/1.0"):
            return 400
        if host and host[0].strip().lower() not in own_hosts(self.server.server_address[1]):
            return 421
        lengths = {value.strip() for value in self.headers.get_all("Content-Length") or []}
        if len(lengths) > 1 or any(not _DIGITS.match(value) for value in lengths):
            return 400
        codings = [
            coding.strip().lower()
            for value in self.headers.get_all("Transfer-Encoding") or []
            for coding in value.split(",")
            if coding.strip()
        ]
        if codings and (codings[-1] != "chunked" or lengths):
            return 400
        return None

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The parser's own refusals (bad request line, HTTP version, header too long) are the client's:
        # a 4xx, never the 5xx the standard library picks for an unsupported version.
        status = code if 400 <= code < 500 else 400
        body = json.dumps(self.error_body(status), separators=(",", ":")).encode()
        self.close_connection = True
        # A request line the parser could not read leaves the version at HTTP/0.9, whose answers carry no
        # status line or headers; nobody speaks 0.9 to an API, so the refusal is a complete HTTP answer.
        if self.request_version not in ("HTTP/1.0", "HTTP/1.1"):
            self.request_version = "HTTP/1.1"
        self.send_response(status, HTTP_STATUS_CODES.get(status))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
