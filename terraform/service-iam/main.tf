# The vending service's IAM: the client-application role the Lambda functions run as and, in
# identity-center mode, the identity-bearer role it assumes with the user's identity context; in iam-role
# mode, the department roles it assumes for a user's group. IAM is global: these roles serve every region
# the grants root is applied in.

module "plan" {
  source = "../modules/access-plan"
  file   = coalesce(var.access_plan_file, "${path.module}/../access-plan.json")
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  identity_center = var.identity_mode == "identity-center"
  account_id      = data.aws_caller_identity.current.account_id
  partition       = data.aws_partition.current.partition

  # Every account has at most one Access Grants instance per region, always named "default"; computing
  # their ARNs (one per region of the plan's buckets) lets this root be applied before the grants root.
  access_grants_instance_arns = sort([
    for region in module.plan.regions : "arn:${local.partition}:s3:${region}:${local.account_id}:access-grants/default"
  ])
  department_roles = local.identity_center ? {} : module.plan.departments
  department_role_arns = {
    for name, dept in module.plan.departments : name => "arn:${local.partition}:iam::${local.account_id}:role/${dept.iam_role}"
  }
  log_group_arn = "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/aws/lambda/${var.sam_stack_name}-*"
  # The SAM stack's UploadBindingSecret is named <stack>-upload-binding; Secrets Manager appends six characters.
  upload_binding_secret_arn = "arn:${local.partition}:secretsmanager:${var.region}:${local.account_id}:secret:${var.sam_stack_name}-upload-binding-??????"
  # Its AuditPseudonymSecret (AuditUserIdentifier digest) is <stack>-audit-pseudonym; granted whether or not the
  # stack creates it, so switching the parameter needs no apply here.
  audit_pseudonym_secret_arn = "arn:${local.partition}:secretsmanager:${var.region}:${local.account_id}:secret:${var.sam_stack_name}-audit-pseudonym-??????"
  # The SAM stack's StateTable (shared cache and revocation list) is named <stack>-state. Its KMS key's
  # policy names this role itself, so no KMS statement is needed here.
  state_table_arn = "arn:${local.partition}:dynamodb:${var.region}:${local.account_id}:table/${var.sam_stack_name}-state"
}

# --- client-application role: the Lambda execution role -------------------------------------------

data "aws_iam_policy_document" "client_application_trust" {
  statement {
    sid     = "LambdaService"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "client_application" {
  name                 = "${var.name_prefix}-vending-client-app"
  description          = "Execution role of the credential-vending Lambda functions (the Identity Center client application)."
  assume_role_policy   = data.aws_iam_policy_document.client_application_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "client_application" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [local.log_group_arn, "${local.log_group_arn}:log-stream:*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray has no resource-level permissions for these actions.
  }

  statement {
    sid       = "ReadServiceKeys"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [local.upload_binding_secret_arn, local.audit_pseudonym_secret_arn]
  }

  statement {
    sid       = "ReadAndWriteSharedState"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"]
    resources = [local.state_table_arn]
  }

  dynamic "statement" {
    for_each = local.identity_center ? [1] : []
    content {
      sid       = "ExchangeJwtForIdentityCenterToken"
      actions   = ["sso-oauth:CreateTokenWithIAM"]
      resources = [var.identity_center_application_arn]
    }
  }

  dynamic "statement" {
    for_each = local.identity_center ? [1] : []
    content {
      sid       = "AssumeIdentityBearerRole"
      actions   = ["sts:AssumeRole", "sts:SetContext"]
      resources = [aws_iam_role.identity_bearer[0].arn]
    }
  }

  dynamic "statement" {
    for_each = local.identity_center ? [] : [1]
    content {
      sid       = "AssumeDepartmentRoles"
      actions   = ["sts:AssumeRole", "sts:SetSourceIdentity"]
      resources = values(local.department_role_arns)
    }
  }
}

resource "aws_iam_role_policy" "client_application" {
  name   = "vend-credentials"
  role   = aws_iam_role.client_application.id
  policy = data.aws_iam_policy_document.client_application.json
}

# --- identity-bearer role: carries the user's identity context to S3 Access Grants ----------------

data "aws_iam_policy_document" "identity_bearer_trust" {
  count = local.identity_center ? 1 : 0

  statement {
    sid     = "ClientApplicationWithIdentityCenterContext"
    actions = ["sts:AssumeRole", "sts:SetContext"]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.client_application.arn]
    }
    # Only sessions whose context was issued by our Identity Center instance.
    condition {
      test     = "ArnEquals"
      variable = "sts:RequestContext/identitycenter:InstanceArn"
      values   = [var.identity_center_instance_arn]
    }
    condition {
      test     = "ForAllValues:ArnEquals"
      variable = "sts:RequestContextProviders"
      values   = ["arn:${local.partition}:iam::aws:contextProvider/IdentityCenter"]
    }
  }
}

resource "aws_iam_role" "identity_bearer" {
  count = local.identity_center ? 1 : 0

  name                 = "${var.name_prefix}-identity-bearer"
  description          = "Identity-enhanced session of one directory user; may only ask S3 Access Grants for data access."
  assume_role_policy   = data.aws_iam_policy_document.identity_bearer_trust[0].json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "access_grants" {
  statement {
    sid       = "AccessGrantsOnTheInstancesOnly"
    actions   = ["s3:GetDataAccess", "s3:ListCallerAccessGrants"]
    resources = local.access_grants_instance_arns
  }
}

resource "aws_iam_role_policy" "identity_bearer" {
  count = local.identity_center ? 1 : 0

  name   = "access-grants"
  role   = aws_iam_role.identity_bearer[0].id
  policy = data.aws_iam_policy_document.access_grants.json
}

# --- department roles (iam-role mode): the grantees the service assumes for a user's group -------

data "aws_iam_policy_document" "department_trust" {
  count = local.identity_center ? 0 : 1

  statement {
    sid     = "VendingServiceOnly"
    actions = ["sts:AssumeRole", "sts:SetSourceIdentity"]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.client_application.arn]
    }
    # Only on behalf of a named user: the session's source identity follows it into every S3 call.
    condition {
      test     = "Null"
      variable = "sts:SourceIdentity"
      values   = ["false"]
    }
  }
}

resource "aws_iam_role" "department" {
  for_each = local.department_roles

  name                 = each.value.iam_role
  description          = "Grantee of the ${each.key} department's S3 access grants; assumed by the vending service for its members."
  assume_role_policy   = data.aws_iam_policy_document.department_trust[0].json
  max_session_duration = 3600
}

resource "aws_iam_role_policy" "department" {
  for_each = aws_iam_role.department

  name   = "access-grants"
  role   = each.value.id
  policy = data.aws_iam_policy_document.access_grants.json
}
