"""The limits and shapes S3 and this API set on request values, in one place: the domain enforces them,
and the declared HTTP contract (`edge.contract`) documents them, without importing the modules that
do the work (which only the functions using them load at cold start)."""

from __future__ import annotations

import re

MAX_BATCH_ITEMS = 100  # presigned requests in one POST /v1/presign
# S3's largest single PUT (S3 User Guide, "Uploading objects"): a larger one needs a multipart upload.
MAX_PUT_BYTES = 5 * 1024**3
MAX_PARTS = 10_000  # S3's limit per multipart upload
# URLs signed per answer: 1,000 URLs stay well inside Lambda's 6 MB response limit whatever the length of
# the session token in them; a larger upload gets the rest from POST /v1/uploads/parts (`nextPartNumber`).
MAX_PART_URLS_PER_ANSWER = 1_000
MAX_ETAG_CHARS = 128
# S3 Access Grants' GetDataAccess: credentials live 15 minutes to 12 hours (DurationSeconds).
GET_DATA_ACCESS_MIN_DURATION = 900
GET_DATA_ACCESS_MAX_DURATION = 43200
MAX_POST_BYTES = 5 * 1024**3  # a POST form's largest object, as a PUT's
MAX_PAGE_TOKEN_CHARS = 2048  # the page tokens the API hands out (grants, objects)
MAX_GRANTS_PAGE = 100  # grants per GET /v1/grants page
MAX_LIST_PAGE = 1000  # objects per GET /v1/objects page (ListObjectsV2's own maximum)
MAX_UPLOAD_ID_CHARS = 1024
# A media type, with parameters (RFC 9110 tokens; quoted or token values).
CONTENT_TYPE = re.compile(
    r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+"
    r"( *; *[A-Za-z0-9!#$&^_.+-]+=(\"[^\"\x00-\x1f\x7f]*\"|[A-Za-z0-9!#$&^_.+-]+))*$"
)
ETAG = re.compile(r'^"?[\x21\x23-\x7e]+"?$')  # as S3 answers it, with or without its quotes
