"""Configuration: defaults, validation, and errors that name the variable."""

from __future__ import annotations

import json

import pytest

from domain.config import ServiceConfig
from domain.errors import ConfigError

pytestmark = pytest.mark.unit

APPLICATION_ARN = "arn:aws:sso::222222222222:application/ssoins-7223c0ffee5e1a7d/apl-5a1e5c0ffee0b1d8"
BEARER_ROLE = "arn:aws:iam::111111111111:role/shopfast-identity-bearer"
BASE = {
    "JWT_ISSUER": "http://127.0.0.1:3001",
    "JWT_AUDIENCE": "shopfast-vending",
    "IDC_APPLICATION_ARN": APPLICATION_ARN,
    "IDENTITY_BEARER_ROLE_ARN": BEARER_ROLE,
    "ACCESS_GRANTS_ACCOUNT_ID": "111111111111",
}


def test_defaults() -> None:
    config = ServiceConfig.from_env(BASE)
    assert config.identity_mode == "identity-center"
    assert config.jwt_audience == ("shopfast-vending",)
    assert config.jwt_algorithms == ("RS256",)
    assert config.jwt_leeway_seconds == 30
    assert config.jwt_max_lifetime_seconds == 43200
    assert config.role_claim == "groups"
    assert dict(config.role_mapping) == {}
    assert config.allowed_buckets == frozenset()
    assert (config.default_duration_seconds, config.max_duration_seconds) == (3600, 43200)
    assert config.max_presign_expires_seconds == 3600
    assert config.cache_enabled is True
    assert config.cache_max_age_seconds == 900
    assert (config.user_claim, config.require_email_verified) == ("email", True)
    assert config.instance_scope == "SELF"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CACHE_MAX_AGE_SECONDS", "0"),
        ("CACHE_MAX_AGE_SECONDS", "43201"),
        ("REQUIRE_EMAIL_VERIFIED", "maybe"),
        ("INSTANCE_SCOPE", "OTHERS"),
        ("USER_CLAIM", "email claim"),
    ],
)
def test_least_privilege_settings_are_validated(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        ServiceConfig.from_env({**BASE, variable: value})
    assert raised.value.variable == variable


def test_iam_role_mode_reads_the_mapping() -> None:
    mapping = {"Sales": "arn:aws:iam::111111111111:role/ShopFast-Sales"}
    config = ServiceConfig.from_env(
        {
            "IDENTITY_MODE": "iam-role",
            "JWT_ISSUER": "https://idp.example.com",
            "JWT_AUDIENCE": "a, b",
            "ACCESS_GRANTS_ACCOUNT_ID": "111111111111",
            "ROLE_MAPPING": json.dumps(mapping),
            "ALLOWED_BUCKETS": "shopfast-data,shopfast-internal",
            "CACHE_ENABLED": "false",
        }
    )
    assert dict(config.role_mapping) == mapping
    assert config.jwt_audience == ("a", "b")
    assert config.allowed_buckets == {"shopfast-data", "shopfast-internal"}
    assert config.cache_enabled is False
    with pytest.raises(TypeError):
        config.role_mapping["HR"] = "x"  # type: ignore[index]


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"IDENTITY_MODE": "magic"}, "IDENTITY_MODE"),
        ({"JWT_ISSUER": ""}, "JWT_ISSUER"),
        ({"JWT_ISSUER": "ftp://idp"}, "JWT_ISSUER"),
        ({"JWT_ISSUER": "http://"}, "JWT_ISSUER"),
        ({"JWT_AUDIENCE": " , "}, "JWT_AUDIENCE"),
        ({"JWT_ALGORITHMS": "HS256"}, "JWT_ALGORITHMS"),
        ({"JWT_ALGORITHMS": "none"}, "JWT_ALGORITHMS"),
        ({"JWT_JWKS_URL": "file:///etc/passwd"}, "JWT_JWKS_URL"),
        ({"JWT_LEEWAY_SECONDS": "ten"}, "JWT_LEEWAY_SECONDS"),
        ({"JWT_LEEWAY_SECONDS": "3600"}, "JWT_LEEWAY_SECONDS"),
        ({"IDC_APPLICATION_ARN": ""}, "IDC_APPLICATION_ARN"),
        ({"IDC_APPLICATION_ARN": "arn:aws:iam::111111111111:role/x"}, "IDC_APPLICATION_ARN"),
        ({"IDENTITY_BEARER_ROLE_ARN": "not-an-arn"}, "IDENTITY_BEARER_ROLE_ARN"),
        ({"ACCESS_GRANTS_ACCOUNT_ID": "1234"}, "ACCESS_GRANTS_ACCOUNT_ID"),
        ({"ROLE_MAPPING": "[1]"}, "ROLE_MAPPING"),
        ({"ROLE_MAPPING": '{"Sales": "nope"}'}, "ROLE_MAPPING"),
        ({"ROLE_MAPPING": "{"}, "ROLE_MAPPING"),
        ({"IDENTITY_MODE": "iam-role", "ROLE_MAPPING": "{}"}, "ROLE_MAPPING"),
        ({"ALLOWED_BUCKETS": "Bad_Bucket"}, "ALLOWED_BUCKETS"),
        ({"DEFAULT_DURATION_SECONDS": "60"}, "DEFAULT_DURATION_SECONDS"),
        ({"MAX_DURATION_SECONDS": "50000"}, "MAX_DURATION_SECONDS"),
        ({"DEFAULT_DURATION_SECONDS": "7200", "MAX_DURATION_SECONDS": "3600"}, "DEFAULT_DURATION_SECONDS"),
        ({"MAX_PRESIGN_EXPIRES_SECONDS": "0"}, "MAX_PRESIGN_EXPIRES_SECONDS"),
        ({"CACHE_ENABLED": "maybe"}, "CACHE_ENABLED"),
        ({"AWS_ENDPOINT_URL": "127.0.0.1:4000"}, "AWS_ENDPOINT_URL"),
    ],
)
def test_bad_values_raise_an_error_naming_the_variable(changes: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as raised:
        ServiceConfig.from_env({**BASE, **changes})
    assert raised.value.variable == variable
    assert str(raised.value).startswith(variable)


def test_configuration_is_immutable() -> None:
    config = ServiceConfig.from_env(BASE)
    with pytest.raises(AttributeError):
        config.identity_mode = "iam-role"  # type: ignore[misc]


def test_regions_default_to_the_functions_region() -> None:
    config = ServiceConfig.from_env({**BASE, "AWS_REGION": "eu-west-1"})
    assert (config.aws_region, config.idc_region) == ("eu-west-1", "eu-west-1")
    assert dict(config.bucket_regions) == {}


def test_identity_center_and_buckets_may_live_in_other_regions() -> None:
    config = ServiceConfig.from_env(
        {
            **BASE,
            "AWS_REGION": "ap-southeast-2",
            "IDC_REGION": "us-east-1",
            "BUCKET_REGIONS": json.dumps(
                {"shopfast-data": "us-east-1", "shopfast-internal": "ap-southeast-2"}
            ),
        }
    )
    assert config.idc_region == "us-east-1"
    assert dict(config.bucket_regions) == {
        "shopfast-data": "us-east-1",
        "shopfast-internal": "ap-southeast-2",
    }


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("IDC_REGION", "us east 1"),
        ("AWS_REGION", "../../etc"),
        ("BUCKET_REGIONS", "shopfast-data=us-east-1"),
        ("BUCKET_REGIONS", '["us-east-1"]'),
        ("BUCKET_REGIONS", '{"Not_A_Bucket": "us-east-1"}'),
        ("BUCKET_REGIONS", '{"shopfast-data": "mars-1"}'),
        ("BUCKET_REGIONS", '{"shopfast-data": 1}'),
    ],
)
def test_region_settings_are_validated(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        ServiceConfig.from_env({**BASE, variable: value})
    assert raised.value.variable == variable


def test_an_issuer_with_a_trailing_slash_is_taken_as_its_tokens_say() -> None:
    """JumpCloud's tokens say iss "https://oauth.id.jumpcloud.com/": compared exactly, slash included; its
    discovery document is at <issuer without the final slash>/.well-known/openid-configuration (OpenID
    Connect Discovery 1.0 §4)."""
    from edge.jwks import discovery_url

    config = ServiceConfig.from_env({**BASE, "JWT_ISSUER": "https://oauth.id.jumpcloud.com/"})
    assert config.jwt_issuer == "https://oauth.id.jumpcloud.com/"
    assert (
        discovery_url(config.jwt_issuer) == "https://oauth.id.jumpcloud.com/.well-known/openid-configuration"
    )
    assert discovery_url("https://idp.example.com/realms/shop") == (
        "https://idp.example.com/realms/shop/.well-known/openid-configuration"
    )
