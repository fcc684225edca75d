"""`AuditUserIdentifier: digest` (template.yaml): the audit trail names users by keyed digest.

The functions are configured by resolving the template with the parameter set, as a deployment would be, so
the secret, the environment variable and the policy all come from the one place that declares them. The
check is the leak itself: with digest on, the user's email address and `sub` appear in no log line at all,
and an investigator holding the key finds every one of the user's records by computing the digest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import jwt
import pytest

from domain.audit import pseudonym
from local.aws_emulator.seed import AUDIT_PSEUDONYM_SECRET
from local.stack import LocalStack
from tests.integration.handler_calls import call, service_configured
from tests.integration.test_audit_and_logs import audit_records, formatted_logs

pytestmark = pytest.mark.integration

ALICE = "alice@shopfast.example"
READ_USERS = {"target": "s3://shopfast-data/users/*", "permission": "READ"}
WRITE_USERS = {"target": "s3://shopfast-data/users/*", "permission": "WRITE"}
BY_DIGEST = {"AuditUserIdentifier": "digest"}


def pseudonym_key(stack: LocalStack) -> bytes:
    """What an investigator reads to find a user's records (docs/operations.md, "Naming users by digest")."""
    secret = stack.client("secretsmanager").get_secret_value(SecretId=AUDIT_PSEUDONYM_SECRET)
    return str(secret["SecretString"]).encode()


@pytest.fixture(params=["identity-center", "iam-role"])
def by_digest(request: pytest.FixtureRequest, local_stack: LocalStack) -> Iterator[str]:
    local_stack.clear_faults()
    with service_configured(local_stack, BY_DIGEST, IDENTITY_MODE=request.param) as environment:
        assert environment["AUDIT_PSEUDONYM_SECRET"] == AUDIT_PSEUDONYM_SECRET
        yield request.param
    local_stack.clear_faults()


def test_the_template_names_users_as_they_are_unless_told_otherwise(local_stack: LocalStack) -> None:
    with service_configured(local_stack) as environment:
        assert "AUDIT_PSEUDONYM_SECRET" not in environment


def test_with_digest_no_log_line_holds_the_users_email_or_sub(
    by_digest: str,
    local_stack: LocalStack,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    token = local_stack.token(ALICE)
    subject = jwt.decode(token, options={"verify_signature": False})["sub"]
    assert call("POST", "/v1/credentials", token=token, body=READ_USERS).status == 200
    assert call("POST", "/v1/credentials", token=token, body=WRITE_USERS).status == 403
    assert call("GET", "/v1/me", token=token).status == 200
    assert call("GET", "/v1/grants", token=token).status == 200

    lines = formatted_logs(caplog)
    captured = capsys.readouterr()
    logs = "\n".join([*lines, captured.out, captured.err])
    assert ALICE not in logs
    assert ALICE.split("@")[0] not in logs.lower()
    assert subject not in logs

    key = pseudonym_key(local_stack)
    records = audit_records(lines)
    assert {(record["action"], record["outcome"]) for record in records} == {
        ("vend", "granted"),
        ("vend", "denied"),
        ("describe", "described"),
        ("list-grants", "listed"),
    }
    # One user, one digest: every record joins on it, and the key computes it from the token's sub.
    assert {record["subject"] for record in records} == {pseudonym(key, subject)}
    assert len({record["identity"] for record in records}) == 1
    granted = next(record for record in records if record["outcome"] == "granted")
    if by_digest == "iam-role":
        # The source identity is the email address: found from the address alone.
        assert granted["sourceIdentity"] == pseudonym(key, ALICE)
    else:
        assert granted["directoryUserId"].startswith("hmac-sha256:")
    # What is not about the user is written as it is.
    assert granted["target"] == READ_USERS["target"]
    assert granted["accessKeyId"].startswith("ASIA")


def test_without_the_key_nothing_is_decided(
    local_stack: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    """Fail closed: an environment that cannot read the key vends nothing (it could not audit the vend as
    configured), answers 5xx, and reads the key again at the next request."""
    caplog.set_level(logging.DEBUG)
    local_stack.clear_faults()
    with service_configured(local_stack, BY_DIGEST):
        local_stack.set_fault("GetSecretValue", server_error=10)
        token = local_stack.token(ALICE)
        refused = call("POST", "/v1/credentials", token=token, body=READ_USERS)
        assert refused.status >= 500
        assert "credentials" not in (refused.body or {})
        assert not audit_records(formatted_logs(caplog))
        local_stack.clear_faults()
        assert call("POST", "/v1/credentials", token=token, body=READ_USERS).status == 200
    assert ALICE not in "\n".join(formatted_logs(caplog))
