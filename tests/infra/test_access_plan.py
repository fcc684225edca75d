"""The access plan (terraform/access-plan.json) is the seed's department table, and the Terraform module
that reads it rejects plans that would grant more than they say."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.infra

REPO = Path(__file__).resolve().parents[2]
PLAN_FILE = REPO / "terraform" / "access-plan.json"
PLAN_MODULE = REPO / "terraform" / "modules" / "access-plan"
SEED = REPO.parent / "shared" / "seeds" / "000_2dc1240daf68245b.txt"

# The seed's "AWS S3 Access Grants" table, literally (department, resource, access type).
SEED_TABLE = """
Marketing s3://shopfast-data/products/ Read
s3://shopfast-data/feedback/ Read
Sales s3://shopfast-data/transactions/ Read/Write
s3://shopfast-data/users/ Read/Write
Customer Support s3://shopfast-data/users/ Read
s3://shopfast-data/feedback/ Read/Write
Product Management s3://shopfast-data/products/ Read/Write
s3://shopfast-internal/leads/ Read
HR s3://shopfast-internal/employee-records/ Read/Write
s3://shopfast-internal/benefits/ Read/Write
"""

ACCESS_TYPES = {"Read": "READ", "Read/Write": "READWRITE"}
ROW = re.compile(
    r"^(?:(?P<department>[A-Za-z][A-Za-z ]*?) )?(?P<resource>s3://\S+) (?P<access>Read/Write|Read)$"
)


def parse_department_table(text: str) -> set[tuple[str, str, str, str]]:
    """(department, bucket, prefix, permission) per row; a row without a department continues the last."""
    rows: set[tuple[str, str, str, str]] = set()
    department = None
    for line in text.splitlines():
        match = ROW.match(line.strip())
        if not match:
            continue
        if match["department"]:
            department = match["department"].replace(" ", "")
        assert department, f"a table row before any department: {line!r}"
        bucket, _, prefix = match["resource"].removeprefix("s3://").partition("/")
        rows.add((department, bucket, prefix, ACCESS_TYPES[match["access"]]))
    return rows


def plan_rows(plan: dict) -> set[tuple[str, str, str, str]]:
    return {
        (name, grant["bucket"], grant["prefix"], grant["permission"])
        for name, department in plan["departments"].items()
        for grant in department["grants"]
    }


def test_plan_equals_the_seed_department_table_kept_in_this_test() -> None:
    expected = parse_department_table(SEED_TABLE)
    assert len(expected) == 10
    assert plan_rows(json.loads(PLAN_FILE.read_text())) == expected


def test_table_in_this_test_equals_the_seed_text() -> None:
    assert SEED.is_file(), f"the seed is expected beside the repository at {SEED}"
    seed_text = SEED.read_text()
    after_header = seed_text.split("Department Accessible S3 Resources Access Type", 1)[1]
    table = after_header.split("Access Pattern Plan", 1)[0]
    assert parse_department_table(table) == parse_department_table(SEED_TABLE)


def test_plan_names_grantees_buckets_and_prefix_scopes_consistently() -> None:
    plan = json.loads(PLAN_FILE.read_text())
    for name, department in plan["departments"].items():
        assert department["iam_role"] == f"ShopFast-{name}"
        assert department["directory_group"] == name
        for grant in department["grants"]:
            assert grant["bucket"] in plan["buckets"]
            # "prefix/" becomes the grant scope "prefix/*": users-archive/ is not inside users/.
            assert grant["prefix"].endswith("/") and "*" not in grant["prefix"]


# --- the Terraform module reading the plan -----------------------------------------------------------


def _apply_module(tmp_path: Path, plan: dict) -> subprocess.CompletedProcess[str]:
    """Apply a root holding only the module (no provider, local state): outputs or precondition errors."""
    terraform = shutil.which("terraform")
    assert terraform, "terraform (1.9+) is required on PATH"
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    (tmp_path / "main.tf").write_text(
        f'module "plan" {{\n  source = "{PLAN_MODULE.as_posix()}"\n'
        '  file   = "${path.module}/plan.json"\n}\n'
        'output "grants" {\n  value = module.plan.grants\n}\n'
    )
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "TF_CLI_CONFIG_FILE": "/dev/null", "HOME": str(tmp_path)}
    init = subprocess.run(
        [terraform, "init", "-input=false", "-no-color"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert init.returncode == 0, init.stderr
    return subprocess.run(
        [terraform, "apply", "-auto-approve", "-input=false", "-no-color", "-compact-warnings"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_module_flattens_the_plan_into_one_grant_per_department_bucket_and_prefix(tmp_path: Path) -> None:
    plan = json.loads(PLAN_FILE.read_text())
    result = _apply_module(tmp_path, plan)
    assert result.returncode == 0, result.stderr
    output = subprocess.run(
        ["terraform", "output", "-json", "grants"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    grants = json.loads(output.stdout)
    flattened = {(g["department"], g["bucket"], g["prefix"], g["permission"]) for g in grants.values()}
    assert flattened == plan_rows(plan)
    assert sorted(grants) == sorted(f"{d}:{b}/{p}" for d, b, p, _ in plan_rows(plan))


@pytest.mark.parametrize(
    ("prefix", "permission", "message"),
    [
        ("users*", "READ", 'must be one or more path segments ending in "/"'),
        ("users", "READ", 'must be one or more path segments ending in "/"'),
        ("/users/", "READ", 'must be one or more path segments ending in "/"'),
        ("users/../", "READ", 'must be one or more path segments ending in "/"'),
        ("users//", "READ", 'must be one or more path segments ending in "/"'),
        ("transactions/", "ADMIN", "permission must be READ, WRITE or READWRITE"),
        ("users/", "READ", "lists the same bucket and prefix twice"),
    ],
)
def test_module_rejects_grants_wider_or_other_than_a_prefix(
    tmp_path: Path, prefix: str, permission: str, message: str
) -> None:
    plan = json.loads(PLAN_FILE.read_text())
    plan["departments"]["Sales"]["grants"][0].update(prefix=prefix, permission=permission)
    result = _apply_module(tmp_path, plan)
    assert result.returncode != 0
    assert message in " ".join(result.stderr.split())


def test_module_rejects_a_grant_on_a_bucket_outside_the_plan(tmp_path: Path) -> None:
    plan = json.loads(PLAN_FILE.read_text())
    plan["departments"]["HR"]["grants"][0]["bucket"] = "somebody-elses-bucket"
    result = _apply_module(tmp_path, plan)
    assert result.returncode != 0
    assert "Every grant must name a bucket listed in the plan" in " ".join(result.stderr.split())


def test_every_bucket_names_its_region_and_the_reference_regions_are_kept() -> None:
    """Issue 16: the internal bucket sits in the reference setup's region, the data bucket in us-east-1."""
    plan = json.loads(PLAN_FILE.read_text())
    assert {bucket: spec["region"] for bucket, spec in plan["buckets"].items()} == {
        "shopfast-data": "us-east-1",
        "shopfast-internal": "ap-southeast-2",
    }


@pytest.mark.parametrize("spec", [{}, {"region": "Sydney"}])
def test_module_rejects_a_bucket_without_a_region(tmp_path: Path, spec: dict) -> None:
    plan = json.loads(PLAN_FILE.read_text())
    plan["buckets"]["shopfast-internal"] = spec
    result = _apply_module(tmp_path, plan)
    assert result.returncode != 0
    assert "Every bucket of the plan must name its region" in " ".join(result.stderr.split())
