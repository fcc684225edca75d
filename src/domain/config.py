"""The service's configuration: one validated, immutable object built once per execution environment."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from urllib.parse import urlsplit

import msgspec

from domain.errors import ConfigError
from domain.limits import GET_DATA_ACCESS_MAX_DURATION, GET_DATA_ACCESS_MIN_DURATION, MAX_POST_BYTES
from domain.targets import is_valid_bucket_name

IDENTITY_CENTER = "identity-center"
IAM_ROLE = "iam-role"
IDENTITY_MODES = (IDENTITY_CENTER, IAM_ROLE)
# Asymmetric algorithms only: HS* would let anyone holding the public key forge tokens, `none` anyone at all.
SUPPORTED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
INSTANCE_SCOPES = ("SELF", "ALL")
MIB = 1024**2
GIB = 1024**3
# The claim Identity Center compares with the directory (the trusted token issuer's ClaimAttributePath).
EMAIL_CLAIM = "email"

_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_APPLICATION_ARN = re.compile(
    r"^arn:aws[a-z-]*:sso::\d{12}:application/ssoins-[0-9a-f]{16}/apl-[0-9a-f]{16}$"
)
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_CLAIM = re.compile(r"^[A-Za-z0-9_:./-]{1,128}$")
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-\d:\d{12}:key/[A-Za-z0-9-]{1,128}$")

# A presigned URL: 1 hour unless the deployment allows more; SigV4 allows 7 days at most.
DEFAULT_MAX_PRESIGN_EXPIRES_SECONDS = 3600
MAX_PRESIGN_EXPIRES_SECONDS = 604800


class ServiceConfig(msgspec.Struct, frozen=True):
    identity_mode: str
    jwt_issuer: str
    jwt_audience: tuple[str, ...]
    jwt_jwks_url: str | None
    jwt_algorithms: tuple[str, ...]
    jwt_leeway_seconds: int
    jwt_max_lifetime_seconds: int
    idc_application_arn: str | None
    identity_bearer_role_arn: str | None
    access_grants_account_id: str
    role_claim: str
    user_claim: str
    require_email_verified: bool
    role_mapping: Mapping[str, str]
    allowed_buckets: frozenset[str]
    default_duration_seconds: int
    max_duration_seconds: int
    max_presign_expires_seconds: int
    default_post_bytes: int
    max_post_bytes: int
    upload_binding_secret: str | None
    cache_enabled: bool
    cache_max_age_seconds: int
    instance_scope: str
    aws_region: str
    idc_region: str
    bucket_regions: Mapping[str, str]
    aws_endpoint_url: str | None
    state_table: str | None = None
    state_key_arn: str | None = None
    shared_cache: bool = False
    audit_pseudonym_secret: str | None = None

    @property
    def reuse_seconds(self) -> int:
        """How long anything cached may be reused: CACHE_MAX_AGE_SECONDS, or 0 (nothing is kept) with
        CACHE_ENABLED=false."""
        return self.cache_max_age_seconds if self.cache_enabled else 0

    @property
    def uses_shared_cache(self) -> bool:
        """Sessions and credentials are shared between execution environments through the state table."""
        return bool(self.cache_enabled and self.shared_cache and self.state_table and self.state_key_arn)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ServiceConfig:
        """Build and validate; raises ConfigError naming the first bad variable."""
        reader = _Reader(env)
        mode = reader.choice("IDENTITY_MODE", IDENTITY_MODES, IDENTITY_CENTER)
        issuer = reader.url("JWT_ISSUER", required=True)
        assert issuer is not None
        # Compared with the token's iss exactly, a trailing '/' included (JumpCloud's issuer has one).
        audience = reader.csv("JWT_AUDIENCE")
        if not audience:
            raise ConfigError("JWT_AUDIENCE", "at least one audience is required")
        algorithms = reader.csv("JWT_ALGORITHMS") or ("RS256",)
        for algorithm in algorithms:
            if algorithm not in SUPPORTED_ALGORITHMS:
                raise ConfigError("JWT_ALGORITHMS", f"unsupported algorithm {algorithm!r}")
        default_duration = reader.integer(
            "DEFAULT_DURATION_SECONDS", 3600, GET_DATA_ACCESS_MIN_DURATION, GET_DATA_ACCESS_MAX_DURATION
        )
        max_duration = reader.integer(
            "MAX_DURATION_SECONDS", 43200, GET_DATA_ACCESS_MIN_DURATION, GET_DATA_ACCESS_MAX_DURATION
        )
        if default_duration > max_duration:
            raise ConfigError("DEFAULT_DURATION_SECONDS", "must not exceed MAX_DURATION_SECONDS")
        application_arn = reader.pattern(
            "IDC_APPLICATION_ARN", _APPLICATION_ARN, required=mode == IDENTITY_CENTER
        )
        bearer_role = reader.pattern("IDENTITY_BEARER_ROLE_ARN", _ROLE_ARN, required=mode == IDENTITY_CENTER)
        role_mapping = reader.role_mapping("ROLE_MAPPING", required=mode == IAM_ROLE)
        account_id = reader.pattern("ACCESS_GRANTS_ACCOUNT_ID", _ACCOUNT_ID, required=True)
        assert account_id is not None
        buckets = frozenset(reader.csv("ALLOWED_BUCKETS"))
        for bucket in buckets:
            if not is_valid_bucket_name(bucket):
                raise ConfigError("ALLOWED_BUCKETS", f"{bucket!r} is not a valid bucket name")
        aws_region = reader.pattern("AWS_REGION", _REGION) or reader.pattern("AWS_DEFAULT_REGION", _REGION)
        aws_region = aws_region or "us-east-1"
        max_post_bytes = reader.integer("MAX_POST_BYTES", MAX_POST_BYTES, 1, MAX_POST_BYTES)
        default_post_bytes = reader.integer("DEFAULT_POST_BYTES", min(100 * MIB, max_post_bytes), 1, 5 * GIB)
        if default_post_bytes > max_post_bytes:
            raise ConfigError("DEFAULT_POST_BYTES", "must not exceed MAX_POST_BYTES")
        state_table = reader.pattern("STATE_TABLE", _TABLE_NAME)
        state_key_arn = reader.pattern("STATE_KEY_ARN", _KMS_KEY_ARN)
        shared_cache = reader.choice("SHARED_CACHE", ("enabled", "disabled"), "enabled") == "enabled"
        if shared_cache and state_table and not state_key_arn:
            raise ConfigError("STATE_KEY_ARN", "is required while SHARED_CACHE is enabled")
        return cls(
            identity_mode=mode,
            jwt_issuer=issuer,
            jwt_audience=audience,
            jwt_jwks_url=reader.url("JWT_JWKS_URL"),
            jwt_algorithms=algorithms,
            jwt_leeway_seconds=reader.integer("JWT_LEEWAY_SECONDS", 30, 0, 300),
            jwt_max_lifetime_seconds=reader.integer("JWT_MAX_LIFETIME_SECONDS", 43200, 60, 7 * 86400),
            idc_application_arn=application_arn,
            identity_bearer_role_arn=bearer_role,
            access_grants_account_id=account_id,
            role_claim=reader.pattern("ROLE_CLAIM", _CLAIM) or "groups",
            user_claim=reader.pattern("USER_CLAIM", _CLAIM) or EMAIL_CLAIM,
            require_email_verified=reader.boolean("REQUIRE_EMAIL_VERIFIED", True),
            role_mapping=role_mapping,
            allowed_buckets=buckets,
            default_duration_seconds=default_duration,
            max_duration_seconds=max_duration,
            max_presign_expires_seconds=reader.integer(
                "MAX_PRESIGN_EXPIRES_SECONDS",
                DEFAULT_MAX_PRESIGN_EXPIRES_SECONDS,
                1,
                MAX_PRESIGN_EXPIRES_SECONDS,
            ),
            default_post_bytes=default_post_bytes,
            max_post_bytes=max_post_bytes,
            upload_binding_secret=reader.text("UPLOAD_BINDING_SECRET"),
            cache_enabled=reader.boolean("CACHE_ENABLED", True),
            cache_max_age_seconds=reader.integer("CACHE_MAX_AGE_SECONDS", 900, 1, 43200),
            instance_scope=reader.choice("INSTANCE_SCOPE", INSTANCE_SCOPES, "SELF"),
            aws_region=aws_region,
            idc_region=reader.pattern("IDC_REGION", _REGION) or aws_region,
            bucket_regions=reader.bucket_regions("BUCKET_REGIONS"),
            aws_endpoint_url=reader.url("AWS_ENDPOINT_URL"),
            state_table=state_table,
            state_key_arn=state_key_arn,
            shared_cache=shared_cache,
            audit_pseudonym_secret=reader.text("AUDIT_PSEUDONYM_SECRET"),
        )


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, name: str) -> str | None:
        value = self._env.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(name) or default
        if value not in choices:
            raise ConfigError(name, f"must be one of {', '.join(choices)}")
        return value

    def csv(self, name: str) -> tuple[str, ...]:
        value = self.text(name) or ""
        return tuple(item.strip() for item in value.split(",") if item.strip())

    def integer(self, name: str, default: int, minimum: int, maximum: int) -> int:
        value = self.text(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(name, "must be an integer") from None
        if not minimum <= number <= maximum:
            raise ConfigError(name, f"must be between {minimum} and {maximum}")
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self.text(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in {"true", "1", "yes"}:
            return True
        if lowered in {"false", "0", "no"}:
            return False
        raise ConfigError(name, "must be true or false")

    def url(self, name: str, *, required: bool = False) -> str | None:
        value = self.text(name)
        if value is None:
            if required:
                raise ConfigError(name, "is required")
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"https", "http"} or not parts.hostname:
            raise ConfigError(name, "must be an http(s) URL")
        return value

    def pattern(self, name: str, pattern: re.Pattern[str], *, required: bool = False) -> str | None:
        value = self.text(name)
        if value is None:
            if required:
                raise ConfigError(name, "is required")
            return None
        if not pattern.match(value):
            raise ConfigError(name, "has an invalid format")
        return value

    def bucket_regions(self, name: str) -> Mapping[str, str]:
        """`{"bucket": "region", ...}`: where each planned bucket's Access Grants instance is."""
        value = self.text(name)
        if value is None:
            return MappingProxyType({})
        try:
            mapping = json.loads(value)
        except ValueError:
            raise ConfigError(name, "must be a JSON object of bucket name to region") from None
        if not isinstance(mapping, dict):
            raise ConfigError(name, "must be a JSON object of bucket name to region")
        for bucket, region in mapping.items():
            if not is_valid_bucket_name(bucket):
                raise ConfigError(name, f"{bucket!r} is not a valid bucket name")
            if not isinstance(region, str) or not _REGION.match(region):
                raise ConfigError(name, f"bucket {bucket!r} must map to a region such as us-east-1")
        return MappingProxyType(dict(mapping))

    def role_mapping(self, name: str, *, required: bool) -> Mapping[str, str]:
        value = self.text(name)
        if value is None:
            if required:
                raise ConfigError(name, "is required in iam-role mode")
            return MappingProxyType({})
        try:
            mapping = json.loads(value)
        except ValueError:
            raise ConfigError(name, "must be a JSON object of group to role ARN") from None
        if not isinstance(mapping, dict) or (required and not mapping):
            raise ConfigError(name, "must be a non-empty JSON object of group to role ARN")
        for group, role_arn in mapping.items():
            if not isinstance(role_arn, str) or not _ROLE_ARN.match(role_arn) or not group:
                raise ConfigError(name, f"group {group!r} must map to an IAM role ARN")
        return MappingProxyType(dict(mapping))
