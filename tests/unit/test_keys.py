"""Every cache key and MAC input encodes its parts unambiguously: two different tuples that join to the
same string (with `|`, the separator the keys used, or NUL, the uploads' MAC separator) get different
keys."""

from __future__ import annotations

import pytest

from domain.caller import Caller
from domain.errors import NotFound
from domain.identity import IdentityExchange
from domain.keys import canonical, digest_key
from domain.targets import parse_target
from domain.uploads import UploadBinding
from tests.unit.test_identity_and_errors import CONFIG, SALES

pytestmark = pytest.mark.unit

ISSUER = "https://idp.example.com"


def caller(subject: str, email: str) -> Caller:
    return Caller(ISSUER, subject, email, None, ("Sales",), token="t", user=email)


@pytest.mark.parametrize("separator", ["|", "\x00", ",", '","'])
def test_the_encoding_keeps_parts_apart_whatever_they_hold(separator: str) -> None:
    left, right = ("a" + separator + "b", "c"), ("a", "b" + separator + "c")
    assert separator.join(left) == separator.join(right)
    assert canonical("k/v1", *left) != canonical("k/v1", *right)
    assert digest_key("k/v1", *left) != digest_key("k/v1", *right)


def test_a_key_of_one_purpose_never_equals_a_key_of_another() -> None:
    assert digest_key("identity/v1", "a", "b") != digest_key("role-session/v1", "a", "b")
    assert digest_key("x", "a") != digest_key("x", "a", "")


def test_the_identity_key_of_a_subject_and_email_that_join_alike_differs() -> None:
    cached, colliding = caller("T|x", "alice@shopfast.example"), caller("T", "x|alice@shopfast.example")
    assert "|".join((cached.issuer, cached.subject, cached.user)) == "|".join(
        (colliding.issuer, colliding.subject, colliding.user)
    )
    assert cached.identity_key != colliding.identity_key
    assert "alice" not in cached.identity_key
    assert len(cached.identity_key) == 64 and int(cached.identity_key, 16) >= 0  # a SHA-256 digest


def test_the_role_session_key_of_an_identity_and_role_that_join_alike_differs() -> None:
    exchange = IdentityExchange(CONFIG, gateway=None)  # type: ignore[arg-type]
    cached = caller("T|x", "alice@shopfast.example")
    colliding = caller("T", "x|alice@shopfast.example")
    assert exchange.session_key(cached, None) != exchange.session_key(colliding, None)
    # The role part is encoded apart from the identity too.
    assert exchange.session_key(cached, None) == digest_key("role-session/v1", cached.identity_key, SALES)


def test_the_upload_mac_binds_each_part_apart() -> None:
    binding = UploadBinding.with_keys(b"k" * 48)
    owner, other = caller("T|x", "alice@shopfast.example"), caller("T", "x|alice@shopfast.example")
    target = parse_target("s3://shopfast-data/feedback/big.bin")
    upload_id = binding.seal(owner, target, "s3-upload-id")
    assert binding.open(owner, target, upload_id) == "s3-upload-id"
    with pytest.raises(NotFound):
        binding.open(other, target, upload_id)
    # The MAC input is the canonical encoding: a NUL in S3's id cannot shift bytes between parts.
    assert canonical("upload/v2", "i", "s3://b/k", "u\x00v") != canonical(
        "upload/v2", "i\x00s3://b/k", "u", "v"
    )
