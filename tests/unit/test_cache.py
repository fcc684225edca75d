"""Cache policy: per identity, coverage lookup, permission satisfaction, expiry margins, bounds."""

from __future__ import annotations

import pytest

from lib.cache import CachedGrant, CredentialCache, DenialCache, SessionCache, TtlCache, satisfies
from lib.targets import parse_target

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def grant(
    scope: str, permission: str = "READ", privilege: str = "Default", duration: int = 3600
) -> CachedGrant:
    return CachedGrant(scope, permission, privilege, duration, value=f"{scope}|{permission}")


def test_permission_satisfaction() -> None:
    assert satisfies("READWRITE", "READ")
    assert satisfies("READWRITE", "WRITE")
    assert satisfies("READ", "READ")
    assert not satisfies("READ", "WRITE")
    assert not satisfies("WRITE", "READ")
    assert not satisfies("READ", "READWRITE")


def test_wider_cached_grant_serves_narrower_targets_of_the_same_identity_only() -> None:
    clock = FakeClock()
    cache: CredentialCache[str] = CredentialCache(clock)
    cache.store("alice", grant("s3://shopfast-data/users/*"), clock.now + 3600)
    target = parse_target("s3://shopfast-data/users/user_list")
    assert cache.find("alice", target, "READ", "Default", 0) == "s3://shopfast-data/users/*|READ"
    assert cache.find("bob", target, "READ", "Default", 0) is None
    assert (
        cache.find("alice", parse_target("s3://shopfast-data/users-archive/old_list"), "READ", "Default", 0)
        is None
    )
    assert cache.find("alice", target, "WRITE", "Default", 0) is None
    assert cache.find("alice", target, "READ", "Minimal", 0) is None


def test_readwrite_serves_read_and_write() -> None:
    clock = FakeClock()
    cache: CredentialCache[str] = CredentialCache(clock)
    cache.store("bob", grant("s3://shopfast-data/users/*", "READWRITE"), clock.now + 3600)
    target = parse_target("s3://shopfast-data/users/new")
    for permission in ("READ", "WRITE", "READWRITE"):
        assert cache.find("bob", target, permission, "Default", 0) is not None


def test_entries_expire_a_margin_before_the_credentials() -> None:
    clock = FakeClock()
    cache: CredentialCache[str] = CredentialCache(clock, margin_seconds=300)
    cache.store("alice", grant("s3://shopfast-data/users/*"), clock.now + 1000)
    target = parse_target("s3://shopfast-data/users/user_list")
    clock.now += 699
    assert cache.find("alice", target, "READ", "Default", 0) is not None
    clock.now += 2
    assert cache.find("alice", target, "READ", "Default", 0) is None


def test_credentials_too_close_to_expiry_are_not_stored() -> None:
    clock = FakeClock()
    cache: CredentialCache[str] = CredentialCache(clock, margin_seconds=300)
    cache.store("alice", grant("s3://shopfast-data/users/*"), clock.now + 200)
    assert cache.find("alice", parse_target("s3://shopfast-data/users/x"), "READ", "Default", 0) is None


def test_a_request_for_a_longer_duration_is_not_served_by_shorter_credentials() -> None:
    clock = FakeClock()
    cache: CredentialCache[str] = CredentialCache(clock)
    cache.store("alice", grant("s3://shopfast-data/users/*", duration=3600), clock.now + 3600)
    target = parse_target("s3://shopfast-data/users/x")
    assert cache.find("alice", target, "READ", "Default", 43200) is None
    assert cache.find("alice", target, "READ", "Default", 900) is not None


def test_per_identity_entries_are_bounded() -> None:
    clock = FakeClock()
    cache: CredentialCache[str] = CredentialCache(clock, max_identities=2, max_per_identity=2)
    for index in range(3):
        cache.store("alice", grant(f"s3://shopfast-data/p{index}/*"), clock.now + 3600)
    assert cache.find("alice", parse_target("s3://shopfast-data/p0/x"), "READ", "Default", 0) is None
    assert cache.find("alice", parse_target("s3://shopfast-data/p2/x"), "READ", "Default", 0) is not None
    for user in ("bob", "carol"):
        cache.store(user, grant("s3://shopfast-data/p0/*"), clock.now + 3600)
    assert cache.find("alice", parse_target("s3://shopfast-data/p2/x"), "READ", "Default", 0) is None


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
    sessions: SessionCache[str] = SessionCache(clock, margin_seconds=300)
    sessions.store("alice", "session", clock.now + 3600)
    clock.now += 3299
    assert sessions.get("alice") == "session"
    clock.now += 2
    assert sessions.get("alice") is None
    assert sessions.get("bob") is None


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


def test_a_grant_in_constant_use_outlives_newer_colder_entries() -> None:
    # Found by bench/ (memory pass): without a hit counting as a use, RSS grew as hot grants were re-vended.
    clock = FakeClock()
    cache: CredentialCache[str] = CredentialCache(clock, max_per_identity=2)
    hot = parse_target("s3://shopfast-data/users/user_list")
    cache.store("alice", grant("s3://shopfast-data/users/*"), clock.now + 3600)
    for index in range(5):
        object_scope = f"s3://shopfast-data/feedback/item-{index}"
        cache.store("alice", grant(object_scope, privilege="Minimal"), clock.now + 3600)
        assert cache.find("alice", hot, "READ", "Default", 0) == "s3://shopfast-data/users/*|READ"
