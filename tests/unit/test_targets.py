"""Grant target parsing, validation and scope coverage."""

from __future__ import annotations

import pytest

from domain.errors import InvalidRequest
from domain.targets import GrantTarget, covers, parse_prefix, parse_target

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "bucket", "key", "is_prefix"),
    [
        ("s3://shopfast-data/users/user_list", "shopfast-data", "users/user_list", False),
        ("s3://shopfast-data/users/*", "shopfast-data", "users/", True),
        ("s3://shopfast-data/users*", "shopfast-data", "users", True),
        ("s3://shopfast-data/*", "shopfast-data", "", True),
        ("s3://shopfast-data/a/b/c.txt", "shopfast-data", "a/b/c.txt", False),
        ("s3://shopfast-data/ünïcode/файл", "shopfast-data", "ünïcode/файл", False),
    ],
)
def test_valid_targets_parse(text: str, bucket: str, key: str, is_prefix: bool) -> None:
    target = parse_target(text)
    assert (target.bucket, target.key, target.is_prefix) == (bucket, key, is_prefix)
    assert str(target) == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "non-empty"),
        ("shopfast-data/users/*", "s3://"),
        ("s3://", "bucket"),
        ("s3://shopfast-data", "name an object"),
        ("s3://shopfast-data/", "empty"),
        ("s3://Shopfast-Data/users/*", "bucket"),
        ("s3://ab/users/*", "bucket"),
        ("s3://shop..fast/users/*", "bucket"),
        ("s3://192.168.1.1/users/*", "bucket"),
        ("s3://shopfast-data//users/*", "'/'"),
        ("s3://shopfast-data/users//x", "empty path segments"),
        ("s3://shopfast-data/users/../hr/x", "'..'"),
        ("s3://shopfast-data/./users/x", "'.'"),
        ("s3://shopfast-data/users/*/x", "'*'"),
        ("s3://shopfast-data/us*ers/x", "'*'"),
        ("s3://shopfast-data/users/**", "'*'"),
        ("s3://shopfast-data/users/\x00x", "control"),
        ("s3://shopfast-data/users/\nx", "control"),
        ("s3://shopfast-data/users/\u202ex", "control"),
        ("s3://shopfast-data/users/", "cannot end with '/'"),
        ("s3://shopfast-data/" + "k" * 1025, "1024 bytes"),
        ("s3://shopfast-data/" + "é" * 513, "1024 bytes"),
        ("s3://shopfast-data/" + "\ud800", "UTF-8"),
    ],
)
def test_invalid_targets_are_400_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_target(text)
    assert raised.value.status == 400
    assert reason in raised.value.detail


def test_key_of_exactly_1024_bytes_is_accepted() -> None:
    assert len(parse_target("s3://shopfast-data/" + "k" * 1024).key) == 1024


def test_allowed_buckets_restrict_targets() -> None:
    assert parse_target("s3://shopfast-data/users/*", {"shopfast-data"}).bucket == "shopfast-data"
    with pytest.raises(InvalidRequest, match="not served"):
        parse_target("s3://other-bucket/users/*", {"shopfast-data"})


def test_non_string_target_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        parse_target(42)


def test_parse_prefix_accepts_a_listing_prefix() -> None:
    assert parse_prefix("s3://shopfast-data/users/") == GrantTarget("shopfast-data", "users/", True)
    assert parse_prefix("s3://shopfast-data/users/*") == GrantTarget("shopfast-data", "users/", True)


@pytest.mark.parametrize(
    ("scope", "target", "expected"),
    [
        ("s3://shopfast-data/users/*", "s3://shopfast-data/users/user_list", True),
        ("s3://shopfast-data/users/*", "s3://shopfast-data/users/*", True),
        ("s3://shopfast-data/users/*", "s3://shopfast-data/users/deep/*", True),
        ("s3://shopfast-data/users/*", "s3://shopfast-data/users-archive/old_list", False),
        ("s3://shopfast-data/users/*", "s3://shopfast-data/users*", False),
        ("s3://shopfast-data/users/*", "s3://shopfast-internal/users/x", False),
        ("s3://shopfast-data/users*", "s3://shopfast-data/users-archive/old_list", True),
        ("s3://shopfast-data/*", "s3://shopfast-data/anything/at/all", True),
        ("s3://shopfast-data/users/user_list", "s3://shopfast-data/users/user_list", True),
        ("s3://shopfast-data/users/user_list", "s3://shopfast-data/users/user_list2", False),
        ("s3://shopfast-data/users/user_list", "s3://shopfast-data/users/*", False),
    ],
)
def test_scope_coverage(scope: str, target: str, expected: bool) -> None:
    assert covers(scope, parse_target(target)) is expected
