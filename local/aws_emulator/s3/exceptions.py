"""S3's error responses (Amazon S3 API reference, "Error responses": code, HTTP status, message), with
the extra elements S3 puts in some of them. Where moto defines the error (`moto.s3.exceptions`), its code
and wording are taken from it; moto's errors lack the status and elements, which are added here."""

from __future__ import annotations

from typing import Any

from moto.core.exceptions import ServiceException
from moto.s3 import exceptions as moto_s3

from local.aws_emulator.core.exceptions import EmulatorError


def _from_moto(error: ServiceException, status: int, **details: Any) -> EmulatorError:
    return EmulatorError(error.code, error.message, status=status, **details)


def access_denied(message: str = "Access Denied", **details: str) -> EmulatorError:
    return EmulatorError("AccessDenied", message, status=403, **details)


def signature_mismatch() -> EmulatorError:
    return _from_moto(moto_s3.S3SignatureDoesNotMatchError(), 403)


def invalid_token() -> EmulatorError:
    return _from_moto(moto_s3.S3InvalidTokenError(), 400)


def invalid_access_key() -> EmulatorError:
    return EmulatorError(
        "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", status=403
    )


def expired_token() -> EmulatorError:
    return EmulatorError("ExpiredToken", "The provided token has expired.", status=400)


def query_parameters(message: str, **details: str) -> EmulatorError:
    return EmulatorError("AuthorizationQueryParametersError", message, status=400, **details)


def header_malformed(message: str, **details: str) -> EmulatorError:
    return EmulatorError("AuthorizationHeaderMalformed", message, status=400, **details)


def content_sha256_mismatch() -> EmulatorError:
    return EmulatorError(
        "XAmzContentSHA256Mismatch",
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
        status=400,
    )


def invalid_argument(message: str) -> EmulatorError:
    return EmulatorError("InvalidArgument", message, status=400)


def cors_forbidden() -> EmulatorError:
    return _from_moto(moto_s3.AccessForbidden("CORSResponse: This CORS request is not allowed."), 403)


def invalid_policy_document(message: str) -> EmulatorError:
    return EmulatorError("InvalidPolicyDocument", message, status=400)


def entity_too_large(proposed: int, maximum: int) -> EmulatorError:
    return EmulatorError(
        "EntityTooLarge",
        "Your proposed upload exceeds the maximum allowed size",
        status=400,
        ProposedSize=str(proposed),
        MaxSizeAllowed=str(maximum),
    )


def entity_too_small(proposed: int, minimum: int) -> EmulatorError:
    return _from_moto(moto_s3.EntityTooSmall(), 400, ProposedSize=str(proposed), MinSizeAllowed=str(minimum))


def no_such_upload(upload_id: str) -> EmulatorError:
    return _from_moto(moto_s3.NoSuchUpload(upload_id), 404, UploadId=upload_id)


def no_such_bucket(bucket: str) -> EmulatorError:
    return _from_moto(moto_s3.MissingBucket(bucket), 404, BucketName=bucket)


def invalid_part_number_argument(value: str) -> EmulatorError:
    """UploadPart's or GetObject's partNumber outside 1..10,000 (moto answers NoSuchUpload or a 500)."""
    return EmulatorError(
        "InvalidArgument",
        "Part number must be an integer between 1 and 10000, inclusive",
        status=400,
        ArgumentName="partNumber",
        ArgumentValue=value,
    )


def invalid_part_order() -> EmulatorError:
    return _from_moto(moto_s3.InvalidPartOrder(), 400)


def invalid_part_number(part_number: int, parts_count: int) -> EmulatorError:
    """GetObject/HeadObject of a part the object does not have."""
    return EmulatorError(
        "InvalidPartNumber",
        "The requested partnumber is not satisfiable",
        status=416,
        PartNumberRequested=str(part_number),
        ActualPartCount=str(parts_count),
    )
