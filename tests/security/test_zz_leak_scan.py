"""Leaks: every log line (emulator, gateway and handler logs, Lambda host logs, pytest's captured
output), audit record and error body the security suite produced is scanned for every bearer token,
secret access key, session token, URL or POST form signature and service key the suite saw. None may
appear.

This runs last (conftest moves it to the end of the session). It first drives one small exchange
of its own, so that the set of secrets is never empty even when run alone, and it proves that the
scanner finds a planted secret before trusting its silence.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from local.gateway.configuration import local_environment
from local.stack import LocalStack
from tests.security.clients import ApiClient, DirectInvoker, SeenSecrets
from tests.security.conftest import CAPTURED_OUTPUT, LambdaHosts, Tokens

pytestmark = pytest.mark.security

ALICE_OBJECT = "s3://shopfast-data/users/user_list"


def _variants(secret: str) -> set[str]:
    """How a secret could be written down: as is, URL-encoded, or JSON-escaped."""
    return {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}


# Secrets (and their encoded forms) are made of these characters, so any occurrence lies inside one
# maximal run of them: the scan searches the set of distinct runs, not megabytes of repeated log lines.
_SECRET_RUN = re.compile(r"[A-Za-z0-9+/=_.%\\-]{16,}")


def find_leaks(corpus: dict[str, str], secrets: dict[str, str]) -> list[str]:
    """`corpus`: where → text. Returns one line per secret found, naming where and what it was."""
    runs = "\n".join({run for text in corpus.values() for run in _SECRET_RUN.findall(text)})
    everything = "\n".join(corpus.values())
    leaks = []
    for secret, provenance in secrets.items():
        for variant in _variants(secret):
            haystack = runs if _SECRET_RUN.fullmatch(variant) else everything
            if variant in haystack:
                places = [where for where, text in corpus.items() if variant in text]
                leaks.append(f"{', '.join(places)}: {provenance} ({variant[:12]}…)")
    return leaks


def _log_corpus(log_dir: Path) -> dict[str, str]:
    corpus = {}
    for path in sorted(log_dir.rglob("*")):
        if path.is_file():
            corpus[str(path.relative_to(log_dir))] = path.read_text(encoding="utf-8", errors="replace")
    return corpus


def _drive_one_exchange(api: ApiClient, direct: DirectInvoker, tokens: Tokens) -> None:
    """A vend, a presign, a credential_process document and errors, through gateway and Lambda."""
    token = tokens.issue("alice@shopfast.example")
    body = {"target": ALICE_OBJECT, "permission": "READ"}
    assert api.request("POST", "/v1/credentials", token=token, json=body).status_code == 200
    assert api.request("POST", "/v1/credentials?format=credential_process", token=token, json=body).ok
    presigned = api.request(
        "POST", "/v1/presign", token=token, json={"target": ALICE_OBJECT, "method": "GET"}
    )
    assert presigned.status_code == 200, presigned.text
    assert requests.get(presigned.json()["url"], timeout=10).status_code == 200
    assert direct.invoke("POST", "/v1/credentials", token=token, body=body).status == 200
    assert api.request("POST", "/v1/credentials", token=token, json={"target": "s3://x"}).status_code == 400
    assert direct.invoke("GET", "/v1/me", token=f"{token}tampered").status == 401
    # An upload in parts and a POST form: part URLs, form fields (session token, policy signature).
    target = "s3://shopfast-data/feedback/leak-scan.txt"
    started = api.request("POST", "/v1/uploads", token=token, json={"target": target, "partCount": 1})
    assert started.status_code == 201, started.text
    etag = requests.put(started.json()["parts"][0]["url"], data=b"leak scan", timeout=10).headers["ETag"]
    parts = [{"partNumber": 1, "etag": etag}]
    done = {"target": target, "uploadId": started.json()["uploadId"], "parts": parts}
    assert api.request("POST", "/v1/uploads/complete", token=token, json=done).status_code == 200
    form = {"target": "s3://shopfast-data/feedback/*", "method": "POST"}
    assert api.request("POST", "/v1/presign", token=token, json=form).status_code == 200


def _drive_one_exchange_at_debug_level(lambda_hosts: LambdaHosts, tokens: Tokens) -> None:
    """The same at DEBUG (function and runtime log levels): what an operator turns on to investigate."""
    token = tokens.issue("bob@shopfast.example")
    with lambda_hosts.start(POWERTOOLS_LOG_LEVEL="DEBUG", AWS_LAMBDA_LOG_LEVEL="DEBUG") as debug:
        body = {"target": "s3://shopfast-data/transactions/*", "permission": "READWRITE"}
        assert debug.invoke("POST", "/v1/credentials", token=token, body=body).status == 200
        put = {"target": "s3://shopfast-data/transactions/debug.txt", "method": "PUT"}
        assert debug.invoke("POST", "/v1/presign", token=token, body=put).status == 200
        assert debug.invoke("GET", "/v1/grants", token=token).status == 200
        upload = {"target": "s3://shopfast-data/transactions/debug-parts.bin", "partCount": 2}
        assert debug.invoke("POST", "/v1/uploads", token=token, body=upload).status == 201
        assert debug.invoke("GET", "/v1/me", token=f"{token}x").status == 401


def test_no_secret_in_any_log_or_error_body(
    api: ApiClient,
    direct: DirectInvoker,
    lambda_hosts: LambdaHosts,
    tokens: Tokens,
    seen: SeenSecrets,
    stack: LocalStack,
    stack_config: dict,
    log_dir: Path,
) -> None:
    _drive_one_exchange(api, direct, tokens)
    _drive_one_exchange_at_debug_level(lambda_hosts, tokens)
    # The service's own secrets: its execution role's key and the issuer's signing key material.
    seen.add(
        local_environment(stack_config)["AWS_SECRET_ACCESS_KEY"], "the Lambda execution role's secret key"
    )
    binding_key = stack.client("secretsmanager").get_secret_value(
        SecretId=stack_config["uploadBindingSecret"]
    )
    seen.add(binding_key["SecretString"], "the key of the uploads' MAC (UploadBindingSecret)")
    pem_lines = (stack.state_dir / "idp-signing-key.pem").read_text().splitlines()
    for line in pem_lines[1:-1:4]:
        seen.add(line, "a line of the issuer's private signing key")

    kinds = {
        "bearer token": "bearer token",
        "secret access key": ": secretAccessKey",
        "session token": ": sessionToken",
        "URL signature": "URL X-Amz-Signature",
        "POST form signature": ": x-amz-signature",
    }
    for kind, marker in kinds.items():
        assert any(marker in provenance for provenance in seen.secrets.values()), f"no {kind} was collected"

    corpus = _log_corpus(log_dir)
    corpus["pytest captured output"] = "\n".join(CAPTURED_OUTPUT)
    corpus["error bodies"] = "\n".join(seen.error_bodies)
    assert {"emulator.log", "gateway.log"} <= set(corpus), sorted(corpus)
    assert any(name.startswith("lambda-host-") for name in corpus), sorted(corpus)
    audit_records = sum(text.count('"audit":true') for text in corpus.values())
    assert audit_records > 0, "no audit record was captured: the scan would not cover them"
    assert seen.error_bodies, "no error body was captured"

    # The scanner finds what is there: a planted secret, raw and URL-encoded.
    canary = next(secret for secret, provenance in seen.secrets.items() if "sessionToken" in provenance)
    planted = {"planted": f"log line with {canary}", "planted-encoded": f"url ...={quote(canary, safe='')}"}
    found = find_leaks(planted, {canary: "canary"})
    assert found and all(line.startswith(("planted", "planted-encoded")) for line in found), found
    assert any("planted-encoded" in line for line in found), found

    leaks = find_leaks(corpus, dict(seen.secrets))
    assert not leaks, f"{len(leaks)} secrets found in logs or error bodies:\n" + "\n".join(leaks[:40])
    print(
        f"leak scan: {len(seen.secrets)} secrets x {len(corpus)} sources "
        f"({sum(len(t) for t in corpus.values()) / 2**20:.1f} MiB, {audit_records} audit records): clean"
    )


def test_no_log_line_was_injected_by_hostile_input(log_dir: Path) -> None:
    """Hostile kids and targets carried newlines and fake records; every log stays one record per line."""
    injected = (
        '{"level":"INFO","message":"forged"',
        "X-Amz-Evil:",
        "X-Amz-Acl: public-read",
        "Content-Type: text/html",
    )
    lines = [line for text in _log_corpus(log_dir).values() for line in text.splitlines()]
    assert lines, "no log line to inspect"
    assert not [line for line in lines if line.lstrip().startswith(injected)]
