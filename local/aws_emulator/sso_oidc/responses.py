"""sso-oidc over rest-json: `POST /token?aws_iam=t` is CreateTokenWithIAM.

IAM Identity Center lives in one home Region (IAM Identity Center User Guide, "IAM Identity Center Region
availability"): a call signed for any other Region does not find the application (`InvalidClientException`).
"""

from __future__ import annotations

from moto.core.request import Request
from werkzeug.wrappers import Response

from local.aws_emulator.core import wire
from local.aws_emulator.core.exceptions import EmulatorError
from local.aws_emulator.core.signing import Problem, claim_of
from local.aws_emulator.sso_oidc import exceptions
from local.aws_emulator.sso_oidc.models import TokenExchange
from local.aws_emulator.sts.models import Caller, StsBackend

SERVICE = "sso-oidc"


class SsoOidcResponses:
    def __init__(self, exchange: TokenExchange, sts: StsBackend) -> None:
        self.exchange = exchange
        self.sts = sts

    def handle(self, request: Request) -> Response | None:
        if request.path != "/token" or request.method != "POST" or "aws_iam" not in request.args:
            return None
        operation = wire.operation_model(SERVICE, "CreateTokenWithIAM")
        try:
            caller = self.sts.identify(request)
            self._authenticate(caller)
            self._require_home_region(request)
            params = wire.parse(SERVICE, operation, request, {})
            answer = self.exchange.create_token(
                params,
                caller.principal,
                lambda action, resource: self.sts.identity_allows(caller, action, resource),
            )
            return wire.respond(SERVICE, operation, answer)
        except EmulatorError as error:
            return wire.respond(SERVICE, operation, error)

    def _require_home_region(self, request: Request) -> None:
        claim = claim_of(request)
        home = self.exchange.identity_center.region
        if claim is not None and claim.region not in (None, home):
            raise exceptions.invalid_client(
                f"no such application in {claim.region}: IAM Identity Center's home Region is {home}"
            )

    @staticmethod
    def _authenticate(caller: Caller) -> None:
        if caller.principal.is_anonymous:
            raise exceptions.access_denied("the request is not signed with AWS credentials")
        if caller.problem in (Problem.TOKEN, Problem.TOKEN_MISSING):
            raise exceptions.unrecognized_client()
        if caller.problem is not None:
            raise exceptions.signature_mismatch()
        if caller.expired:
            raise exceptions.expired_token("the security token included in the request is expired")
