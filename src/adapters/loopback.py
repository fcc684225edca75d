"""Loopback endpoints (the local emulator) for AWS clients.

botocore's s3control endpoint rules put `{AccountId}.` in front of any endpoint host, and
`111111111111.127.0.0.1` does not resolve. For loopback endpoints only, the prefix is removed
before the request is signed, so the signature covers the host that is actually contacted.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit, urlunsplit


def is_loopback_url(url: str | None) -> bool:
    if not url:
        return False
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def strip_account_prefix(**event: Any) -> None:
    """A `before-sign.s3-control` handler: the request to a loopback endpoint without `{AccountId}.`."""
    request = event["request"]
    parts = urlsplit(request.url)
    host = parts.hostname or ""
    label, _, rest = host.partition(".")
    if label.isdigit() and len(label) == 12 and is_loopback_url(f"http://{rest}"):
        netloc = rest if parts.port is None else f"{rest}:{parts.port}"
        request.url = urlunsplit(parts._replace(netloc=netloc))
        if "host" in request.headers:
            request.headers.replace_header("host", netloc)


def use_loopback_endpoint(client: Any) -> Any:
    """Make an s3control client work against a loopback endpoint; a no-op for any other endpoint."""
    if is_loopback_url(client.meta.endpoint_url):
        client.meta.events.register("before-sign.s3-control", strip_account_prefix)
    return client
