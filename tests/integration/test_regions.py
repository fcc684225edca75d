"""Regions the service is not told about: a bucket missing from BUCKET_REGIONS is placed by S3
(HeadBucket's `x-amz-bucket-region`), once per execution environment, and then served like a planned one."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from local.stack import LocalStack
from tests.integration.handler_calls import call, service_configured

pytestmark = pytest.mark.integration

ERIN = "erin@shopfast.example"  # HR: benefits/ in shopfast-internal, ap-southeast-2


def test_an_unplanned_bucket_is_placed_once_by_s3(local_stack: LocalStack) -> None:
    with service_configured(local_stack, BUCKET_REGIONS="{}"):
        local_stack.reset_stats()
        token = local_stack.token(ERIN)
        for key in ("plans.txt", "other.txt"):
            answer = call(
                "POST",
                "/v1/presign",
                token=token,
                body={"target": f"s3://shopfast-internal/benefits/{key}", "method": "GET"},
            )
            assert answer.status == 200, answer.text
            scope = parse_qs(urlsplit(answer.body["url"]).query)["X-Amz-Credential"][0]
            assert scope.split("/")[2] == "ap-southeast-2"
        assert requests.get(answer.body["url"], timeout=10).status_code == 404  # signed right, no such key
        calls = local_stack.stats()["calls"]
        assert calls.get("HeadBucket") == 1, calls
        assert calls.get("GetDataAccess") == 1, calls


def test_a_bucket_s3_cannot_place_is_refused_by_access_grants(local_stack: LocalStack) -> None:
    with service_configured(local_stack, BUCKET_REGIONS="{}", ALLOWED_BUCKETS=""):
        answer = call(
            "POST",
            "/v1/credentials",
            token=local_stack.token(ERIN),
            body={"target": "s3://no-such-bucket-anywhere/x", "permission": "READ"},
        )
        assert answer.status == 403, answer.text


def test_one_identity_session_serves_every_region(local_stack: LocalStack) -> None:
    """dave holds grants in both Regions: one token exchange and one AssumeRole, then one GetDataAccess in
    each bucket's Region; a batch across both Regions pre-filters with each Region's grant list."""
    with service_configured(local_stack):
        local_stack.reset_stats()
        token = local_stack.token("dave@shopfast.example")
        for target in (
            "s3://shopfast-data/products/catalog.csv",
            "s3://shopfast-internal/leads/pipeline.csv",
        ):
            answer = call(
                "POST", "/v1/credentials", token=token, body={"target": target, "permission": "READ"}
            )
            assert answer.status == 200, answer.text
        calls = local_stack.stats()["calls"]
        assert (calls.get("CreateTokenWithIAM"), calls.get("AssumeRole"), calls.get("GetDataAccess")) == (
            1,
            1,
            2,
        )
        regions = [event["awsRegion"] for event in local_stack.cloudtrail_events()[-2:]]
        assert regions == ["us-east-1", "ap-southeast-2"]

        local_stack.reset_stats()
        batch = call(
            "POST",
            "/v1/presign",
            token=token,
            body={
                "objects": [
                    {"target": "s3://shopfast-data/products/a.csv", "method": "PUT"},
                    {"target": "s3://shopfast-internal/leads/b.csv", "method": "GET"},
                    {"target": "s3://shopfast-internal/benefits/c.txt", "method": "GET"},
                ]
            },
        )
        assert batch.status == 200, batch.text
        statuses = [result.get("status", 200) for result in batch.body["results"]]
        assert statuses == [200, 200, 403]
        calls = local_stack.stats()["calls"]
        assert calls.get("ListCallerAccessGrants") == 2, calls  # one grant list per Region
        assert calls.get("AssumeRole") is None and calls.get("CreateTokenWithIAM") is None, calls
