"""Uploads without AWS: the uploadId binding, the request contract, part URLs and POST policies as signed."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config

from adapters.s3_signer import S3Presigner
from domain.caller import Caller
from domain.config import ServiceConfig
from domain.errors import ConfigError, InternalError, InvalidRequest, NotFound
from domain.targets import parse_target
from domain.uploads import UploadBinding
from edge import responses
from edge.problems import encoded
from edge.requests.presign import parse_presign_request
from edge.requests.uploads import parse_complete, parse_part_urls, parse_start
from tests.unit.test_config import BASE
from tests.unit.test_presign_parts import CONFIG, CREDENTIALS

pytestmark = pytest.mark.unit

KEY = b"k" * 48
TARGET = parse_target("s3://shopfast-data/feedback/big.bin")


def caller(subject: str = "alice-sub", email: str = "alice@shopfast.example") -> Caller:
    return Caller("https://idp.example.com", subject, email, None, (), token="t", user=email)


def test_an_upload_id_opens_only_for_the_caller_and_target_that_sealed_it() -> None:
    binding = UploadBinding.with_keys(KEY)
    upload_id = binding.seal(caller(), TARGET, "s3-upload.id_with-chars")

    assert upload_id.startswith("s3-upload.id_with-chars.")
    assert binding.open(caller(), TARGET, upload_id) == "s3-upload.id_with-chars"
    for who, where, which in (
        (caller("bob-sub", "bob@shopfast.example"), TARGET, upload_id),
        (caller(email="alice.new@shopfast.example"), TARGET, upload_id),  # the mapped claim changed
        (caller(), parse_target("s3://shopfast-data/feedback/other.bin"), upload_id),
        (caller(), TARGET, upload_id[:-1] + ("A" if upload_id[-1] != "A" else "B")),
        (caller(), TARGET, "no-mac-at-all"),
        (caller(), TARGET, ""),
    ):
        with pytest.raises(NotFound):
            binding.open(who, where, which)
    with pytest.raises(NotFound):
        UploadBinding.with_keys(b"another key, just as long as the first one is!!").open(
            caller(), TARGET, upload_id
        )


def test_a_short_binding_key_is_refused() -> None:
    with pytest.raises(InternalError):
        UploadBinding.with_keys(b"short").seal(caller(), TARGET, "u")


@pytest.mark.parametrize(
    ("parse", "body", "fragment"),
    [
        (
            parse_start,
            {"target": "s3://shopfast-data/f", "partCount": 10_001},
            "partCount must be between 1 and 10000",
        ),
        (
            parse_start,
            {"target": "s3://shopfast-data/f", "partCount": 2, "contentType": "bad"},
            "contentType",
        ),
        (parse_start, {"target": "s3://elsewhere/f", "partCount": 2}, "not served"),
        (
            parse_part_urls,
            {"target": "s3://shopfast-data/f", "uploadId": "u", "partNumbers": [True]},
            "partNumbers[0]",
        ),
        (
            parse_part_urls,
            {"target": "s3://shopfast-data/f", "uploadId": "u", "partNumbers": list(range(1, 1002))},
            "1 to 1000",
        ),
        (
            parse_complete,
            {"target": "s3://shopfast-data/f", "uploadId": "u", "parts": [{"partNumber": 1}]},
            "parts[0].etag is required",
        ),
        (
            parse_complete,
            {"target": "s3://shopfast-data/f", "uploadId": "u", "parts": [{"partNumber": 1, "etag": "a b"}]},
            "parts[0].etag",
        ),
        (
            parse_complete,
            {
                "target": "s3://shopfast-data/f",
                "uploadId": "u",
                "parts": [{"partNumber": 1, "etag": "e", "size": 1}],
            },
            "unknown field",
        ),
    ],
)
def test_invalid_upload_requests_name_the_field(parse, body: dict, fragment: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse(body, CONFIG)
    assert fragment in refused.value.detail


def test_complete_quotes_etags_as_s3_lists_them() -> None:
    parsed = parse_complete(
        {
            "target": "s3://shopfast-data/f",
            "uploadId": "u",
            "parts": [{"partNumber": 1, "etag": "abc"}, {"partNumber": 3, "etag": '"def"'}],
        },
        CONFIG,
    )
    assert parsed.parts == ((1, '"abc"'), (3, '"def"'))


def test_part_urls_are_byte_for_byte_botocores_upload_part() -> None:
    signer = S3Presigner(endpoint_url="http://127.0.0.1:4000")
    reference = boto3.session.Session().client(
        "s3",
        region_name="ap-southeast-2",
        endpoint_url="http://127.0.0.1:4000",
        aws_access_key_id=CREDENTIALS.access_key_id,
        aws_secret_access_key=CREDENTIALS.secret_access_key,
        aws_session_token=CREDENTIALS.session_token,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    target = parse_target("s3://shopfast-internal/benefits/a b+c.bin")
    for _ in range(5):
        ours = signer.sign(
            "PUT", target, CREDENTIALS, 600, "ap-southeast-2", params={"uploadId": "id/+=", "partNumber": "7"}
        ).url
        botocores = reference.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": "shopfast-internal",
                "Key": "benefits/a b+c.bin",
                "UploadId": "id/+=",
                "PartNumber": 7,
            },
            ExpiresIn=600,
        )
        if parse_qs(urlsplit(ours).query)["X-Amz-Date"] == parse_qs(urlsplit(botocores).query)["X-Amz-Date"]:
            break
    assert ours == botocores


def test_a_post_policy_pins_bucket_key_prefix_size_type_and_expiry() -> None:
    signer = S3Presigner(endpoint_url="http://127.0.0.1:4000")
    request = parse_presign_request(
        {
            "target": "s3://shopfast-data/feedback/*",
            "method": "POST",
            "maxBytes": 2048,
            "contentType": "text/csv",
        },
        CONFIG,
    )
    before = datetime.now(UTC).replace(microsecond=0)

    presigned = signer.presign(request, CREDENTIALS, 300, "us-east-1")

    fields = presigned.fields
    assert fields is not None and presigned.url == "http://127.0.0.1:4000/shopfast-data"
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert policy["expiration"] == presigned.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert before + timedelta(seconds=300) <= presigned.expires_at <= before + timedelta(seconds=302)
    conditions = policy["conditions"]
    assert {"bucket": "shopfast-data"} in conditions
    assert ["starts-with", "$key", "feedback/"] in conditions
    assert ["content-length-range", 0, 2048] in conditions
    assert {"Content-Type": "text/csv"} in conditions
    assert {"x-amz-security-token": CREDENTIALS.session_token} in conditions
    assert "key" not in fields and fields["Content-Type"] == "text/csv"
    assert fields["x-amz-credential"].split("/")[2] == "us-east-1"
    assert json.loads(encoded(responses.presigned(presigned))).keys() == {
        "url",
        "method",
        "fields",
        "expiresAt",
        "maxBytes",
    }
    assert "policy" not in repr(presigned) and "signature" not in repr(presigned)


def test_a_post_policy_for_one_object_names_its_key_and_defaults_its_size() -> None:
    request = parse_presign_request(
        {"target": "s3://shopfast-data/feedback/one.txt", "method": "POST"}, CONFIG
    )
    presigned = S3Presigner(endpoint_url="http://127.0.0.1:4000").presign(
        request, CREDENTIALS, 60, "us-east-1"
    )

    assert presigned.fields is not None and presigned.fields["key"] == "feedback/one.txt"
    conditions = json.loads(base64.b64decode(presigned.fields["policy"]))["conditions"]
    assert {"key": "feedback/one.txt"} in conditions
    assert ["content-length-range", 0, 100 * 1024 * 1024] in conditions  # DEFAULT_POST_BYTES


def test_a_put_with_content_length_signs_it() -> None:
    request = parse_presign_request(
        {"target": "s3://shopfast-data/feedback/one.txt", "method": "PUT", "contentLength": 42}, CONFIG
    )
    presigned = S3Presigner(endpoint_url="http://127.0.0.1:4000").presign(
        request, CREDENTIALS, 60, "us-east-1"
    )
    assert parse_qs(urlsplit(presigned.url).query)["X-Amz-SignedHeaders"] == ["content-length;host"]
    assert presigned.headers == {"Content-Length": "42"}


def test_post_size_limits_are_configuration() -> None:
    base = BASE
    defaults = ServiceConfig.from_env(base)
    assert (defaults.default_post_bytes, defaults.max_post_bytes) == (100 * 1024**2, 5 * 1024**3)
    assert defaults.upload_binding_secret is None
    small = ServiceConfig.from_env(base | {"MAX_POST_BYTES": "1024"})
    assert (small.default_post_bytes, small.max_post_bytes) == (1024, 1024)
    with pytest.raises(ConfigError) as refused:
        ServiceConfig.from_env(base | {"MAX_POST_BYTES": "1024", "DEFAULT_POST_BYTES": "2048"})
    assert "DEFAULT_POST_BYTES" in str(refused.value)
    with pytest.raises(ConfigError):
        ServiceConfig.from_env(base | {"MAX_POST_BYTES": str(6 * 1024**3)})


class RotatingSecret:
    """A secret with Secrets Manager's two stages, and how often each was read."""

    def __init__(self, current: bytes) -> None:
        self.current, self.previous = current, None
        self.reads = 0

    def rotate(self, new: bytes) -> None:
        self.current, self.previous = new, self.current

    def __call__(self, previous: bool) -> list[bytes]:
        self.reads += 1 + previous
        return [self.current] + ([self.previous] if previous and self.previous else [])


K1, K2, K3 = (bytes([n]) * 40 for n in (1, 2, 3))


def test_a_rotation_breaks_no_upload_in_flight_in_any_environment() -> None:
    secret, now = RotatingSecret(K1), [0.0]
    warm = UploadBinding(secret, clock=lambda: now[0])  # read K1, then keeps it
    before = warm.seal(caller(), TARGET, "started-before")

    secret.rotate(K2)
    fresh = UploadBinding(secret, clock=lambda: now[0])  # a new environment: K2 current, K1 previous
    after = fresh.seal(caller(), TARGET, "started-after")

    assert fresh.open(caller(), TARGET, before) == "started-before"  # sealed with the previous key
    assert warm.open(caller(), TARGET, after) == "started-after"  # sealed with a key it had not read
    assert warm.seal(caller(), TARGET, "x") == fresh.seal(caller(), TARGET, "x")  # now sealing with K2

    secret.rotate(K3)  # a second rotation: K1 is gone
    now[0] += 301  # every environment reads the key again within KEY_MAX_AGE_SECONDS
    with pytest.raises(NotFound):
        fresh.open(caller(), TARGET, before)
    assert fresh.open(caller(), TARGET, after) == "started-after"


def test_forged_ids_read_the_secret_again_at_most_every_ten_seconds() -> None:
    secret, now = RotatingSecret(K1), [0.0]
    binding = UploadBinding(secret, clock=lambda: now[0])
    binding.seal(caller(), TARGET, "u")
    reads = secret.reads
    forged = "u." + "A" * 43
    for _ in range(50):
        with pytest.raises(NotFound):
            binding.open(caller(), TARGET, forged)
    assert secret.reads - reads == 2  # one re-read (current and previous), then none for 10 s
    now[0] += 10
    with pytest.raises(NotFound):
        binding.open(caller(), TARGET, forged)
    assert secret.reads - reads == 4
