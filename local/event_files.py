"""Sample events in `events/` made runnable: placeholders become a live token and the local issuer.

A committed file cannot hold a valid JWT (it would expire, and it would be a secret in git). So the
files say `Authorization: Bearer {{token:alice@shopfast.example}}` and `"iss": "{{issuer}}"`, and
whoever runs them (`make invoke`, the tests) calls `render_event`: every `{{token:<email>}}` becomes a
token minted for that demo user by the local issuer, every `{{issuer}}` the issuer's URL, every
`{{awsEndpoint}}` the emulator's (an Iceberg signing request names the S3 URL it signs), and the
authorizer claims become the minted token's claims, flattened the way API Gateway's JWT authorizer
passes them; a body that changed gets its `content-length` again. An event without placeholders (no
token, a garbage token) is returned unchanged.
See events/README.md.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local.apigw_events import authorizer_claims

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"
_PLACEHOLDER = re.compile(r"\{\{(token|issuer|awsEndpoint)(?::([^{}]+))?\}\}")

TokenMinter = Callable[[str], str]


def event_files(directory: Path = EVENTS_DIR) -> list[Path]:
    return sorted(directory.glob("*.json"))


def load_event(
    path: Path, *, issuer_url: str, mint_token: TokenMinter, aws_endpoint: str | None = None
) -> dict[str, Any]:
    event = json.loads(path.read_text(encoding="utf-8"))
    return render_event(event, issuer_url=issuer_url, mint_token=mint_token, aws_endpoint=aws_endpoint)


def render_event(
    event: dict[str, Any], *, issuer_url: str, mint_token: TokenMinter, aws_endpoint: str | None = None
) -> dict[str, Any]:
    tokens: dict[str, str] = {}

    def substitute(match: re.Match[str]) -> str:
        kind, argument = match.group(1), match.group(2)
        if kind == "issuer":
            return issuer_url
        if kind == "awsEndpoint":
            if aws_endpoint is None:
                raise ValueError("{{awsEndpoint}} needs the emulator's URL")
            return aws_endpoint
        if not argument:
            raise ValueError("{{token:<email>}} needs a demo user's email")
        if argument not in tokens:
            tokens[argument] = mint_token(argument)
        return tokens[argument]

    rendered = _walk(event, lambda text: _PLACEHOLDER.sub(substitute, text))
    headers = rendered.get("headers")
    if (
        rendered.get("body") != event.get("body")
        and isinstance(headers, dict)
        and "content-length" in headers
    ):
        headers["content-length"] = str(len(rendered["body"].encode("utf-8")))
    token = _bearer_token(rendered)
    jwt_context = rendered.get("requestContext", {}).get("authorizer", {}).get("jwt")
    if tokens and token and isinstance(jwt_context, dict):
        jwt_context["claims"] = authorizer_claims(_unverified_claims(token))
    answer: dict[str, Any] = rendered
    return answer


def issuer_minter(issuer_url: str, *, timeout: float = 5.0) -> TokenMinter:
    """Mint tokens from the local issuer's dev endpoint (`GET /dev/token?user=<email>`)."""
    if not issuer_url.startswith(("http://", "https://")):
        raise ValueError("the issuer URL must be http(s)")

    def mint(email: str) -> str:
        url = f"{issuer_url.rstrip('/')}/dev/token?{urllib.parse.urlencode({'user': email})}"
        with urllib.request.urlopen(url, timeout=timeout) as response:
            answer: str = json.load(response)["access_token"]
            return answer

    return mint


def _walk(value: Any, transform: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return transform(value)
    if isinstance(value, dict):
        return {key: _walk(item, transform) for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, transform) for item in value]
    return value


def _bearer_token(event: dict[str, Any]) -> str | None:
    headers = event.get("headers") or {}
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.count(".") == 2 else None


def _unverified_claims(token: str) -> dict[str, Any]:
    # API Gateway has verified the token by the time it passes claims; here it was minted a moment ago.
    payload = token.split(".")[1]
    answer: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return answer
