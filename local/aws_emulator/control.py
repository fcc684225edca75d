"""The `/_local/*` control API on the AWS port (JSON in and out): what tests, benchmarks and the local
Lambda runtime ask of the emulator that AWS itself has no API for.

It hands out an execution role's session and changes the emulator's state, so it answers only requests
that name the emulator's own host (a DNS-rebinding page names its own: 421), and changes state only for
JSON from no origin (a tool) or the emulator's own (a form or a `text/plain` fetch from another site is
a simple request no preflight stops: 415 or 403). The AWS APIs on the same port keep any Host:
virtual-hosted S3 names the bucket there, and no bucket name starts with `_`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from moto.core.request import Request
from werkzeug.wrappers import Response

from local.aws_emulator.core.exceptions import EmulatorError
from local.loopback_http import cross_site_refusal, own_hosts

if TYPE_CHECKING:
    from local.aws_emulator.app import EmulatorApp


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload, default=str), status=status, content_type="application/json")


def _refusal(request: Request) -> Response | None:
    port = request.environ.get("SERVER_PORT", "")
    if request.host.lower() not in own_hosts(port):
        return _json({"error": "MisdirectedRequest", "message": "the control API answers its own host"}, 421)
    if request.method in ("POST", "PUT", "DELETE", "PATCH"):
        refusal = cross_site_refusal(request, port, require_json=request.method != "DELETE")
        if refusal is not None:
            status, reason = refusal
            error = "UnsupportedMediaType" if status == 415 else "Forbidden"
            return _json({"error": error, "message": reason}, status)
    return None


def answer(app: EmulatorApp, request: Request) -> Response:
    path, method = request.path, request.method
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    try:
        payload = (request.get_json(silent=True) or {}) if method == "POST" else {}
        if (method, path) == ("GET", "/_local/config"):
            return _json(app.local_config)
        if (method, path) == ("GET", "/_local/health"):
            return _json({"status": "ok", "ready": bool(app.local_config)})
        if (method, path) == ("GET", "/_local/stats"):
            return _json(app.stats())
        if (method, path) == ("POST", "/_local/stats/reset"):
            app.reset_stats()
            return _json(app.stats())
        if path == "/_local/faults":
            return _faults(app, method, payload)
        if (method, path) == ("POST", "/_local/clock"):
            if payload.get("reset"):
                app.clock.reset()
            else:
                app.clock.advance(float(payload["advanceSeconds"]))
            return _json({"offsetSeconds": app.clock.offset_seconds, "now": app.clock.now().isoformat()})
        if (method, path) == ("POST", "/_local/identity-contexts/expire"):
            return _json({"expired": app.tokens.expire_all()})
        if (method, path) == ("GET", "/_local/cloudtrail"):
            return _json({"events": list(app.data_access.cloudtrail)})
        if (method, path) == ("POST", "/_local/execution-role-credentials"):
            # What Lambda hands a function running as the role: its trust policy must allow Lambda.
            session = app.sts.execution_role_session(str(payload["roleArn"]))
            return _json(
                {
                    "AccessKeyId": session.access_key_id,
                    "SecretAccessKey": session.secret_access_key,
                    "SessionToken": session.session_token,
                    "Expiration": session.expiration.isoformat(),
                }
            )
    except EmulatorError as error:
        return _json({"error": error.code, "message": error.message}, status=error.status or 400)
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        return _json({"error": f"bad control request: {error}"}, status=400)
    return _json({"error": f"no control route {method} {path}"}, status=404)


def _faults(app: EmulatorApp, method: str, payload: Any) -> Response:
    if method == "POST":
        for spec in payload if isinstance(payload, list) else [payload]:
            app.set_fault(spec)
    elif method == "DELETE":
        app.clear_faults()
    elif method != "GET":
        return _json({"error": f"{method} /_local/faults is not a control route"}, status=405)
    return _json({"faults": app.faults()})
