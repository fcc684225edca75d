"""Revocation: an operator's "stop vending for this user now" (`make revoke`), learnt by every execution
environment within POLL_SECONDS and enforced on every route but health.

Each environment reads one revision item at most every POLL_SECONDS, and the list of revoked users only
when the revision changed (`domain.ports.RevocationStore`). The list holds digests of users (an email
address, or a directory user id), never the names. When a user is added, the environment drops everything
it holds in memory (sessions, credentials, denials, grant lists), so nothing obtained before the revocation
is served after it; `make revoke` deletes the user's shared entries itself. `make revoke-sessions` (every
vended session issued before now denied on the location roles) does the same for everyone.

Failing closed: if the state cannot be read for more than MAX_STALENESS_SECONDS (or has never been read by
this environment), the service answers 503 rather than vend to someone it may have been told to refuse.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from domain.audit import count, logger
from domain.errors import Revoked, ServiceError, ServiceUnavailable
from domain.keys import digest_key
from domain.ports import RevocationList, RevocationStore

POLL_SECONDS = 5.0
MAX_STALENESS_SECONDS = 60.0
Clock = Callable[[], float]


def user_digest(user: str) -> str:
    """How a revocation names a user: email addresses and directory user ids compared case-insensitively."""
    return digest_key("revoked-user/v1", user.strip().lower())


class Revocations:
    def __init__(
        self,
        store: RevocationStore,
        *,
        clock: Clock = time.monotonic,
        poll_seconds: float = POLL_SECONDS,
        max_staleness_seconds: float = MAX_STALENESS_SECONDS,
    ) -> None:
        self._store = store
        self._listeners: list[Callable[[], None]] = []
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._max_staleness = max_staleness_seconds
        self._revision: str | None = None
        self._list = RevocationList()
        self._polled_at: float | None = None
        self._read_at: float | None = None

    def on_revoke(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever a user is revoked or vended sessions are ended: whoever holds what was
        obtained for users (the vending service's caches) drops it."""
        self._listeners.append(listener)

    def refuse_if_revoked(self, *users: str | None) -> None:
        """403 `revoked` if any of `users` (an email, a directory user id) is revoked; 503 while the
        revocation state is unknown."""
        self._refresh()
        for user in users:
            if user and user_digest(user) in self._list.users:
                count("RevokedRefusals")
                raise Revoked("your access has been revoked; ask your administrator")

    def _refresh(self) -> None:
        now = self._clock()
        if self._polled_at is None or now - self._polled_at >= self._poll_seconds:
            self._polled_at = now
            try:
                self._read()
                self._read_at = now
            except ServiceError as error:
                count("RevocationStateUnreadable")
                logger.warning("revocation state unreadable", extra={"code": error.code})
        if self._read_at is None or now - self._read_at > self._max_staleness:
            raise ServiceUnavailable(
                "the revocation list cannot be read; vending is paused until it can", retry_after=5
            )

    def _read(self) -> None:
        revision = self._store.revision()
        if revision == self._revision and self._read_at is not None:
            return
        known, current = self._list, self._store.revocation_list()
        self._revision, self._list = revision, current
        added = current.users - known.users
        if added:
            count("RevocationsApplied", len(added))
        if added or current.sessions_before != known.sessions_before:
            for listener in self._listeners:
                listener()
