"""The audit record's user fields, as they are or by keyed digest (AuditUserIdentifier)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator

import pytest

from domain.audit import USER_FIELDS, audit, name_users_by_digest, pseudonym

KEY = b"k" * 48
USER = {
    "subject": "0f1e2d3c",
    "identity": "c0ffee",
    "directoryUserId": "90677c1a-0041-70b1-6a3b-5e4f1a2b3c4d",
    "sourceIdentity": "alice@shopfast.example",
}


@pytest.fixture(autouse=True)
def as_they_are() -> Iterator[None]:
    name_users_by_digest(None)
    yield
    name_users_by_digest(None)


def test_as_they_are_by_default() -> None:
    record = audit("vend", "granted", target="s3://b/p/*", **USER)
    assert {name: record[name] for name in USER} == USER


def test_by_digest_every_user_field_and_nothing_else() -> None:
    name_users_by_digest(KEY)
    record = audit("vend", "granted", target="s3://b/p/*", accessKeyId="ASIAEXAMPLE", **USER)
    assert set(USER) == set(USER_FIELDS)
    for name, value in USER.items():
        expected = "hmac-sha256:" + hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()[:32]
        assert record[name] == expected == pseudonym(KEY, value)
    assert record["target"] == "s3://b/p/*"
    assert record["accessKeyId"] == "ASIAEXAMPLE"


def test_a_digest_depends_on_the_key_and_the_value() -> None:
    assert pseudonym(KEY, "alice") == pseudonym(KEY, "alice")
    assert pseudonym(KEY, "alice") != pseudonym(KEY, "bob")
    assert pseudonym(KEY, "alice") != pseudonym(b"other" * 10, "alice")
