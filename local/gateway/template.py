"""What the local gateway learns from template.yaml: routes, the JWT authorizer, CORS and each function.

The template is the only route table, read with its intrinsic functions resolved as CloudFormation would
for a deployed stack (`local.gateway.cloudformation`). Anything the gateway cannot honour faithfully (an
OpenAPI `DefinitionBody`, a non-JWT authorizer) is refused with an error rather than guessed at.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.gateway.cloudformation import Resolver, TemplateError, load_template, parameter_values

# HTTP API's hard limit on the integration timeout, whatever the function allows.
MAX_INTEGRATION_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class JwtAuthorizer:
    name: str
    issuer: str
    audiences: tuple[str, ...]
    identity_source: str = "$request.header.Authorization"


@dataclass(frozen=True)
class CorsConfiguration:
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False


@dataclass(frozen=True)
class Function:
    logical_id: str
    handler: str  # module.attribute, relative to code_dir
    code_dir: Path
    timeout_seconds: float
    memory_mb: int
    environment: dict[str, str]


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or ANY
    path: str  # /v1/things/{id} or /{proxy+}, or $default
    function: Function
    authorizer: JwtAuthorizer | None
    authorization_scopes: tuple[str, ...] = ()
    integration_timeout_seconds: float = MAX_INTEGRATION_TIMEOUT_SECONDS

    @property
    def route_key(self) -> str:
        return self.path if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class HttpApi:
    logical_id: str
    routes: tuple[Route, ...]
    cors: CorsConfiguration | None
    functions: dict[str, Function] = field(default_factory=dict)


def _as_tuple(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str | int) for item in value):
        return tuple(str(item) for item in value)
    raise TemplateError(f"{what}: expected a string or a list of strings, got {value!r}")


def _merge_globals(global_properties: Mapping[str, Any], properties: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's Globals merge: maps merge key by key (recursively), anything else is overridden."""
    merged = copy.deepcopy(dict(global_properties))
    for key, value in properties.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge_globals(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _cors(value: Any, api_id: str) -> CorsConfiguration | None:
    if value in (None, False):
        return None
    if value is True:  # SAM: CorsConfiguration: true allows every origin
        return CorsConfiguration(allow_origins=("*",), allow_methods=("*",), allow_headers=("*",))
    if not isinstance(value, dict):
        raise TemplateError(f"{api_id}.CorsConfiguration must be true or a mapping")
    max_age = value.get("MaxAge")
    return CorsConfiguration(
        allow_origins=_as_tuple(value.get("AllowOrigins"), f"{api_id}.CorsConfiguration.AllowOrigins"),
        allow_methods=tuple(
            m.upper()
            for m in _as_tuple(value.get("AllowMethods"), f"{api_id}.CorsConfiguration.AllowMethods")
        ),
        allow_headers=_as_tuple(value.get("AllowHeaders"), f"{api_id}.CorsConfiguration.AllowHeaders"),
        expose_headers=_as_tuple(value.get("ExposeHeaders"), f"{api_id}.CorsConfiguration.ExposeHeaders"),
        max_age=int(max_age) if max_age is not None else None,
        allow_credentials=str(value.get("AllowCredentials", False)).lower() == "true",
    )


def _authorizers(auth: Mapping[str, Any], api_id: str) -> dict[str, JwtAuthorizer]:
    authorizers: dict[str, JwtAuthorizer] = {}
    for name, definition in (auth.get("Authorizers") or {}).items():
        jwt_configuration = (definition or {}).get("JwtConfiguration")
        if not jwt_configuration:
            raise TemplateError(
                f"{api_id}.Auth.Authorizers.{name}: only JWT authorizers are emulated locally"
            )
        issuer = jwt_configuration.get("issuer") or jwt_configuration.get("Issuer")
        audience = jwt_configuration.get("audience", jwt_configuration.get("Audience"))
        if not issuer:
            raise TemplateError(f"{api_id}.Auth.Authorizers.{name}.JwtConfiguration needs an issuer")
        audiences = _as_tuple(audience, f"{api_id}.Auth.Authorizers.{name}.JwtConfiguration.audience")
        # A comma list in one string parameter is a common way to pass several audiences.
        audiences = tuple(a.strip() for item in audiences for a in item.split(",") if a.strip())
        identity_source = definition.get("IdentitySource", "$request.header.Authorization")
        if not re.fullmatch(r"\$request\.(header|querystring)\.[A-Za-z0-9_.-]+", identity_source):
            raise TemplateError(
                f"{api_id}.Auth.Authorizers.{name}.IdentitySource {identity_source!r} is not supported"
            )
        authorizers[name] = JwtAuthorizer(name, issuer, audiences, identity_source)
    return authorizers


def _function(
    logical_id: str, properties: Mapping[str, Any], template_dir: Path, environment: dict[str, str]
) -> Function:
    handler = properties.get("Handler")
    code_uri = properties.get("CodeUri")
    if not handler or not isinstance(code_uri, str):
        raise TemplateError(f"{logical_id}: the local gateway needs Handler and a local CodeUri directory")
    code_dir = (template_dir / code_uri).resolve()
    if not code_dir.is_dir():
        raise TemplateError(f"{logical_id}: CodeUri {code_uri!r} is not a directory next to the template")
    return Function(
        logical_id=logical_id,
        handler=str(handler),
        code_dir=code_dir,
        timeout_seconds=float(properties.get("Timeout", 3)),  # SAM's default timeout is 3 seconds
        memory_mb=int(properties.get("MemorySize", 128)),
        environment=environment,
    )


def _environment(logical_id: str, properties: Mapping[str, Any]) -> dict[str, str]:
    variables = (properties.get("Environment") or {}).get("Variables") or {}
    environment: dict[str, str] = {}
    for name, value in variables.items():
        if isinstance(value, bool):
            environment[name] = str(value).lower()
        elif isinstance(value, str | int | float):
            environment[name] = str(value)
        else:
            raise TemplateError(f"{logical_id}.Environment.Variables.{name} does not resolve to a string")
    return environment


def read_http_api(
    template_path: Path,
    parameters: Mapping[str, Any],
    *,
    account_id: str,
    region: str,
    physical_ids: Mapping[str, str] | None = None,
) -> HttpApi:
    """The HTTP API the template deploys, with parameter values applied.

    `parameters` are applied over the template's parameter defaults; a parameter without a default and
    without a value is an error naming it.
    """
    template = load_template(template_path)
    values = parameter_values(template, parameters)
    resolver = Resolver(template, values, account_id=account_id, region=region, physical_ids=physical_ids)
    resources = {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if not resource.get("Condition") or resolver.condition(resource["Condition"])
    }
    global_sections = template.get("Globals") or {}
    global_function = resolver.resolve(global_sections.get("Function") or {})
    global_api = resolver.resolve(global_sections.get("HttpApi") or {})

    apis = {
        logical_id: _merge_globals(global_api, resolver.resolve(resource.get("Properties") or {}))
        for logical_id, resource in resources.items()
        if resource.get("Type") == "AWS::Serverless::HttpApi"
    }
    if len(apis) > 1:
        raise TemplateError(f"the local gateway serves one HttpApi; the template has {sorted(apis)}")
    api_id = next(iter(apis), "ServerlessHttpApi")  # SAM's implicit API when none is declared
    api_properties = apis.get(api_id, global_api)
    if "DefinitionBody" in api_properties or "DefinitionUri" in api_properties:
        raise TemplateError(
            f"{api_id}: an OpenAPI definition is not emulated; declare routes as HttpApi events"
        )
    auth = api_properties.get("Auth") or {}
    authorizers = _authorizers(auth, api_id)
    default_authorizer = auth.get("DefaultAuthorizer")
    if default_authorizer and default_authorizer not in authorizers:
        raise TemplateError(f"{api_id}.Auth.DefaultAuthorizer {default_authorizer!r} is not defined")

    template_dir = template_path.resolve().parent
    functions: dict[str, Function] = {}
    routes: list[Route] = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = _merge_globals(global_function, resolver.resolve(resource.get("Properties") or {}))
        http_events = {
            name: event
            for name, event in (properties.get("Events") or {}).items()
            if event.get("Type") == "HttpApi"
        }
        if not http_events:
            continue
        function = _function(logical_id, properties, template_dir, _environment(logical_id, properties))
        functions[logical_id] = function
        for event_name, event in http_events.items():
            routes.append(
                _route(f"{logical_id}.Events.{event_name}", event.get("Properties") or {}, function, api_id,
                       authorizers, default_authorizer)
            )  # fmt: skip
    keys = [route.route_key for route in routes]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise TemplateError(f"routes declared more than once: {duplicates}")
    return HttpApi(api_id, tuple(routes), _cors(api_properties.get("CorsConfiguration"), api_id), functions)


def _route(
    where: str,
    properties: Mapping[str, Any],
    function: Function,
    api_id: str,
    authorizers: Mapping[str, JwtAuthorizer],
    default_authorizer: str | None,
) -> Route:
    api_ref = properties.get("ApiId", api_id)
    if api_ref != api_id:
        raise TemplateError(f"{where}.ApiId {api_ref!r} is not the template's HttpApi {api_id!r}")
    path = properties.get("Path", "$default")
    method = str(properties.get("Method", "ANY")).upper()
    if path != "$default" and not str(path).startswith("/"):
        raise TemplateError(f"{where}.Path {path!r} must start with /")
    auth = properties.get("Auth") or {}
    authorizer_name = auth.get("Authorizer", default_authorizer)
    if authorizer_name in (None, "NONE"):
        authorizer = None
    elif authorizer_name in authorizers:
        authorizer = authorizers[authorizer_name]
    else:
        raise TemplateError(
            f"{where}.Auth.Authorizer {authorizer_name!r} is not a JWT authorizer of {api_id}"
        )
    timeout_ms = properties.get("TimeoutInMillis")
    integration_timeout = (
        min(float(timeout_ms) / 1000, MAX_INTEGRATION_TIMEOUT_SECONDS)
        if timeout_ms is not None
        else MAX_INTEGRATION_TIMEOUT_SECONDS
    )
    return Route(
        method=method,
        path=str(path),
        function=function,
        authorizer=authorizer,
        authorization_scopes=_as_tuple(auth.get("AuthorizationScopes"), f"{where}.Auth.AuthorizationScopes"),
        integration_timeout_seconds=integration_timeout,
    )
