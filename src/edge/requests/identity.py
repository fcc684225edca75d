"""GET /v1/me and GET /v1/grants: their query strings."""

from __future__ import annotations

from collections.abc import Mapping

from domain.config import ServiceConfig
from domain.grant_listing import GrantsQuery
from domain.targets import parse_prefix
from edge import contract
from edge.requests.decode import decode_query


def parse_role_query(query: Mapping[str, str]) -> str | None:
    return decode_query(contract.RoleQuery, query).role


def parse_grants_query(query: Mapping[str, str], config: ServiceConfig) -> GrantsQuery:
    request = decode_query(contract.GrantsQuery, query)
    return GrantsQuery(
        scope=parse_prefix(request.scope, config.allowed_buckets) if request.scope is not None else None,
        next_token=request.next_token,
        max_results=request.max_results,
        role=request.role,
    )
