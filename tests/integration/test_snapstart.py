"""SnapStart priming (src/composition/snapstart.py): the before-snapshot hooks build what every request
shares and nothing of a user, call no AWS API, and a primed environment then serves requests with no more
AWS calls than an unprimed one would."""

from __future__ import annotations

import importlib
import random

import pytest
import snapshot_restore_py

from local.stack import LocalStack
from tests.integration.handler_calls import call, service_configured

pytestmark = pytest.mark.integration


def run_hooks(registry: list) -> None:
    for hook, args, kwargs in registry:
        hook(*args, **kwargs)


@pytest.mark.parametrize("mode", ["identity-center", "iam-role"])
def test_primed_environment_holds_nothing_of_a_user_and_serves_the_first_request(
    local_stack: LocalStack, mode: str
) -> None:
    with service_configured(local_stack, IDENTITY_MODE=mode):
        importlib.import_module("handlers.credentials")
        local_stack.reset_stats()
        run_hooks(snapshot_restore_py.get_before_snapshot())

        assert local_stack.stats()["calls"] == {}  # no AWS call while priming

        state = random.getstate()
        run_hooks(snapshot_restore_py.get_after_restore())
        assert random.getstate() != state  # re-seeded: no two restored environments share it

        token = local_stack.token("bob@shopfast.example")
        answer = call(
            "POST",
            "/v1/credentials",
            token=token,
            body={"target": "s3://shopfast-data/users/*", "permission": "READ"},
        )
        assert answer.status == 200, answer.text
        # The whole exchange: priming cached no identity session and no credentials of anyone.
        calls = local_stack.stats()["calls"]
        assert calls.get("GetDataAccess") == 1 and calls.get("AssumeRole") == 1
        assert calls.get("CreateTokenWithIAM", 0) == (1 if mode == "identity-center" else 0)
