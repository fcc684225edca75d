"""Who the service thinks the caller is (GET /v1/me): the identity exchange, cached, as the caller would
see it."""

from __future__ import annotations

import msgspec

from domain.audit import Decision
from domain.caller import Caller
from domain.config import IDENTITY_CENTER
from domain.vending import VendingService, principal_fields


class CallerDescription(msgspec.Struct, frozen=True):
    subject: str
    email: str | None
    identity_mode: str
    groups: tuple[str, ...]
    role_arn: str
    session_name: str
    directory_user_id: str | None = None  # identity-center mode
    group: str | None = None  # iam-role mode
    source_identity: str | None = None  # iam-role mode


def describe(service: VendingService, caller: Caller, *, role: str | None = None) -> CallerDescription:
    """This performs the identity exchange (cached), so a caller learns here whether it works."""
    with Decision("describe", subject=caller.subject) as decision:
        session, cached = service.identities.session_for(caller, role)
        decision.record(
            "described", identity=session.identity_key, cached=cached, **principal_fields(session)
        )
    identity_center = service.config.identity_mode == IDENTITY_CENTER
    return CallerDescription(
        subject=caller.subject,
        email=caller.email,
        identity_mode=service.config.identity_mode,
        groups=caller.groups,
        role_arn=session.role_arn,
        session_name=session.session_name,
        directory_user_id=session.directory_user_id if identity_center else None,
        group=None if identity_center else session.group,
        source_identity=None if identity_center else session.source_identity,
    )
