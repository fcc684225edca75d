"""The composition root: the one place that builds what an execution environment holds, from its
environment variables, and the one place tests reset.

Lambda keeps module state between invocations of one execution environment, so the configuration, the
token verifier with its JWKS cache, the AWS gateway with its clients, the vending service with its caches,
the request signer and the uploads' binding key are built once (lazily: no AWS call at import) and shared
by every handler of the process. Handlers ask `environment()` for them; nothing else builds them.

Each function imports only what it uses at cold start: the signer, presigning and uploads modules are
imported when a function first signs or uploads, which the credentials, identity and objects functions
never do.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import botocore.session

from adapters.aws import AwsGateway, ClientFactory
from domain.audit import audit, name_users_by_digest
from domain.caller import Caller
from domain.config import ServiceConfig
from domain.errors import InternalError, Revoked
from domain.revocation import Revocations
from domain.shared_cache import SharedTier
from domain.vending import VendingService
from edge.auth import JwtVerifier, bearer_token
from edge.jwks import JwksCache

if TYPE_CHECKING:
    from adapters.s3_signer import S3Presigner
    from adapters.shared_state import DynamoDbSharedState
    from domain.presign import Presigner
    from domain.remote_signing import RemoteSigner
    from domain.uploads import UploadBinding, Uploads


@dataclass
class ExecutionEnvironment:
    """Everything one execution environment builds once, wired together."""

    config: ServiceConfig
    jwks: JwksCache
    verifier: JwtVerifier
    gateway: AwsGateway
    service: VendingService
    revocations: Revocations | None
    state: DynamoDbSharedState | None
    botocore_session: botocore.session.Session = field(repr=False)
    _signer: S3Presigner | None = field(default=None, repr=False)
    _binding: UploadBinding | None = field(default=None, repr=False)
    _users_named: bool = field(default=False, repr=False)

    @classmethod
    def build(
        cls, environ: Mapping[str, str], botocore_session: botocore.session.Session | None = None
    ) -> ExecutionEnvironment:
        """`botocore_session`: the loaded models to use (the bench's many environments in one process
        share one; a Lambda environment loads its own)."""
        config = ServiceConfig.from_env(environ)
        jwks = JwksCache(config.jwt_issuer, config.jwt_jwks_url)
        # One botocore session: the gateway's clients and the signer's bucket URLs share its loaded models.
        botocore_session = botocore_session or botocore.session.Session()
        factory = ClientFactory(config, botocore_session)
        gateway = AwsGateway(config, factory=factory)
        state: DynamoDbSharedState | None = None
        if config.state_table:
            # Imported here, like the signer: AES-GCM's module is not needed before a first request.
            from adapters.shared_state import DynamoDbSharedState

            state = DynamoDbSharedState(config.state_table, config.state_key_arn, factory)
        shared = SharedTier(state) if state is not None and config.uses_shared_cache else None
        revocations = Revocations(state) if state is not None else None
        service = VendingService(config, gateway, shared=shared, revocations=revocations)
        name_users_by_digest(None)  # until this environment has read its key, if it has one
        return cls(
            config=config,
            jwks=jwks,
            verifier=JwtVerifier(config, jwks),
            gateway=gateway,
            service=service,
            revocations=revocations,
            state=state,
            botocore_session=botocore_session,
        )

    def authenticate(self, headers: Mapping[str, str]) -> Caller:
        """The caller of a request, from its bearer token: 401, or 503 while the issuer's keys are
        unavailable; 403 `revoked` for a revoked user, 503 while revocations cannot be read, or while the
        audit's pseudonym key cannot be read (nothing is decided that could not be audited as configured)."""
        caller = self.verifier.verify(bearer_token(headers))
        self._name_users_as_configured()
        if self.revocations is not None:
            try:
                self.revocations.refuse_if_revoked(caller.user, caller.email)
            except Revoked as refusal:
                audit(
                    "authenticate",
                    "denied",
                    subject=caller.subject,
                    identity=caller.identity_key,
                    status=refusal.status,
                    code=refusal.code,
                )
                raise
        return caller

    def _name_users_as_configured(self) -> None:
        """With AUDIT_PSEUDONYM_SECRET, read its key once per environment, before the first authenticated
        decision: at a request, not at init, as SnapStart's priming makes no AWS call (snapstart.py)."""
        secret_id = self.config.audit_pseudonym_secret
        if self._users_named or not secret_id:
            return
        key = self.gateway.secret_string(secret_id)
        if not key:
            raise InternalError("the audit pseudonym secret has no value (AUDIT_PSEUDONYM_SECRET)")
        name_users_by_digest(key.encode())
        self._users_named = True

    @property
    def signer(self) -> S3Presigner:
        """The S3 request signer, sharing the gateway's botocore session (its loaded models)."""
        if self._signer is None:
            from adapters.s3_signer import S3Presigner

            self._signer = S3Presigner(
                endpoint_url=self.config.aws_endpoint_url, session=self.botocore_session
            )
        return self._signer

    def presigner(self, caller: Caller) -> Presigner:
        from domain.presign import Presigner

        return Presigner(caller, service=self.service, signer=self.signer)

    def remote_signer(self, caller: Caller) -> RemoteSigner:
        from domain.remote_signing import RemoteSigner

        return RemoteSigner(
            caller, service=self.service, signer=self.signer, endpoint_url=self.config.aws_endpoint_url
        )

    def uploads(self, caller: Caller) -> Uploads:
        from domain.uploads import Uploads

        return Uploads(caller, service=self.service, signer=self.signer, binding=self.upload_binding())

    def upload_binding(self) -> UploadBinding:
        """The uploads' MAC keys, read from Secrets Manager (UPLOAD_BINDING_SECRET) at first use and again
        as `UploadBinding` needs them (a rotation's new key; the previous one for uploads sealed before)."""
        if self._binding is None:
            secret_id = self.config.upload_binding_secret
            if not secret_id:
                raise InternalError("uploads are not configured (UPLOAD_BINDING_SECRET)")
            from domain.uploads import UploadBinding

            def read_keys(previous: bool) -> list[bytes]:
                values = [self.gateway.secret_string(secret_id)]
                if previous:
                    values.append(self.gateway.secret_string(secret_id, previous=True))
                return [value.encode() for value in values if value is not None]

            self._binding = UploadBinding(read_keys)
        return self._binding


_environment: ExecutionEnvironment | None = None


def environment() -> ExecutionEnvironment:
    """This execution environment's objects, built from `os.environ` on first use."""
    global _environment
    if _environment is None:
        _environment = ExecutionEnvironment.build(os.environ)
    return _environment


def reset() -> None:
    """Forget everything built (tests switch configurations between execution environments)."""
    global _environment
    _environment = None
    name_users_by_digest(None)
