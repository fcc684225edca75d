"""Log data in template.yaml, handled as personal data (docs/operations.md): every log group is declared,
keeps its lines for the retention a parameter sets (90 days for the functions' logs, which hold the audit
trail), is encrypted under the stack's own KMS key, and outlives the stack; every function writes to its
declared group; the key lets CloudWatch Logs use it for this account's log groups only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from local.gateway.cloudformation import load_template

pytestmark = pytest.mark.unit

TEMPLATE = load_template(Path(__file__).resolve().parents[2] / "template.yaml")
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
LOG_GROUPS = {
    name: resource for name, resource in RESOURCES.items() if resource["Type"] == "AWS::Logs::LogGroup"
}
FUNCTIONS = {
    name: resource for name, resource in RESOURCES.items() if resource["Type"] == "AWS::Serverless::Function"
}


def test_every_function_writes_to_its_own_declared_log_group() -> None:
    groups = [function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for function in FUNCTIONS.values()]
    assert len(set(groups)) == len(FUNCTIONS) == 6
    assert set(groups) <= set(LOG_GROUPS)
    for group in groups:
        # Terraform's service-iam role may write to /aws/lambda/<stack>-* only.
        name = LOG_GROUPS[group]["Properties"]["LogGroupName"]["Fn::Sub"]
        assert name.startswith("/aws/lambda/${AWS::StackName}-"), name


@pytest.mark.parametrize("name", sorted(LOG_GROUPS))
def test_every_log_group_has_a_retention_a_customer_managed_key_and_outlives_the_stack(name: str) -> None:
    group = LOG_GROUPS[name]
    retention = group["Properties"]["RetentionInDays"]["Ref"]
    expected = "AccessLogRetentionDays" if name == "VendingApiAccessLogs" else "FunctionLogRetentionDays"
    assert retention == expected
    assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["LogsKey", "Arn"]}
    assert group["DeletionPolicy"] == group["UpdateReplacePolicy"] == "Retain"


def test_retention_defaults_keep_the_audit_trail_90_days_and_the_access_log_a_year() -> None:
    parameters = TEMPLATE["Parameters"]
    assert parameters["FunctionLogRetentionDays"]["Default"] == 90
    assert parameters["AccessLogRetentionDays"]["Default"] == 365


def test_the_logs_key_lets_cloudwatch_logs_use_it_for_this_accounts_log_groups_only() -> None:
    key = RESOURCES["LogsKey"]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"  # the retained logs need it
    statements = {statement["Sid"]: statement for statement in key["Properties"]["KeyPolicy"]["Statement"]}
    logs = statements["CloudWatchLogsEncryptsThisAccountsLogGroups"]
    assert logs["Principal"] == {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}}
    context = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]["Fn::Sub"]
    assert context == "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"
    admin = statements["AccountAdministersTheKey"]["Action"]
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:*"} & set(admin)  # administers, never reads


def test_the_upload_binding_key_outlives_the_stack() -> None:
    secret = RESOURCES["UploadBindingSecret"]
    assert secret["DeletionPolicy"] == secret["UpdateReplacePolicy"] == "Retain"


def test_every_stateful_resource_states_what_deletion_and_replacement_do() -> None:
    stateful = {"AWS::Logs::LogGroup", "AWS::KMS::Key", "AWS::SecretsManager::Secret", "AWS::DynamoDB::Table"}
    for name, resource in RESOURCES.items():
        if resource["Type"] in stateful:
            assert {"DeletionPolicy", "UpdateReplacePolicy"} <= resource.keys(), name


def test_naming_users_by_digest_is_a_parameter_with_a_retained_key_only_the_functions_read() -> None:
    parameter = TEMPLATE["Parameters"]["AuditUserIdentifier"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("claim", ["claim", "digest"])
    assert TEMPLATE["Conditions"]["AuditUsersByDigest"] == {
        "Fn::Equals": [{"Ref": "AuditUserIdentifier"}, "digest"]
    }
    secret = RESOURCES["AuditPseudonymSecret"]
    assert secret["Condition"] == "AuditUsersByDigest"
    # The only way back from a digest to a person, kept as long as the log groups it names users in.
    assert secret["DeletionPolicy"] == secret["UpdateReplacePolicy"] == "Retain"
    assert secret["Properties"]["Name"] == {"Fn::Sub": "${AWS::StackName}-audit-pseudonym"}
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["AUDIT_PSEUDONYM_SECRET"] == {
        "Fn::If": ["AuditUsersByDigest", {"Ref": "AuditPseudonymSecret"}, {"Ref": "AWS::NoValue"}]
    }
    policies = RESOURCES["VendingExecutionRole"]["Properties"]["Policies"]
    statements = next(p for p in policies if p["PolicyName"] == "read-service-keys")["PolicyDocument"][
        "Statement"
    ]
    conditional = next(s for s in statements if "Fn::If" in s)["Fn::If"]
    assert conditional[0] == "AuditUsersByDigest"
    assert conditional[1]["Action"] == "secretsmanager:GetSecretValue"
    assert conditional[1]["Resource"] == {"Ref": "AuditPseudonymSecret"}
