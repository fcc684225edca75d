"""Bounded, per-identity TTL caches (pure: no AWS, injectable clock).

- identity sessions: one per end-user identity, until shortly before the session expires;
- data-access credentials: per identity, kept until `Expiration` minus a margin, and looked up two ways:
  `find_exact` for credentials handed to a caller (same permission, same privilege, same requested
  duration, and for `Minimal` the same scope: never wider than asked), `find_covering` for the service's
  own signing, where the URL or the call fixes method, key and expiry (a READWRITE entry may sign a GET);
- denials: per identity + target + permission, for a short while.

Every entry is reused at most `max_age_seconds` after it was obtained (`CACHE_MAX_AGE_SECONDS`), whatever
its own lifetime: that bounds how long a revoked grant or group membership keeps working here.

Keys always start with the identity, and lookups only ever look inside that identity's entries, so
nothing cached for one user can be served to another.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

import msgspec

from domain.permissions import Permission, Privilege, satisfies
from domain.targets import GrantTarget, covers

Clock = Callable[[], float]
V = TypeVar("V")

SESSION_REFRESH_MARGIN_SECONDS = 300
CREDENTIALS_REFRESH_MARGIN_SECONDS = 300
DENIAL_TTL_SECONDS = 30
MAX_IDENTITIES = 1000
# As many as the AWS adapter keeps s3control clients (one per session and Region, ~0.3 MB each).
MAX_SESSIONS = 256
MAX_CREDENTIALS_PER_IDENTITY = 32
MAX_DENIALS = 4096
DEFAULT_MAX_AGE_SECONDS = 900


class TtlCache(Generic[V]):
    """A least-recently-used map whose entries also expire at an absolute (epoch seconds) time.

    Thread-safe: Lambda runs one invocation at a time, but tests and `make invoke` host functions in one
    process, where two may touch the same cache at once.
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
        return [value for _, value in self.items()]

    def items(self) -> list[tuple[object, V]]:
        """The live (unexpired) entries, most recently used last."""
        now = self._clock()
        with self._lock:
            return [(key, value) for key, (expires_at, value) in self._entries.items() if expires_at > now]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class CachedGrant(msgspec.Struct, Generic[V], frozen=True):
    """Credentials valid for `scope` with `permission` until `expires_at`, issued for `duration_seconds`."""

    scope: str
    permission: Permission
    privilege: Privilege
    duration_seconds: int
    expires_at: float
    value: V

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.scope, self.permission, self.privilege, self.duration_seconds)


class CredentialCache(Generic[V]):
    """Data-access credentials per identity."""

    def __init__(
        self,
        clock: Clock = time.time,
        *,
        max_identities: int = MAX_IDENTITIES,
        max_per_identity: int = MAX_CREDENTIALS_PER_IDENTITY,
        margin_seconds: int = CREDENTIALS_REFRESH_MARGIN_SECONDS,
        max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS,
    ) -> None:
        self._clock = clock
        self._by_identity: TtlCache[TtlCache[CachedGrant[V]]] = TtlCache(max_identities, clock)
        self._max_per_identity = max_per_identity
        self._margin = margin_seconds
        self._max_age = max_age_seconds

    def find_exact(
        self,
        identity: str,
        target: GrantTarget,
        permission: Permission,
        privilege: Privilege,
        duration_seconds: int,
    ) -> V | None:
        """Credentials to hand to a caller: what GetDataAccess would answer this very request, no wider.

        The same permission (READWRITE never answers READ: the caller would hold keys that write), the
        same privilege and requested duration (the answer never outlives what was asked), and for
        `Minimal` the same scope (prefix-wide keys never answer a one-object request)."""

        def matches(grant: CachedGrant[V]) -> bool:
            if (grant.permission, grant.privilege, grant.duration_seconds) != (
                permission,
                privilege,
                duration_seconds,
            ):
                return False
            if privilege == "Minimal":
                return grant.scope == str(target)
            return covers(grant.scope, target)

        return self._find(identity, matches)

    def find_covering(
        self, identity: str, target: GrantTarget, permission: Permission, min_remaining_seconds: int
    ) -> V | None:
        """Credentials the service signs with itself (presigned URLs, listings): any entry whose scope
        covers the target with enough permission and at least `min_remaining_seconds` of life left."""
        now = self._clock()

        def matches(grant: CachedGrant[V]) -> bool:
            return (
                satisfies(grant.permission, permission)
                and grant.expires_at - now >= min_remaining_seconds
                and covers(grant.scope, target)
            )

        return self._find(identity, matches)

    def _find(self, identity: str, matches: Callable[[CachedGrant[V]], bool]) -> V | None:
        grants = self._by_identity.get(identity)
        if grants is None:
            return None
        for grant in reversed(grants.values()):
            if matches(grant):
                # A hit is a use: without this, 32 newer entries would evict a grant in constant use.
                grants.get(grant.key)
                return grant.value
        return None

    def store(self, identity: str, grant: CachedGrant[V], *, obtained_at: float | None = None) -> float:
        """Keep `grant` (obtained from AWS at `obtained_at`, by default now); returns until when it is
        fresh (not stored if that is not in the future)."""
        now = self._clock()
        fresh_until = min(grant.expires_at - self._margin, (obtained_at or now) + self._max_age)
        if fresh_until <= now:
            return fresh_until
        grants = self._by_identity.get(identity)
        if grants is None:
            grants = TtlCache(self._max_per_identity, self._clock)
        grants.put(grant.key, grant, fresh_until)
        # The identity's bucket lives as long as its longest-lived entry could.
        self._by_identity.put(identity, grants, max(fresh_until, now + 1))
        return fresh_until

    def forget(self, identity: str) -> None:
        self._by_identity.pop(identity)

    def clear(self) -> None:
        self._by_identity.clear()


class SessionCache(Generic[V]):
    """One identity session per identity key, refreshed `margin_seconds` before it expires and reused at
    most `max_age_seconds` after it was obtained."""

    def __init__(
        self,
        clock: Clock = time.time,
        *,
        max_entries: int = MAX_SESSIONS,
        margin_seconds: int = SESSION_REFRESH_MARGIN_SECONDS,
        max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS,
    ) -> None:
        self._entries: TtlCache[V] = TtlCache(max_entries, clock)
        self._clock = clock
        self._margin = margin_seconds
        self._max_age = max_age_seconds

    def get(self, identity: str) -> V | None:
        return self._entries.get(identity)

    def store(
        self, identity: str, session: V, expires_at: float, *, obtained_at: float | None = None
    ) -> float:
        """Keep `session` (obtained from AWS at `obtained_at`, by default now); returns until when it is
        fresh."""
        fresh_until = min(expires_at - self._margin, (obtained_at or self._clock()) + self._max_age)
        self._entries.put(identity, session, fresh_until)
        return fresh_until

    def forget(self, identity: str) -> None:
        self._entries.pop(identity)

    def clear(self) -> None:
        self._entries.clear()


class Denial(msgspec.Struct, frozen=True, array_like=True):
    """One remembered refusal: what was asked, what the caller was told, and until when it stands."""

    target: str
    permission: Permission
    privilege: Privilege
    detail: str
    until: float


class DenialCache:
    """Recent denials per identity + target + permission (+ privilege and role), kept briefly."""

    def __init__(self, clock: Clock = time.time, *, ttl_seconds: int = DENIAL_TTL_SECONDS) -> None:
        self._entries: TtlCache[Denial] = TtlCache(MAX_DENIALS, clock)
        self._clock = clock
        self._ttl = ttl_seconds

    def is_denied(
        self, identity: str, target: GrantTarget, permission: Permission, privilege: Privilege
    ) -> str | None:
        denial = self._entries.get((identity, str(target), permission, privilege))
        return None if denial is None else denial.detail

    def remember(
        self, identity: str, target: GrantTarget, permission: Permission, privilege: Privilege, detail: str
    ) -> None:
        self.restore(
            identity, [Denial(str(target), permission, privilege, detail, self._clock() + self._ttl)]
        )

    def restore(self, identity: str, denials: Iterable[Denial]) -> None:
        """Remember denials decided elsewhere (another environment), each until its own end, never longer
        than this cache would have kept it."""
        latest = self._clock() + self._ttl
        for denial in denials:
            until = min(denial.until, latest)
            key = (identity, denial.target, denial.permission, denial.privilege)
            self._entries.put(key, msgspec.structs.replace(denial, until=until), until)

    def held_by(self, identity: str) -> list[Denial]:
        """The identity's live denials, most recently used last."""
        return [
            denial for key, denial in self._entries.items() if isinstance(key, tuple) and key[0] == identity
        ]

    def clear(self) -> None:
        self._entries.clear()
