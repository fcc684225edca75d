"""The shared cache tier: what one execution environment obtained from AWS (identity sessions, vended
credentials), offered to every other through a store they all reach (`domain.ports.SharedStore`: DynamoDB,
each entry sealed under KMS, in `adapters.shared_state`).

Recent denials are shared too, as one bounded entry per identity (`DENIALS_ENTRY`): without them every
environment would ask AWS again why a caller without grants is refused. Two environments denying the same
caller at once may each write their own list and the later one stays: a denial lost that way costs one
GetDataAccess later, never a wrong answer.

It sits behind the in-memory caches (`domain.cache`): a miss in memory looks here before paying the
exchange, what is found is loaded into memory, and what the exchange obtains is written here too. The rules
stay the in-memory ones, because the entries go through them: an entry is kept only until its expiry minus
the margin and at most `CACHE_MAX_AGE_SECONDS` after it was obtained from AWS (not after it was copied), and
which entry may answer which request is decided by `CredentialCache.find_exact`/`find_covering` once loaded.

A failing store makes the service slower, never wrong and never down: each failure is counted (metric
`SharedCacheErrors`) and noted for the decision's audit record (`failures`), and the tier is then left
alone for BACKOFF_SECONDS, so a dead table costs one timeout per environment and backoff, not one per
request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from domain.audit import count, logger
from domain.cache import DEFAULT_MAX_AGE_SECONDS, TtlCache
from domain.errors import ServiceError
from domain.keys import digest_key
from domain.ports import SharedEntry, SharedStore

BACKOFF_SECONDS = 10
MAX_DISTRUSTED = 256
SESSION_ENTRY = "session"
# One entry holds all of an identity's recent denials, so a caller probing many targets grows neither its
# partition nor the Query every memory miss makes; the newest MAX_SHARED_DENIALS are shared, the rest stay
# in the environment that decided them.
DENIALS_ENTRY = "denials"
MAX_SHARED_DENIALS = 64
Clock = Callable[[], float]


GRANT_PREFIX = "grant/"


def grant_entry_name(scope: str, permission: str, privilege: str, duration_seconds: int) -> str:
    """An entry's name for credentials of `scope`: a digest, so the table never shows a scope."""
    return GRANT_PREFIX + digest_key("grant/v1", scope, permission, privilege, str(duration_seconds))


class SharedTier:
    def __init__(self, store: SharedStore, clock: Clock = time.time) -> None:
        self._store = store
        self._clock = clock
        # Identities whose shared entries AWS found stale here: not loaded again until this environment
        # stores fresh ones for them.
        self._distrusted: TtlCache[bool] = TtlCache(MAX_DISTRUSTED, clock)
        self._resting_until = 0.0
        self.failures = 0  # how many operations failed, ever: a decision compares before and after

    def entries(self, identity: str) -> dict[str, SharedEntry]:
        """The identity's fresh entries by name (none while the store is failing). Read at each memory
        miss: another environment may have added one a moment ago."""
        if self._resting() or self._distrusted.get(identity):
            return {}
        try:
            found = self._store.entries(identity)
        except ServiceError as error:
            self._failed("read", error)
            return {}
        now = self._clock()
        fresh = {entry.name: entry for entry in found if entry.fresh_until > now}
        count("SharedCacheHits" if fresh else "SharedCacheMisses")
        return fresh

    def store(
        self,
        identity: str,
        name: str,
        payload: bytes,
        *,
        obtained_at: float,
        fresh_until: float,
        users: Sequence[str] = (),
    ) -> None:
        """Offer an entry to every environment (nothing if it is no longer fresh, or the store failing)."""
        self._distrusted.pop(identity)
        if fresh_until <= self._clock() or self._resting():
            return
        try:
            self._store.put(identity, SharedEntry(name, payload, obtained_at, fresh_until), users)
        except ServiceError as error:
            self._failed("write", error)

    def distrust(self, identity: str, seconds: float = DEFAULT_MAX_AGE_SECONDS) -> None:
        """AWS refused something of `identity`'s entries: load none of them until fresh ones are stored
        here (or `seconds` pass)."""
        self._distrusted.put(identity, True, self._clock() + seconds)

    def _resting(self) -> bool:
        return self._clock() < self._resting_until

    def _failed(self, what: str, error: ServiceError) -> None:
        self.failures += 1
        self._resting_until = self._clock() + BACKOFF_SECONDS
        count("SharedCacheErrors")
        logger.warning(
            "shared cache unavailable; vending goes on without it",
            extra={"operation": what, "code": error.code, "backoffSeconds": BACKOFF_SECONDS},
        )
