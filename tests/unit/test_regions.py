"""Which Region a bucket's Access Grants instance is in: the plan's answer without a call, S3's answer once
for any other bucket, the function's Region when S3 cannot say."""

from __future__ import annotations

import pytest

from domain.regions import BucketRegions

pytestmark = pytest.mark.unit

PLANNED = {"shopfast-data": "us-east-1", "shopfast-internal": "ap-southeast-2"}


class HeadBucket:
    def __init__(self, answers: dict[str, str | None]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, bucket: str) -> str | None:
        self.asked.append(bucket)
        return self.answers.get(bucket)


def test_planned_buckets_cost_no_call() -> None:
    head = HeadBucket({})
    regions = BucketRegions(PLANNED, "us-east-1", head)
    assert [regions.region_of(b) for b in ("shopfast-internal", "shopfast-data")] == [
        "ap-southeast-2",
        "us-east-1",
    ]
    assert head.asked == []
    assert regions.access_grants_regions == ("ap-southeast-2", "us-east-1")


def test_an_unplanned_bucket_is_asked_of_s3_once() -> None:
    head = HeadBucket({"elsewhere": "eu-central-1"})
    regions = BucketRegions(PLANNED, "us-east-1", head)
    assert [regions.region_of("elsewhere") for _ in range(3)] == ["eu-central-1"] * 3
    assert head.asked == ["elsewhere"]


def test_a_bucket_s3_cannot_place_falls_back_and_is_asked_again_later() -> None:
    head = HeadBucket({})
    regions = BucketRegions({}, "eu-west-1", head)
    assert regions.region_of("missing") == "eu-west-1"
    assert regions.region_of("missing") == "eu-west-1"
    assert head.asked == ["missing", "missing"]
    assert regions.access_grants_regions == ("eu-west-1",)


def test_remembered_answers_are_bounded() -> None:
    head = HeadBucket({f"b{i}": "us-west-2" for i in range(10)})
    regions = BucketRegions({}, "us-east-1", head, max_resolved=4)
    for i in range(10):
        regions.region_of(f"b{i}")
    assert len(regions._resolved) <= 4
