"""S3's multipart bounds, part reads and per-key batch deletes, as the S3 API reference documents them, with
credentials Access Grants vended (so the emulator's own authorization sits in front of moto's answers)."""

from __future__ import annotations

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from local.stack import LocalStack
from tests.emulator.helpers import boto_keys, get_data_access, role_session, s3_with

pytestmark = pytest.mark.integration

BUCKET = "shopfast-data"
MIB = 1024 * 1024


@pytest.fixture
def s3(stack: LocalStack):
    vended = get_data_access(stack, role_session(stack, "Sales"), f"s3://{BUCKET}/users/*", "READWRITE")
    return s3_with(stack, vended, signature_version="s3v4", s3={"addressing_style": "path"})


def error_of(refused: pytest.ExceptionInfo[ClientError]) -> dict:
    return {
        **refused.value.response["Error"],
        "Status": refused.value.response["ResponseMetadata"]["HTTPStatusCode"],
    }


@pytest.mark.parametrize("part_number", ["0", "10001", "-1", "one"])
def test_a_part_number_outside_1_to_10000_is_invalid_argument(stack: LocalStack, part_number: str) -> None:
    """S3 API reference, UploadPart, PartNumber: "a positive integer between 1 and 10,000"; S3 answers
    InvalidArgument "Part number must be an integer between 1 and 10000, inclusive" naming the argument."""
    vended = get_data_access(stack, role_session(stack, "Sales"), f"s3://{BUCKET}/users/*", "READWRITE")
    # Without botocore's own checks, so the value reaches the emulator as a client could send it.
    s3 = s3_with(stack, vended, signature_version="s3v4", parameter_validation=False)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="users/bounds.bin")["UploadId"]
    with pytest.raises(ClientError) as refused:
        s3.upload_part(
            Bucket=BUCKET, Key="users/bounds.bin", UploadId=upload, PartNumber=part_number, Body=b"x"
        )
    error = error_of(refused)
    assert (error["Code"], error["Status"]) == ("InvalidArgument", 400)
    assert error["Message"] == "Part number must be an integer between 1 and 10000, inclusive"
    assert (error["ArgumentName"], error["ArgumentValue"]) == ("partNumber", part_number)
    s3.abort_multipart_upload(Bucket=BUCKET, Key="users/bounds.bin", UploadId=upload)


def _two_part_object(s3, key: str) -> tuple[bytes, bytes]:
    first, last = b"a" * (5 * MIB), b"tail"
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    etags = [
        s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=n, Body=body)["ETag"]
        for n, body in ((1, first), (2, last))
    ]
    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key=key,
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in enumerate(etags, 1)]},
    )
    return first, last


def test_parts_listed_out_of_order_at_completion_are_invalid_part_order(s3) -> None:
    """S3 API reference, CompleteMultipartUpload, "Errors": InvalidPartOrder (400) "The list of parts was
    not in ascending order. The parts list must be specified in order by part number."; the upload stays."""
    key = "users/order.bin"
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    etags = [
        s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=n, Body=body)["ETag"]
        for n, body in ((1, b"a" * (5 * MIB)), (2, b"b"))
    ]
    with pytest.raises(ClientError) as refused:
        s3.complete_multipart_upload(
            Bucket=BUCKET,
            Key=key,
            UploadId=upload,
            MultipartUpload={
                "Parts": [{"PartNumber": 2, "ETag": etags[1]}, {"PartNumber": 1, "ETag": etags[0]}]
            },
        )
    error = error_of(refused)
    assert (error["Code"], error["Status"]) == ("InvalidPartOrder", 400)
    assert s3.list_parts(Bucket=BUCKET, Key=key, UploadId=upload)["Parts"]  # still there to complete
    s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload)


def test_get_object_with_a_part_number_reads_that_part(s3) -> None:
    """S3 API reference, GetObject, partNumber: "Part number of the object being read... Effectively performs
    a 'ranged' GET request for the part specified": 206, the part's bytes, `x-amz-mp-parts-count`; a part
    the object does not have is InvalidPartNumber (416, "The requested partnumber is not satisfiable")."""
    first, last = _two_part_object(s3, "users/two-parts.bin")
    got = s3.get_object(Bucket=BUCKET, Key="users/two-parts.bin", PartNumber=2)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["Body"].read() == last
    assert got["PartsCount"] == 2
    assert got["ContentRange"] == f"bytes {len(first)}-{len(first) + len(last) - 1}/{len(first) + len(last)}"
    head = s3.head_object(Bucket=BUCKET, Key="users/two-parts.bin", PartNumber=1)
    assert (head["ContentLength"], head["PartsCount"]) == (len(first), 2)
    with pytest.raises(ClientError) as refused:
        s3.get_object(Bucket=BUCKET, Key="users/two-parts.bin", PartNumber=3)
    error = error_of(refused)
    assert (error["Code"], error["Status"]) == ("InvalidPartNumber", 416)


def test_an_object_completed_from_some_parts_numbers_them_in_order(s3) -> None:
    """AWS is silent (local/README.md, decisions): parts 1 and 3 completed make an object of two parts,
    read as 1 and 2; part 3 is one the object does not have."""
    key = "users/some-parts.bin"
    bodies = {1: b"a" * (5 * MIB), 2: b"b" * (5 * MIB), 3: b"tail"}
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    etags = {
        n: s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=n, Body=body)["ETag"]
        for n, body in bodies.items()
    }
    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key=key,
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etags[n]} for n in (1, 3)]},
    )
    second = s3.get_object(Bucket=BUCKET, Key=key, PartNumber=2)
    assert second["Body"].read() == bodies[3]
    assert second["PartsCount"] == 2
    with pytest.raises(ClientError) as refused:
        s3.get_object(Bucket=BUCKET, Key=key, PartNumber=3)
    assert (error_of(refused)["Code"], error_of(refused)["Status"]) == ("InvalidPartNumber", 416)


def test_delete_objects_decides_each_key_on_its_own(stack: LocalStack, s3) -> None:
    """S3 API reference, DeleteObjects: "the response includes the result of deleting each key", with an
    `Error` (Key, Code, Message) for each key that could not be deleted, in a 200 answer; each key is
    authorized as s3:DeleteObject on its own. Vended credentials for users/ delete there, not elsewhere."""
    s3.put_object(Bucket=BUCKET, Key="users/batch-1.txt", Body=b"1")
    admin = stack.client("s3")
    admin.put_object(Bucket=BUCKET, Key="feedback/batch-2.txt", Body=b"2")
    answer = s3.delete_objects(
        Bucket=BUCKET,
        Delete={"Objects": [{"Key": "users/batch-1.txt"}, {"Key": "feedback/batch-2.txt"}]},
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [deleted["Key"] for deleted in answer["Deleted"]] == ["users/batch-1.txt"]
    (error,) = answer["Errors"]
    assert (error["Key"], error["Code"]) == ("feedback/batch-2.txt", "AccessDenied")
    assert error["Message"].startswith("User: arn:aws:sts::")
    assert error["Message"].endswith(
        'is not authorized to perform: s3:DeleteObject on resource: "arn:aws:s3:::shopfast-data/'
        'feedback/batch-2.txt" because no session policy allows the s3:DeleteObject action'
    )
    assert admin.get_object(Bucket=BUCKET, Key="feedback/batch-2.txt")["Body"].read() == b"2"
    with pytest.raises(ClientError):
        admin.head_object(Bucket=BUCKET, Key="users/batch-1.txt")
    quiet = s3.delete_objects(
        Bucket=BUCKET, Delete={"Objects": [{"Key": "feedback/batch-2.txt"}], "Quiet": True}
    )
    assert "Deleted" not in quiet and [e["Key"] for e in quiet["Errors"]] == ["feedback/batch-2.txt"]
    admin.delete_object(Bucket=BUCKET, Key="feedback/batch-2.txt")


def test_virtual_hosted_style_requests_are_served(stack: LocalStack) -> None:
    """S3 User Guide, "Virtual hosting of buckets": the bucket in the Host name (`bucket.<endpoint>`) is the
    same request as path style. Names under `localhost` do not resolve here, so the client reaches the
    emulator as its HTTP proxy (the server takes absolute request URIs, as a proxy does)."""
    vended = get_data_access(stack, role_session(stack, "Sales"), f"s3://{BUCKET}/users/*", "READWRITE")
    port = stack.aws_endpoint.rsplit(":", 1)[1].rstrip("/")
    virtual = boto3.client(
        "s3",
        endpoint_url=f"http://localhost:{port}",
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "virtual"},
            proxies={"http": stack.aws_endpoint},
            retries={"total_max_attempts": 1},
        ),
        **boto_keys(vended["Credentials"]),
    )
    seen: list[str] = []
    virtual.meta.events.register("before-send.s3", lambda request, **_: seen.append(request.url))
    virtual.put_object(Bucket=BUCKET, Key="users/virtual.txt", Body=b"hosted")
    assert virtual.get_object(Bucket=BUCKET, Key="users/virtual.txt")["Body"].read() == b"hosted"
    assert seen[0] == f"http://{BUCKET}.localhost:{port}/users/virtual.txt"
    with pytest.raises(ClientError) as refused:
        virtual.get_object(Bucket=BUCKET, Key="feedback/2024-q1.csv")
    assert error_of(refused)["Code"] == "AccessDenied"


def test_access_denied_names_the_principal_action_resource_and_policy(stack: LocalStack) -> None:
    """S3 User Guide, "Troubleshoot access denied (403 Forbidden) errors": for a caller of the account,
    "User: <arn> is not authorized to perform: <action> on resource: "<arn>" because no session policy
    allows the <action> action" (or "with an explicit deny in a resource-based policy"); an anonymous
    caller gets the bare "Access Denied"."""
    vended = get_data_access(stack, role_session(stack, "Sales"), f"s3://{BUCKET}/users/*", "READWRITE")
    s3 = s3_with(stack, vended, signature_version="s3v4")
    caller = stack.client("sts", credentials=boto_keys(vended["Credentials"])).get_caller_identity()["Arn"]
    with pytest.raises(ClientError) as refused:
        s3.get_object(Bucket=BUCKET, Key="feedback/2024-q1.csv")
    assert error_of(refused)["Message"] == (
        f"User: {caller} is not authorized to perform: s3:GetObject on resource: "
        '"arn:aws:s3:::shopfast-data/feedback/2024-q1.csv" because no session policy allows the s3:GetObject'
        " action"
    )
    anonymous = requests.get(f"{stack.aws_endpoint.rstrip('/')}/{BUCKET}/users/user_list", timeout=10)
    assert anonymous.status_code == 403 and "<Message>Access Denied</Message>" in anonymous.text
