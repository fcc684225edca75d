"""STS over its query protocol: AssumeRole for every caller, GetCallerIdentity for emulator sessions."""

from __future__ import annotations

from typing import Any

from moto.core.request import Request
from werkzeug.wrappers import Response

from local.aws_emulator.core import wire
from local.aws_emulator.core.exceptions import EmulatorError
from local.aws_emulator.core.signing import Problem, claim_of
from local.aws_emulator.sts import exceptions
from local.aws_emulator.sts.models import Caller, StsBackend

SERVICE = "sts"


class StsResponses:
    def __init__(self, backend: StsBackend) -> None:
        self.backend = backend

    def handle(self, request: Request) -> Response | None:
        if request.headers.get("X-Amz-Target"):
            return None
        claim = claim_of(request)
        if claim is not None and claim.service not in (None, SERVICE):
            return None
        routed = wire.route(SERVICE, request)
        if routed is None or routed[0].name not in ("AssumeRole", "GetCallerIdentity"):
            return None
        operation, uri_params = routed
        caller = self.backend.identify(request)
        if operation.name == "GetCallerIdentity" and caller.session is None:
            return None  # moto answers for IAM users and its stand-in administrator
        try:
            self._authenticate(caller)
            params = wire.parse(SERVICE, operation, request, uri_params)
            if operation.name == "AssumeRole":
                return wire.respond(SERVICE, operation, self._assume_role(caller, params))
            return wire.respond(SERVICE, operation, self._caller_identity(caller))
        except EmulatorError as error:
            return wire.respond(SERVICE, operation, error)

    @staticmethod
    def _authenticate(caller: Caller) -> None:
        if caller.problem in (Problem.TOKEN, Problem.TOKEN_MISSING):
            raise exceptions.invalid_token()
        if caller.problem is not None:
            raise exceptions.signature_mismatch()
        if caller.expired:
            raise exceptions.expired_token()

    def _assume_role(self, caller: Caller, params: dict[str, Any]) -> dict[str, Any]:
        session = self.backend.assume_role(caller, params)
        answer = {
            "Credentials": {
                "AccessKeyId": session.access_key_id,
                "SecretAccessKey": session.secret_access_key,
                "SessionToken": session.session_token,
                "Expiration": session.expiration,
            },
            "AssumedRoleUser": {
                "AssumedRoleId": f"{session.role_id}:{session.session_name}",
                "Arn": session.assumed_role_arn,
            },
            "PackedPolicySize": 6,
        }
        if session.source_identity:
            answer["SourceIdentity"] = session.source_identity
        return answer

    @staticmethod
    def _caller_identity(caller: Caller) -> dict[str, Any]:
        session = caller.session
        assert session is not None
        return {
            "UserId": f"{session.role_id}:{session.session_name}",
            "Account": session.account,
            "Arn": session.assumed_role_arn,
        }
