"""The demo page, served by the local gateway beside the API (API Gateway serves no static files; a
deployment serves the page from its own origin): its files, and `/demo/config.json`, the settings it signs
in and calls the API with. Answers carry a strict Content-Security-Policy."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from werkzeug.security import safe_join
from werkzeug.wrappers import Request, Response

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"


class DemoPage:
    def __init__(self, config: Mapping[str, Any]) -> None:
        self._config = config

    def answer(self, request: Request) -> Response | None:
        """The page's answer to `request`, or None when it is not the page's (the API's, then)."""
        if request.method not in ("GET", "HEAD"):
            return None
        if request.path == "/demo/config.json":
            response = Response(json.dumps(self._config), mimetype="application/json")
        elif request.path == "/" or request.path.startswith("/demo/"):
            name = "index.html" if request.path == "/" else request.path.removeprefix("/demo/")
            file_path = safe_join(str(DEMO_DIR), name)
            if file_path is None or not Path(file_path).is_file():
                return None
            response = Response(Path(file_path).read_bytes(), mimetype=_mimetype(file_path))
        else:
            return None
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        connect = " ".join(
            [
                "'self'",
                *(str(self._config[key]) for key in ("issuer", "awsEndpoint") if key in self._config),
            ]
        )
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; connect-src {connect}; img-src 'self' data: blob:; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        )
        return response


def _mimetype(path: str) -> str:
    suffix = Path(path).suffix
    return {
        ".html": "text/html",
        ".js": "text/javascript",
        ".css": "text/css",
        ".svg": "image/svg+xml",
        ".json": "application/json",
    }.get(suffix, "application/octet-stream")
