"""The one IAM policy evaluator: role trust policies (AssumeRole, GetDataAccess assuming the location role,
Lambda assuming its execution role), Identity Center actor policies (CreateTokenWithIAM), S3 bucket
policies and the session policies of vended credentials.

Written here rather than taken from moto because moto's `IAMPolicyStatement` matches a principal only by
string equality (an account id or `:root` does not match the account's roles; `Service` principals are
ignored), knows few condition operators, and turns a condition that does not hold into an explicit Deny.
The rules are the IAM User Guide's policy evaluation logic and condition operator reference: an explicit
Deny wins, then an Allow, else the request is implicitly denied.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any


class Decision(enum.Enum):
    ALLOW = "allow"
    DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


@dataclass(frozen=True)
class Principal:
    """Who makes the request, as policies name them."""

    arn: str | None = None  # the IAM user, the assumed-role session, or None for an anonymous request
    account: str | None = None
    role_arn: str | None = None  # for an assumed-role session: the role (`aws:PrincipalArn`)
    service: str | None = None  # a service principal such as lambda.amazonaws.com

    @property
    def principal_arn(self) -> str | None:
        return self.role_arn or self.arn

    @property
    def is_anonymous(self) -> bool:
        return self.arn is None and self.service is None


ANONYMOUS = Principal()


@dataclass(frozen=True)
class RequestContext:
    action: str
    resource: str | None = None  # None: the policy kind has no Resource (trust policies)
    principal: Principal = ANONYMOUS
    keys: Mapping[str, str | Iterable[str]] = field(default_factory=dict)

    def value(self, key: str) -> list[str] | None:
        """The context key's values (case-insensitive name), or None when the request has no such key."""
        return self._lookup.get(key.lower())

    @property
    def _lookup(self) -> dict[str, list[str]]:
        cached: dict[str, list[str]] | None = self.__dict__.get("_cached_lookup")
        if cached is None:
            principal = self.principal
            derived = {
                "aws:principalarn": principal.principal_arn,
                "aws:principalaccount": principal.account,
                "aws:principalservicename": principal.service,
            }
            cached = {name: [value] for name, value in derived.items() if value}
            for name, value in self.keys.items():
                cached[name.lower()] = [value] if isinstance(value, str) else list(value)
            object.__setattr__(self, "_cached_lookup", cached)
        return cached


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@lru_cache(maxsize=1024)
def _document(text: str) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(text)
    return answer


def evaluate(policy: str | Mapping[str, Any], context: RequestContext) -> Decision:
    """One policy's verdict on the request."""
    document = _document(policy) if isinstance(policy, str) else policy
    allowed = False
    for statement in _as_list(document.get("Statement")):
        if not _applies(statement, context):
            continue
        if statement.get("Effect") == "Deny":
            return Decision.DENY
        allowed = allowed or statement.get("Effect") == "Allow"
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def allows(policy: str | Mapping[str, Any] | None, context: RequestContext) -> bool:
    return policy is not None and evaluate(policy, context) is Decision.ALLOW


def _applies(statement: Mapping[str, Any], context: RequestContext) -> bool:
    return (
        _matches_element(statement, "Action", context.action, case_sensitive=False)
        and (context.resource is None or _matches_element(statement, "Resource", context.resource))
        and _principal_matches(statement, context.principal)
        and _conditions_hold(statement.get("Condition") or {}, context)
    )


def _matches_element(
    statement: Mapping[str, Any], name: str, value: str, *, case_sensitive: bool = True
) -> bool:
    if name in statement:
        return any(_wildcard(pattern, value, case_sensitive) for pattern in _as_list(statement[name]))
    if f"Not{name}" in statement:
        return not any(
            _wildcard(pattern, value, case_sensitive) for pattern in _as_list(statement[f"Not{name}"])
        )
    return name == "Resource"  # trust and session statements may omit Resource; never Action


def _wildcard(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    return fnmatchcase(value, pattern.replace("[", "[[]"))


_ACCOUNT_ID = re.compile(r"^\d{12}$")


def _principal_matches(statement: Mapping[str, Any], principal: Principal) -> bool:
    if "Principal" in statement:
        return _names(statement["Principal"], principal)
    if "NotPrincipal" in statement:
        return not _names(statement["NotPrincipal"], principal)
    return True  # identity and session policies: the principal is whoever holds them


def _names(element: Any, principal: Principal) -> bool:
    if element == "*":
        return True
    if not isinstance(element, Mapping):
        return False
    if principal.service is not None:
        return principal.service in _as_list(element.get("Service"))
    for entry in _as_list(element.get("AWS")):
        if entry == "*":
            return True
        if principal.is_anonymous:
            continue
        account = entry if _ACCOUNT_ID.match(entry) else None
        if entry.endswith(":root"):
            account = entry.split(":")[4]
        if account is not None and account == principal.account:
            return True
        if entry in (principal.arn, principal.role_arn):
            return True
    return False


# --- conditions ------------------------------------------------------------------------------------


def _string(expected: str, actual: str) -> bool:
    return expected == actual


def _string_like(expected: str, actual: str) -> bool:
    return _wildcard(expected, actual)


def _bool(expected: str, actual: str) -> bool:
    return str(expected).lower() == str(actual).lower()


def _numeric(compare: Any) -> Any:
    def check(expected: str, actual: str) -> bool:
        try:
            return bool(compare(float(actual), float(expected)))
        except ValueError:
            return False

    return check


def _instant(value: str) -> float:
    """A date as IAM reads one: ISO 8601 (`2026-12-04T18:00:00Z`) or epoch seconds."""
    try:
        return float(value)
    except ValueError:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _date(compare: Any) -> Any:
    def check(expected: str, actual: str) -> bool:
        try:
            return bool(compare(_instant(actual), _instant(expected)))
        except ValueError:
            return False

    return check


_OPERATORS: dict[str, tuple[Any, bool]] = {  # name -> (value test, negated)
    "StringEquals": (_string, False),
    "StringNotEquals": (_string, True),
    "StringEqualsIgnoreCase": (lambda e, a: e.lower() == a.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda e, a: e.lower() == a.lower(), True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "ArnEquals": (_string, False),
    "ArnLike": (_string_like, False),
    "ArnNotEquals": (_string, True),
    "ArnNotLike": (_string_like, True),
    "Bool": (_bool, False),
    "NumericEquals": (_numeric(lambda a, e: a == e), False),
    "NumericNotEquals": (_numeric(lambda a, e: a == e), True),
    "NumericLessThan": (_numeric(lambda a, e: a < e), False),
    "NumericLessThanEquals": (_numeric(lambda a, e: a <= e), False),
    "NumericGreaterThan": (_numeric(lambda a, e: a > e), False),
    "NumericGreaterThanEquals": (_numeric(lambda a, e: a >= e), False),
    "DateEquals": (_date(lambda a, e: a == e), False),
    "DateNotEquals": (_date(lambda a, e: a == e), True),
    "DateLessThan": (_date(lambda a, e: a < e), False),
    "DateLessThanEquals": (_date(lambda a, e: a <= e), False),
    "DateGreaterThan": (_date(lambda a, e: a > e), False),
    "DateGreaterThanEquals": (_date(lambda a, e: a >= e), False),
}


def _conditions_hold(conditions: Mapping[str, Any], context: RequestContext) -> bool:
    return all(
        _condition_holds(operator, key, _as_list(expected), context)
        for operator, tests in conditions.items()
        for key, expected in (tests or {}).items()
    )


def _condition_holds(operator: str, key: str, expected: list[Any], context: RequestContext) -> bool:
    actual = context.value(key)
    if operator == "Null":
        return all(_bool(value, "true" if actual is None else "false") for value in expected)
    qualifier, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    if name not in _OPERATORS:
        return False  # an operator IAM would reject: the statement never applies
    test, negated = _OPERATORS[name]
    if actual is None:
        # A missing key: the IfExists form and the negated operators hold, the others do not.
        return if_exists or negated
    expected_text = [str(value) for value in expected]

    def matches(value: str) -> bool:
        return any(test(item, value) for item in expected_text)

    if qualifier == "ForAllValues":
        result = all(matches(value) for value in actual)
    else:  # ForAnyValue, or a single-valued key
        result = any(matches(value) for value in actual)
    return not result if negated else result
