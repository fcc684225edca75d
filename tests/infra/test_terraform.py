"""Terraform: every root is formatted, initialises and validates; applied to the local emulator the roots
create what the department table says, the service configured only from their outputs vends it, a second
plan is empty, and destroy leaves nothing behind.

identity-center mode (the default) runs the whole chain on an emulator holding only Identity Center's
instance and directory: federation -> service-iam -> grants (once per region of the access plan, each in
the workspace named after its region), then `deploy.sh` (its dry run prints the configure_application.py
command, which runs, and the SAM parameters, which configure the functions through template.yaml), vending
per department in both regions, a second plan on every root, destroy. iam-role mode applies its roots
(with a customer KMS key per region) on an empty emulator, vends through the department roles Terraform
created, and plans again. The two modes are applied at the same time, each on its own emulator, and a mode's
regions side by side: an apply mostly waits on the provider.

The roots are copied to a temporary folder and given an override file pointing the provider at the
emulator (endpoints, `http_proxy` for s3control's `{AccountId}.` host prefix, static keys), so nothing
here touches the repository's own Terraform state or real AWS.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import requests
from botocore.exceptions import ClientError

from local.aws_emulator.seed import token_exchange_policy
from local.gateway.configuration import DEFAULT_TEMPLATE, local_environment
from local.gateway.runtime import merged_environment
from local.gateway.template import read_http_api
from local.stack import IDENTITY_CENTER_KEYS, TEST_KEYS, LocalStack
from tests.integration.handler_calls import call, environment_installed, problem_of

pytestmark = pytest.mark.infra

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"
ROOTS = ("grants", "service-iam", "federation")
PLUGIN_DIR = Path("/opt/tf-plugins")  # offline mirror of hashicorp/aws; normal registry init elsewhere
COMMAND_TIMEOUT_SECONDS = 240
ACCOUNT_ID = "111111111111"
REGION = "us-east-1"
AUDIENCE = "shopfast-vending"
PLAN = json.loads((TERRAFORM_DIR / "access-plan.json").read_text())
BUCKET_REGIONS = {bucket: spec["region"] for bucket, spec in PLAN["buckets"].items()}
GRANT_REGIONS = sorted(set(BUCKET_REGIONS.values()))
DEMO_USERS = json.loads((REPO / "local" / "demo-users.json").read_text())["users"]


class Terraform:
    """The roots copied into a scratch folder, run with one CLI configuration and a shared plugin cache."""

    def __init__(self, work_dir: Path, plugin_cache: Path) -> None:
        binary = shutil.which("terraform")
        assert binary, "terraform (1.9+) is required on PATH; `make test` checks for it"
        self.binary = binary
        self.dir = work_dir / "terraform"
        shutil.copytree(
            TERRAFORM_DIR,
            self.dir,
            ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", ".terraform.lock.hcl", "*.tfvars"),
        )
        cli_config = work_dir / "terraformrc"
        cli_config.write_text(f'plugin_cache_dir = "{plugin_cache}"\n')
        self.env = {
            name: value
            for name, value in os.environ.items()
            if not name.upper().startswith(("AWS_", "TF_", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"))
        }
        self.env.update(
            TF_CLI_CONFIG_FILE=str(cli_config), TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1"
        )

    def run(
        self, root: str, *args: str, check: bool = True, workspace: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run_many([(root, args)], check=check, workspace=workspace)[0]

    def run_many(
        self,
        runs: list[tuple[str, tuple[str, ...]]],
        *,
        check: bool = True,
        workspace: str | None = None,
    ) -> list[subprocess.CompletedProcess[str]]:
        """Run independent commands side by side: each spends most of its time starting the provider. A
        root written `grants@<region>` runs in that region's workspace."""
        processes = []
        for key, args in runs:
            root, _, key_workspace = key.partition("@")
            env = dict(self.env)
            if key_workspace or workspace:
                env["TF_WORKSPACE"] = key_workspace or str(workspace)
            # `timeout` first: an emulator error shows up as the provider retrying forever.
            command = ["timeout", "-k", "10", str(COMMAND_TIMEOUT_SECONDS), self.binary, *args, "-no-color"]
            processes.append(
                subprocess.Popen(
                    command,
                    cwd=self.dir / root,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        results = []
        for (root, args), process in zip(runs, processes, strict=True):
            stdout, stderr = process.communicate()
            result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
            assert result.returncode != 124, f"terraform {args[0]} in {root} timed out:\n{stdout[-3000:]}"
            if check:
                assert result.returncode == 0, f"terraform {' '.join(args)} in {root}:\n{stderr[-4000:]}"
            results.append(result)
        return results

    def init(self, root: str) -> None:
        offline = [f"-plugin-dir={PLUGIN_DIR}"] if PLUGIN_DIR.is_dir() else []
        self.run(root, "init", "-input=false", *offline)

    def point_at_emulator(self, root: str, endpoint: str) -> None:
        # The provider keeps each root's own `region = var.region` (the grants root's differs per apply).
        # The federation root is applied in the Identity Center account, the others in the data account.
        keys = IDENTITY_CENTER_KEYS if root == "federation" else TEST_KEYS
        (self.dir / root / "emulator_override.tf").write_text(
            f"""provider "aws" {{
  access_key                  = "{keys["aws_access_key_id"]}"
  secret_key                  = "{keys["aws_secret_access_key"]}"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true
  # s3control prefixes the host with the account id; the proxy takes those requests to the emulator.
  http_proxy  = "{endpoint}"
  https_proxy = ""
  endpoints {{
    cloudtrail    = "{endpoint}"
    iam           = "{endpoint}"
    identitystore = "{endpoint}"
    s3            = "{endpoint}"
    s3control     = "{endpoint}"
    ssoadmin      = "{endpoint}"
    sts           = "{endpoint}"
  }}
}}
"""
        )

    def create_workspace(self, key: str) -> None:
        root, _, workspace = key.partition("@")
        self.run(root, "workspace", "new", workspace)


# --- static: fmt, init, validate ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plugin_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Used when the provider comes from the registry (no offline mirror): downloaded once per run."""
    return tmp_path_factory.mktemp("terraform-plugin-cache")


@pytest.fixture(scope="module")
def terraform(tmp_path_factory: pytest.TempPathFactory, plugin_cache: Path) -> Terraform:
    return Terraform(tmp_path_factory.mktemp("terraform"), plugin_cache)


IDENTITY_CENTER_PROFILE = "identity-center"


def configure_env(aws_endpoint: str, folder: Path) -> dict[str, str]:
    """The environment `configure_application.py` runs with against the emulator, nothing else inherited: an
    operator's credentials file, the data account's keys by default and the Identity Center account's under
    the profile docs/deploying.md has them pass as IDC_AWS_PROFILE."""
    credentials = folder / "aws-credentials"
    credentials.write_text(
        "".join(
            f"[{profile}]\naws_access_key_id = {keys['aws_access_key_id']}\n"
            f"aws_secret_access_key = {keys['aws_secret_access_key']}\n"
            for profile, keys in (("default", TEST_KEYS), (IDENTITY_CENTER_PROFILE, IDENTITY_CENTER_KEYS))
        )
    )
    return {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ENDPOINT_URL": aws_endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_CONFIG_FILE": str(folder / "no-aws-config"),
    }


def test_terraform_files_are_formatted(terraform: Terraform) -> None:
    result = subprocess.run(
        [terraform.binary, "fmt", "-check", "-recursive", "-diff", "-no-color", str(TERRAFORM_DIR)],
        env=terraform.env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, f"run `terraform fmt -recursive terraform`:\n{result.stdout}"


@pytest.fixture(scope="module")
def validations(terraform: Terraform) -> dict[str, subprocess.CompletedProcess[str]]:
    for root in ROOTS:
        terraform.init(root)
    results = terraform.run_many([(root, ("validate", "-json")) for root in ROOTS], check=False)
    return dict(zip(ROOTS, results, strict=True))


@pytest.mark.parametrize("root", ROOTS)
def test_root_initialises_and_validates(
    validations: dict[str, subprocess.CompletedProcess[str]], root: str
) -> None:
    report = json.loads(validations[root].stdout)
    assert report["valid"], json.dumps(report["diagnostics"], indent=2)
    assert report["error_count"] == 0 and report["warning_count"] == 0, report["diagnostics"]


# --- deploy.sh refuses inconsistent inputs -------------------------------------------------------------


def _state_with_outputs(root_dir: Path, outputs: dict[str, str]) -> None:
    """A state file holding only outputs: what `terraform output` reads after an apply."""
    root_dir.mkdir(parents=True)
    state = {
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": 1,
        "lineage": "00000000-0000-0000-0000-000000000000",
        "outputs": {name: {"value": value, "type": "string"} for name, value in outputs.items()},
        "resources": [],
    }
    (root_dir / "terraform.tfstate").write_text(json.dumps(state))


def _deploy_refusal(terraform: Terraform, terraform_dir: Path) -> str:
    result = subprocess.run(
        [str(TERRAFORM_DIR / "deploy.sh")],
        env={**terraform.env, "DRY_RUN": "1", "TERRAFORM_DIR": str(terraform_dir)},
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode != 0 and result.stdout == "", result.stdout
    return result.stderr


def test_deploy_refuses_roots_that_were_not_applied(terraform: Terraform, tmp_path: Path) -> None:
    for root in ("service-iam", "grants"):
        (tmp_path / root).mkdir()
    assert "output 'identity_mode' of terraform/service-iam is missing" in _deploy_refusal(
        terraform, tmp_path
    )


def test_deploy_refuses_roots_applied_for_different_modes(terraform: Terraform, tmp_path: Path) -> None:
    _state_with_outputs(tmp_path / "service-iam", {"identity_mode": "iam-role"})
    _state_with_outputs(tmp_path / "grants", {"identity_mode": "identity-center"})
    stderr = _deploy_refusal(terraform, tmp_path)
    assert "service-iam was applied for iam-role but grants for identity-center" in stderr


# --- against the emulator -------------------------------------------------------------------------------


@dataclass
class Deployment:
    mode: str
    terraform: Terraform
    stack: LocalStack
    # Per applied root, in apply order: "federation", "service-iam", "grants@<region>" (one per region).
    variables: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]

    def var_args(self, key: str) -> list[str]:
        return [
            f"-var={name}={value if isinstance(value, str) else json.dumps(value)}"
            for name, value in self.variables[key].items()
        ]

    def apply(self, variables_by_key: dict[str, dict[str, Any]]) -> None:
        """Apply roots side by side; `grants@<region>` applies the grants root for that region in its
        workspace. Most of an apply is the provider waiting (it reads S3 lifecycle rules back until three
        reads 10 s apart agree), so independent roots are applied at once."""
        for key, variables in variables_by_key.items():
            if "@" in key:
                self.terraform.create_workspace(key)
                variables = {**variables, "region": key.partition("@")[2]}
            self.variables[key] = variables
        apply = ("apply", "-auto-approve", "-input=false", "-parallelism=20")
        self.terraform.run_many([(key, (*apply, *self.var_args(key))) for key in variables_by_key])
        results = self.terraform.run_many([(key, ("output", "-json")) for key in variables_by_key])
        for key, result in zip(variables_by_key, results, strict=True):
            self.outputs[key] = {name: output["value"] for name, output in json.loads(result.stdout).items()}

    @property
    def grants_outputs(self) -> list[dict[str, Any]]:
        return [self.outputs[f"grants@{region}"] for region in GRANT_REGIONS]


def _client(
    stack: LocalStack, service: str, region: str = REGION, credentials: dict[str, str] | None = None
) -> Any:
    """A client of the data account, or of the account `credentials` act in."""
    return stack.client(
        service, region=region, credentials=credentials, retries={"mode": "standard", "max_attempts": 3}
    )


def _empty_bucket(s3: Any, bucket: str) -> None:
    """Versioned buckets keep every version; Terraform (rightly) does not force-delete data."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])


def _apply_identity_center(deployment: Deployment) -> None:
    deployment.apply(
        {"federation": {"jwt_issuer_url": deployment.stack.issuer_url, "jwt_audiences": [AUDIENCE]}}
    )
    federation = deployment.outputs["federation"]
    deployment.apply(
        {
            "service-iam": {
                "identity_center_instance_arn": federation["identity_center_instance_arn"],
                "identity_center_application_arn": federation["application_arn"],
            }
        }
    )
    grants = {
        "identity_center_instance_arn": federation["identity_center_instance_arn"],
        "directory_group_ids": federation["directory_group_ids"],
    }
    deployment.apply({f"grants@{region}": grants for region in GRANT_REGIONS})


def _apply_iam_role(deployment: Deployment) -> None:
    deployment.apply({"service-iam": {"identity_mode": "iam-role"}})
    # This run also takes the SSE-KMS branch (a customer key per region, as keys are regional, the location
    # role may use through S3) and the trail of data events.
    keys = {
        region: _client(deployment.stack, "kms", region).create_key(Description="shopfast data")
        for region in GRANT_REGIONS
    }
    deployment.apply(
        {
            f"grants@{region}": {
                "identity_mode": "iam-role",
                "kms_key_arn": keys[region]["KeyMetadata"]["Arn"],
                "cloudtrail_data_events": True,
            }
            for region in GRANT_REGIONS
        }
    )


def _deployed(
    mode: str, terraform: Terraform, state_dir: Path, seed: Any, apply: Callable[[Deployment], None]
) -> tuple[contextlib.ExitStack, Deployment]:
    """A mode's roots applied to its own emulator; the returned stack stops that emulator."""
    cleanup = contextlib.ExitStack()
    try:
        stack = cleanup.enter_context(LocalStack(aws_port=0, idp_port=0, state_dir=state_dir, seed=seed))
        for root in ROOTS:
            terraform.point_at_emulator(root, stack.aws_endpoint)
        deployment = Deployment(mode, terraform, stack, {}, {})
        apply(deployment)
    except BaseException:
        cleanup.close()
        raise
    return cleanup, deployment


@pytest.fixture(scope="module")
def deployments(
    terraform: Terraform, tmp_path_factory: pytest.TempPathFactory, plugin_cache: Path
) -> Iterator[dict[str, Deployment]]:
    """Both modes, each on its own emulator and in its own copy of the roots, applied at the same time:
    each spends most of its time waiting on the provider, not working."""
    plans = {
        "identity-center": (terraform, "directory", _apply_identity_center),
        "iam-role": (
            Terraform(tmp_path_factory.mktemp("terraform-iam-role"), plugin_cache),
            False,
            _apply_iam_role,
        ),
    }
    for tf, _, _ in plans.values():
        for root in ROOTS:  # one at a time: Terraform's plugin cache is not safe for concurrent use
            tf.init(root)
    with ThreadPoolExecutor(len(plans)) as pool:
        futures = [
            pool.submit(_deployed, mode, tf, tmp_path_factory.mktemp(f"terraform-{mode}"), seed, apply)
            for mode, (tf, seed, apply) in plans.items()
        ]
    with contextlib.ExitStack() as cleanup:
        failures = [error for future in futures if (error := future.exception())]
        done = {}
        for future in futures:
            if not future.exception():  # stopped even when the other mode failed
                mode_cleanup, deployment = future.result()
                cleanup.enter_context(mode_cleanup)
                done[deployment.mode] = deployment
        if failures:
            raise failures[0]
        yield done


@pytest.fixture(scope="module")
def identity_center(deployments: dict[str, Deployment]) -> Deployment:
    return deployments["identity-center"]


@pytest.fixture(scope="module")
def iam_role(deployments: dict[str, Deployment]) -> Deployment:
    return deployments["iam-role"]


def test_identity_center_and_the_grants_are_applied_in_their_own_accounts(
    identity_center: Deployment,
) -> None:
    """As the reference setup deploys them: the federation root in Identity Center's account, service-iam
    and grants in the data account, whose Access Grants instances are associated with the other account's
    Identity Center (vending across both is the test below)."""
    idc_account = IDENTITY_CENTER_KEYS["aws_access_key_id"]
    federation = identity_center.outputs["federation"]
    assert federation["application_arn"].split(":")[4] == idc_account
    assert federation["trusted_token_issuer_arn"].split(":")[4] == idc_account
    assert identity_center.outputs["service-iam"]["client_application_role_arn"].split(":")[4] == ACCOUNT_ID
    for region, outputs in zip(GRANT_REGIONS, identity_center.grants_outputs, strict=True):
        assert outputs["access_grants_account_id"] == ACCOUNT_ID
        instance = _client(identity_center.stack, "s3control", region).get_access_grants_instance(
            AccountId=ACCOUNT_ID
        )
        assert instance["IdentityCenterArn"] == federation["identity_center_instance_arn"]
    # The data account has no Identity Center of its own.
    assert _client(identity_center.stack, "sso-admin").list_instances()["Instances"] == []


def _grantee_by_department(deployment: Deployment) -> dict[str, dict[str, str]]:
    if deployment.mode == "identity-center":
        groups = deployment.outputs["federation"]["directory_group_ids"]
        return {
            name: {"type": "DIRECTORY_GROUP", "identifier": groups[dept["directory_group"]]}
            for name, dept in PLAN["departments"].items()
        }
    roles = json.loads(deployment.outputs["service-iam"]["role_mapping"])
    return {
        name: {"type": "IAM", "identifier": roles[dept["directory_group"]]}
        for name, dept in PLAN["departments"].items()
    }


@pytest.fixture(scope="module", params=["identity-center", "iam-role"])
def deployment(request: pytest.FixtureRequest) -> Deployment:
    return request.getfixturevalue(request.param.replace("-", "_"))


def test_every_served_bucket_aborts_multipart_uploads_nobody_finished(deployment: Deployment) -> None:
    """The one lifecycle rule the grants root sets: S3 aborts an upload left open 7 days; nothing expires."""
    for region in GRANT_REGIONS:
        s3 = _client(deployment.stack, "s3", region)
        for bucket in deployment.outputs[f"grants@{region}"]["bucket_regions"]:
            rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
            assert [rule["AbortIncompleteMultipartUpload"] for rule in rules] == [{"DaysAfterInitiation": 7}]
            assert all(rule["Status"] == "Enabled" and "Expiration" not in rule for rule in rules)


def test_the_trail_records_object_access_in_the_served_buckets_only(iam_role: Deployment) -> None:
    """cloudtrail_data_events: one trail per region, data events of that region's served buckets (object
    reads and writes, by session), log files validated, encrypted with the buckets' key."""
    for region in GRANT_REGIONS:
        cloudtrail = _client(iam_role.stack, "cloudtrail", region)
        (trail,) = cloudtrail.describe_trails()["trailList"]
        assert trail["Name"] == f"shopfast-data-events-{region}" and trail["LogFileValidationEnabled"]
        assert trail["KmsKeyId"].startswith(f"arn:aws:kms:{region}:")
        (selector,) = cloudtrail.get_event_selectors(TrailName=trail["Name"])["AdvancedEventSelectors"]
        fields = {field["Field"]: field for field in selector["FieldSelectors"]}
        assert fields["eventCategory"]["Equals"] == ["Data"]
        assert fields["resources.type"]["Equals"] == ["AWS::S3::Object"]
        served = iam_role.outputs[f"grants@{region}"]["bucket_regions"]
        assert sorted(fields["resources.ARN"]["StartsWith"]) == sorted(f"arn:aws:s3:::{b}/" for b in served)
        s3 = _client(iam_role.stack, "s3", region)
        rules = s3.get_bucket_lifecycle_configuration(Bucket=trail["S3BucketName"])["Rules"]
        assert [rule["Expiration"] for rule in rules] == [{"Days": 365}]


def test_apply_creates_one_grant_per_table_row_scoped_to_prefix_slash_star(deployment: Deployment) -> None:
    """Each region's apply holds exactly its buckets' rows of the table, with its own instance and its
    own location role (trusting only that instance)."""
    grantees = _grantee_by_department(deployment)
    for region in GRANT_REGIONS:
        grants = _client(deployment.stack, "s3control", region).list_access_grants(AccountId=ACCOUNT_ID)[
            "AccessGrantsList"
        ]
        expected = {
            (
                f"s3://{g['bucket']}/{g['prefix']}*",
                g["permission"],
                grantees[name]["type"],
                grantees[name]["identifier"],
            )
            for name, dept in PLAN["departments"].items()
            for g in dept["grants"]
            if BUCKET_REGIONS[g["bucket"]] == region
        }
        actual = {
            (g["GrantScope"], g["Permission"], g["Grantee"]["GranteeType"], g["Grantee"]["GranteeIdentifier"])
            for g in grants
        }
        assert actual == expected and expected, region

        outputs = deployment.outputs[f"grants@{region}"]
        assert (
            outputs["access_grants_instance_arn"] == f"arn:aws:s3:{region}:{ACCOUNT_ID}:access-grants/default"
        )
        assert outputs["bucket_regions"] == {b: r for b, r in BUCKET_REGIONS.items() if r == region}
        role_name = f"shopfast-access-grants-location-{region}"
        assert outputs["location_role_arn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/{role_name}"
        location_role = _client(deployment.stack, "iam").get_role(RoleName=role_name)["Role"]
        trust = location_role["AssumeRolePolicyDocument"]
        trust = json.loads(trust) if isinstance(trust, str) else trust
        conditions = trust["Statement"][0]["Condition"]
        assert conditions["StringEquals"]["aws:SourceAccount"] == ACCOUNT_ID
        assert conditions["ArnEquals"]["aws:SourceArn"] == outputs["access_grants_instance_arn"]

        kms_key = deployment.variables[f"grants@{region}"].get("kms_key_arn")
        location_policy = _client(deployment.stack, "iam").get_role_policy(
            RoleName=role_name, PolicyName="registered-locations"
        )["PolicyDocument"]
        location_policy = json.loads(location_policy) if isinstance(location_policy, str) else location_policy
        kms_statements = [
            st for st in location_policy["Statement"] if st.get("Sid") == "BucketKeyThroughS3Only"
        ]
        assert [st["Resource"] for st in kms_statements] == ([kms_key] if kms_key else [])

        s3 = _client(deployment.stack, "s3", region)
        for bucket in (b for b, r in BUCKET_REGIONS.items() if r == region):
            assert (
                s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"]
                == region
            )
            assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
            block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
            assert all(block.values()), block
            rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
            default = rules[0]["ApplyServerSideEncryptionByDefault"]
            if kms_key:
                assert (default["SSEAlgorithm"], default["KMSMasterKeyID"]) == ("aws:kms", kms_key)
            else:
                assert default["SSEAlgorithm"] == "AES256"
            policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
            assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    instance_arns = [f"arn:aws:s3:{region}:{ACCOUNT_ID}:access-grants/default" for region in GRANT_REGIONS]
    assert deployment.outputs["service-iam"]["access_grants_instance_arns"] == instance_arns
    if deployment.mode == "iam-role":
        client_role = deployment.outputs["service-iam"]["client_application_role_arn"]
        for department in PLAN["departments"].values():
            role = _client(deployment.stack, "iam").get_role(RoleName=department["iam_role"])["Role"]
            trust = role["AssumeRolePolicyDocument"]
            (statement,) = (json.loads(trust) if isinstance(trust, str) else trust)["Statement"]
            assert statement["Principal"] == {"AWS": client_role}
            assert statement["Condition"] == {"Null": {"sts:SourceIdentity": "false"}}
            policy = _client(deployment.stack, "iam").get_role_policy(
                RoleName=department["iam_role"], PolicyName="access-grants"
            )["PolicyDocument"]
            policy = json.loads(policy) if isinstance(policy, str) else policy
            assert sorted(policy["Statement"][0]["Resource"]) == instance_arns


def test_the_grants_root_refuses_a_region_without_buckets_and_a_foreign_workspace(
    identity_center: Deployment,
) -> None:
    def plan(key: str, region: str) -> subprocess.CompletedProcess[str]:
        variables = {**identity_center.variables[f"grants@{GRANT_REGIONS[0]}"], "region": region}
        args = [f"-var={n}={v if isinstance(v, str) else json.dumps(v)}" for n, v in variables.items()]
        return identity_center.terraform.run_many([(key, ("plan", "-input=false", *args))], check=False)[0]

    identity_center.terraform.create_workspace("grants@eu-west-3")
    no_buckets = plan("grants@eu-west-3", "eu-west-3")
    assert no_buckets.returncode != 0 and "No bucket of the access plan is in eu-west-3" in no_buckets.stderr
    foreign = plan(f"grants@{GRANT_REGIONS[0]}", GRANT_REGIONS[1])
    assert foreign.returncode != 0
    assert "Apply each region in the workspace named after it" in foreign.stderr


def test_identity_center_side_matches_the_plan(identity_center: Deployment) -> None:
    config = identity_center.stack.config()
    federation = identity_center.outputs["federation"]
    assert federation["identity_center_instance_arn"] == config["identityCenterInstanceArn"]
    sso_admin = _client(identity_center.stack, "sso-admin", credentials=IDENTITY_CENTER_KEYS)
    application = federation["application_arn"]
    assignments = sso_admin.list_application_assignments(ApplicationArn=application)["ApplicationAssignments"]
    assert {(a["PrincipalType"], a["PrincipalId"]) for a in assignments} == {
        ("GROUP", group_id) for group_id in federation["directory_group_ids"].values()
    }
    assert sso_admin.get_application_assignment_configuration(ApplicationArn=application)[
        "AssignmentRequired"
    ]
    scopes = sso_admin.list_application_access_scopes(ApplicationArn=application)["Scopes"]
    assert [s["Scope"] for s in scopes] == ["s3:access_grants:read_write"]

    bearer = _client(identity_center.stack, "iam").get_role(RoleName="shopfast-identity-bearer")["Role"]
    trust = bearer["AssumeRolePolicyDocument"]
    (statement,) = (json.loads(trust) if isinstance(trust, str) else trust)["Statement"]
    assert statement["Principal"] == {
        "AWS": identity_center.outputs["service-iam"]["client_application_role_arn"]
    }
    assert statement["Condition"]["ArnEquals"] == {
        "sts:RequestContext/identitycenter:InstanceArn": config["identityCenterInstanceArn"]
    }


def _deploy(deployment: Deployment, **variables: str) -> subprocess.CompletedProcess[str]:
    """`make deploy`'s dry run against this deployment's roots."""
    env = {
        **deployment.terraform.env,
        "DRY_RUN": "1",
        "TERRAFORM_DIR": str(deployment.terraform.dir),
        **variables,
    }
    if deployment.mode == "iam-role":  # no federation root to read the issuer from
        env |= {"JWT_ISSUER": deployment.stack.issuer_url, "JWT_AUDIENCE": AUDIENCE}
    return subprocess.run(
        [str(TERRAFORM_DIR / "deploy.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )


def _deploy_dry_run(deployment: Deployment, **variables: str) -> list[list[str]]:
    """The commands `make deploy` would run, from its dry run."""
    result = _deploy(deployment, **variables)
    assert result.returncode == 0, result.stderr
    return [shlex.split(line) for line in result.stdout.splitlines() if line.strip()]


def _sam_parameters(deploy_command: list[str]) -> dict[str, str]:
    assert deploy_command[:2] == ["sam", "deploy"], deploy_command
    parameters = {}
    for item in deploy_command[deploy_command.index("--parameter-overrides") + 1 :]:
        key, _, quoted = item.partition("=")
        assert quoted.startswith('"') and quoted.endswith('"'), item
        parameters[key] = quoted[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return parameters


@pytest.fixture(scope="module")
def sam_parameters(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Runs what `make deploy` would run before SAM (configure_application.py, in the Identity Center account
    through IDC_AWS_PROFILE), returns the SAM parameters."""
    commands = _deploy_dry_run(deployment, IDC_AWS_PROFILE=IDENTITY_CENTER_PROFILE)
    if deployment.mode == "identity-center":
        configure, *commands = commands
        assert configure[:2] == ["env", f"AWS_PROFILE={IDENTITY_CENTER_PROFILE}"], configure
        assert configure[3].endswith("configure_application.py"), configure
        env = configure_env(deployment.stack.aws_endpoint, tmp_path_factory.mktemp("operator"))
        # With the data account's credentials the application is out of reach: it is the other account's.
        in_the_data_account = subprocess.run(
            configure[2:], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert in_the_data_account.returncode != 0
        assert "AccessDeniedException" in in_the_data_account.stderr, in_the_data_account.stderr
        result = subprocess.run(configure, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {
            "jwtBearerGrant": "created",
            "iamAuthenticationMethod": "created",
        }
    build, package, deploy = commands
    assert build[:2] == ["sam", "build"] and deploy[:2] == ["sam", "deploy"], commands
    # The built package gets the runtime's bytecode before it is deployed.
    assert package[1:] == ["-m", "local.package", ".aws-sam/build"], commands
    return _sam_parameters(deploy)


def test_deploy_puts_the_stack_in_the_region_asked_for(deployment: Deployment) -> None:
    sam = [command for command in _deploy_dry_run(deployment, REGION="eu-west-1") if command[0] == "sam"]
    assert [command[:2] for command in sam] == [["sam", "build"], ["sam", "deploy"]]
    for command in sam:
        assert command[command.index("--region") + 1] == "eu-west-1", command
    assert all("--region" not in command for command in _deploy_dry_run(deployment))  # samconfig.toml's


def test_deploy_names_users_in_the_audit_by_digest_on_request(deployment: Deployment) -> None:
    (deploy,) = [
        c for c in _deploy_dry_run(deployment, AUDIT_USER_IDENTIFIER="digest") if c[:2] == ["sam", "deploy"]
    ]
    assert _sam_parameters(deploy)["AuditUserIdentifier"] == "digest"
    (default,) = [c for c in _deploy_dry_run(deployment) if c[:2] == ["sam", "deploy"]]
    assert "AuditUserIdentifier" not in _sam_parameters(default)  # the template's default: claim


def test_deploy_is_non_interactive_per_environment_and_reviews_on_request(deployment: Deployment) -> None:
    granted = deployment.outputs["service-iam"]["sam_stack_name"]
    commands = [c for c in _deploy_dry_run(deployment, ENV="dev", STACK_NAME=granted) if c[0] == "sam"]
    build, deploy = commands
    assert build[build.index("--config-env") + 1] == deploy[deploy.index("--config-env") + 1] == "dev"
    assert "--no-confirm-changeset" in deploy and deploy[deploy.index("--stack-name") + 1] == granted
    reviewed = [c for c in _deploy_dry_run(deployment, CONFIRM="1") if c[:2] == ["sam", "deploy"]]
    assert "--confirm-changeset" in reviewed[0] and "--no-confirm-changeset" not in reviewed[0]


def test_deploy_refuses_a_stack_the_roles_were_not_made_for(deployment: Deployment) -> None:
    """samconfig.toml's dev stack is not the one service-iam was applied for: its functions could not
    write their logs nor read their secret, so make deploy stops before building anything."""
    result = _deploy(deployment, ENV="dev")
    assert result.returncode != 0, result.stdout
    assert "stack shopfast-vending-dev is not the one terraform/service-iam was applied for" in result.stderr
    assert "sam build" not in result.stdout


def test_deploy_passes_terraform_outputs_as_declared_template_parameters(
    deployment: Deployment, sam_parameters: dict[str, str]
) -> None:
    declared = DEFAULT_TEMPLATE.read_text()
    for name in sam_parameters:
        assert f"\n  {name}:\n" in declared, f"template.yaml declares no parameter {name}"
    service_iam = deployment.outputs["service-iam"]
    assert sam_parameters["IdentityMode"] == deployment.mode
    assert sam_parameters["ExecutionRoleArn"] == service_iam["client_application_role_arn"]
    assert sam_parameters["IdentityBearerRoleArn"] == service_iam["identity_bearer_role_arn"]
    assert sam_parameters["RoleMapping"] == service_iam["role_mapping"]
    # Every region's apply of the grants root, merged: the buckets and where each lives.
    assert sam_parameters["AllowedBuckets"] == "shopfast-data,shopfast-internal"
    assert json.loads(sam_parameters["BucketRegions"]) == BUCKET_REGIONS
    assert sam_parameters["JwtIssuer"] == deployment.stack.issuer_url
    if deployment.mode == "identity-center":
        assert sam_parameters["IdcApplicationArn"] == deployment.outputs["federation"]["application_arn"]
        # The service maps users by the claim Identity Center matches.
        assert sam_parameters["UserClaim"] == deployment.outputs["federation"]["jwt_user_claim"] == "email"
        assert sam_parameters["IdcRegion"] == deployment.outputs["federation"]["region"] == REGION
    else:
        assert sam_parameters["UserClaim"] == "email"
        assert sam_parameters["IdcRegion"] == ""


@pytest.fixture(scope="module")
def service_from_outputs(deployment: Deployment, sam_parameters: dict[str, str]) -> Iterator[dict[str, str]]:
    """The Lambda functions' environment from template.yaml with `deploy.sh`'s parameters, installed."""
    api = read_http_api(DEFAULT_TEMPLATE, sam_parameters, account_id=ACCOUNT_ID, region=REGION)
    environment = merged_environment(
        api.functions.values(),
        # The functions run as the client-application role Terraform created (ExecutionRoleArn).
        local_environment(
            {"endpoint": deployment.stack.aws_endpoint, "region": REGION}, sam_parameters["ExecutionRoleArn"]
        ),
    )
    # Terraform's emulator holds only what Terraform made: the SAM stack's state table and key do not
    # exist there, so the functions run without the shared tier and revocation (as SharedCache=disabled
    # and no table would), which this test of the grants does not need.
    for name in ("STATE_TABLE", "STATE_KEY_ARN", "SHARED_CACHE"):
        environment.pop(name, None)
    with environment_installed(environment):
        yield environment


def _user_of(department: str) -> str:
    group = PLAN["departments"][department]["directory_group"]
    return next(u["email"] for u in DEMO_USERS if group in u["groups"])


def test_service_configured_from_outputs_vends_what_the_department_table_says(
    deployment: Deployment, service_from_outputs: dict[str, str]
) -> None:
    assert service_from_outputs["IDENTITY_MODE"] == deployment.mode
    s3_admin = _client(deployment.stack, "s3")
    grantees = _grantee_by_department(deployment)
    for department, spec in PLAN["departments"].items():
        token = deployment.stack.token(_user_of(department))
        for grant in spec["grants"]:
            key = f"{grant['prefix']}terraform-check.txt"
            s3_admin.put_object(Bucket=grant["bucket"], Key=key, Body=department.encode())
            answer = call(
                "POST",
                "/v1/credentials",
                token=token,
                body={"target": f"s3://{grant['bucket']}/{key}", "permission": grant["permission"]},
            )
            assert answer.status == 200, (department, grant, answer.text)
            body = answer.body
            assert body["matchedGrantTarget"] == f"s3://{grant['bucket']}/{grant['prefix']}*"
            assert body["grantee"] == grantees[department]
            region = BUCKET_REGIONS[grant["bucket"]]
            vended = deployment.stack.client(
                "s3",
                region=region,
                credentials={
                    "aws_access_key_id": body["credentials"]["accessKeyId"],
                    "aws_secret_access_key": body["credentials"]["secretAccessKey"],
                    "aws_session_token": body["credentials"]["sessionToken"],
                },
            )
            assert vended.get_object(Bucket=grant["bucket"], Key=key)["Body"].read() == department.encode()
            presigned = call(
                "POST",
                "/v1/presign",
                token=token,
                body={"target": f"s3://{grant['bucket']}/{key}", "method": "GET"},
            )
            assert presigned.status == 200, presigned.text
            url = presigned.body["url"]
            assert f"/{region}/s3/aws4_request" in unquote(url)  # signed for the bucket's region
            assert requests.get(url, timeout=10).content == department.encode()


def test_service_configured_from_outputs_refuses_what_the_table_does_not_grant(
    deployment: Deployment, service_from_outputs: dict[str, str]
) -> None:
    marketing = deployment.stack.token(_user_of("Marketing"))
    # Marketing reads products/ but may not write there, and has nothing in the internal bucket.
    for target, permission in (
        ("s3://shopfast-data/products/new.csv", "WRITE"),
        ("s3://shopfast-internal/leads/pipeline.csv", "READ"),
        ("s3://shopfast-data/users-archive/old_list", "READ"),
    ):
        answer = call(
            "POST", "/v1/credentials", token=marketing, body={"target": target, "permission": permission}
        )
        problem_of(answer, 403)
    mallory = deployment.stack.token("mallory@shopfast.example")  # in no department
    answer = call(
        "POST",
        "/v1/credentials",
        token=mallory,
        body={"target": "s3://shopfast-data/users/user_list", "permission": "READ"},
    )
    problem_of(answer, 403)


def test_second_plan_shows_no_changes(deployment: Deployment) -> None:
    runs = [
        (
            root,
            (
                "plan",
                "-detailed-exitcode",
                "-input=false",
                "-parallelism=20",
                *deployment.var_args(root),
            ),
        )
        for root in deployment.variables
    ]
    for (root, _), result in zip(runs, deployment.terraform.run_many(runs, check=False), strict=True):
        assert result.returncode == 0, f"{root} plans changes after apply:\n{result.stdout[-4000:]}"


def test_destroy_leaves_no_grants_locations_instance_or_roles(identity_center: Deployment) -> None:
    stack = identity_center.stack
    s3 = _client(stack, "s3")
    for bucket in PLAN["buckets"]:
        _empty_bucket(s3, bucket)
    # The roots do not depend on each other's resources for deletion, so they go side by side.
    destroy = ("destroy", "-auto-approve", "-input=false", "-parallelism=20", "-refresh=false")
    identity_center.terraform.run_many(
        [(root, (*destroy, *identity_center.var_args(root))) for root in identity_center.variables]
    )

    for region in GRANT_REGIONS:
        s3control = _client(stack, "s3control", region)
        assert s3control.list_access_grants_instances(AccountId=ACCOUNT_ID)["AccessGrantsInstancesList"] == []
        for listing, key in (
            (s3control.list_access_grants, "AccessGrantsList"),
            (s3control.list_access_grants_locations, "AccessGrantsLocationsList"),
        ):
            try:
                assert listing(AccountId=ACCOUNT_ID).get(key, []) == []
            except ClientError as error:  # no instance, so nothing under it
                assert error.response["Error"]["Code"] == "AccessGrantsInstanceNotExistsError"
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == []
    assert [r["RoleName"] for r in _client(stack, "iam").list_roles()["Roles"]] == []
    sso_admin = _client(stack, "sso-admin", credentials=IDENTITY_CENTER_KEYS)
    instance = stack.config()["identityCenterInstanceArn"]
    assert sso_admin.list_applications(InstanceArn=instance)["Applications"] == []
    assert sso_admin.list_trusted_token_issuers(InstanceArn=instance)["TrustedTokenIssuers"] == []


# --- the federation's manual steps, automated: configure_application.py -----------------------------


def _load_configure_application() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "configure_application", TERRAFORM_DIR / "configure_application.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class FreshApplication:
    """What the federation root creates: a trusted token issuer, an application, its scope, one assignment."""

    arn: str
    issuer_arn: str
    client_role_arn: str
    assigned_user: str


@pytest.fixture
def fresh_application(local_stack: LocalStack) -> Iterator[FreshApplication]:
    config = local_stack.config()
    sso_admin = local_stack.client("sso-admin", credentials=IDENTITY_CENTER_KEYS)
    issuer = sso_admin.create_trusted_token_issuer(
        InstanceArn=config["identityCenterInstanceArn"],
        Name="terraform-test-idp",
        TrustedTokenIssuerType="OIDC_JWT",
        TrustedTokenIssuerConfiguration={
            "OidcJwtConfiguration": {
                "IssuerUrl": local_stack.issuer_url,
                "ClaimAttributePath": "email",
                "IdentityStoreAttributePath": "emails.value",
                "JwksRetrievalOption": "OPEN_ID_DISCOVERY",
            }
        },
    )["TrustedTokenIssuerArn"]
    application = sso_admin.create_application(
        InstanceArn=config["identityCenterInstanceArn"],
        ApplicationProviderArn="arn:aws:sso::aws:applicationProvider/custom",
        Name="terraform-test-vending",
    )["ApplicationArn"]
    sso_admin.put_application_access_scope(ApplicationArn=application, Scope="s3:access_grants:read_write")
    group_id = local_stack.client("identitystore", credentials=IDENTITY_CENTER_KEYS).get_group_id(
        IdentityStoreId=config["identityStoreId"],
        AlternateIdentifier={"UniqueAttribute": {"AttributePath": "DisplayName", "AttributeValue": "Sales"}},
    )["GroupId"]
    sso_admin.create_application_assignment(
        ApplicationArn=application, PrincipalId=group_id, PrincipalType="GROUP"
    )
    # The role is in the data account: its own policy must name the application too (service-iam's
    # ExchangeJwtForIdentityCenterToken does for the federation root's application).
    iam, role_name = local_stack.client("iam"), config["clientApplicationRoleArn"].rsplit("/", 1)[-1]
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName="terraform-test-vending",
        PolicyDocument=token_exchange_policy(application),
    )
    yield FreshApplication(application, issuer, config["clientApplicationRoleArn"], "bob@shopfast.example")
    iam.delete_role_policy(RoleName=role_name, PolicyName="terraform-test-vending")
    sso_admin.delete_application(ApplicationArn=application)
    sso_admin.delete_trusted_token_issuer(TrustedTokenIssuerArn=issuer)


def test_configure_application_sets_grant_and_actor_policy_once(
    local_stack: LocalStack, fresh_application: FreshApplication
) -> None:
    module = _load_configure_application()
    sso_admin = local_stack.client("sso-admin", credentials=IDENTITY_CENTER_KEYS)
    arguments = {
        "application_arn": fresh_application.arn,
        "trusted_token_issuer_arn": fresh_application.issuer_arn,
        "audiences": [AUDIENCE],
        "client_application_role_arn": fresh_application.client_role_arn,
    }
    first = module.configure_application(sso_admin, **arguments)
    second = module.configure_application(sso_admin, **arguments)
    assert first == {"jwtBearerGrant": "created", "iamAuthenticationMethod": "created"}
    assert second == {"jwtBearerGrant": "unchanged", "iamAuthenticationMethod": "unchanged"}

    grant = sso_admin.get_application_grant(
        ApplicationArn=fresh_application.arn, GrantType="urn:ietf:params:oauth:grant-type:jwt-bearer"
    )["Grant"]
    assert grant == {
        "JwtBearer": {
            "AuthorizedTokenIssuers": [
                {"TrustedTokenIssuerArn": fresh_application.issuer_arn, "AuthorizedAudiences": [AUDIENCE]}
            ]
        }
    }
    method = sso_admin.get_application_authentication_method(
        ApplicationArn=fresh_application.arn, AuthenticationMethodType="IAM"
    )["AuthenticationMethod"]
    (statement,) = method["Iam"]["ActorPolicy"]["Statement"]
    assert statement["Principal"] == {"AWS": fresh_application.client_role_arn}
    assert (statement["Action"], statement["Resource"]) == (
        "sso-oauth:CreateTokenWithIAM",
        fresh_application.arn,
    )

    # A changed audience list is written again, and only the grant changes.
    changed = module.configure_application(sso_admin, **{**arguments, "audiences": [AUDIENCE, "another-app"]})
    assert changed == {"jwtBearerGrant": "updated", "iamAuthenticationMethod": "unchanged"}


def _token_exchange_as(local_stack: LocalStack, role_arn: str, application_arn: str, user: str) -> Any:
    """CreateTokenWithIAM signed by a session of `role_arn`: the client-application role's as Lambda hands it
    over (it trusts lambda.amazonaws.com only), any other role's through AssumeRole."""
    if role_arn == local_stack.config()["clientApplicationRoleArn"]:
        credentials = local_stack.execution_role_credentials(role_arn)
    else:
        credentials = local_stack.client("sts").assume_role(
            RoleArn=role_arn, RoleSessionName="terraform-test"
        )["Credentials"]
    sso_oidc = local_stack.client(
        "sso-oidc",
        credentials={
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        },
    )
    return sso_oidc.create_token_with_iam(
        clientId=application_arn,
        grantType="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=local_stack.token(user),
    )


def test_configured_application_exchanges_tokens_for_the_client_application_role_only(
    local_stack: LocalStack, fresh_application: FreshApplication, tmp_path: Path
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(TERRAFORM_DIR / "configure_application.py"),
            "--application-arn",
            fresh_application.arn,
            "--trusted-token-issuer-arn",
            fresh_application.issuer_arn,
            "--audience",
            AUDIENCE,
            "--client-application-role-arn",
            fresh_application.client_role_arn,
        ],
        env=configure_env(local_stack.aws_endpoint, tmp_path) | {"AWS_PROFILE": IDENTITY_CENTER_PROFILE},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"jwtBearerGrant": "created", "iamAuthenticationMethod": "created"}

    exchanged = _token_exchange_as(
        local_stack, fresh_application.client_role_arn, fresh_application.arn, fresh_application.assigned_user
    )
    assert exchanged["awsAdditionalDetails"]["identityContext"]

    other_role = local_stack.config()["departmentRoles"]["Sales"]
    with pytest.raises(ClientError) as refused:
        _token_exchange_as(local_stack, other_role, fresh_application.arn, fresh_application.assigned_user)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
