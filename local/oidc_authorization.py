"""The development issuer's sign-in: the authorization code flow with PKCE for a public client, as a real
identity provider runs it for a single-page app.

- Authorization endpoint (`/authorize`): RFC 6749 §4.1.1 and OpenID Connect Core §3.1.2 parameters;
  PKCE S256 only (RFC 7636 §4.3; `plain` is refused as OAuth 2.0 Security BCP §2.1.1 advises). An unknown
  client or a redirect URI that is not registered is a 400 page and never a redirect (RFC 6749 §4.1.2.1);
  other errors are redirected to the client with `error`, `error_description` and `state`. The sign-in page
  lists the demo users; its form posts the same parameters plus `user` back here, and the answer is a
  redirect with `code`, `state` and `iss` (RFC 9207).
- Token endpoint (`/token`): `authorization_code` (single use, 60 s, bound to client, redirect URI and
  challenge; a replayed code also revokes the refresh tokens it produced, RFC 6749 §4.1.2) and
  `refresh_token` (rotated on every use; presenting a rotated one revokes its family, OAuth 2.0 Security BCP
  §4.14.2). Errors are RFC 6749 §5.2 documents.
- Revocation endpoint (`/revoke`, RFC 7009) for refresh tokens; access tokens are short JWTs.
- Redirect URIs: the demo client has `http://127.0.0.1:3000/` and `http://localhost:3000/`; a local gateway
  serving the demo page on another port registers its own with `POST /dev/clients/<id>/redirect-uris`
  (loopback URIs only: a development convenience, like `/dev/token`).

Hand-written rather than built on Authlib: Authlib's server side needs a web-framework integration and
storage models, which for one in-memory public client would be more code than these checks. Tokens are
signed by the issuer's key ring (`local.oidc_issuer`), so the API's verifiers accept them unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from werkzeug.wrappers import Request, Response

DEMO_CLIENT_ID = "shopfast-demo"
DEMO_REDIRECT_URIS = ("http://127.0.0.1:3000/", "http://localhost:3000/")
SCOPES = ("openid", "email", "profile", "offline_access")
CODE_TTL_SECONDS = 60
ACCESS_TOKEN_TTL_SECONDS = 3600
REFRESH_TOKEN_TTL_SECONDS = 8 * 3600
_PKCE_VALUE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")  # RFC 7636 §4.1 (verifier) and §4.2 (S256 challenge)
_STATE = re.compile(r"^[\x20-\x7e]{0,512}$")

Signer = Callable[[dict[str, Any]], str]


@dataclass
class Client:
    client_id: str
    redirect_uris: set[str]


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    email: str
    scope: str
    nonce: str | None
    expires_at: float
    authenticated_at: int  # when the user signed in: every ID token of this sign-in says so (auth_time)
    used: bool = False
    family: str = ""  # the refresh tokens issued from this code


@dataclass
class _Refresh:
    client_id: str
    email: str
    scope: str
    family: str
    expires_at: float
    authenticated_at: int
    rotated: bool = False


@dataclass
class _Store:
    lock: threading.Lock = field(default_factory=threading.Lock)
    codes: dict[str, _Code] = field(default_factory=dict)
    refresh: dict[str, _Refresh] = field(default_factory=dict)
    revoked_families: set[str] = field(default_factory=set)


class OAuthError(Exception):
    """An RFC 6749 §5.2 error of the token endpoint."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


class AuthorizationServer:
    def __init__(
        self,
        issuer_url: str,
        users: Mapping[str, Mapping[str, Any]],
        sign: Signer,
        subject_for: Callable[[str], str],
        audience: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer_url = issuer_url
        self.users = users
        self.sign = sign
        self.subject_for = subject_for
        self.audience = audience
        self.clock = clock
        self.clients = {DEMO_CLIENT_ID: Client(DEMO_CLIENT_ID, set(DEMO_REDIRECT_URIS))}
        self._store = _Store()

    def discovery(self) -> dict[str, Any]:
        return {
            "authorization_endpoint": f"{self.issuer_url}/authorize",
            "token_endpoint": f"{self.issuer_url}/token",
            "revocation_endpoint": f"{self.issuer_url}/revoke",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "revocation_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": list(SCOPES),
            "authorization_response_iss_parameter_supported": True,
        }

    def routes(self) -> dict[tuple[str, str], Callable[[Request], Response]]:
        return {
            ("GET", "/authorize"): self.authorize,
            ("POST", "/authorize"): self.authorize,
            ("POST", "/token"): self.token,
            ("POST", "/revoke"): self.revoke,
        }

    # --- registration (development only) ---------------------------------------------------------------

    def register_redirect_uri(self, client_id: str, uri: str) -> bool:
        """Add a loopback redirect URI (a gateway serving the demo page on another port)."""
        parts = urlsplit(uri)
        client = self.clients.get(client_id)
        if client is None or parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
            return False
        if parts.query or parts.fragment or parts.path != "/":
            return False
        with self._store.lock:
            client.redirect_uris.add(uri)
        return True

    # --- authorization endpoint ------------------------------------------------------------------------

    def authorize(self, request: Request) -> Response:
        params = request.form if request.method == "POST" else request.args
        client = self.clients.get(params.get("client_id", ""))
        if client is None:
            return _error_page("Unknown client", "client_id names no client registered with this issuer.")
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            return _error_page(
                "Redirect URI not registered",
                f"{redirect_uri!r} is not a redirect URI of {client.client_id}: nothing is sent there.",
            )
        state = params.get("state")
        if state is not None and not _STATE.match(state):
            return _error_page("Invalid state", "state must be at most 512 printable ASCII characters.")

        def refuse(error: str, description: str) -> Response:
            return _redirect(redirect_uri, {"error": error, "error_description": description, "state": state})

        if params.get("response_type") != "code":
            return refuse("unsupported_response_type", "this issuer answers response_type=code only")
        if params.get("code_challenge_method") != "S256":
            return refuse("invalid_request", "PKCE is required, with code_challenge_method=S256")
        challenge = params.get("code_challenge", "")
        if not _PKCE_VALUE.match(challenge):
            return refuse(
                "invalid_request", "code_challenge must be the base64url SHA-256 of the code_verifier"
            )
        scopes = params.get("scope", "").split()
        if "openid" not in scopes or not set(scopes) <= set(SCOPES):
            return refuse("invalid_scope", f"scope must include openid, from {' '.join(SCOPES)}")
        nonce = params.get("nonce")
        if request.method == "GET":
            return self._sign_in_page(params, error=None)
        email = params.get("user", "").lower()
        if email not in self.users:
            return self._sign_in_page(params, error="Choose one of the demo users.", status=400)
        code = secrets.token_urlsafe(32)
        with self._store.lock:
            self._expire()
            self._store.codes[code] = _Code(
                client.client_id,
                redirect_uri,
                challenge,
                email,
                " ".join(scopes),
                nonce,
                self.clock() + CODE_TTL_SECONDS,
                int(self.clock()),
            )
        return _redirect(redirect_uri, {"code": code, "state": state, "iss": self.issuer_url})

    def _sign_in_page(self, params: Mapping[str, str], *, error: str | None, status: int = 200) -> Response:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(params[name])}">'
            for name in (
                "response_type",
                "client_id",
                "redirect_uri",
                "scope",
                "state",
                "nonce",
                "code_challenge",
                "code_challenge_method",
            )
            if name in params
        )
        buttons = "".join(
            f'<button type="submit" name="user" value="{html.escape(email)}">'
            f"<strong>{html.escape(str(user.get('name', email)))}</strong> <span>{html.escape(email)}</span>"
            f" <small>{html.escape(', '.join(user.get('groups', [])) or 'no department')}</small></button>"
            for email, user in self.users.items()
        )
        alert = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
        page = _PAGE.format(
            title="Sign in to ShopFast",
            body=(
                f"<h1>Sign in to ShopFast</h1>{alert}"
                f"<p>Development identity provider: choose who you are. A real identity provider asks for a"
                f" password or a passkey here.</p>"
                f'<form method="post" action="/authorize">{hidden}<div class="users">{buttons}</div></form>'
            ),
        )
        return _html(page, status)

    # --- token endpoint --------------------------------------------------------------------------------

    def token(self, request: Request) -> Response:
        form = request.form
        try:
            client = self.clients.get(form.get("client_id", ""))
            if client is None:
                raise OAuthError("invalid_client", "client_id names no client registered here", 401)
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                return _token_json(self._exchange_code(client, form))
            if grant_type == "refresh_token":
                return _token_json(self._refresh(client, form))
            raise OAuthError(
                "unsupported_grant_type", "grant_type must be authorization_code or refresh_token"
            )
        except OAuthError as error:
            return _token_json({"error": error.error, "error_description": error.description}, error.status)

    def _exchange_code(self, client: Client, form: Mapping[str, str]) -> dict[str, Any]:
        invalid = OAuthError("invalid_grant", "the code is unknown, used, expired or not this client's")
        with self._store.lock:
            code = self._store.codes.get(form.get("code", ""))
            if code is None or code.client_id != client.client_id:
                raise invalid
            if code.used:
                # A replayed code: whoever holds it may be an attacker; what it produced is revoked.
                self._store.revoked_families.add(code.family)
                raise invalid
            code.used = True  # whatever follows: one attempt per code
            if code.expires_at <= self.clock():
                raise invalid
            if form.get("redirect_uri") != code.redirect_uri:
                raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request's")
            verifier = form.get("code_verifier", "")
            if not _PKCE_VALUE.match(verifier):
                raise OAuthError("invalid_grant", "code_verifier is missing or malformed (RFC 7636 §4.1)")
            if not hmac.compare_digest(_s256(verifier), code.challenge):
                raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
            code.family = secrets.token_urlsafe(16)
            return self._tokens(
                client, code.email, code.scope, code.family, code.authenticated_at, nonce=code.nonce
            )

    def _refresh(self, client: Client, form: Mapping[str, str]) -> dict[str, Any]:
        invalid = OAuthError(
            "invalid_grant", "the refresh token is unknown, expired, revoked or not this client's"
        )
        with self._store.lock:
            presented = self._store.refresh.get(form.get("refresh_token", ""))
            if presented is None or presented.client_id != client.client_id:
                raise invalid
            if presented.family in self._store.revoked_families or presented.expires_at <= self.clock():
                raise invalid
            if presented.rotated:
                self._store.revoked_families.add(presented.family)  # reuse: the family is compromised
                raise invalid
            presented.rotated = True
            return self._tokens(
                client,
                presented.email,
                presented.scope,
                presented.family,
                presented.authenticated_at,
                nonce=None,
            )

    def _tokens(
        self, client: Client, email: str, scope: str, family: str, authenticated_at: int, *, nonce: str | None
    ) -> dict[str, Any]:
        """Called with the store's lock held. A refresh keeps the sign-in's `auth_time`: it "MUST represent
        the time of the original authentication" (OpenID Connect Core 1.0 §12.2), and oidc-client-ts refuses
        a refreshed ID token whose auth_time differs from the first one's."""
        user = self.users[email]
        now = int(self.clock())
        subject = self.subject_for(user["email"])
        identity = {"email": user["email"], "email_verified": True, "groups": list(user.get("groups", []))}
        access = {
            "iss": self.issuer_url,
            "sub": subject,
            "aud": self.audience,
            "client_id": client.client_id,
            "scope": scope,
            "iat": now,
            "exp": now + ACCESS_TOKEN_TTL_SECONDS,
            "jti": secrets.token_hex(16),
            **identity,
        }
        id_token = {
            "iss": self.issuer_url,
            "sub": subject,
            "aud": client.client_id,
            "azp": client.client_id,
            "iat": now,
            "auth_time": authenticated_at,
            "exp": now + ACCESS_TOKEN_TTL_SECONDS,
            "name": user.get("name", email),
            **identity,
            **({"nonce": nonce} if nonce else {}),
        }
        refresh_token = secrets.token_urlsafe(32)
        self._store.refresh[refresh_token] = _Refresh(
            client.client_id, email, scope, family, now + REFRESH_TOKEN_TTL_SECONDS, authenticated_at
        )
        return {
            "access_token": self.sign(access),
            "id_token": self.sign(id_token),
            "refresh_token": refresh_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_TTL_SECONDS,
            "scope": scope,
        }

    # --- revocation endpoint ---------------------------------------------------------------------------

    def revoke(self, request: Request) -> Response:
        """RFC 7009 §2.2: 200 whether or not the token was valid (nothing to learn from the answer)."""
        client = self.clients.get(request.form.get("client_id", ""))
        if client is None:
            return _token_json({"error": "invalid_client", "error_description": "unknown client_id"}, 401)
        with self._store.lock:
            found = self._store.refresh.get(request.form.get("token", ""))
            if found is not None and found.client_id == client.client_id:
                self._store.revoked_families.add(found.family)
        return _token_json({})

    def _expire(self) -> None:
        now = self.clock()
        for key in [k for k, c in self._store.codes.items() if c.expires_at + CODE_TTL_SECONDS < now]:
            del self._store.codes[key]
        for key in [k for k, r in self._store.refresh.items() if r.expires_at < now]:
            del self._store.refresh[key]


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def _redirect(uri: str, params: Mapping[str, str | None]) -> Response:
    query = urlencode({name: value for name, value in params.items() if value is not None})
    response = Response(status=302)
    response.headers["Location"] = f"{uri}{'&' if '?' in uri else '?'}{query}"
    response.headers["Cache-Control"] = "no-store"
    return response


def _token_json(body: Mapping[str, Any], status: int = 200) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="shopfast-dev-issuer"'
    return response


def _html(page: str, status: int) -> Response:
    response = Response(page, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _error_page(title: str, detail: str) -> Response:
    body = f'<h1>{html.escape(title)}</h1><p class="error" role="alert">{html.escape(detail)}</p>'
    return _html(_PAGE.format(title=html.escape(title), body=body), 400)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f5f7fa; color: #1d2433; margin: 0;
  padding: 2rem 1rem; }}
main {{ max-width: 34rem; margin: 0 auto; background: #fff; border: 1px solid #dde2ea; border-radius: 10px;
  padding: 1.5rem; }}
h1 {{ font-size: 1.3rem; margin: 0 0 0.75rem; }}
.users {{ display: grid; gap: 0.5rem; }}
button {{ text-align: left; padding: 0.7rem 0.9rem; border: 1px solid #dde2ea; border-radius: 8px;
  background: #fff; cursor: pointer; font: inherit; overflow-wrap: anywhere; }}
button:hover, button:focus {{ border-color: #2456d3; outline: none; }}
span, small {{ color: #5b6478; }}
.error {{ color: #b42318; background: #fdecec; padding: 0.5rem 0.75rem; border-radius: 8px; }}
</style></head>
<body><main>{body}</main></body></html>
"""
