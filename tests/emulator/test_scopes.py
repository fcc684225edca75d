"""Grant-scope matching: the decisions recorded in local/README.md, as pure logic."""

from __future__ import annotations

import pytest

from local.aws_emulator.s3control.data_access import covers, satisfies, specificity

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("scope", "target", "expected"),
    [
        ("s3://b/users/*", "s3://b/users/x", True),
        ("s3://b/users/*", "s3://b/users/*", True),
        ("s3://b/users/*", "s3://b/users/sub/*", True),
        ("s3://b/users/*", "s3://b/users/sub/deeper/key", True),
        ("s3://b/users/*", "s3://b/users/", True),
        ("s3://b/users/*", "s3://b/users*", False),  # wider: also users-archive/
        ("s3://b/users/*", "s3://b/users", False),
        ("s3://b/users/*", "s3://b/users-archive/old_list", False),
        ("s3://b/users/*", "s3://other/users/x", False),
        ("s3://b/users*", "s3://b/users-archive/old_list", True),
        ("s3://b/*", "s3://b/anything/at/all", True),
        ("s3://b/users/x", "s3://b/users/x", True),  # an object scope covers only itself
        ("s3://b/users/x", "s3://b/users/x/y", False),
        ("s3://b/users/x", "s3://b/users/x*", False),
    ],
)
def test_covers(scope: str, target: str, expected: bool) -> None:
    assert covers(scope, target) is expected


@pytest.mark.parametrize(
    ("granted", "requested", "expected"),
    [
        ("READWRITE", "READ", True),
        ("READWRITE", "WRITE", True),
        ("READWRITE", "READWRITE", True),
        ("READ", "READ", True),
        ("READ", "WRITE", False),
        ("READ", "READWRITE", False),
        ("WRITE", "READ", False),
        ("WRITE", "WRITE", True),
    ],
)
def test_satisfies(granted: str, requested: str, expected: bool) -> None:
    assert satisfies(granted, requested) is expected


def test_closer_scopes_are_more_specific() -> None:
    assert specificity("s3://b/users/sub/*") > specificity("s3://b/users/*") > specificity("s3://b/*")
    assert specificity("s3://b/users/x") > specificity("s3://b/users/x*")
