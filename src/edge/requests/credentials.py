"""POST /v1/credentials: the body and the `format` query parameter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from domain.config import ServiceConfig
from domain.vending import CredentialRequest
from edge import contract
from edge.requests.decode import decode, decode_query, target_of


def parse_credential_request(body: Mapping[str, Any], config: ServiceConfig) -> CredentialRequest:
    request = decode(contract.CredentialsRequest, body, caps={"durationSeconds": config.max_duration_seconds})
    return CredentialRequest(
        target=target_of(request.target, config),
        permission=request.permission,
        privilege=request.privilege or "Default",
        duration_seconds=request.duration_seconds,
        target_type=request.target_type,
        role=request.role,
    )


def parse_credentials_format(query: Mapping[str, str]) -> Literal["json", "credential_process"]:
    return decode_query(contract.CredentialsQuery, query).format or "json"
