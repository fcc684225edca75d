"""Bounded, per-identity TTL caches (pure: no AWS, injectable clock).

- identity sessions: one per end-user identity, until shortly before the session expires;
- data-access credentials: per identity, found by *coverage* (a cached wider grant serves a narrower
  target; READWRITE serves READ and WRITE), kept until `Expiration` minus a margin;
- denials: per identity + target + permission, for a short while.

Keys always start with the identity, and lookups only ever look inside that identity's entries, so
nothing cached for one user can be served to another.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from lib.targets import GrantTarget, covers

Clock = Callable[[], float]
V = TypeVar("V")

SESSION_REFRESH_MARGIN_SECONDS = 300
CREDENTIALS_REFRESH_MARGIN_SECONDS = 300
DENIAL_TTL_SECONDS = 30
MAX_IDENTITIES = 1000
# Each identity session holds its own s3control client (~0.3 MB), so fewer sessions than identities.
MAX_SESSIONS = 256
MAX_CREDENTIALS_PER_IDENTITY = 32
MAX_DENIALS = 4096


def satisfies(cached_permission: str, wanted_permission: str) -> bool:
    return cached_permission == wanted_permission or cached_permission == "READWRITE"


class TtlCache(Generic[V]):
    """A least-recently-used map whose entries also expire at an absolute (epoch seconds) time.

    Thread-safe: Lambda runs one invocation at a time, but the local gateway hosts every function in one
    process, so two functions may touch the same module-level cache at once.
    """

    def __init__(self, max_entries: int, clock: Clock = time.time) -> None:
        self._entries: OrderedDict[object, tuple[float, V]] = OrderedDict()
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()

    def get(self, key: object) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires_at, value = entry
            if expires_at <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: object, value: V, expires_at: float) -> None:
        if expires_at <= self._clock():
            return
        with self._lock:
            self._entries[key] = (expires_at, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def pop(self, key: object) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def values(self) -> list[V]:
        """The live (unexpired) values, most recently used last."""
        now = self._clock()
        with self._lock:
            return [value for expires_at, value in self._entries.values() if expires_at > now]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


@dataclass(frozen=True)
class CachedGrant(Generic[V]):
    """Credentials valid for `scope` with `permission`, issued for `duration_seconds`."""

    scope: str
    permission: str
    privilege: str
    duration_seconds: int
    value: V


class CredentialCache(Generic[V]):
    """Data-access credentials per identity, looked up by what they cover."""

    def __init__(
        self,
        clock: Clock = time.time,
        *,
        max_identities: int = MAX_IDENTITIES,
        max_per_identity: int = MAX_CREDENTIALS_PER_IDENTITY,
        margin_seconds: int = CREDENTIALS_REFRESH_MARGIN_SECONDS,
    ) -> None:
        self._clock = clock
        self._by_identity: TtlCache[TtlCache[CachedGrant[V]]] = TtlCache(max_identities, clock)
        self._max_per_identity = max_per_identity
        self._margin = margin_seconds

    def find(
        self, identity: str, target: GrantTarget, permission: str, privilege: str, min_duration_seconds: int
    ) -> V | None:
        grants = self._by_identity.get(identity)
        if grants is None:
            return None
        for grant in reversed(grants.values()):
            if (
                grant.privilege == privilege
                and satisfies(grant.permission, permission)
                and grant.duration_seconds >= min_duration_seconds
                and covers(grant.scope, target)
            ):
                # A hit is a use: without this, 32 newer entries would evict a grant in constant use.
                grants.get((grant.scope, grant.permission, grant.privilege, grant.duration_seconds))
                return grant.value
        return None

    def store(self, identity: str, grant: CachedGrant[V], expires_at: float) -> None:
        fresh_until = expires_at - self._margin
        if fresh_until <= self._clock():
            return
        grants = self._by_identity.get(identity)
        if grants is None:
            grants = TtlCache(self._max_per_identity, self._clock)
        grants.put(
            (grant.scope, grant.permission, grant.privilege, grant.duration_seconds), grant, fresh_until
        )
        # The identity's bucket lives as long as its longest-lived entry could.
        self._by_identity.put(identity, grants, max(fresh_until, self._clock() + 1))

    def forget(self, identity: str) -> None:
        self._by_identity.pop(identity)

    def clear(self) -> None:
        self._by_identity.clear()


class SessionCache(Generic[V]):
    """One identity session per identity key, refreshed `margin_seconds` before it expires."""

    def __init__(
        self,
        clock: Clock = time.time,
        *,
        max_entries: int = MAX_SESSIONS,
        margin_seconds: int = SESSION_REFRESH_MARGIN_SECONDS,
    ) -> None:
        self._entries: TtlCache[V] = TtlCache(max_entries, clock)
        self._margin = margin_seconds

    def get(self, identity: str) -> V | None:
        return self._entries.get(identity)

    def store(self, identity: str, session: V, expires_at: float) -> None:
        self._entries.put(identity, session, expires_at - self._margin)

    def forget(self, identity: str) -> None:
        self._entries.pop(identity)

    def clear(self) -> None:
        self._entries.clear()


class DenialCache:
    """Recent denials per identity + target + permission (+ privilege and role), kept briefly."""

    def __init__(self, clock: Clock = time.time, *, ttl_seconds: int = DENIAL_TTL_SECONDS) -> None:
        self._entries: TtlCache[str] = TtlCache(MAX_DENIALS, clock)
        self._clock = clock
        self._ttl = ttl_seconds

    def is_denied(self, identity: str, target: GrantTarget, permission: str, privilege: str) -> str | None:
        return self._entries.get((identity, str(target), permission, privilege))

    def remember(
        self, identity: str, target: GrantTarget, permission: str, privilege: str, detail: str
    ) -> None:
        self._entries.put((identity, str(target), permission, privilege), detail, self._clock() + self._ttl)

    def clear(self) -> None:
        self._entries.clear()
