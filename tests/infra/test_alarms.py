"""Alarms and safe deploys in template.yaml (docs/operations.md): each alarm watches the metric its runbook
starts from, at the documented threshold, and notifies the stack's encrypted topic; every function
shifts traffic to a new version as a canary that its own errors alarm or the API's 5xx rate rolls back."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from local.gateway.cloudformation import load_template

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
ALARMS = {
    name: resource["Properties"]
    for name, resource in RESOURCES.items()
    if resource["Type"] == "AWS::CloudWatch::Alarm"
}
FUNCTIONS = {
    name: resource for name, resource in RESOURCES.items() if resource["Type"] == "AWS::Serverless::Function"
}
TOPIC = {"Ref": "AlarmTopic"}
OPERATIONS = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")

# The service's own alarms: the metric each one reads, and the threshold.

SERVICE_ALARMS = {
    "UpstreamThrottlingAlarm": ("UpstreamThrottles", 5),
    "UpstreamErrorsAlarm": ("UpstreamErrors", 5),
    "SharedCacheFailuresAlarm": ("SharedCacheErrors", 10),
    "RevocationStateUnreadableAlarm": ("RevocationStateUnreadable", 1),
}


def test_every_alarm_notifies_the_topic_and_names_its_runbook_section() -> None:
    assert len(ALARMS) == 1 + len(SERVICE_ALARMS) + 3 * len(FUNCTIONS)
    for name, alarm in ALARMS.items():
        assert alarm["AlarmActions"] == [TOPIC] and alarm["OKActions"] == [TOPIC], name
        assert alarm["TreatMissingData"] == "notBreaching", name
        anchor = alarm["AlarmDescription"].rsplit("docs/operations.md#", 1)[1]
        assert f'<a id="{anchor}"></a>' in OPERATIONS, f"{name}: no runbook section {anchor}"


def test_the_topic_is_encrypted_and_cloudwatch_may_publish_to_it() -> None:
    assert RESOURCES["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlarmsKey"}
    statements = {s["Sid"]: s for s in RESOURCES["AlarmsKey"]["Properties"]["KeyPolicy"]["Statement"]}
    assert statements["CloudWatchAlarmsPublish"]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    subscription = RESOURCES["AlarmSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}


def test_the_api_alarm_is_the_5xx_rate_above_5_percent() -> None:
    alarm = ALARMS["ApiServerErrorRateAlarm"]
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["EvaluationPeriods"]) == (
        5,
        "GreaterThanThreshold",
        3,
    )
    queries = {query["Id"]: query for query in alarm["Metrics"]}
    assert queries["rate"]["Expression"] == "IF(requests > 0, 100 * errors / requests, 0)"
    for name, metric in (("errors", "5xx"), ("requests", "Count")):
        stat = queries[name]["MetricStat"]
        assert stat["Metric"]["Namespace"] == "AWS/ApiGateway" and stat["Metric"]["MetricName"] == metric
        assert stat["Metric"]["Dimensions"] == [{"Name": "ApiId", "Value": {"Ref": "VendingApi"}}]


@pytest.mark.parametrize(("name", "expected"), sorted(SERVICE_ALARMS.items()))
def test_the_services_own_alarms_read_its_metrics(name: str, expected: tuple[str, int]) -> None:
    alarm = ALARMS[name]
    metric, threshold = expected
    assert alarm["Namespace"] == {"Ref": "MetricsNamespace"}
    assert alarm["MetricName"] == metric and alarm["Statistic"] == "Sum"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": {"Ref": "ServiceName"}}]
    assert alarm["Threshold"] == threshold and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_function_has_its_errors_throttles_and_duration_alarms(function: str) -> None:
    timeout_ms = 1000 * FUNCTIONS[function]["Properties"].get(
        "Timeout", TEMPLATE["Globals"]["Function"]["Timeout"]
    )
    for suffix, metric, threshold in (
        ("ErrorsAlarm", "Errors", 1),
        ("ThrottlesAlarm", "Throttles", 1),
        ("DurationAlarm", "Duration", int(timeout_ms * 0.8)),
    ):
        alarm = ALARMS[f"{function}{suffix}"]
        assert alarm["Namespace"] == "AWS/Lambda" and alarm["MetricName"] == metric
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
        assert alarm["Threshold"] == threshold
    assert ALARMS[f"{function}DurationAlarm"]["ExtendedStatistic"] == "p90"


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_function_deploys_as_a_canary_its_alarms_roll_back(function: str) -> None:
    preference = FUNCTIONS[function]["Properties"]["DeploymentPreference"]
    assert preference["Type"] == "Canary10Percent5Minutes"
    assert preference["Alarms"] == [{"Ref": f"{function}ErrorsAlarm"}, {"Ref": "ApiServerErrorRateAlarm"}]


def test_the_dashboard_shows_the_golden_signals_the_cache_tiers_and_aws_upstream() -> None:
    body = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    rendered = re.sub(r"\$\{[^}]+\}", "x", body)  # what CloudFormation substitutes
    widgets = json.loads(rendered)["widgets"]
    shown = {
        (metric[0], metric[1])
        for widget in widgets
        if widget["type"] == "metric"
        for metric in widget["properties"]["metrics"]
    }
    for namespace, metric in (
        ("AWS/ApiGateway", "Count"),
        ("AWS/ApiGateway", "5xx"),
        ("AWS/ApiGateway", "Latency"),
        ("AWS/Lambda", "ConcurrentExecutions"),
        ("AWS/Lambda", "Throttles"),
        ("x", "MemoryCacheHits"),
        ("x", "SharedTierCacheHits"),
        ("x", "CacheMisses"),
        ("x", "UpstreamThrottles"),
        ("x", "UpstreamErrors"),
    ):
        assert (namespace, metric) in shown, (namespace, metric)
