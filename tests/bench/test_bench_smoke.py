"""`python -m bench --quick`: the benchmark harness runs end to end and writes the agreed JSON shape.

Correctness only: tiny workloads against a stack of its own, no latency injected, and no figure is
compared with a limit (timings belong to `make bench`, never to tests on a shared machine).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from local.functions import functions, handler_module

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = ("repeat_one_user", "frontend_session", "six_users", "batch_presign_100", "iceberg_sign")
PASS_FIELDS = ("aws_calls", "p50_ms", "p95_ms", "handler_p50_ms")
# One per function of template.yaml.
HANDLER_MODULES = {handler_module(function) for function in functions().values()}

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    output = tmp_path_factory.mktemp("bench") / "latest.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--latency-ms", "0", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert completed.returncode == 0, f"bench failed:\n{completed.stdout}\n{completed.stderr}"
    return json.loads(output.read_text()), completed.stdout


def test_result_has_the_agreed_shape(quick_run: tuple[dict, str]) -> None:
    result, _ = quick_run
    assert set(WORKLOADS) <= set(result["workloads"])
    for name in WORKLOADS:
        entry = result["workloads"][name]
        for mode in ("cached", "uncached"):
            for field in PASS_FIELDS:
                assert isinstance(entry[mode][field], int | float), (name, mode, field)
        assert entry["speedup_p50"] > 0
    assert set(result["cold_init_ms"]) == set(HANDLER_MODULES)
    assert all(ms > 0 for ms in result["cold_init_ms"].values())
    assert result["peak_rss_mb"] > 0
    assert isinstance(result["rss_growth_mb"], int | float)
    assert result["upstream_latency_ms"] == 0
    assert {"cpu", "cpus", "python"} <= set(result["machine"])


def test_counters_come_from_the_emulator_and_caching_saves_calls(quick_run: tuple[dict, str]) -> None:
    result, _ = quick_run
    for name in WORKLOADS:
        cached, uncached = result["workloads"][name]["cached"], result["workloads"][name]["uncached"]
        assert cached["aws_calls"] > 0, name
        assert uncached["aws_calls"] > cached["aws_calls"], name
        assert cached["calls_by_operation"].get("CreateTokenWithIAM", 0) >= 1, name
    repeat = result["workloads"]["repeat_one_user"]
    # The uncached reference flow pays CreateTokenWithIAM + AssumeRole + GetDataAccess per request.
    assert repeat["uncached"]["aws_calls"] == 3 * repeat["uncached"]["requests"]


def test_the_reuse_bound_is_measured_with_real_calls(quick_run: tuple[dict, str]) -> None:
    bound = quick_run[0]["reuse_bound"]
    # Every window past the first starts with an expired session and credentials: at least one refetch.
    assert bound["aws_calls"] > 3
    assert bound["calls_by_operation"]["GetDataAccess"] >= 2
    hourly = bound["active_user_hour_aws_calls"]
    assert hourly["max_age_900s"] > hourly["without_bound"] > 0


def test_a_cold_request_costs_the_same_calls_in_either_region(quick_run: tuple[dict, str]) -> None:
    """A planned bucket's Region is configuration (no call); an unplanned one costs one HeadBucket."""
    regions = quick_run[0]["cold_request_per_region"]
    assert set(regions) == {"us-east-1", "ap-southeast-2"}
    for cases in regions.values():
        planned, unplanned = cases["planned"]["calls_by_operation"], cases["unplanned"]["calls_by_operation"]
        assert planned == {"CreateTokenWithIAM": 1, "AssumeRole": 1, "GetDataAccess": 1}
        assert unplanned == {**planned, "HeadBucket": 1}
        assert cases["planned"]["status"] == cases["unplanned"]["status"] == 200


def test_the_upload_workload_starts_warm_with_one_call_and_completes_what_was_sent(
    quick_run: tuple[dict, str],
) -> None:
    uploads, text = quick_run[0]["uploads"], quick_run[1]
    assert uploads["start_cold"]["calls_by_operation"] == {
        "GetSecretValue": 1,  # the binding key, once per execution environment
        "CreateTokenWithIAM": 1,
        "AssumeRole": 1,
        "GetDataAccess": 1,
        "CreateMultipartUpload": 1,
    }
    assert uploads["start_warm"]["calls_by_operation"] == {"CreateMultipartUpload": 1}
    assert uploads["complete"]["calls_by_operation"] == {"CompleteMultipartUpload": 1}
    assert uploads["stored_bytes"] == uploads["bytes"] and uploads["etag"].endswith(f"-{uploads['parts']}")
    assert f"Multipart upload of {uploads['parts']} parts" in text


def test_every_request_answered_without_server_errors(quick_run: tuple[dict, str]) -> None:
    result, _ = quick_run
    assert result["failures"] == []
    for name in WORKLOADS:
        for mode in ("cached", "uncached"):
            statuses = result["workloads"][name][mode]["statuses"]
            assert sum(statuses.values()) == result["workloads"][name][mode]["requests"]
            assert set(statuses) <= {"200", "403"}, (name, mode, statuses)
    assert set(result["workloads"]["iceberg_sign"]["cached"]["statuses"]) == {
        "200"
    }  # every S3 request signed
    assert result["warm_hit_handler_ms"]["iceberg_sign"]["samples"] > 0
    assert set(result["memory"]["statuses"]) <= {"200", "403"}
    assert result["memory"]["calls"] == sum(result["memory"]["statuses"].values())


def test_table_is_printed_with_every_target(quick_run: tuple[dict, str]) -> None:
    result, stdout = quick_run
    for target in result["targets"]:
        assert target["target"] in stdout
    assert "repeat_one_user" in stdout and "cold start" in stdout.lower()


def test_primed_starts_are_measured_beside_a_warm_uncached_request(quick_run: tuple[dict, str]) -> None:
    result, text = quick_run
    snapstart = result["snapstart"]
    assert set(snapstart["first_invoke_ms"]) == set(HANDLER_MODULES)
    assert snapstart["prime_ms"]["handlers.credentials"] > 0  # the hooks ran
    assert snapstart["ratio_to_warm_uncached"]["handlers.credentials"] > 0
    assert "Primed start (SnapStart" in text


def test_the_scale_model_rows_go_from_one_environment_to_five_hundred(quick_run: tuple[dict, str]) -> None:
    result, text = quick_run
    rows = result["scale_model"]["rows"]
    assert {row["environments"] for row in rows} == {1, 10, 50, 100, 200, 500}
    one = next(
        r
        for r in rows
        if r["environments"] == 1 and r["active_users"] == 1000 and r["requests_per_user_hour"] == 120
    )
    many = next(
        r
        for r in rows
        if r["environments"] == 500 and r["active_users"] == 1000 and r["requests_per_user_hour"] == 120
    )
    # One environment serves most requests from its cache; spread over 500, nearly every request pays the
    # uncached flow's 3 calls (the identity exchange and one GetDataAccess).
    assert one["aws_calls_per_request"] < 0.5 < 2.5 < many["aws_calls_per_request"] <= 3
    assert "Scale model" in text


def test_aws_access_grants_plugin_runs_beside_the_service(quick_run: tuple[dict, str]) -> None:
    result, text = quick_run
    plugin = result["peers"]["aws_access_grants_plugin"]
    assert set(plugin) == {"repeat_one_user", "six_users"}
    repeat = plugin["repeat_one_user"]
    assert repeat["requests"] == result["workloads"]["repeat_one_user"]["cached"]["requests"]
    assert repeat["calls_by_operation"]["GetDataAccess"] >= 1 and repeat["object_calls"] == repeat["requests"]
    assert "Peer: AWS's aws-s3-access-grants-boto3-plugin" in text


def test_multi_environment_rows_have_the_agreed_fields(quick_run: tuple[dict, str]) -> None:
    result, printed = quick_run
    section = result["multi_environment"]
    rows = section["rows"]
    assert {(row["environments"], row["shared_cache"]) for row in rows} == {
        (count, shared) for count in (1, 10, 50) for shared in (False, True)
    }
    for row in rows:
        assert row["requests"] > 0 and row["statuses"] and max(row["statuses"]) < 500, row
        for field in (
            "control_plane_calls_per_request",
            "dynamodb_calls_per_request",
            "kms_calls_per_request",
        ):
            assert isinstance(row[field], int | float), (row, field)
    assert section["store_latency_ms"] > 0
    assert section["shared_beside_memory"]["shared_tier"]["statuses"] == [200]
    revocation = section["revocation"]
    assert revocation["statuses_before"] == [200] and revocation["revoked_everywhere_s"] >= 0
    assert "Many execution environments" in printed and "Revocation:" in printed
    assert any("shared tier on / off" in target["target"] for target in result["targets"])
