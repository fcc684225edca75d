"""GET /v1/objects: its query string."""

from __future__ import annotations

from collections.abc import Mapping

from domain.config import ServiceConfig
from domain.errors import InvalidRequest
from domain.objects import DEFAULT_PAGE_SIZE, ListRequest, folder_uri, unwrap_token
from domain.targets import parse_prefix
from edge import contract
from edge.requests.decode import QUERY_WHERE, decode_query, refuse_unknown


def parse_list_request(query: Mapping[str, str], config: ServiceConfig) -> ListRequest:
    """GET /v1/objects' query string."""
    if not query.get("prefix"):
        refuse_unknown(contract.ObjectsQuery, query, QUERY_WHERE)
        raise InvalidRequest("query parameter prefix is required, e.g. s3://bucket/folder/")
    request = decode_query(contract.ObjectsQuery, query)
    if not request.prefix.endswith("/"):
        # `s3://b/users` would also list `users-archive/`, which no `users/*` grant covers.
        raise InvalidRequest(
            "query parameter prefix must end with '/' (a folder such as s3://bucket/folder/)"
        )
    folder = parse_prefix(request.prefix, config.allowed_buckets)
    token = request.continuation_token
    return ListRequest(
        folder=folder,
        continuation_token=unwrap_token(token, folder_uri(folder)) if token is not None else None,
        page_size=request.page_size or DEFAULT_PAGE_SIZE,
        role=request.role,
    )
