"""Who is asking: the authenticated end user, as the edge makes it of a verified token (the domain never
sees the token's encoding; the raw token travels only to Identity Center's exchange)."""

from __future__ import annotations

from functools import cached_property

import msgspec

from domain.config import EMAIL_CLAIM
from domain.keys import digest_key


class Caller(msgspec.Struct, frozen=True, dict=True):  # dict: room for the cached identity key
    """The authenticated end user. The raw token is kept for the Identity Center exchange only.

    `user` is the value of the configured user claim (`USER_CLAIM`): what Identity Center maps to a
    directory user, and what session names and source identities are derived from."""

    issuer: str
    subject: str
    email: str | None
    username: str | None
    groups: tuple[str, ...]
    token: str
    expires_at: int = 0
    user: str = ""
    user_claim: str = EMAIL_CLAIM

    def __repr__(self) -> str:  # without the token
        return f"Caller(issuer={self.issuer!r}, subject={self.subject!r}, user={self.user!r})"

    @cached_property
    def identity_key(self) -> str:
        """Who this is, for caches and audit records: never shared between two end users, nor between two
        values of the mapped claim (a token whose email changed must not reuse the session of the old
        address). A digest of the parts' unambiguous encoding: no claim value can make two callers meet.
        Computed once per caller (the verifier keeps callers of recent tokens): every vend, session name and
        upload MAC of a request reads it, a batch of presigns once per item."""
        return digest_key(
            "identity/v1",
            self.issuer,
            self.subject,
            self.user_claim,
            normalised_claim(self.user_claim, self.user),
        )

    @property
    def display_name(self) -> str:
        return self.user or self.email or self.username or self.subject


def normalised_claim(claim: str, value: str) -> str:
    """The claim value as Identity Center compares it: email addresses case-insensitively."""
    return value.lower() if claim == EMAIL_CLAIM else value
