"""Request decoding's 400s: unknown fields name the valid ones, and a validation message this code does
not know (a msgspec upgrade) is still a 400, never a 500."""

from __future__ import annotations

import pytest

from domain.errors import InvalidRequest
from edge import contract
from edge.requests import decode as decoding
from edge.requests.decode import QUERY_WHERE, decode, decode_query

pytestmark = pytest.mark.unit


def detail_of(model: type, data: dict, **kwargs: object) -> str:
    with pytest.raises(InvalidRequest) as raised:
        decode(model, data, **kwargs)  # type: ignore[arg-type]
    return raised.value.detail


def test_an_unknown_field_names_the_valid_ones() -> None:
    detail = detail_of(
        contract.CredentialsRequest, {"targt": "s3://shopfast-data/users/*", "permission": "READ"}
    )
    assert detail == (
        "unknown field(s) 'targt'; the valid fields are durationSeconds, permission, privilege, role, target,"
        " targetType"
    )


def test_an_unknown_field_inside_an_item_names_the_items_fields() -> None:
    body = {"target": "s3://b/k", "uploadId": "x", "parts": [{"partNumber": 1, "etag": "e", "size": 1}]}
    assert detail_of(contract.CompleteUploadRequest, body) == (
        "unknown field(s) 'size' in parts[0]; the valid fields are etag, partNumber"
    )


def test_an_unknown_query_parameter_names_the_valid_ones() -> None:
    with pytest.raises(InvalidRequest) as raised:
        decode_query(contract.GrantsQuery, {"scop": "s3://b/"})
    assert raised.value.detail.startswith(
        "unknown query parameter(s) 'scop'; the valid query parameters are "
    )
    with pytest.raises(InvalidRequest) as raised:
        decode(contract.NoQuery, {"a": "1"}, where=QUERY_WHERE)
    assert raised.value.detail == "unknown query parameter(s) 'a'; no query parameters are accepted here"


def test_a_validation_message_of_another_wording_is_still_a_400(monkeypatch: pytest.MonkeyPatch) -> None:
    """msgspec words its messages itself; an upgrade that words one anew must not become a 500."""

    def convert(*_: object, **__: object) -> None:
        raise decoding.msgspec.ValidationError("A wording no release has used yet - at `$.permission`")

    monkeypatch.setattr(decoding.msgspec, "convert", convert)
    detail = detail_of(contract.CredentialsRequest, {"target": "s3://b/k", "permission": "READ"})
    assert detail == "A wording no release has used yet - at `$.permission`"
