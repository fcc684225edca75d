"""Cache keys and MAC inputs: one unambiguous encoding of their parts.

Joining parts with a separator (`iss|sub|email`) lets two different tuples meet in one string whenever a
part may contain the separator, and what an IdP allows in `sub` or `email` is not ours to decide: a
session cached for subject `T|x` and email `alice@…` was served to a token with subject `T` and email
`x|alice@…`. Here the parts are encoded as a JSON array of strings (msgspec's encoding is deterministic,
and a JSON string cannot end early), tagged with what the key is for, so a key of one kind never equals
a key of another, and then digested: a key never holds an email or a token, in memory, in a log or in a
shared store.
"""

from __future__ import annotations

import hashlib

import msgspec


def canonical(purpose: str, *parts: str) -> bytes:
    """The unambiguous encoding of `parts` for `purpose` (a versioned tag such as `identity/v1`)."""
    return msgspec.json.encode([purpose, *parts])


def digest_key(purpose: str, *parts: str) -> str:
    """A non-reversible key (SHA-256, hex) of the canonical encoding."""
    return hashlib.sha256(canonical(purpose, *parts)).hexdigest()
