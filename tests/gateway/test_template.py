"""The gateway's reading of SAM templates: routes, authorizer, CORS, functions and intrinsic functions."""

from pathlib import Path

import pytest

from local.gateway.cloudformation import NO_VALUE, Resolver, TemplateError, load_template
from local.gateway.template import read_http_api

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parent / "fixtures" / "template.yaml"
PARAMETERS = {
    "JwtIssuer": "http://127.0.0.1:3001",
    "CorsAllowedOrigins": "http://127.0.0.1:3000,http://localhost:3000",
    "ProbeLog": "/tmp/probe.log",
}


def read(**overrides):
    return read_http_api(FIXTURE, {**PARAMETERS, **overrides}, account_id="111111111111", region="us-east-1")


def test_routes_come_from_the_functions_http_api_events():
    api = read()
    assert api.logical_id == "ProbeApi"
    assert {route.route_key: route.function.logical_id for route in api.routes} == {
        "POST /v1/echo": "EchoFunction",
        "GET /v1/items/{itemId}": "EchoFunction",
        "GET /v1/scoped": "EchoFunction",
        "GET /v1/public": "EchoFunction",
        "GET /v1/slow": "SlowFunction",
        "GET /v1/slow-integration": "SlowFunction",
        "ANY /v1/whoami": "WhoAmIFunction",
        "GET /v1/die": "DieFunction",
        "ANY /v1/crash": "CrashFunction",
    }


def test_default_authorizer_applies_unless_a_route_says_none():
    routes = {route.route_key: route for route in read().routes}
    echo = routes["POST /v1/echo"].authorizer
    assert echo is not None
    assert echo.name == "ProbeJwt"
    assert echo.issuer == "http://127.0.0.1:3001"
    assert echo.audiences == ("shopfast-vending",)
    assert echo.identity_source == "$request.header.Authorization"
    assert routes["GET /v1/items/{itemId}"].authorizer == echo
    assert routes["GET /v1/public"].authorizer is None
    assert routes["GET /v1/scoped"].authorization_scopes == ("probe.read", "probe.admin")
    assert routes["GET /v1/slow"].authorizer is None
    assert routes["GET /v1/slow"].integration_timeout_seconds == 30  # HTTP API's maximum
    assert routes["GET /v1/slow-integration"].integration_timeout_seconds == 0.5


def test_cors_configuration_resolves_list_parameters():
    cors = read().cors
    assert cors is not None
    assert cors.allow_origins == ("http://127.0.0.1:3000", "http://localhost:3000")
    assert cors.allow_methods == ("GET", "POST", "PUT")
    assert cors.allow_headers == ("authorization", "content-type")
    assert cors.expose_headers == ("apigw-requestid",)
    assert cors.max_age == 600


def test_function_settings_merge_globals_with_the_function():
    functions = read().functions
    assert functions["EchoFunction"].memory_mb == 512
    assert functions["EchoFunction"].timeout_seconds == 10
    assert functions["SlowFunction"].timeout_seconds == 1
    assert functions["SlowFunction"].memory_mb == 256
    assert functions["EchoFunction"].handler == "probe.echo"
    assert functions["EchoFunction"].code_dir == (FIXTURE.parent / "probe_code").resolve()
    assert functions["EchoFunction"].environment == {
        "PROBE_LOG": "/tmp/probe.log",
        "PROBE_SETTING": "from-the-template",
    }


def test_conditions_and_sub_follow_parameter_values():
    api = read(ProbeSetting="overridden")
    assert "GET /v1/bare" in {route.route_key for route in api.routes}
    assert api.functions["EchoFunction"].environment["PROBE_SETTING"] == "overridden-by-parameter"


def test_a_parameter_without_default_or_value_is_named():
    with pytest.raises(TemplateError, match="ProbeLog"):
        read_http_api(
            FIXTURE,
            {k: v for k, v in PARAMETERS.items() if k != "ProbeLog"},
            account_id="111111111111",
            region="us-east-1",
        )


def test_parameter_values_are_checked_like_cloudformation_does():
    with pytest.raises(TemplateError, match="AllowedValues"):
        read(ProbeSetting="something-else")
    with pytest.raises(TemplateError, match="does not declare"):
        read(NoSuchParameter="x")


def test_short_form_tags_load_as_long_forms():
    template = load_template(FIXTURE)
    environment = template["Globals"]["Function"]["Environment"]["Variables"]
    assert environment["PROBE_LOG"] == {"Ref": "ProbeLog"}
    assert environment["PROBE_SETTING"] == {
        "Fn::If": ["IsOverridden", {"Fn::Sub": "${ProbeSetting}-by-parameter"}, {"Ref": "ProbeSetting"}]
    }


@pytest.fixture
def resolver():
    template = {
        "Resources": {"Api": {"Type": "AWS::Serverless::HttpApi"}},
        "Mappings": {"Stage": {"local": {"Suffix": "dev"}}},
        "Conditions": {"Always": {"Fn::Equals": ["a", "a"]}, "Never": {"Fn::Not": [{"Condition": "Always"}]}},
    }
    parameters = {"Names": ["a", "b"], "Env": "local"}
    return Resolver(template, parameters, account_id="111111111111", region="eu-west-1")


def test_resolver_intrinsics(resolver):
    assert resolver.resolve({"Fn::Sub": "arn:aws:s3:${AWS::Region}:${AWS::AccountId}:${Api}"}) == (
        "arn:aws:s3:eu-west-1:111111111111:Api"
    )
    assert resolver.resolve({"Fn::Sub": ["${X}-${!Literal}", {"X": {"Ref": "Env"}}]}) == "local-${Literal}"
    assert resolver.resolve({"Fn::Join": [",", {"Ref": "Names"}]}) == "a,b"
    assert resolver.resolve({"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]}) == "y"
    assert resolver.resolve({"Fn::FindInMap": ["Stage", {"Ref": "Env"}, "Suffix"]}) == "dev"
    assert resolver.resolve({"Fn::GetAtt": ["Api", "ApiEndpoint"]}) == "Api.ApiEndpoint"
    assert resolver.resolve({"Fn::If": ["Never", 1, 2]}) == 2
    assert resolver.resolve({"Fn::Or": [{"Condition": "Never"}, {"Condition": "Always"}]}) is True


def test_no_value_removes_keys_and_items(resolver):
    resolved = resolver.resolve(
        {
            "Keep": 1,
            "Drop": {"Fn::If": ["Never", 1, {"Ref": "AWS::NoValue"}]},
            "List": [1, {"Ref": "AWS::NoValue"}],
        }
    )
    assert resolved == {"Keep": 1, "List": [1]}
    assert NO_VALUE not in resolved.values()


def test_unknown_references_are_errors(resolver):
    with pytest.raises(TemplateError, match="Nope"):
        resolver.resolve({"Ref": "Nope"})
    with pytest.raises(TemplateError, match="Missing"):
        resolver.resolve({"Fn::If": ["Missing", 1, 2]})


def test_templates_the_gateway_cannot_honour_are_refused(tmp_path):
    openapi = tmp_path / "template.yaml"
    openapi.write_text(
        "Resources:\n  Api:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n      DefinitionBody: {}\n"
    )
    with pytest.raises(TemplateError, match="OpenAPI"):
        read_http_api(openapi, {}, account_id="111111111111", region="us-east-1")
    lambda_authorizer = tmp_path / "lambda-auth.yaml"
    lambda_authorizer.write_text(
        "Resources:\n  Api:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n      Auth:\n"
        "        Authorizers:\n          Custom:\n            FunctionArn: arn:aws:lambda:x\n"
    )
    with pytest.raises(TemplateError, match="only JWT authorizers"):
        read_http_api(lambda_authorizer, {}, account_id="111111111111", region="us-east-1")
