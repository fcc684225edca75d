#!/usr/bin/env bash
# `make deploy`: Terraform outputs -> Identity Center application settings -> sam build -> bytecode
# (local/package.py) -> sam deploy.
# Nothing is copied by hand: every SAM parameter that names an AWS resource comes from an applied root.
#
# Prerequisites (README.md, "Deploying to AWS"): the roots are applied, in identity-center mode
#   federation (Identity Center account) -> service-iam -> grants, in iam-role mode service-iam -> grants,
#   the grants root once per region of the access plan's buckets, each in the workspace named after it.
#
# Environment:
#   TERRAFORM_DIR        folder holding the roots (default: this script's folder)
#   SAM                  SAM CLI executable (default: sam)
#   ENV                  samconfig.toml's environment (dev, prod; default: its default section): the stack
#                        name, tags and S3 prefix of that environment (the roots' state must be that
#                        environment's too: docs/deploying.md, "Environments")
#   STACK_NAME           SAM stack (default: samconfig.toml's, for ENV); it must be the one terraform/
#                        service-iam was applied for (sam_stack_name), or make deploy stops
#   REGION               the Region of the SAM stack (default: samconfig.toml's us-east-1)
#   CONFIRM=1            review the change set and confirm it before it is applied (default: apply it)
#   IDC_AWS_PROFILE      profile of the Identity Center account for configure_application.py
#                        (default: the current credentials)
#   JWT_ISSUER, JWT_AUDIENCE   iam-role mode only (no federation root): issuer URL and comma-separated audiences
#   USER_CLAIM           iam-role mode only: the claim naming the user (identity-center mode reads the
#                        federation root's jwt_user_claim, so the service and Identity Center agree)
#   ROLE_CLAIM           iam-role mode: the claim holding the groups ROLE_MAPPING maps (default: groups)
#   REQUIRE_EMAIL_VERIFIED, CACHE_MAX_AGE_SECONDS, INSTANCE_SCOPE, SHARED_CACHE (enabled|disabled)
#                        the template parameters of the same meaning (default: the template's defaults)
#   CORS_ALLOWED_ORIGINS comma-separated browser origins allowed to call the API (default: none, no CORS)
#   ALARM_EMAIL          address the alarms' SNS topic mails (docs/operations.md; default: none subscribed)
#   AUDIT_USER_IDENTIFIER  claim (default) or digest: how audit records name users (docs/operations.md)
#   DRY_RUN=1            print the commands instead of running them
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
tf_dir="${TERRAFORM_DIR:-$here}"
sam="${SAM:-sam}"
python="${PYTHON:-$repo/.venv/bin/python}"
[ -x "$python" ] || python="python3"

die() { echo "deploy: $*" >&2; exit 1; }

# load_outputs ROOT: read all outputs of an applied root once (call it outside command substitutions).
declare -A root_outputs=()
load_outputs() {
  local root="$tf_dir/$1"
  [ -d "$root" ] || die "no Terraform root at $root"
  root_outputs[$1]="$(terraform -chdir="$root" output -json)" || die "cannot read the outputs of terraform/$1"
}

# load_grants: the grants root is applied once per region, each in its own workspace; read every
# workspace holding outputs and merge them into one set of outputs (regions must agree on the account
# and the identity mode; their buckets and regions are joined).
load_grants() {
  local root="$tf_dir/grants" workspaces workspace outputs all="[]"
  [ -d "$root" ] || die "no Terraform root at $root"
  workspaces="$(terraform -chdir="$root" workspace list)" || die "cannot list the workspaces of terraform/grants"
  for workspace in $(sed 's/^[* ]*//' <<<"$workspaces"); do
    outputs="$(TF_WORKSPACE="$workspace" terraform -chdir="$root" output -json)" \
      || die "cannot read the outputs of terraform/grants (workspace $workspace)"
    all="$("$python" -c 'import json, sys; print(json.dumps([*json.loads(sys.argv[1]), json.loads(sys.argv[2])]))' "$all" "$outputs")"
  done
  root_outputs[grants]="$("$python" -c '
import json, sys
applied = [outputs for outputs in json.loads(sys.argv[1]) if outputs]
def values(name):
    return {json.dumps(o[name]["value"], sort_keys=True) for o in applied if name in o}
merged = {}
for name in ("identity_mode", "access_grants_account_id"):
    found = values(name)
    if len(found) > 1:
        sys.exit(f"deploy: the regions of terraform/grants disagree on {name}: {sorted(found)}")
    if found:
        merged[name] = {"value": json.loads(found.pop())}
regions = {}
for outputs in applied:
    regions.update(outputs.get("bucket_regions", {}).get("value") or {})
if applied:
    merged["bucket_regions"] = {"value": json.dumps(regions, sort_keys=True, separators=(",", ":"))}
    merged["allowed_buckets"] = {"value": ",".join(sorted(regions))}
print(json.dumps(merged))
' "$all")" || exit 1
}

# tf_output ROOT NAME: one output of a loaded root, as raw text (lists joined by commas).
tf_output() {
  "$python" -c '
import json, sys
value = json.loads(sys.argv[1]).get(sys.argv[2], {}).get("value")
if value is None:
    sys.exit(1)
print(",".join(value) if isinstance(value, list) else value)
' "${root_outputs[$1]}" "$2" || die "output '$2' of terraform/$1 is missing: apply that root first"
}

# run CMD...: execute, or print it shell-quoted in dry-run mode.
run() {
  if [ "${DRY_RUN:-0}" = "1" ]; then
    printf '%q ' "$@"
    printf '\n'
  else
    "$@"
  fi
}

# sam_param KEY VALUE: a --parameter-overrides item; always quoted so JSON, commas and empty values survive.
sam_param() {
  local value="${2//\\/\\\\}"
  printf '%s="%s"' "$1" "${value//\"/\\\"}"
}

load_outputs service-iam
load_grants
identity_mode="$(tf_output service-iam identity_mode)"
grants_mode="$(tf_output grants identity_mode)"
[ "$identity_mode" = "$grants_mode" ] \
  || die "service-iam was applied for $identity_mode but grants for $grants_mode; apply both with one identity_mode"

client_role="$(tf_output service-iam client_application_role_arn)"
bearer_role="$(tf_output service-iam identity_bearer_role_arn)"
service_application_arn="$(tf_output service-iam identity_center_application_arn)"
account_id="$(tf_output grants access_grants_account_id)"
allowed_buckets="$(tf_output grants allowed_buckets)"
bucket_regions="$(tf_output grants bucket_regions)"
role_mapping="$(tf_output service-iam role_mapping)"

if [ "$identity_mode" = "identity-center" ]; then
  load_outputs federation
  application_arn="$(tf_output federation application_arn)"
  jwt_issuer="$(tf_output federation jwt_issuer_url)"
  jwt_audience="$(tf_output federation jwt_audiences)"
  token_issuer_arn="$(tf_output federation trusted_token_issuer_arn)"
  user_claim="$(tf_output federation jwt_user_claim)"
  idc_region="$(tf_output federation region)"
  [ "$service_application_arn" = "$application_arn" ] \
    || die "service-iam was applied with another application than the federation root's $application_arn"

  configure=("$python" "$here/configure_application.py"
    --application-arn "$application_arn"
    --trusted-token-issuer-arn "$token_issuer_arn"
    --client-application-role-arn "$client_role")
  IFS=',' read -r -a audiences <<<"$jwt_audience"
  for audience in "${audiences[@]}"; do configure+=(--audience "$audience"); done
  if [ -n "${IDC_AWS_PROFILE:-}" ]; then
    run env AWS_PROFILE="$IDC_AWS_PROFILE" "${configure[@]}"
  else
    run "${configure[@]}"
  fi
else
  application_arn=""
  jwt_issuer="${JWT_ISSUER:?iam-role mode: set JWT_ISSUER to the IdP issuer URL}"
  jwt_audience="${JWT_AUDIENCE:?iam-role mode: set JWT_AUDIENCE to the accepted audiences}"
  user_claim="${USER_CLAIM:-email}"
  idc_region=""
fi

overrides=(
  "$(sam_param IdentityMode "$identity_mode")"
  "$(sam_param JwtIssuer "$jwt_issuer")"
  "$(sam_param JwtAudience "$jwt_audience")"
  "$(sam_param ExecutionRoleArn "$client_role")"
  "$(sam_param IdentityBearerRoleArn "$bearer_role")"
  "$(sam_param IdcApplicationArn "$application_arn")"
  "$(sam_param AccessGrantsAccountId "$account_id")"
  "$(sam_param AllowedBuckets "$allowed_buckets")"
  "$(sam_param BucketRegions "$bucket_regions")"
  "$(sam_param IdcRegion "$idc_region")"
  "$(sam_param RoleMapping "$role_mapping")"
  "$(sam_param UserClaim "$user_claim")"
)
[ -z "${CORS_ALLOWED_ORIGINS:-}" ] || overrides+=("$(sam_param CorsAllowedOrigins "$CORS_ALLOWED_ORIGINS")")
[ -z "${ROLE_CLAIM:-}" ] || overrides+=("$(sam_param RoleClaim "$ROLE_CLAIM")")
[ -z "${REQUIRE_EMAIL_VERIFIED:-}" ] || overrides+=("$(sam_param RequireEmailVerified "$REQUIRE_EMAIL_VERIFIED")")
[ -z "${CACHE_MAX_AGE_SECONDS:-}" ] || overrides+=("$(sam_param CacheMaxAgeSeconds "$CACHE_MAX_AGE_SECONDS")")
[ -z "${INSTANCE_SCOPE:-}" ] || overrides+=("$(sam_param InstanceScope "$INSTANCE_SCOPE")")
[ -z "${SHARED_CACHE:-}" ] || overrides+=("$(sam_param SharedCache "$SHARED_CACHE")")
[ -z "${ALARM_EMAIL:-}" ] || overrides+=("$(sam_param AlarmEmail "$ALARM_EMAIL")")
[ -z "${AUDIT_USER_IDENTIFIER:-}" ] || overrides+=("$(sam_param AuditUserIdentifier "$AUDIT_USER_IDENTIFIER")")

# The stack must be the one service-iam's roles and policies name (its log groups, secret and state
# table): another name deploys functions that cannot write their logs or read their secret.
config_env="${ENV:-default}"
stack_name="${STACK_NAME:-$("$python" -c '
import sys, tomllib
config = tomllib.load(open(sys.argv[1], "rb"))
section = config.get(sys.argv[2])
if section is None:
    sys.exit(f"deploy: samconfig.toml has no environment {sys.argv[2]!r} (ENV)")
for command in ("deploy", "global"):
    name = section.get(command, {}).get("parameters", {}).get("stack_name")
    if name:
        print(name)
        break
else:
    print(config["default"]["global"]["parameters"]["stack_name"])
' "$repo/samconfig.toml" "$config_env")}" || exit 1
granted_stack="$(tf_output service-iam sam_stack_name)"
[ "$stack_name" = "$granted_stack" ] \
  || die "stack $stack_name is not the one terraform/service-iam was applied for ($granted_stack): set STACK_NAME=$granted_stack, or apply service-iam with -var sam_stack_name=$stack_name"

stack=(--stack-name "$stack_name")
environment=()
[ -z "${ENV:-}" ] || environment=(--config-env "$ENV")
confirm=(--no-confirm-changeset)
[ "${CONFIRM:-0}" != "1" ] || confirm=(--confirm-changeset)
region=()
[ -z "${REGION:-}" ] || region=(--region "$REGION")

cd "$repo"
run "$sam" build "${environment[@]}" "${region[@]}"
# Lambda cannot write __pycache__ in /var/task: ship the bytecode, or every Init compiles it all again.
run "$python" -m local.package .aws-sam/build
run "$sam" deploy "${environment[@]}" "${stack[@]}" "${region[@]}" "${confirm[@]}" --parameter-overrides "${overrides[@]}"
# The stack's StateTable is <stack name>-state (template.yaml): where make revoke writes.
echo "to cut a user off: make revoke USER=<email or directory user id> TABLE=${stack_name}-state${REGION:+ REGION=$REGION} (docs/revocation.md)" >&2
