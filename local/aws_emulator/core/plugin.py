"""The one interface every emulated service implements."""

from __future__ import annotations

from typing import Protocol

from moto.core.request import Request
from werkzeug.wrappers import Response


class Plugin(Protocol):
    """Answers the requests of one emulated service (or the part of it moto lacks)."""

    def handle(self, request: Request) -> Response | None:
        """The answer, or None to pass the request on (to the next plugin, and finally to moto)."""
