"""Malformed requests on the wire: framing, encoding, size and Host. The gateway answers each with the
4xx API Gateway gives (a JSON body, never a 5xx, never a stack trace or an HTML page), and a request
naming another host (a DNS-rebinding page) reaches nothing."""

from __future__ import annotations

import json
import random
import socket

import pytest

from local.gateway import RunningGateway

CASES = {
    "chunked-not-chunk-framed": b'Transfer-Encoding: chunked\r\nContent-Type: text/json\r\n\r\n{"a":1}',
    "chunk-size-not-hex": b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "chunk-longer-than-sent": b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n",
    "body-shorter-than-content-length": b"Content-Length: 100\r\n\r\n{}",
    "content-length-negative": b"Content-Length: -5\r\n\r\n{}",
    "content-length-not-a-number": b"Content-Length: abc\r\n\r\n{}",
    "content-length-twice-differing": b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}x",
    "content-length-list": b"Content-Length: 2, 2\r\n\r\n{}",
    "transfer-encoding-and-content-length": b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
    "transfer-encoding-not-ending-in-chunked": b"Transfer-Encoding: chunked, gzip\r\n\r\n{}",
    "transfer-encoding-unknown": b"Transfer-Encoding: gzip\r\n\r\n{}",
}


def exchange(gateway: RunningGateway, raw: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    """Send `raw` as is, close the sending side, read the whole answer: (status, body)."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=timeout) as connection:
        connection.sendall(raw)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1."), answer[:200]
    return int(status_line.split()[1]), body


def request(
    gateway: RunningGateway, headers_and_body: bytes, line: bytes = b"POST /v1/credentials HTTP/1.1"
) -> bytes:
    return line + b"\r\nHost: 127.0.0.1:" + str(gateway.port).encode() + b"\r\n" + headers_and_body


def assert_refused_as_client_error(status: int, body: bytes) -> None:
    assert 400 <= status < 500, (status, body[:300])
    assert b"Traceback" not in body and b"<html" not in body.lower()
    assert set(json.loads(body)) <= {"message"}


@pytest.mark.parametrize("name", CASES)
def test_a_body_whose_framing_is_wrong_is_a_400(real_gateway: RunningGateway, name: str) -> None:
    status, body = exchange(real_gateway, request(real_gateway, CASES[name]))
    assert status == 400, (name, body)
    assert json.loads(body) == {"message": "Bad Request"}


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /v1/health HTTP/9.9\r\nHost: 127.0.0.1:{port}\r\n\r\n",  # the parser's 505 before
        b"GET /v1/health HTTP/1.1\r\n\r\n",  # HTTP/1.1 without Host (RFC 9112 3.2)
        b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: 127.0.0.1:{port}\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX: " + b"a" * 70000 + b"\r\n\r\n",
    ],
    ids=["http-9.9", "no-host", "two-hosts", "no-request-line", "header-line-too-long"],
)
def test_what_the_http_parser_refuses_is_a_4xx_json_answer(real_gateway: RunningGateway, raw: bytes) -> None:
    status, body = exchange(real_gateway, raw.replace(b"{port}", str(real_gateway.port).encode()))
    assert_refused_as_client_error(status, body)


@pytest.mark.parametrize(
    "host", ["rebind.evil.example", "rebind.evil.example:{port}", "127.0.0.1", "127.0.0.1:1", "[::1]:{port}"]
)
def test_a_request_naming_another_host_reaches_nothing(real_gateway: RunningGateway, host: str) -> None:
    """A DNS-rebinding page's requests carry its own host name; the demo page's config and the API alike
    are refused."""
    for path in (b"/demo/config.json", b"/v1/health", b"/"):
        raw = (
            b"GET "
            + path
            + b" HTTP/1.1\r\nHost: "
            + host.format(port=real_gateway.port).encode()
            + b"\r\n\r\n"
        )
        status, body = exchange(real_gateway, raw)
        assert status == 421, (path, body)
        assert json.loads(body) == {"message": "Misdirected Request"}


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LocalHost"])
def test_the_gateway_answers_under_its_own_names(real_gateway: RunningGateway, name: str) -> None:
    raw = f"GET /v1/health HTTP/1.1\r\nHost: {name}:{real_gateway.port}\r\n\r\n".encode()
    assert exchange(real_gateway, raw)[0] == 200


def _fuzzed_request(rng: random.Random, port: int) -> bytes:
    """One request built from framing pieces, most of them wrong."""
    lines = [
        rng.choice([b"POST /v1/credentials", b"POST /v1/presign", b"PUT /v1/uploads", b"GET /v1/health"])
    ]
    lines[0] += rng.choice([b" HTTP/1.1", b" HTTP/1.0", b" HTTP/1.1", b" HTTP/2.0", b""])
    if rng.random() < 0.9:
        lines.append(
            b"Host: " + rng.choice([b"127.0.0.1:%d" % port, b"localhost:%d" % port, b"evil:%d" % port])
        )
    body = rng.choice(
        [b"{}", b'{"target":"s3://shopfast-data/users/*","permission":"READ"}', b"", b"\xff\xfe"]
    )
    framing = rng.choice(["chunked", "length", "both", "none", "garbage"])
    if framing in ("chunked", "both"):
        lines.append(
            b"Transfer-Encoding: " + rng.choice([b"chunked", b"chunked", b"gzip, chunked", b"chunked, x"])
        )
        size = len(body) + rng.choice([0, 0, -1, 1, 7])
        extension = rng.choice([b"", b"", b";ext=1"])
        ending = rng.choice([b"\r\n0\r\n\r\n", b"\r\n0\r\n", b"", b"\r\n"])
        body = b"%x" % max(size, 0) + extension + b"\r\n" + body + ending
    if framing in ("length", "both"):
        value = rng.choice([b"%d" % len(body), b"%d" % (len(body) + 5), b"-1", b"1e3", b"%d, %d" % (1, 2)])
        lines.append(b"Content-Length: " + value)
        if rng.random() < 0.2:
            lines.append(b"Content-Length: %d" % (len(body) + 1))
    if framing == "garbage":
        lines.append(rng.choice([b"Content-Length", b": x", b"Transfer-Encoding:", b"\x00\x01: y"]))
    lines.append(b"Content-Type: " + rng.choice([b"application/json", b"text/plain", b"\xff"]))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def test_fuzzed_framing_never_gets_a_5xx(real_gateway: RunningGateway) -> None:
    rng = random.Random(20261204)  # noqa: S311 - the same 300 requests every run, nothing secret
    for _ in range(300):
        raw = _fuzzed_request(rng, real_gateway.port)
        status, body = exchange(real_gateway, raw)
        assert status < 500, (raw, status, body[:300])
        assert b"Traceback" not in body
