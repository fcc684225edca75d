"""AWS credentials as the domain holds them (STS's and GetDataAccess's answers), and the one failure that
says a session signing with them has expired upstream."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import TypeVar

import msgspec

from domain.errors import ServiceUnavailable

T = TypeVar("T")


class AwsCredentials(msgspec.Struct, frozen=True):
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime

    def __repr__(self) -> str:
        return (
            f"AwsCredentials(access_key_id={self.access_key_id!r}, expiration={self.expiration.isoformat()})"
        )


@lru_cache(maxsize=64)
def isoformat(moment: datetime) -> str:
    """A moment as the API states it: RFC 3339 in UTC, to the second. Cached: the URLs of a batch share
    their expiry (to the second), and each states it twice."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StaleSession(ServiceUnavailable):
    """The identity session signing a call has expired upstream: drop it and build a new one.

    Where nothing rebuilds it (an identity context that expired while AssumeRole ran, vended credentials
    S3 calls expired), the caller gets 503 with Retry-After: a retry starts from a fresh session."""

    def __init__(self, operation: str) -> None:
        super().__init__(f"{operation}: the session expired upstream; retry the request")
        self.operation = operation


def retry_once_if_stale(attempt: Callable[[], T], *, forget: Callable[[], None]) -> T:
    """The one stale-session retry: run `attempt`; if AWS finds the session it signed with stale, `forget`
    that session (or the credentials cached from it) and run `attempt` once more. A second refusal is a
    plain 503 with Retry-After (a later request starts from a fresh session), no longer `StaleSession`: a
    retry around this one (an S3 call around the vend that made its credentials) does not multiply it."""
    try:
        return attempt()
    except StaleSession:
        forget()
    try:
        return attempt()
    except StaleSession as stale:
        raise ServiceUnavailable(stale.detail) from stale
