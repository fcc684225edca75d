"""GET /v1/objects through the real handler: listing with vended READ credentials against the emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.stack import LocalStack
from tests.integration.handler_calls import Answer, call, problem_of, service_configured

pytestmark = pytest.mark.integration

ALICE = "alice@shopfast.example"
CAROL = "carol@shopfast.example"
PAGED_FOLDER = "users/paging/"
PAGED_KEYS = [f"{PAGED_FOLDER}{name}" for name in ("a.csv", "b.csv", "c.csv", "d.csv")]
PAGED_SUBFOLDERS = [f"{PAGED_FOLDER}2025/", f"{PAGED_FOLDER}2026/"]


@pytest.fixture(scope="module")
def service(local_stack: LocalStack) -> Iterator[LocalStack]:
    s3 = local_stack.client("s3")
    for key in PAGED_KEYS:
        s3.put_object(Bucket="shopfast-data", Key=key, Body=key.encode())
    for folder in PAGED_SUBFOLDERS:
        s3.put_object(Bucket="shopfast-data", Key=f"{folder}report.csv", Body=b"1")
    with service_configured(local_stack):
        yield local_stack


def list_objects(stack: LocalStack, user: str, **query: str) -> Answer:
    return call("GET", "/v1/objects", token=stack.token(user), query=query)


def test_alice_lists_users_and_only_what_she_may_read(service: LocalStack) -> None:
    answer = list_objects(service, ALICE, prefix="s3://shopfast-data/users/")

    assert answer.status == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    listing = answer.body
    assert listing["prefix"] == "s3://shopfast-data/users/"
    keys = {entry["key"] for entry in listing["objects"]}
    assert "users/user_list" in keys
    assert all(key.startswith("users/") and "/" not in key[len("users/") :] for key in keys)
    assert "s3://shopfast-data/users/paging/" in listing["prefixes"]
    assert "archive" not in answer.text  # users-archive/ shares the "users" prefix but no grant covers it
    user_list = next(entry for entry in listing["objects"] if entry["key"] == "users/user_list")
    assert user_list["target"] == "s3://shopfast-data/users/user_list"
    assert user_list["size"] == len(b"alice,bob,carol,dave,erin\n")
    assert listing["nextContinuationToken"] is None


def test_listing_paginates_with_an_opaque_token(service: LocalStack) -> None:
    prefix = f"s3://shopfast-data/{PAGED_FOLDER}"
    token = service.token(ALICE)
    seen_objects: list[str] = []
    seen_prefixes: list[str] = []
    continuation: str | None = None
    pages = 0
    while True:
        query = {"prefix": prefix, "pageSize": "2"}
        if continuation:
            query["continuationToken"] = continuation
        answer = call("GET", "/v1/objects", token=token, query=query)
        assert answer.status == 200, answer.text
        page = answer.body
        assert len(page["objects"]) + len(page["prefixes"]) <= 2
        seen_objects += [entry["key"] for entry in page["objects"]]
        seen_prefixes += page["prefixes"]
        pages += 1
        continuation = page["nextContinuationToken"]
        if continuation is None:
            break
        assert pages < 10

    assert pages == 3  # 4 objects + 2 folders, 2 per page
    assert sorted(seen_objects) == PAGED_KEYS
    assert sorted(seen_prefixes) == [f"s3://shopfast-data/{folder}" for folder in PAGED_SUBFOLDERS]


def test_a_continuation_token_only_works_for_its_own_prefix(service: LocalStack) -> None:
    first = list_objects(service, ALICE, prefix=f"s3://shopfast-data/{PAGED_FOLDER}", pageSize="1").body
    token = first["nextContinuationToken"]
    assert token

    answer = list_objects(service, ALICE, prefix="s3://shopfast-data/users/", continuationToken=token)

    assert "continuationToken" in problem_of(answer, 400)["detail"]


@pytest.mark.parametrize(
    "prefix",
    [
        "s3://shopfast-data/",  # the whole bucket: no grant covers it
        "s3://shopfast-data/users-archive/",  # outside every grant
        "s3://shopfast-internal/leads/",  # another department's
    ],
)
def test_folders_no_read_grant_covers_are_403(service: LocalStack, prefix: str) -> None:
    problem = problem_of(list_objects(service, ALICE, prefix=prefix), 403)
    assert problem["code"] == "access_denied"


def test_carol_reads_products_but_not_users(service: LocalStack) -> None:
    assert list_objects(service, CAROL, prefix="s3://shopfast-data/products/").status == 200
    problem_of(list_objects(service, CAROL, prefix="s3://shopfast-data/users/"), 403)


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ({}, "prefix is required"),
        ({"prefix": "s3://shopfast-data/users"}, "must end with '/'"),
        ({"prefix": "s3://shopfast-data/users/*"}, "must end with '/'"),
        ({"prefix": "s3://shopfast-data/users/../"}, "'..'"),
        ({"prefix": "s3://shopfast-data//"}, "must not start with '/'"),
        ({"prefix": "https://shopfast-data/users/"}, "s3://"),
        ({"prefix": "s3://shopfast-data/users/", "pageSize": "0"}, "pageSize"),
        ({"prefix": "s3://shopfast-data/users/", "pageSize": "1001"}, "pageSize"),
        ({"prefix": "s3://shopfast-data/users/", "pageSize": "ten"}, "pageSize"),
        ({"prefix": "s3://shopfast-data/users/", "continuationToken": "not-a-token"}, "continuationToken"),
        ({"prefix": "s3://shopfast-data/users/", "continuationToken": ""}, "continuationToken"),
        ({"prefix": "s3://shopfast-data/users/", "pageSize": ""}, "pageSize"),
        ({"prefix": "s3://shopfast-data/users/", "role": ""}, "role"),
        ({"prefix": "s3://shopfast-data/users/", "delimiter": ""}, "unknown query parameter"),
    ],
)
def test_invalid_queries_are_400_problems(service: LocalStack, query: dict[str, str], fragment: str) -> None:
    problem = problem_of(list_objects(service, ALICE, **query), 400)
    assert fragment in problem["detail"]


def test_no_token_is_401(service: LocalStack) -> None:
    answer = call("GET", "/v1/objects", query={"prefix": "s3://shopfast-data/users/"})

    problem_of(answer, 401)
    assert answer.headers["www-authenticate"].startswith("Bearer")
