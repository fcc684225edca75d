"""Decoding a body or query string into its declared type (`edge.contract`), with the API's own 400s.

Every refusal is a 400 whose detail names the field, in the words the API has always used ("target is
required", "permission must be one of READ, WRITE, READWRITE", "unknown field(s) 'x'"). msgspec says
what is wrong in a message of its own; `_detail` puts it in those words, with the bounds of the field's
declaration (or the deployment's lower cap) and the path of the field (`parts[3].etag`, or
`objects[2].target` for an item of a batch). Unknown fields are refused before anything else, all of them
named: a misspelt field is the likelier mistake than a missing one.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import msgspec

from domain.config import ServiceConfig
from domain.errors import InvalidRequest
from domain.targets import GrantTarget, parse_target
from edge import contract

Model = TypeVar("Model", bound=msgspec.Struct)
QUERY_WHERE = "query parameter "
_AT = r"(?: - at `\$\.?(?P<path>[^`]*)`)?$"
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`" + _AT)
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]*)`" + _AT)
_ENUM = re.compile(r"^Invalid enum value .*?" + _AT)
_EXPECTED = re.compile(r"^Expected `(?P<expected>[a-z]+)[^`]*`(?P<rest>.*?)" + _AT)
_TYPE_WORDS = {"str": "a string", "int": "an integer", "array": "an array", "object": "an object"}


def decode(
    model: type[Model],
    data: Mapping[str, Any],
    *,
    where: str = "",
    caps: Mapping[str, int] | None = None,
) -> Model:
    """`data` as `model`, or InvalidRequest naming the field. `caps` lowers a field's declared maximum to
    the deployment's (by wire name)."""
    refuse_unknown(model, data, where)
    try:
        decoded = msgspec.convert(data, model)
    except msgspec.ValidationError as error:
        raise InvalidRequest(_detail(model, str(error), where, caps or {})) from None
    for name, cap in (caps or {}).items():
        value = getattr(decoded, _attribute(model, name))
        if value is not None and value > cap:
            raise InvalidRequest(f"{where}{name} {_range(_declared(model, name), cap)}")
    return decoded


def decode_query(model: type[Model], query: Mapping[str, str]) -> Model:
    """A query string as `model`: whole numbers are digits only (no sign, space, point or exponent)."""
    data: dict[str, Any] = dict(query)
    for name, info in _fields(model).items():
        value = data.get(name)
        if isinstance(value, str) and value.isascii() and value.isdigit() and _base(info.type)[0] is int:
            data[name] = int(value)
    return decode(model, data, where=QUERY_WHERE)


def refuse_unknown(model: type[msgspec.Struct], data: Mapping[str, Any], where: str) -> None:
    unknown = sorted(data.keys() - _fields(model).keys())
    if unknown:
        shown = ", ".join(repr(str(name)[:64]) for name in unknown[:5])
        what = "query parameter(s)" if where == QUERY_WHERE else "field(s)"
        raise InvalidRequest(f"unknown {what} {shown}; {_valid(model, what)}")


def _valid(model: Any, what: str = "field(s)") -> str:
    """What the caller may send instead, so that a misspelt name is fixed in one try."""
    names = sorted(_fields(model))
    noun = "query parameters" if what.startswith("query") else "fields"
    return f"the valid {noun} are {', '.join(names)}" if names else f"no {noun} are accepted here"


def _detail(model: type[msgspec.Struct], message: str, where: str, caps: Mapping[str, int]) -> str:
    if match := _UNKNOWN.match(message):
        inside = _base(_field_type(model, match["path"] or ""))[0]
        return (
            f"unknown field(s) {match['name'][:64]!r}"
            + (f" in {where}{match['path']}" if match["path"] else "")
            + f"; {_valid(inside)}"
        )
    if match := _MISSING.match(message):
        return f"{where}{_join(match['path'], match['name'])} is required"
    match = _ENUM.match(message) or _EXPECTED.match(message)
    if match is None:
        # A message this module does not know (a msgspec upgrade may word things anew): still the
        # caller's mistake, still a 400, with msgspec's own words after the field.
        return f"{where}{message}"[:300]
    path = match["path"] or ""
    name = f"{where}{path}"
    base, meta = _base(_field_type(model, path))
    if match.re is _ENUM:
        return f"{name} must be one of {', '.join(str(choice) for choice in get_args(base))}"
    rest = match["rest"]
    if rest.startswith(", got `null`"):
        return f"{name} is required"
    if rest.startswith(", got"):
        return f"{name} must be {_TYPE_WORDS.get(match['expected'], 'of another type')}"
    if match["expected"] == "int":
        return f"{name} {_range(meta, caps.get(path.rpartition('.')[2]))}"
    if match["expected"] == "array":
        return f"{name} must hold {meta.get('min_length') or 0} to {meta.get('max_length')} items"
    if meta.get("min_length"):
        return f"{name} must be {meta['min_length']} to {meta.get('max_length')} characters"
    return f"{name} must be at most {meta.get('max_length')} characters"


def _join(path: str | None, name: str) -> str:
    return f"{path}.{name}" if path else name


def _range(meta: Mapping[str, Any], cap: int | None) -> str:
    maximum = meta.get("le") if cap is None else min(cap, meta.get("le", cap))
    return f"must be between {meta.get('ge')} and {maximum}"


@cache
def _fields(model: type[msgspec.Struct]) -> dict[str, msgspec.structs.FieldInfo]:
    """A model's fields by wire name (msgspec evaluates the annotations anew at every call: once here)."""
    return {info.encode_name: info for info in msgspec.structs.fields(model)}


def _attribute(model: type[msgspec.Struct], wire_name: str) -> str:
    return _fields(model)[wire_name].name


def _declared(model: type[msgspec.Struct], wire_name: str) -> dict[str, Any]:
    return _base(_field_type(model, wire_name))[1]


def _field_type(model: type[msgspec.Struct], path: str) -> Any:
    """The declared type at a msgspec path such as `parts[3].etag` (list items by `[n]`)."""
    current: Any = model
    for part in re.findall(r"\[\d+\]|[^.\[\]]+", path):
        current = _base(current)[0]
        current = get_args(current)[0] if part.startswith("[") else _fields(current)[part].type
    return current


def _base(declared: Any) -> tuple[Any, dict[str, Any]]:
    """A declared type without `| None` and `Annotated`, and its constraints (the Meta of every layer)."""
    meta: dict[str, Any] = {}
    while True:
        if get_origin(declared) is Annotated:
            declared, *extras = get_args(declared)
            for extra in extras:
                if isinstance(extra, msgspec.Meta):
                    meta.update(
                        {key: getattr(extra, key) for key in _META_KEYS if getattr(extra, key) is not None}
                    )
        elif get_origin(declared) in (Union, types.UnionType) and type(None) in get_args(declared):
            (declared,) = [member for member in get_args(declared) if member is not type(None)]
        else:
            return declared, meta


_META_KEYS = ("ge", "le", "min_length", "max_length")


def target_of(text: str, config: ServiceConfig, where: str = "") -> GrantTarget:
    try:
        return parse_target(text, config.allowed_buckets)
    except InvalidRequest as error:
        raise InvalidRequest(f"{where}{error.detail}") from None


def object_target_of(text: str, config: ServiceConfig) -> GrantTarget:
    target = target_of(text, config)
    if target.is_prefix:
        raise InvalidRequest("target must name one object (s3://bucket/key), not a prefix")
    return target


def refuse_query(query: Mapping[str, str]) -> None:
    """Routes that take no query parameter refuse any."""
    decode_query(contract.NoQuery, query)
