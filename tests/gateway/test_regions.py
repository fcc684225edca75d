"""Regions as real deployments have them, through real HTTP as `make run` serves template.yaml:
`shopfast-data` is in us-east-1 and `shopfast-internal` in ap-southeast-2, each with its own Access Grants
instance; Identity Center is in us-east-1. Every call below is the service's own, answered by the emulator
in the bucket's Region."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from local.gateway import RunningGateway
from local.stack import LocalStack

pytestmark = pytest.mark.integration

REGIONS = {"shopfast-data": "us-east-1", "shopfast-internal": "ap-southeast-2"}
# ProductManagement (the seed's department table): products/ READWRITE (us-east-1), leads/ READ
# (ap-southeast-2). HR: employee-records/ and benefits/ READWRITE (ap-southeast-2).
DAVE = "dave@shopfast.example"
ERIN = "erin@shopfast.example"


def _bearer(stack: LocalStack, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.token(user)}"}


def _scope_region(url: str) -> str:
    return parse_qs(urlsplit(url).query)["X-Amz-Credential"][0].split("/")[2]


def test_the_seed_puts_each_bucket_in_its_plan_region(local_stack: LocalStack) -> None:
    config = local_stack.config()
    assert config["bucketRegions"] == REGIONS
    for bucket, region in REGIONS.items():
        head = local_stack.client("s3", region=region).head_bucket(Bucket=bucket)
        assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == region


def test_grants_without_a_scope_come_from_every_region(
    real_gateway: RunningGateway, local_stack: LocalStack, http: requests.Session
) -> None:
    answer = http.get(f"{real_gateway.url}/v1/grants", headers=_bearer(local_stack, DAVE))
    assert answer.status_code == 200, answer.text
    assert {(g["grantScope"], g["permission"]) for g in answer.json()["grants"]} == {
        ("s3://shopfast-data/products/*", "READWRITE"),
        ("s3://shopfast-internal/leads/*", "READ"),
    }
    assert answer.json()["nextToken"] is None

    pages: list[list[dict[str, Any]]] = []
    token = None
    while True:
        query: dict[str, Any] = {"maxResults": 1, **({"nextToken": token} if token else {})}
        page = http.get(f"{real_gateway.url}/v1/grants", params=query, headers=_bearer(local_stack, DAVE))
        assert page.status_code == 200, page.text
        pages.append(page.json()["grants"])
        token = page.json()["nextToken"]
        if token is None:
            break
        assert len(pages) < 5, "pagination does not end"
    # Region by Region in a stable (sorted) order; a page never repeats a grant nor skips one.
    assert [[g["grantScope"] for g in p] for p in pages] == [
        ["s3://shopfast-internal/leads/*"],
        ["s3://shopfast-data/products/*"],
    ]


def test_a_grants_token_naming_no_configured_region_is_a_400(
    real_gateway: RunningGateway, local_stack: LocalStack, http: requests.Session
) -> None:
    for token in ("eu-west-3:abc", "no-region-here", "ap-southeast-2"):
        answer = http.get(
            f"{real_gateway.url}/v1/grants", params={"nextToken": token}, headers=_bearer(local_stack, DAVE)
        )
        assert answer.status_code == 400, (token, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("user", "target"),
    [(DAVE, "s3://shopfast-data/products/catalog.csv"), (DAVE, "s3://shopfast-internal/leads/pipeline.csv")],
)
def test_presigned_urls_are_signed_for_their_buckets_region_and_work(
    real_gateway: RunningGateway, local_stack: LocalStack, http: requests.Session, user: str, target: str
) -> None:
    bucket = target.removeprefix("s3://").split("/", 1)[0]
    answer = http.post(
        f"{real_gateway.url}/v1/presign",
        headers=_bearer(local_stack, user),
        json={"target": target, "method": "GET"},
    )
    assert answer.status_code == 200, answer.text
    url = answer.json()["url"]
    assert _scope_region(url) == REGIONS[bucket]
    downloaded = http.get(url, timeout=10)
    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.content


def test_presigned_puts_and_credentials_work_in_the_second_region(
    real_gateway: RunningGateway, local_stack: LocalStack, http: requests.Session
) -> None:
    target = "s3://shopfast-internal/benefits/regions-check.txt"
    answer = http.post(
        f"{real_gateway.url}/v1/presign",
        headers=_bearer(local_stack, ERIN),
        json={"target": target, "method": "PUT", "contentType": "text/plain"},
    )
    assert answer.status_code == 200, answer.text
    assert _scope_region(answer.json()["url"]) == "ap-southeast-2"
    uploaded = http.put(answer.json()["url"], data=b"in Sydney", headers=answer.json()["headers"], timeout=10)
    assert uploaded.status_code == 200, uploaded.text

    vended = http.post(
        f"{real_gateway.url}/v1/credentials",
        headers=_bearer(local_stack, ERIN),
        json={"target": "s3://shopfast-internal/benefits/*", "permission": "READ"},
    )
    assert vended.status_code == 200, vended.text
    credentials = vended.json()["credentials"]
    s3 = local_stack.client(
        "s3",
        region="ap-southeast-2",
        credentials={
            "aws_access_key_id": credentials["accessKeyId"],
            "aws_secret_access_key": credentials["secretAccessKey"],
            "aws_session_token": credentials["sessionToken"],
        },
    )
    assert s3.get_object(Bucket="shopfast-internal", Key="benefits/regions-check.txt")["Body"].read() == (
        b"in Sydney"
    )


def test_listing_a_folder_in_the_second_region(
    real_gateway: RunningGateway, local_stack: LocalStack, http: requests.Session
) -> None:
    answer = http.get(
        f"{real_gateway.url}/v1/objects",
        params={"prefix": "s3://shopfast-internal/leads/"},
        headers=_bearer(local_stack, DAVE),
    )
    assert answer.status_code == 200, answer.text
    assert "s3://shopfast-internal/leads/pipeline.csv" in {o["target"] for o in answer.json()["objects"]}
    refused = http.get(
        f"{real_gateway.url}/v1/objects",
        params={"prefix": "s3://shopfast-internal/benefits/"},
        headers=_bearer(local_stack, DAVE),
    )
    assert refused.status_code == 403, refused.text
