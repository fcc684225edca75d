"""A development OIDC issuer for the demo users (local only: it signs in anyone who picks a demo user).

Serves discovery (`/.well-known/openid-configuration`), the JWKS (`/.well-known/jwks.json`), the
authorization code flow with PKCE a single-page app uses (`/authorize`, `/token`, `/revoke`: see
`local.oidc_authorization`), and, for tests and curl, `GET /dev/token?user=<email>[&ttl=<seconds>]
[&aud=<audience>]`, which answers an RS256 access token shaped like a real IdP's: `iss`, `sub`, `email`,
`groups`, `aud`, `iat`, `exp`, `jti`, header `kid`.

The signing key persists in `<state_dir>/idp-signing-key.pem` (0600). `POST /dev/rotate` makes a new
key the signer; the previous one stays in the JWKS for `ROTATION_OVERLAP_SECONDS`, longer than any token
it can have signed (ttl <= MAX_TTL_SECONDS) plus any verifier's JWKS cache, so rotation never breaks a
token that is still valid. `POST /dev/jwks-outage {"down": true|false, "delayMs": N}` makes the JWKS
endpoint answer 503 or answer slowly (for last-known-good and slow-JWKS tests). These state-changing
routes take only JSON, from no origin or the issuer's own; and the issuer answers only requests that name
its own host (`IssuerRequestHandler`), so neither a cross-site form nor a DNS-rebinding page reaches them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request, Response

from local.loopback_http import LoopbackRequestHandler, cross_site_refusal
from local.oidc_authorization import AuthorizationServer

DEFAULT_AUDIENCE = "shopfast-vending"
DEFAULT_TTL_SECONDS = 3600
# Tests need tokens that are already expired (negative ttl) and tokens longer than the service's
# maximum accepted lifetime (12 h), so the range is wider than any real IdP would allow.
MIN_TTL_SECONDS = -86400
MAX_TTL_SECONDS = 7 * 86400
ROTATION_OVERLAP_SECONDS = MAX_TTL_SECONDS + 86400
SIGNING_KEY_FILE = "idp-signing-key.pem"
RETIRED_KEY_PREFIX = "idp-signing-key.retired-"
DEV_ONLY_NOTICE = "development issuer: mints tokens for anyone who asks; never expose it beyond loopback"
# A fixed namespace so a user's `sub` is stable across restarts (and differs from the directory user id).
SUBJECT_NAMESPACE = uuid.UUID("6f1c4a52-2d0e-4b7b-9a43-5d1e0c0ffee1")


def subject_for(email: str) -> str:
    return str(uuid.uuid5(SUBJECT_NAMESPACE, email.lower()))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint: the key id changes exactly when the key does."""
    members = {k: public_jwk[k] for k in ("e", "kty", "n")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode()).digest())


class _SigningKey:
    def __init__(self, private_key: rsa.RSAPrivateKey, retired_at: float | None = None) -> None:
        self.private_key = private_key
        self.public_jwk: dict[str, Any] = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
        self.kid = _thumbprint(self.public_jwk)
        self.retired_at = retired_at

    @classmethod
    def generate(cls) -> _SigningKey:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def published(self) -> dict[str, Any]:
        return {**self.public_jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    path.chmod(0o600)


def _load_pem(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError(f"{path} does not hold an RSA private key")
    return key


class _KeyRing:
    """The current signing key plus retired keys still inside their overlap, all persisted in state_dir."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.lock = threading.Lock()
        state_dir.mkdir(parents=True, exist_ok=True)
        current_path = state_dir / SIGNING_KEY_FILE
        if current_path.exists():
            self.current = _SigningKey(_load_pem(current_path))
        else:
            self.current = _SigningKey.generate()
            _write_private(current_path, self.current.pem())
        self.retired: list[_SigningKey] = []
        for path in sorted(state_dir.glob(f"{RETIRED_KEY_PREFIX}*.pem")):
            retired_at = path.stat().st_mtime
            if time.time() - retired_at < ROTATION_OVERLAP_SECONDS:
                self.retired.append(_SigningKey(_load_pem(path), retired_at))
            else:
                path.unlink(missing_ok=True)

    def _drop_expired(self) -> None:
        now = time.time()
        for key in [k for k in self.retired if now - (k.retired_at or now) >= ROTATION_OVERLAP_SECONDS]:
            self.retired.remove(key)
            (self.state_dir / f"{RETIRED_KEY_PREFIX}{key.kid}.pem").unlink(missing_ok=True)

    def rotate(self) -> tuple[_SigningKey, _SigningKey]:
        with self.lock:
            previous, new = self.current, _SigningKey.generate()
            previous.retired_at = time.time()
            _write_private(self.state_dir / f"{RETIRED_KEY_PREFIX}{previous.kid}.pem", previous.pem())
            _write_private(self.state_dir / SIGNING_KEY_FILE, new.pem())
            self.retired.append(previous)
            self.current = new
            self._drop_expired()
            return previous, new

    def jwks(self) -> dict[str, Any]:
        with self.lock:
            self._drop_expired()
            return {"keys": [self.current.published()] + [k.published() for k in reversed(self.retired)]}


def _is_loopback_origin(origin: str) -> bool:
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.hostname in ("127.0.0.1", "localhost", "::1")


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Dev-Only"] = DEV_ONLY_NOTICE
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _problem(status: int, title: str, detail: str) -> Response:
    return _json({"error": title, "error_description": detail}, status)


class IssuerRequestHandler(LoopbackRequestHandler):
    """Only the issuer's own host names (see `local.loopback_http`), refusals in OAuth's error shape."""

    def error_body(self, status: int) -> dict[str, Any]:
        return {"error": "invalid_request", "error_description": HTTP_STATUS_CODES.get(status, "")}


class OidcIssuer:
    def __init__(self, state_dir: Path, issuer_url: str, demo_users: dict[str, Any]) -> None:
        self.issuer_url = issuer_url.rstrip("/")
        self.keys = _KeyRing(Path(state_dir))
        self.users = {u["email"].lower(): u for u in demo_users.get("users", [])}
        self.jwks_down = False
        self.jwks_delay_ms = 0
        self.authorization = AuthorizationServer(
            self.issuer_url, self.users, self.sign, subject_for, DEFAULT_AUDIENCE
        )

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer_url,
            "jwks_uri": f"{self.issuer_url}/.well-known/jwks.json",
            **self.authorization.discovery(),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": [
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "jti",
                "email",
                "email_verified",
                "groups",
                "name",
                "nonce",
                "auth_time",
                "client_id",
                "scope",
            ],
            "x_dev_only": DEV_ONLY_NOTICE,
        }

    def mint(self, email: str, ttl: int, audience: str) -> str:
        user = self.users[email.lower()]
        now = int(time.time())
        claims = {
            "iss": self.issuer_url,
            "sub": subject_for(user["email"]),
            "email": user["email"],
            # The demo directory's addresses are the company's own: verified, as a real IdP would say.
            "email_verified": True,
            "groups": list(user.get("groups", [])),
            "aud": audience,
            "iat": now,
            "exp": now + ttl,
            "jti": str(uuid.uuid4()),
        }
        return self.sign(claims)

    def sign(self, claims: dict[str, Any]) -> str:
        """An RS256 JWT of `claims` by the current signing key (its `kid` in the header)."""
        key = self.keys.current
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})

    def _token(self, request: Request) -> Response:
        email = request.args.get("user", "")
        if email.lower() not in self.users:
            return _problem(404, "unknown_user", f"no demo user {email!r}; known: {sorted(self.users)}")
        try:
            ttl = int(request.args.get("ttl", DEFAULT_TTL_SECONDS))
        except ValueError:
            return _problem(400, "invalid_request", "ttl must be an integer number of seconds")
        if not MIN_TTL_SECONDS <= ttl <= MAX_TTL_SECONDS:
            return _problem(400, "invalid_request", f"ttl must lie in [{MIN_TTL_SECONDS}, {MAX_TTL_SECONDS}]")
        audience = request.args.get("aud", DEFAULT_AUDIENCE)
        token = self.mint(email, ttl, audience)
        return _json({"access_token": token, "token_type": "Bearer", "expires_in": ttl})

    def _rotate(self) -> Response:
        previous, new = self.keys.rotate()
        overlap = ROTATION_OVERLAP_SECONDS
        return _json({"kid": new.kid, "previousKid": previous.kid, "overlapSeconds": overlap})

    def _jwks_outage(self, request: Request) -> Response:
        try:
            body = json.loads(request.get_data(as_text=True) or "{}")
            down = bool(body.get("down", self.jwks_down))
            delay_ms = int(body.get("delayMs", self.jwks_delay_ms))
        except (ValueError, TypeError, AttributeError):
            return _problem(400, "invalid_request", 'body must be JSON like {"down": true, "delayMs": 0}')
        if delay_ms < 0:
            return _problem(400, "invalid_request", "delayMs must be >= 0")
        self.jwks_down, self.jwks_delay_ms = down, delay_ms
        return _json({"down": down, "delayMs": delay_ms})

    def _jwks(self) -> Response:
        if self.jwks_delay_ms:
            time.sleep(self.jwks_delay_ms / 1000)
        if self.jwks_down:
            return _problem(503, "temporarily_unavailable", "JWKS outage simulated by POST /dev/jwks-outage")
        # Real IdPs let verifiers cache the JWKS for a while; rotation keeps old keys published longer.
        return _json(self.keys.jwks(), headers={"Cache-Control": "public, max-age=300"})

    def _with_cors(self, request: Request, response: Response) -> Response:
        origin = request.headers.get("Origin")
        if origin and _is_loopback_origin(origin):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization"
            response.headers["Vary"] = "Origin"
        return response

    def _register_redirect_uri(self, request: Request, client_id: str) -> Response:
        try:
            uri = json.loads(request.get_data(as_text=True) or "{}").get("redirectUri", "")
        except (ValueError, AttributeError):
            uri = ""
        if not isinstance(uri, str) or not self.authorization.register_redirect_uri(client_id, uri):
            return _problem(
                400, "invalid_request", "redirectUri must be http://127.0.0.1:<port>/ or localhost"
            )
        return _json({"clientId": client_id, "redirectUri": uri})

    def _cross_site_refusal(self, request: Request) -> Response | None:
        """Without it, any page the developer visits could switch the JWKS off or add a redirect URI."""
        refusal = cross_site_refusal(request, urlsplit(self.issuer_url).port or "")
        if refusal is None:
            return None
        status, reason = refusal
        return _problem(status, "invalid_request" if status == 415 else "access_denied", reason)

    def dispatch(self, request: Request) -> Response:
        path, method = request.path.rstrip("/") or "/", request.method
        routes: dict[tuple[str, str], Any] = {
            ("GET", "/.well-known/openid-configuration"): lambda: _json(self.discovery()),
            ("GET", "/.well-known/jwks.json"): self._jwks,
            ("GET", "/dev/token"): lambda: self._token(request),
            ("POST", "/dev/rotate"): self._rotate,
            ("POST", "/dev/jwks-outage"): lambda: self._jwks_outage(request),
            **{
                key: (lambda handler=handler: handler(request))
                for key, handler in self.authorization.routes().items()
            },
        }
        registration = re.fullmatch(r"/dev/clients/([A-Za-z0-9_-]{1,64})/redirect-uris", path)
        if method == "POST" and (registration or path in ("/dev/rotate", "/dev/jwks-outage")):
            refusal = self._cross_site_refusal(request)
            if refusal is not None:
                return refusal
        if registration and method == "POST":
            return self._register_redirect_uri(request, registration.group(1))
        # What a page's scripts fetch from another origin (the demo page, oidc-client-ts) answers CORS.
        browser_facing = {
            p for (_, p) in routes if p not in ("/authorize", "/dev/rotate", "/dev/jwks-outage")
        }
        if method == "OPTIONS" and path in browser_facing:
            return self._with_cors(request, Response(status=204))
        handler = routes.get((method, path))
        if handler is not None:
            response = handler()
            return self._with_cors(request, response) if path in browser_facing else response
        allowed = sorted({m for m, p in routes if p == path})
        if allowed:
            response = _problem(405, "method_not_allowed", f"{path} answers {', '.join(allowed)}")
            response.headers["Allow"] = ", ".join(allowed)
            return response
        return _problem(404, "not_found", f"{method} {path} is not served by the development issuer")

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.dispatch(Request(environ))(environ, start_response)


def make_app(state_dir: Path, issuer_url: str, demo_users: dict[str, Any]) -> OidcIssuer:
    """The WSGI app of the development issuer; `issuer_url` is exactly the `iss` of its tokens."""
    return OidcIssuer(state_dir, issuer_url, demo_users)
