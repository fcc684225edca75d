"""A scale model: what the per-environment caches cost when Lambda runs many execution
environments, from this run's measured figures and the cache rules.

Each execution environment has its own caches, and API Gateway spreads a user's requests over the
environments. Within one reuse window (`CACHE_MAX_AGE_SECONDS`, 900 s by default) an environment
pays for a user once for the identity exchange (2 calls in identity-center mode: CreateTokenWithIAM and
AssumeRole) and once per grant the user touches there (GetDataAccess); later requests are cache hits. So
per user and window: the identity exchange once per *distinct* environment the user's `r` requests land
on, `E * (1 - (1 - 1/E) ** r)`, and GetDataAccess once per distinct (environment, grant) pair, the same
formula over `E * G` pairs (each request touches one of the user's `G` grants).

With the shared cache tier (DynamoDB + KMS) the fleet pays the exchange once per user and window and
GetDataAccess once per grant, whatever the number of environments; what grows with environments is the
tier's own cost: a Query each time a user's request lands on an environment that does not hold them yet
(the same distinct-environment count), two writes per exchange and per grant, one revision read per
environment every POLL_SECONDS, and per environment one GenerateDataKey every DATA_KEY_SECONDS plus at most
one Decrypt per data key it meets (bounded by its Queries).

Assumptions, said once: requests are spread evenly over environments and over the hour; each active user
touches `GRANTS_PER_USER` grants; the peak second carries `PEAK_FACTOR` times the average rate; an
execution environment lives `ENVIRONMENT_LIFETIME_HOURS` (Lambda does not document it; an environment
that lives shorter only adds cold starts). The measured inputs are this run's calls of one cold request
(`cold_request_per_region`) and its wall time, and a warm hit's handler time.
"""

from __future__ import annotations

from typing import Any

ENVIRONMENTS = (1, 10, 50, 100, 200, 500)
ACTIVE_USERS = (100, 1_000, 10_000)
REQUESTS_PER_USER_HOUR = (12, 120)
GRANTS_PER_USER = 2
PEAK_FACTOR = 3.0
ENVIRONMENT_LIFETIME_HOURS = 2.0
DEFAULT_MAX_AGE_SECONDS = 900
POLL_SECONDS = 5  # domain.revocation.POLL_SECONDS
DATA_KEY_SECONDS = 300  # adapters.shared_state.DATA_KEY_SECONDS


def distinct_environments(environments: int, requests: float) -> float:
    """Expected environments a user's `requests` land on, spread evenly over `environments`."""
    return float(environments * (1 - (1 - 1 / environments) ** requests))


def scale_model(result: dict[str, Any], max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS) -> dict[str, Any]:
    per_region: dict[str, Any] = result.get("cold_request_per_region") or {}
    first: dict[str, Any] = next(iter(per_region.values()), {})
    cold = first.get("planned", {})
    by_operation = cold.get("calls_by_operation") or {
        "CreateTokenWithIAM": 1,
        "AssumeRole": 1,
        "GetDataAccess": 1,
    }
    identity_calls = by_operation.get("CreateTokenWithIAM", 0) + by_operation.get("AssumeRole", 0)
    cold_request_ms = cold.get("wall_ms")
    warm_hit_ms = (result.get("warm_hit_handler_ms") or {}).get("credentials", {}).get("handler_p50_ms")
    windows = 3600 / max_age_seconds
    rows = []
    for environments in ENVIRONMENTS:
        for users in ACTIVE_USERS:
            for rate in REQUESTS_PER_USER_HOUR:
                per_window = rate / windows
                sessions_per_hour = users * windows * distinct_environments(environments, per_window)
                data_access_per_hour = (
                    users * windows * distinct_environments(environments * GRANTS_PER_USER, per_window)
                )
                calls_per_hour = sessions_per_hour * identity_calls + data_access_per_hour
                requests_per_hour = users * rate
                # The shared tier: the exchange once per user and window, each grant once.
                shared_sessions = users * windows * min(1.0, per_window)
                shared_data_access = users * windows * min(float(GRANTS_PER_USER), per_window)
                shared_calls = shared_sessions * identity_calls + shared_data_access
                queries = sessions_per_hour  # a user's first request in each environment and window
                writes = 2 * (shared_sessions + shared_data_access)  # entry and user index
                polls = environments * 3600 / POLL_SECONDS
                kms = environments * 3600 / DATA_KEY_SECONDS + min(
                    queries, environments**2 * 3600 / DATA_KEY_SECONDS
                )
                rows.append(
                    {
                        "environments": environments,
                        "active_users": users,
                        "requests_per_user_hour": rate,
                        "requests_per_hour": requests_per_hour,
                        "aws_calls_per_hour": round(calls_per_hour),
                        "aws_calls_per_request": round(calls_per_hour / requests_per_hour, 3),
                        # Requests answered without GetDataAccess (a cached grant in that environment).
                        "cache_hit_ratio": round(1 - min(1.0, data_access_per_hour / requests_per_hour), 3),
                        "get_data_access_per_second_peak": round(
                            data_access_per_hour / 3600 * PEAK_FACTOR, 2
                        ),
                        "cold_starts_per_hour": round(environments / ENVIRONMENT_LIFETIME_HOURS, 1),
                        "shared_tier": {
                            "aws_calls_per_request": round(shared_calls / requests_per_hour, 3),
                            "get_data_access_per_second_peak": round(
                                shared_data_access / 3600 * PEAK_FACTOR, 2
                            ),
                            "dynamodb_calls_per_request": round(
                                (queries + writes + polls) / requests_per_hour, 3
                            ),
                            "kms_calls_per_request_at_most": round(kms / requests_per_hour, 3),
                        },
                    }
                )
    return {
        "inputs": {
            "identity_calls_per_miss": identity_calls,
            "grants_per_user": GRANTS_PER_USER,
            "max_age_seconds": max_age_seconds,
            "peak_factor": PEAK_FACTOR,
            "environment_lifetime_hours": ENVIRONMENT_LIFETIME_HOURS,
            "cold_request_wall_ms": cold_request_ms,
            "warm_hit_handler_ms": warm_hit_ms,
        },
        "rows": rows,
    }
