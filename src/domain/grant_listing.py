"""Listing the caller's grants (GET /v1/grants): one page at a time, across every Region that holds an
Access Grants instance, with page tokens of our own.

A page token says where the next page starts: the Region, then S3 Access Grants' own token there (empty:
that Region's first page). With a scope, only the scope's bucket's Region is asked.
"""

from __future__ import annotations

import re

import msgspec

from domain.audit import Decision
from domain.caller import Caller
from domain.errors import InvalidRequest
from domain.limits import MAX_GRANTS_PAGE, MAX_PAGE_TOKEN_CHARS
from domain.ports import CallerGrant
from domain.targets import GrantTarget
from domain.vending import VendingService

_PAGE_TOKEN = re.compile(rf"^[\x21-\x7e]{{1,{MAX_PAGE_TOKEN_CHARS}}}$")
# Region names hold no ':'.
_REGION_TOKEN_SEPARATOR = ":"  # noqa: S105 - a separator, not a secret


class GrantsQuery(msgspec.Struct, frozen=True):
    """The caller's grants, optionally under `scope`, one page at a time."""

    scope: GrantTarget | None = None
    next_token: str | None = None
    max_results: int | None = None
    role: str | None = None


class GrantsPage(msgspec.Struct, frozen=True):
    grants: tuple[CallerGrant, ...]
    next_token: str | None  # None: the last page


def list_grants(service: VendingService, caller: Caller, query: GrantsQuery) -> GrantsPage:
    """ListCallerAccessGrants as the caller: with a scope, in its bucket's Region; without, every
    configured Region's grants one after the other (sorted by Region, each paginated)."""
    regions = service.regions.access_grants_regions
    if query.scope is not None:
        regions = (service.regions.region_of(query.scope.bucket),)
    region, upstream_token = _read_page_token(query.next_token, regions)
    position = regions.index(region)
    limit = query.max_results or MAX_GRANTS_PAGE
    grants: list[CallerGrant] = []
    with Decision(
        "list-grants", subject=caller.subject, target=str(query.scope) if query.scope else None
    ) as decision:
        identity = service.identities.session_key(caller, query.role)
        decision.add(identity=identity)
        while True:
            page = service.grants_page(
                caller,
                query.role,
                identity,
                regions[position],
                limit - len(grants),
                scope=query.scope,
                next_token=upstream_token,
            )
            grants.extend(page.grants)
            upstream_token = page.next_token
            if upstream_token is None:
                position += 1  # this Region is done: the next page starts the next one
            if position == len(regions) or len(grants) >= limit:
                break
        decision.record("listed")
    more = position < len(regions)
    token = f"{regions[position]}{_REGION_TOKEN_SEPARATOR}{upstream_token or ''}" if more else None
    return GrantsPage(tuple(grants), token)


def _read_page_token(token: str | None, regions: tuple[str, ...]) -> tuple[str, str | None]:
    """(Region, S3 Access Grants' token there) from our page token; the first Region without one."""
    if token is None:
        return regions[0], None
    region, separator, upstream = token.partition(_REGION_TOKEN_SEPARATOR)
    if not _PAGE_TOKEN.match(token) or not separator or region not in regions:
        raise InvalidRequest("nextToken is not a token this service issued")
    return region, upstream or None
