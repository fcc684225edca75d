"""Pure parts of the identity exchange (role choice, session names) and the AWS error mapping."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from adapters.aws_errors import from_aws_error
from domain.caller import Caller
from domain.config import ServiceConfig
from domain.errors import (
    AccessDenied,
    InvalidRequest,
    ServiceUnavailable,
    Unauthorized,
    UpstreamError,
    UpstreamTimeout,
)
from domain.identity import IdentityExchange, session_name_for

pytestmark = pytest.mark.unit

SALES = "arn:aws:iam::111111111111:role/ShopFast-Sales"
HR = "arn:aws:iam::111111111111:role/ShopFast-HR"
CONFIG = ServiceConfig.from_env(
    {
        "IDENTITY_MODE": "iam-role",
        "JWT_ISSUER": "https://idp.example.com",
        "JWT_AUDIENCE": "shopfast-vending",
        "ACCESS_GRANTS_ACCOUNT_ID": "111111111111",
        "ROLE_MAPPING": f'{{"Sales": "{SALES}", "HR": "{HR}"}}',
    }
)
# The exchange's role choice needs no AWS: the gateway is never reached by these calls.
EXCHANGE = IdentityExchange(CONFIG, gateway=None)  # type: ignore[arg-type]


def caller(*groups: str, email: str | None = "bob@shopfast.example", subject: str = "sub-1") -> Caller:
    return Caller("https://idp.example.com", subject, email, None, tuple(groups), token="t")


def test_a_single_mapped_group_is_chosen() -> None:
    assert EXCHANGE.mapped_role(caller("Sales", "Unmapped"), None) == ("Sales", SALES)


def test_several_mapped_groups_need_a_named_role() -> None:
    with pytest.raises(InvalidRequest) as raised:
        EXCHANGE.mapped_role(caller("Sales", "HR"), None)
    assert "Sales" in raised.value.detail and "HR" in raised.value.detail
    assert EXCHANGE.mapped_role(caller("Sales", "HR"), "HR") == ("HR", HR)
    assert EXCHANGE.mapped_role(caller("Sales", "HR"), SALES) == ("Sales", SALES)


def test_a_role_that_is_not_the_callers_is_403() -> None:
    with pytest.raises(AccessDenied):
        EXCHANGE.mapped_role(caller("Sales"), "HR")


def test_no_mapped_group_is_403() -> None:
    with pytest.raises(AccessDenied):
        EXCHANGE.mapped_role(caller("Unmapped"), None)
    with pytest.raises(AccessDenied):
        EXCHANGE.mapped_role(caller(), None)


def test_session_keys_differ_per_user_and_per_role() -> None:
    both = caller("Sales", "HR")
    assert EXCHANGE.session_key(both, "Sales") != EXCHANGE.session_key(both, "HR")
    assert EXCHANGE.session_key(caller("Sales"), None) != EXCHANGE.session_key(
        caller("Sales", subject="sub-2"), None
    )


@pytest.mark.parametrize(
    "email",
    [
        "alice@shopfast.example",
        "o'brien+tag@shopfast.example",
        "x" * 100 + "@shopfast.example",
        "名前@shopfast.example",
        None,
    ],
)
def test_session_names_are_valid_for_sts(email: str | None) -> None:
    name = session_name_for(caller(email=email))
    assert re.fullmatch(r"[\w+=,.@-]{2,64}", name, re.ASCII)


def test_sanitised_session_names_stay_distinct_per_user() -> None:
    first = session_name_for(caller(email="a b@shopfast.example", subject="one"))
    second = session_name_for(caller(email="a b@shopfast.example", subject="two"))
    assert first != second


def client_error(code: str, status: int, operation: str = "GetDataAccess") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )


@pytest.mark.parametrize(
    ("error", "operation", "expected", "status"),
    [
        (client_error("AccessDenied", 403), "GetDataAccess", AccessDenied, 403),
        (client_error("AccessDeniedException", 400), "CreateTokenWithIAM", AccessDenied, 403),
        (client_error("Throttling", 400), "AssumeRole", ServiceUnavailable, 503),
        (client_error("SlowDown", 503), "GetDataAccess", ServiceUnavailable, 503),
        (client_error("Whatever", 429), "GetDataAccess", ServiceUnavailable, 503),
        (client_error("InvalidGrantException", 400), "CreateTokenWithIAM", Unauthorized, 401),
        (client_error("InternalError", 500), "GetDataAccess", UpstreamError, 502),
        (client_error("ValidationError", 400), "AssumeRole", UpstreamError, 502),
        (ReadTimeoutError(endpoint_url="http://x"), "GetDataAccess", UpstreamTimeout, 504),
        (ConnectTimeoutError(endpoint_url="http://x"), "AssumeRole", UpstreamTimeout, 504),
        (EndpointConnectionError(endpoint_url="http://x"), "AssumeRole", UpstreamError, 502),
        (RuntimeError("boom"), "AssumeRole", UpstreamError, 502),
    ],
)
def test_one_mapping_from_aws_errors(error: Exception, operation: str, expected: type, status: int) -> None:
    mapped = from_aws_error(error, operation)
    assert isinstance(mapped, expected)
    assert mapped.status == status
    if status == 503:
        assert mapped.headers["Retry-After"]
    if status == 401:
        assert mapped.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
