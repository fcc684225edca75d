"""The caller's grants as ListCallerAccessGrants lists them: what pre-filters a batch (an item no grant
covers is refused without a GetDataAccess call) and what a denial names so the caller knows what to ask
for instead. Pure: no AWS.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from domain.permissions import Permission, satisfies
from domain.targets import GrantTarget, covers

# How many of the caller's grants a denial names at most.
MAX_GRANTS_NAMED = 5


class HeldGrant(msgspec.Struct, frozen=True):
    scope: str  # s3://bucket/prefix/*, s3://bucket/prefix* or s3://bucket/key
    permission: str

    def __str__(self) -> str:
        return f"{self.scope} ({self.permission})"


class HeldGrants:
    def __init__(self, grants: Iterable[HeldGrant]) -> None:
        self.grants = tuple(sorted(set(grants), key=lambda grant: (grant.scope, grant.permission)))

    def allows(self, target: GrantTarget, permission: Permission) -> bool:
        return any(
            covers(grant.scope, target) and satisfies(grant.permission, permission) for grant in self.grants
        )

    def near(self, target: GrantTarget) -> list[HeldGrant]:
        """Grants in the target's bucket that cover it, lie inside it or share its path."""
        wanted = target.key
        found = []
        for grant in self.grants:
            bucket, _, key = grant.scope.removeprefix("s3://").partition("/")
            key = key.removesuffix("*")
            if bucket == target.bucket and (key.startswith(wanted) or wanted.startswith(key)):
                found.append(grant)
        return found


def explain_denial(grants: HeldGrants | None, target: GrantTarget, permission: Permission) -> str:
    """Why no grant covers `target` with `permission`, and what the caller holds near it."""
    refusal = f"no grant of yours covers {target} with {permission}"
    if grants is None:
        return refusal
    near = grants.near(target)
    if not near:
        return f"{refusal}, and you hold no grant in or around it"
    covering = [grant for grant in near if covers(grant.scope, target)]
    if covering:
        held = ", ".join(str(grant) for grant in covering[:MAX_GRANTS_NAMED])
        return f"{refusal}: you hold {held}, which does not include {permission}"
    named = ", ".join(str(grant) for grant in near[:MAX_GRANTS_NAMED])
    hint = ""
    inside = next(
        (grant for grant in near if grant.scope.removesuffix("*").startswith(str(target).rstrip("*"))), None
    )
    if inside is not None and inside.scope.endswith("/*"):
        hint = (
            f"; a target without '*' names one object and 'prefix*' is wider than 'prefix/*': "
            f"ask for {inside.scope} or an object under it"
        )
    return f"{refusal}; your grants near it: {named}{hint}"
