"""The shared state on DynamoDB: the shared cache tier's entries, sealed under KMS, and the revocation list.

One table (`template.yaml` StateTable: `pk`/`sk` strings, TTL attribute `expires`):

- a cache entry: pk = the identity key (a digest), sk = `session` or `grant/<digest of its scope>`;
  `obtained`, `fresh` (epoch seconds), `expires` (TTL), and the sealed payload: `edk` (the data key, as
  KMS encrypted it), `nonce`, `box` (AES-GCM ciphertext and tag);
- the user index: pk = `user/<digest of an email or directory user id>`, sk = an identity key, `expires`
  (what `make revoke` deletes);
- the revocation list: pk = `revocations`, sk = `revision` (attribute `revision`, bumped at each change)
  one sk = `user/<digest>` per revoked user, and sk = `sessions-before` (attribute `at`) once
  `make revoke-sessions` ran.

No key holds an email, a token or a scope in clear: identities are the service's identity keys, users and
scopes are SHA-256 digests (`domain.keys`).

Sealing is envelope encryption: AES-256-GCM under a data key from `GenerateDataKey` on the state key, with
the item's `pk` and `sk` as additional authenticated data, so an entry copied under another identity or
scope does not open. A data key seals for DATA_KEY_SECONDS (or DATA_KEY_MESSAGES entries) and an opened
one is remembered as long: KMS calls grow with execution environments, not with requests.

Hand-written rather than the AWS Encryption SDK: the SDK binds context by KMS encryption context, and its
caching materials manager keeps one data key per encryption context, so binding the identity there would
cost a KMS call per identity and scope instead of one per environment; nor is it among our pins.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adapters.aws import ClientFactory, call
from adapters.aws_errors import aws_error_code
from domain.audit import count
from domain.keys import canonical
from domain.ports import RevocationList, SharedEntry

# KMS encryption context of every data key: the key policy and the functions' IAM allow no other.
ENCRYPTION_CONTEXT = {"purpose": "shopfast-vending-shared-cache"}
DATA_KEY_SECONDS = 300
# NIST SP 800-38D bounds random 96-bit nonces at 2^32 messages per key; this is far below.
DATA_KEY_MESSAGES = 100_000
MAX_OPENED_DATA_KEYS = 256
# The shared tier is a shortcut: a slow store must cost less than the exchange it saves.
STORE_READ_TIMEOUT_SECONDS = 1.0
SESSION = "session"
GRANT_PREFIX = "grant/"
USER_PREFIX = "user/"
REVOCATIONS = "revocations"
REVISION = "revision"
SESSIONS_BEFORE = "sessions-before"
Clock = Callable[[], float]


class Sealer:
    """AES-GCM with KMS data keys, cached per execution environment for a bounded time."""

    def __init__(self, kms: Any, key_arn: str, clock: Clock = time.monotonic) -> None:
        self._kms = kms
        self._key_arn = key_arn
        self._clock = clock
        self._sealing: tuple[bytes, AESGCM, float] | None = None  # encrypted key, cipher, created
        self._sealed = 0
        self._opened: OrderedDict[bytes, tuple[AESGCM, float]] = OrderedDict()

    def seal(self, plaintext: bytes, aad: bytes) -> dict[str, bytes]:
        encrypted_key, cipher = self._sealing_key()
        nonce = os.urandom(12)
        return {"edk": encrypted_key, "nonce": nonce, "box": cipher.encrypt(nonce, plaintext, aad)}

    def open(self, encrypted_key: bytes, nonce: bytes, box: bytes, aad: bytes) -> bytes | None:
        """The plaintext, or None if the item does not open with this AAD (moved, altered)."""
        cipher = self._opening_key(encrypted_key)
        try:
            return cipher.decrypt(nonce, box, aad)
        except InvalidTag:
            return None

    def _sealing_key(self) -> tuple[bytes, AESGCM]:
        now = self._clock()
        current = self._sealing
        if current is None or now - current[2] >= DATA_KEY_SECONDS or self._sealed >= DATA_KEY_MESSAGES:
            answer = call(
                "GenerateDataKey",
                self._kms.generate_data_key,
                KeyId=self._key_arn,
                KeySpec="AES_256",
                EncryptionContext=ENCRYPTION_CONTEXT,
            )
            current = (answer["CiphertextBlob"], AESGCM(answer["Plaintext"]), now)
            self._sealing, self._sealed = current, 0
            self._remember(answer["CiphertextBlob"], current[1], now)
        self._sealed += 1
        return current[0], current[1]

    def _opening_key(self, encrypted_key: bytes) -> AESGCM:
        now = self._clock()
        known = self._opened.get(encrypted_key)
        if known is not None and now - known[1] < DATA_KEY_SECONDS:
            self._opened.move_to_end(encrypted_key)
            return known[0]
        answer = call(
            "Decrypt",
            self._kms.decrypt,
            CiphertextBlob=encrypted_key,
            KeyId=self._key_arn,
            EncryptionContext=ENCRYPTION_CONTEXT,
        )
        cipher = AESGCM(answer["Plaintext"])
        self._remember(encrypted_key, cipher, now)
        return cipher

    def _remember(self, encrypted_key: bytes, cipher: AESGCM, now: float) -> None:
        self._opened[encrypted_key] = (cipher, now)
        self._opened.move_to_end(encrypted_key)
        while len(self._opened) > MAX_OPENED_DATA_KEYS:
            self._opened.popitem(last=False)


def entry_aad(identity: str, name: str) -> bytes:
    """What a sealed entry is bound to: its identity and its name (the scope digest)."""
    return canonical("shared-cache/v1", identity, name)


class DynamoDbSharedState:
    """`domain.ports.SharedStore` and `domain.ports.RevocationStore` on one DynamoDB table."""

    def __init__(self, table: str, key_arn: str | None, factory: ClientFactory) -> None:
        self._table = table
        self._key_arn = key_arn
        self._factory = factory
        self._dynamodb_client: Any = None
        self._sealer_instance: Sealer | None = None

    @property
    def _dynamodb(self) -> Any:
        if self._dynamodb_client is None:
            self._dynamodb_client = self._factory.create("dynamodb", read_timeout=STORE_READ_TIMEOUT_SECONDS)
        return self._dynamodb_client

    @property
    def _sealer(self) -> Sealer | None:
        """None without a key (the revocation list alone needs none)."""
        if self._sealer_instance is None and self._key_arn:
            kms = self._factory.create("kms", read_timeout=STORE_READ_TIMEOUT_SECONDS)
            self._sealer_instance = Sealer(kms, self._key_arn)
        return self._sealer_instance

    def prime(self) -> None:
        """Build the clients (no AWS call): their models load before a snapshot, not at a first request."""
        self._dynamodb  # noqa: B018
        self._sealer  # noqa: B018

    # -- the shared cache tier --
    def entries(self, identity: str) -> list[SharedEntry]:
        if self._sealer is None:
            return []
        # Stale entries stay until DynamoDB's TTL deletes them (within days): never read back or opened.
        items = self._query(
            identity,
            FilterExpression="fresh > :now",
            ExpressionAttributeValues={":now": {"N": repr(time.time())}},
            # An entry written a moment ago and not yet visible costs this environment one exchange.
            ConsistentRead=False,
        )
        found = []
        for item in items:
            entry = self._opened(identity, item)
            if entry is None:
                count("SharedCacheEntriesRefused")
            else:
                found.append(entry)
        return found

    def put(self, identity: str, entry: SharedEntry, users: Sequence[str]) -> None:
        sealer = self._sealer
        if sealer is None:
            return
        sealed = sealer.seal(entry.payload, entry_aad(identity, entry.name))
        expires = str(int(entry.fresh_until) + 1)
        item = {
            "pk": {"S": identity},
            "sk": {"S": entry.name},
            "obtained": {"N": repr(entry.obtained_at)},
            "fresh": {"N": repr(entry.fresh_until)},
            "expires": {"N": expires},
            **{name: {"B": value} for name, value in sealed.items()},
        }

        call(
            "PutItem",
            self._put_unless_newer,
            TableName=self._table,
            Item=item,
            # Concurrent writers never go back in time: the entry obtained last stays.
            ConditionExpression="attribute_not_exists(pk) OR obtained < :obtained",
            ExpressionAttributeValues={":obtained": {"N": repr(entry.obtained_at)}},
        )
        for user in users:
            call(
                "PutItem",
                self._dynamodb.put_item,
                TableName=self._table,
                Item={"pk": {"S": USER_PREFIX + user}, "sk": {"S": identity}, "expires": {"N": expires}},
            )

    def _put_unless_newer(self, **parameters: Any) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = self._dynamodb.put_item(**parameters)
        except Exception as error:
            if aws_error_code(error) == "ConditionalCheckFailedException":
                return {}  # an entry obtained later is stored already: it stays
            raise
        return answer

    def _opened(self, identity: str, item: dict[str, Any]) -> SharedEntry | None:
        sealer = self._sealer
        assert sealer is not None
        try:
            name = item["sk"]["S"]
            plaintext = sealer.open(
                item["edk"]["B"], item["nonce"]["B"], item["box"]["B"], entry_aad(identity, name)
            )
            if plaintext is None:
                return None
            return SharedEntry(
                name=name,
                payload=plaintext,
                obtained_at=float(item["obtained"]["N"]),
                fresh_until=float(item["fresh"]["N"]),
            )
        except (KeyError, ValueError):
            return None  # not an entry this service wrote

    def _query(self, partition: str, **conditions: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = call(
            "Query", lambda: {"Items": partition_items(self._dynamodb, self._table, partition, **conditions)}
        )["Items"]
        return items

    # -- revocation --
    def revision(self) -> str | None:
        answer = call(
            "GetItem",
            self._dynamodb.get_item,
            TableName=self._table,
            Key={"pk": {"S": REVOCATIONS}, "sk": {"S": REVISION}},
            ConsistentRead=True,
        )
        item = answer.get("Item")
        return str(item["revision"]["N"]) if item and "revision" in item else None

    def revocation_list(self) -> RevocationList:
        # Consistent: read after a revision that announced it, the list must hold the change.
        items = self._query(REVOCATIONS)
        cutoff = next((item for item in items if item["sk"]["S"] == SESSIONS_BEFORE), None)
        return RevocationList(
            users=frozenset(
                item["sk"]["S"].removeprefix(USER_PREFIX)
                for item in items
                if item["sk"]["S"].startswith(USER_PREFIX)
            ),
            sessions_before=float(cutoff["at"]["N"]) if cutoff and "at" in cutoff else None,
        )


# -- the operator's side (`make revoke`, `make reinstate`): the same layout, written with a plain client --
def _bump_revision(dynamodb: Any, table: str) -> None:
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": REVOCATIONS}, "sk": {"S": REVISION}},
        UpdateExpression="ADD revision :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )


def revoke_user(dynamodb: Any, table: str, user: str, now: float) -> int:
    """Add `user` (a digest) to the revocation list, then delete the shared entries indexed under it;
    returns how many entries were deleted."""
    dynamodb.put_item(
        TableName=table,
        Item={"pk": {"S": REVOCATIONS}, "sk": {"S": USER_PREFIX + user}, "revokedAt": {"N": str(int(now))}},
    )
    _bump_revision(dynamodb, table)
    deleted = 0
    for index in partition_items(dynamodb, table, USER_PREFIX + user):
        identity = index["sk"]["S"]
        for item in partition_items(dynamodb, table, identity):
            dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
            deleted += 1
        dynamodb.delete_item(TableName=table, Key={"pk": index["pk"], "sk": index["sk"]})
    return deleted


def reinstate_user(dynamodb: Any, table: str, user: str) -> bool:
    """Remove `user` (a digest) from the revocation list; whether it was on it."""
    answer = dynamodb.delete_item(
        TableName=table,
        Key={"pk": {"S": REVOCATIONS}, "sk": {"S": USER_PREFIX + user}},
        ReturnValues="ALL_OLD",
    )
    _bump_revision(dynamodb, table)
    return bool(answer.get("Attributes"))


def end_shared_sessions(dynamodb: Any, table: str, now: float) -> int:
    """Every vended session issued before `now` is being denied (`make revoke-sessions`): delete every
    shared cache entry and tell every environment to drop what it holds; returns how many were deleted."""
    dynamodb.put_item(
        TableName=table,
        Item={"pk": {"S": REVOCATIONS}, "sk": {"S": SESSIONS_BEFORE}, "at": {"N": str(int(now))}},
    )
    _bump_revision(dynamodb, table)
    return delete_items(dynamodb, table, keep_partition=REVOCATIONS)


def partition_items(dynamodb: Any, table: str, partition: str, **conditions: Any) -> list[dict[str, Any]]:
    """Every item of one partition, all pages, read consistently unless `conditions` say otherwise (with
    a FilterExpression and its values)."""
    values = {":pk": {"S": partition}, **conditions.pop("ExpressionAttributeValues", {})}
    parameters = {"ConsistentRead": True, **conditions}
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("query").paginate(
        TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues=values, **parameters
    ):
        items.extend(page["Items"])
    return items


def delete_items(dynamodb: Any, table: str, *, keep_partition: str | None = None) -> int:
    """Delete every item of the table but `keep_partition`'s; returns how many were deleted."""
    deleted = 0
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="pk, sk"):
        for item in page["Items"]:
            if item["pk"]["S"] != keep_partition:
                dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
                deleted += 1
    return deleted
