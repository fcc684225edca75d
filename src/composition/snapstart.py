"""Lambda SnapStart priming: what every first request would otherwise build is built before the snapshot.

With `SnapStart: {ApplyOn: PublishedVersions}` (template.yaml), Lambda initialises a version once, runs the
before-snapshot hooks, snapshots the memory and restores new execution environments from it. The hooks
here prepare what is the same for every user and every environment:

- the configuration, the vending service and its (empty) caches;
- the execution role's clients (STS; sso-oidc in Identity Center's home Region; S3 for HeadBucket) and one
  s3control client per configured Region: creating them loads the service models and endpoint rule sets
  into the shared botocore session, so the per-identity clients of the first request only copy them;
- the presigner's bucket URLs for the planned buckets (no AWS call);
- the shared state's DynamoDB and KMS clients (no call: the revocation list is read after restore);
- the issuer's signing keys (JWKS), see below.

Nothing specific to a user is made: no token, identity session or vended credentials, and no AWS call at
all (the execution role's credentials of the snapshot are not the restored environment's).

The JWKS is fetched before the snapshot too, and the existing rotation rules keep it honest after restore:
its age is wall-clock time (`JwksCache`), so a snapshot restored more than JWKS_MAX_AGE_SECONDS later
refreshes the keys at the first request, and a token signed by a key the snapshot does not know makes
the cache refetch at once (the unknown-`kid` rule). Fetching after restore instead would add the
discovery document and the JWKS, two HTTPS round trips, to every restored environment's first request.

After restore, Python's `random` is re-seeded (its state would otherwise be the same in every restored
environment); `secrets` and `uuid4` read the OS's randomness, which Lambda re-seeds itself.

`snapshot_restore_py` is "included in Python managed runtimes" (AWS Lambda Developer Guide, "Lambda
SnapStart runtime hooks for Python"): it must not be packaged with the function (a copy in the package
would hold a registry the runtime never reads), so it is a development dependency only
(requirements-dev.txt), for tests and `make bench`. The hooks here do not depend on their order.
"""

from __future__ import annotations

import random

from snapshot_restore_py import register_after_restore, register_before_snapshot

from composition.root import environment
from domain.config import IDENTITY_CENTER


def prime() -> None:
    env = environment()
    env.jwks.prefetch()
    gateway = env.gateway
    gateway.sts  # noqa: B018 - builds the client
    gateway.s3  # noqa: B018
    if env.config.identity_mode == IDENTITY_CENTER:
        gateway.sso_oidc  # noqa: B018
    for region in sorted({*env.config.bucket_regions.values(), env.config.aws_region}):
        gateway.prime_client("s3control", region)
    for bucket, region in env.config.bucket_regions.items():
        env.signer.prime_bucket(bucket, region)
    if env.state is not None:
        env.state.prime()


def reseed() -> None:
    random.seed()


register_before_snapshot(prime)
register_after_restore(reseed)
