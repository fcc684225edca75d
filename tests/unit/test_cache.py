"""Cache policy: per identity, exact lookup for handed-out credentials, coverage lookup for signing,
permission satisfaction, expiry margins, the reuse bound (max age), sizes."""

from __future__ import annotations

import pytest

from domain.cache import CachedGrant, CredentialCache, Denial, DenialCache, SessionCache, TtlCache
from domain.permissions import satisfies
from domain.targets import parse_target

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def grant(
    clock: FakeClock,
    scope: str,
    permission: str = "READ",
    privilege: str = "Default",
    duration: int = 3600,
    lifetime: float | None = None,
) -> CachedGrant[str]:
    expires_at = clock.now + (duration if lifetime is None else lifetime)
    return CachedGrant(scope, permission, privilege, duration, expires_at, value=f"{scope}|{permission}")


USER_LIST = parse_target("s3://shopfast-data/users/user_list")


def test_permission_satisfaction() -> None:
    assert satisfies("READWRITE", "READ")
    assert satisfies("READWRITE", "WRITE")
    assert satisfies("READ", "READ")
    assert not satisfies("READ", "WRITE")
    assert not satisfies("WRITE", "READ")
    assert not satisfies("READ", "READWRITE")


def test_a_wider_cached_grant_serves_narrower_targets_of_the_same_identity_only() -> None:
    clock = FakeClock()
    cache: CredentialCache[str] = CredentialCache(clock)
    cache.store("alice", grant(clock, "s3://shopfast-data/users/*"))
    assert cache.find_exact("alice", USER_LIST, "READ", "Default", 3600) == "s3://shopfast-data/users/*|READ"
    assert cache.find_exact("bob", USER_LIST, "READ", "Default", 3600) is None
    archive = parse_target("s3://shopfast-data/users-archive/old_list")
    assert cache.find_exact("alice", archive, "READ", "Default", 3600) is None
    assert cache.find_exact("alice", USER_LIST, "WRITE", "Default", 3600) is None
    assert cache.find_exact("alice", USER_LIST, "READ", "Minimal", 3600) is None


def test_handed_out_credentials_match_the_permission_exactly() -> None:
    clock = FakeClock()
    cache: CredentialCache[str] = CredentialCache(clock)
    cache.store("bob", grant(clock, "s3://shopfast-data/users/*", "READWRITE"))
    target = parse_target("s3://shopfast-data/users/new")
    assert cache.find_exact("bob", target, "READWRITE", "Default", 3600) is not None
    for narrower in ("READ", "WRITE"):
        assert cache.find_exact("bob", target, narrower, "Default", 3600) is None
    cache.store("carol", grant(clock, "s3://shopfast-data/users/*", "READ"))
    assert cache.find_exact("carol", target, "READWRITE", "Default", 3600) is None


def test_signing_may_use_a_covering_wider_entry() -> None:
    clock = FakeClock()
    cache: CredentialCache[str] = CredentialCache(clock)
    cache.store("bob", grant(clock, "s3://shopfast-data/users/*", "READWRITE"))
    target = parse_target("s3://shopfast-data/users/new")
    for permission in ("READ", "WRITE", "READWRITE"):
        assert cache.find_covering("bob", target, permission, 60) is not None
    assert cache.find_covering("bob", target, "READ", 3601) is None  # not enough life left for the URL
    assert cache.find_covering("bob", parse_target("s3://shopfast-data/feedback/x"), "READ", 60) is None


def test_minimal_reuses_only_an_entry_whose_scope_equals_the_target() -> None:
    clock = FakeClock()
    cache: CredentialCache[str] = CredentialCache(clock)
    cache.store("alice", grant(clock, "s3://shopfast-data/feedback/*", privilege="Minimal"))
    one = parse_target("s3://shopfast-data/feedback/2024-q1.csv")
    assert cache.find_exact("alice", one, "READ", "Minimal", 3600) is None
    assert cache.find_exact("alice", parse_target("s3://shopfast-data/feedback/*"), "READ", "Minimal", 3600)
    cache.store("alice", grant(clock, str(one), privilege="Minimal"))
    assert cache.find_exact("alice", one, "READ", "Minimal", 3600) == f"{one}|READ"


def test_handed_out_credentials_never_outlive_the_requested_duration() -> None:
    clock = FakeClock()
    cache: CredentialCache[str] = CredentialCache(clock)
    cache.store("alice", grant(clock, "s3://shopfast-data/users/*", duration=43200))
    assert cache.find_exact("alice", USER_LIST, "READ", "Default", 900) is None
    assert cache.find_exact("alice", USER_LIST, "READ", "Default", 3600) is None
    assert cache.find_exact("alice", USER_LIST, "READ", "Default", 43200) is not None
    cache.store("bob", grant(clock, "s3://shopfast-data/users/*", duration=900))
    assert cache.find_exact("bob", USER_LIST, "READ", "Default", 43200) is None


def test_entries_expire_a_margin_before_the_credentials() -> None:
    clock = FakeClock()
    cache: CredentialCache[str] = CredentialCache(clock, margin_seconds=300, max_age_seconds=43200)
    cache.store("alice", grant(clock, "s3://shopfast-data/users/*", lifetime=1000))
    clock.now += 699
    assert cache.find_exact("alice", USER_LIST, "READ", "Default", 3600) is not None
    clock.now += 2
    assert cache.find_exact("alice", USER_LIST, "READ", "Default", 3600) is None


def test_entries_are_reused_at_most_max_age_after_they_were_obtained() -> None:
    clock = FakeClock()
    cache: CredentialCache[str] = CredentialCache(clock, max_age_seconds=900)
    cache.store("alice", grant(clock, "s3://shopfast-data/users/*", duration=43200))
    clock.now += 899
    assert cache.find_covering("alice", USER_LIST, "READ", 60) is not None
    clock.now += 2
    assert cache.find_covering("alice", USER_LIST, "READ", 60) is None
    assert cache.find_exact("alice", USER_LIST, "READ", "Default", 43200) is None


def test_credentials_too_close_to_expiry_are_not_stored() -> None:
    clock = FakeClock()
    cache: CredentialCache[str] = CredentialCache(clock, margin_seconds=300)
    cache.store("alice", grant(clock, "s3://shopfast-data/users/*", lifetime=200))
    assert cache.find_covering("alice", parse_target("s3://shopfast-data/users/x"), "READ", 0) is None


def test_per_identity_entries_are_bounded() -> None:
    clock = FakeClock()
    cache: CredentialCache[str] = CredentialCache(clock, max_identities=2, max_per_identity=2)
    for index in range(3):
        cache.store("alice", grant(clock, f"s3://shopfast-data/p{index}/*"))
    assert cache.find_covering("alice", parse_target("s3://shopfast-data/p0/x"), "READ", 0) is None
    assert cache.find_covering("alice", parse_target("s3://shopfast-data/p2/x"), "READ", 0) is not None
    for user in ("bob", "carol"):
        cache.store(user, grant(clock, "s3://shopfast-data/p0/*"))
    assert cache.find_covering("alice", parse_target("s3://shopfast-data/p2/x"), "READ", 0) is None


def test_ttl_cache_is_lru_bounded_and_expires() -> None:
    clock = FakeClock()
    cache: TtlCache[int] = TtlCache(2, clock)
    cache.put("a", 1, clock.now + 10)
    cache.put("b", 2, clock.now + 10)
    assert cache.get("a") == 1  # a is now the most recently used
    cache.put("c", 3, clock.now + 10)
    assert cache.get("b") is None
    assert cache.get("a") == 1
    clock.now += 10
    assert cache.get("a") is None
    assert len(cache) == 1


def test_session_cache_refreshes_before_expiry() -> None:
    clock = FakeClock()
    sessions: SessionCache[str] = SessionCache(clock, margin_seconds=300, max_age_seconds=43200)
    sessions.store("alice", "session", clock.now + 3600)
    clock.now += 3299
    assert sessions.get("alice") == "session"
    clock.now += 2
    assert sessions.get("alice") is None
    assert sessions.get("bob") is None


def test_sessions_are_reused_at_most_max_age_after_they_were_obtained() -> None:
    clock = FakeClock()
    sessions: SessionCache[str] = SessionCache(clock, max_age_seconds=900)
    sessions.store("alice", "session", clock.now + 3600)
    clock.now += 899
    assert sessions.get("alice") == "session"
    clock.now += 2
    assert sessions.get("alice") is None


def test_denials_are_remembered_briefly_per_identity_target_permission() -> None:
    clock = FakeClock()
    denials = DenialCache(clock, ttl_seconds=30)
    target = parse_target("s3://shopfast-data/users/*")
    denials.remember("alice", target, "WRITE", "Default", "no grant")
    assert denials.is_denied("alice", target, "WRITE", "Default") == "no grant"
    assert denials.is_denied("alice", target, "READ", "Default") is None
    assert denials.is_denied("bob", target, "WRITE", "Default") is None
    clock.now += 31
    assert denials.is_denied("alice", target, "WRITE", "Default") is None


def test_denials_from_elsewhere_keep_their_end_and_never_outlive_this_caches_bound() -> None:
    clock = FakeClock()
    here = DenialCache(clock, ttl_seconds=30)
    target = parse_target("s3://shopfast-data/users/*")
    here.restore(
        "alice",
        [
            Denial(str(target), "WRITE", "Default", "no grant", clock.now + 10),
            Denial(str(target), "READ", "Default", "no grant", clock.now + 3600),  # never past 30 s here
        ],
    )
    clock.now += 11
    assert here.is_denied("alice", target, "WRITE", "Default") is None
    assert here.is_denied("alice", target, "READ", "Default") == "no grant"
    assert [denial.permission for denial in here.held_by("alice")] == ["READ"]
    assert here.held_by("bob") == []
    clock.now += 20
    assert here.is_denied("alice", target, "READ", "Default") is None


def test_a_grant_in_constant_use_outlives_newer_colder_entries() -> None:
    # Found by bench/ (memory pass): without a hit counting as a use, RSS grew as hot grants were re-vended.
    clock = FakeClock()
    cache: CredentialCache[str] = CredentialCache(clock, max_per_identity=2)
    cache.store("alice", grant(clock, "s3://shopfast-data/users/*"))
    for index in range(5):
        object_scope = f"s3://shopfast-data/feedback/item-{index}"
        cache.store("alice", grant(clock, object_scope, privilege="Minimal"))
        assert (
            cache.find_exact("alice", USER_LIST, "READ", "Default", 3600) == "s3://shopfast-data/users/*|READ"
        )
